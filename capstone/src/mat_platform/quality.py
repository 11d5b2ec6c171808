"""Chapter 10 on every layer: a quality gate after each stage, and the lineage of what each stage read
and wrote.

* A gate looks at a layer's table as written and returns its problems, one sentence each, naming the
  layer; :func:`require` stops the run with the first. Each gate is one Spark aggregation.

  - bronze: every Kafka partition's offsets are contiguous (none missing, none twice) and bronze holds
    as many records as the topic;
  - silver: the event key (machine_id, event_time) is unique and never null (a null event_time is a
    timestamp that did not parse);
  - gold: one row per machine and hour, and the features in their physical range; one row per day
    and channel of daily sales, never a null key or a negative figure;
  - risk (the predictions): one row per machine and hour, every risk in 0 … 1 and its at_risk flag
    agreeing with the threshold, every gold machine-hour scored by the champion version;
  - and, after the gate's own, the data contract of each table of the layer (silver.telemetry, the
    two gold tables, gold.machine_risk): chapter 10's ODCS contracts run by datacontract-cli
    (:mod:`mat_platform.contracts`), once per table version.

* Lineage is recorded as OpenLineage run events (one COMPLETE event per stage, the table versions it
  read and wrote as facets) in ``state/lineage.jsonl``; chapter 10's readers
  (``lablib.governance.read_events``, ``lineage_edges``) read them, so gold leads back to the topic.
  The stages declare their inputs and outputs here rather than through the Spark listener: a
  streaming read from Kafka and a MERGE from a micro-batch reach it without their source.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import lablib
from lablib import governance

from mat_platform.settings import Settings

#: the physical range of each machine-hour feature prefix (units as the sensors report them)
RANGES = {
    "temperature_c": (-40.0, 200.0),
    "vibration_mm_s": (0.0, 100.0),
    "power_kw": (0.0, 1000.0),
    "rpm": (0.0, 20000.0),
    "warnings": (0.0, 10_000.0),
}
GOLD_KEY = ("machine_id", "hour")
SALES_KEY = ("order_date", "channel")


class GateFailed(lablib.LabError):
    """A layer's quality gate found a problem: the run stops, the message names the layer and what failed."""


# --------------------------------------------------------------------------- gates (DataFrame in, sentences out)
def bronze_problems(rows, topic_records: int, *, catching_up: bool = False) -> list[str]:
    """Bronze's problems: offsets not contiguous per partition, or not as many rows as the topic holds
    (``catching_up``: while events still flow, bronze may hold fewer, never more)."""
    from pyspark.sql import functions as F

    parts = (
        rows.groupBy("partition")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.countDistinct("offset").alias("distinct"),
            F.min("offset").alias("low"),
            F.max("offset").alias("high"),
        )
        .collect()
    )
    problems = []
    total = sum(p.n for p in parts)
    twice = sum(p.n - p.distinct for p in parts)
    gaps = sum(p.high - p.low + 1 - p.distinct for p in parts)
    if twice:
        problems.append(f"bronze gate: {twice} Kafka offset(s) appear more than once in bronze.telemetry")
    if gaps:
        problems.append(f"bronze gate: {gaps} Kafka offset(s) missing between the first and last of a partition")
    if total > topic_records if catching_up else total != topic_records:
        problems.append(f"bronze gate: bronze.telemetry holds {total} rows, the topic {topic_records} records")
    return problems


def silver_problems(rows) -> list[str]:
    """Silver's problems: duplicate event keys, null keys (an event_time that did not parse is null)."""
    from pyspark.sql import functions as F

    key_null = F.col("machine_id").isNull() | F.col("event_time").isNull()
    got = rows.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(key_null.cast("int")).alias("nulls"),
        F.countDistinct("machine_id", "event_time").alias("keys"),
    ).first()
    nulls = got.nulls or 0
    problems = []
    if got.n - nulls != got.keys:
        problems.append(
            f"silver gate: {got.n - nulls - got.keys} duplicate (machine_id, event_time) key(s) in silver.telemetry"
        )
    if nulls:
        problems.append(
            f"silver gate: {nulls} row(s) of silver.telemetry with a null machine_id or event_time "
            "(a timestamp that did not parse)"
        )
    return problems


def gold_problems(features) -> list[str]:
    """Gold's problems: more than one row per machine and hour, or a feature out of its physical range."""
    from pyspark.sql import functions as F

    def bounds(column: str):  # a sensor's hour mean and its rolling means, the warnings: their range
        base = column.split("_mean_")[0] if "_mean_" in column else column.split("_24h")[0]
        return RANGES.get(base)

    checked = {c: bounds(c) for c in features.columns if bounds(c)}
    out_of_range = {c: F.sum((~F.col(c).between(*r)).cast("int")).alias(c) for c, r in checked.items()}
    got = features.agg(
        F.count(F.lit(1)).alias("_n"),
        F.countDistinct(*GOLD_KEY).alias("_keys"),
        *out_of_range.values(),
    ).first()
    problems = []
    if got["_n"] != got["_keys"]:
        problems.append(
            f"gold gate: {got['_n'] - got['_keys']} extra row(s) for a machine and hour "
            "in gold.machine_hour_features (one row per machine-hour expected)"
        )
    bad = {c: got[c] for c in checked if got[c]}
    if bad:
        c, n = next(iter(sorted(bad.items())))
        low, high = checked[c]
        problems.append(
            f"gold gate: {n} value(s) of {c} outside {low:g} … {high:g} in gold.machine_hour_features"
            + (f" (and {len(bad) - 1} other feature(s))" if len(bad) > 1 else "")
        )
    return problems


def sales_problems(sales) -> list[str]:
    """gold.daily_sales's problems: a second row for a day and channel, a null key, a negative figure."""
    from pyspark.sql import functions as F

    key_null = F.col("order_date").isNull() | F.col("channel").isNull()
    negative = (F.col("orders") < 0) | (F.col("units") < 0) | (F.col("revenue") < 0)
    got = sales.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(key_null.cast("int")).alias("nulls"),
        F.countDistinct(*SALES_KEY).alias("keys"),
        F.sum(negative.cast("int")).alias("negative"),
    ).first()
    nulls, problems = got.nulls or 0, []
    if got.n - nulls != got.keys:
        problems.append(
            f"gold gate: {got.n - nulls - got.keys} extra row(s) for a day and channel in gold.daily_sales "
            "(one row per day and channel expected)"
        )
    if nulls:
        problems.append(f"gold gate: {nulls} row(s) of gold.daily_sales with a null order_date or channel")
    if got.negative:
        problems.append(f"gold gate: {got.negative} row(s) of gold.daily_sales with negative orders, units or revenue")
    return problems


def risk_problems(risk, hours: int, champion: str | None, threshold: float) -> list[str]:
    """gold.machine_risk's problems: a second row for a machine-hour, a risk outside 0 … 1, an at_risk flag
    that disagrees with ``risk >= threshold``, or gold machine-hours (``hours`` of them) the champion
    version has not scored."""
    from pyspark.sql import functions as F

    if champion is None:
        return ["risk gate: the model has no champion version, so gold.machine_risk was not scored"]
    risk_bad = F.col("risk").isNull() | ~F.col("risk").between(0.0, 1.0)
    got = risk.agg(
        F.count(F.lit(1)).alias("n"),
        F.countDistinct(*GOLD_KEY).alias("keys"),
        F.sum(risk_bad.cast("int")).alias("risk_bad"),
        F.sum((F.col("at_risk") != (F.col("risk") >= threshold)).cast("int")).alias("flag_bad"),
        F.sum((F.col("model_version") == champion).cast("int")).alias("by_champion"),
    ).first()
    problems = []
    if got.n != got.keys:
        problems.append(f"risk gate: {got.n - got.keys} extra row(s) for a machine and hour in gold.machine_risk")
    if got.risk_bad:
        problems.append(f"risk gate: {got.risk_bad} risk value(s) missing or outside 0 … 1 in gold.machine_risk")
    if got.flag_bad:
        problems.append(
            f"risk gate: {got.flag_bad} at_risk flag(s) disagree with risk >= {threshold:.3g} in gold.machine_risk"
        )
    if (got.by_champion or 0) != hours:
        problems.append(
            f"risk gate: {got.by_champion or 0} of {hours} gold machine-hours scored by the champion "
            f"(version {champion}) in gold.machine_risk"
        )
    return problems


def require(problems: list[str]) -> None:
    """Stop the run with the first problem (one sentence naming the layer), if any."""
    if problems:
        raise GateFailed(problems[0])


# --------------------------------------------------------------------------- gates on the platform's tables
def gate(layer: str, conf: Settings, spark, *, catching_up: bool = False, contracts: bool = True) -> list[str]:
    """The problems of ``layer`` (bronze, silver, gold or risk) as its tables are now: the gate's own,
    then those of the data contracts of the layer's tables (:mod:`mat_platform.contracts`).

    ``catching_up``: bronze is being written by a running query while the topic grows (see
    :func:`bronze_problems`). ``contracts=False`` leaves the contracts out: ``pipeline.live`` checks
    its tables every few seconds and tests the contracts once, on the tables it leaves.
    """
    from mat_platform import contracts as published
    from mat_platform import model, pipeline

    def load(table_layer: str, name: str):
        return spark.read.format("delta").load(str(conf.table(table_layer, name)))

    def with_contracts(problems: list[str]) -> list[str]:
        if not contracts:
            return problems
        return problems + [p for label in published.TABLES.get(layer, ()) for p in published.check(conf, spark, label)]

    if layer == "bronze":
        return bronze_problems(load("bronze", "telemetry"), pipeline.topic_size(conf), catching_up=catching_up)
    if layer == "silver":
        return with_contracts(silver_problems(load("silver", "telemetry")))
    if layer == "gold":
        return with_contracts(
            gold_problems(load("gold", "machine_hour_features")) + sales_problems(load("gold", "daily_sales"))
        )
    if layer == "risk":
        champion = model.champion_version(conf)
        if champion is None:
            return risk_problems(None, 0, None, model.RISK_THRESHOLD)
        if not (conf.table("gold", "machine_risk") / "_delta_log").exists():
            return ["risk gate: gold.machine_risk does not exist (score has not run)"]
        hours = load("gold", "machine_hour_features").count()
        return with_contracts(risk_problems(load("gold", "machine_risk"), hours, champion, model.RISK_THRESHOLD))
    raise ValueError(f"no quality gate for layer {layer!r}")


# --------------------------------------------------------------------------- lineage
#: what each stage reads and writes: ("kafka", topic) or (layer, table); produce reads the dataset
def stage_io(conf: Settings) -> dict[str, tuple[list, list]]:
    topic = ("kafka", conf.topic)
    telemetry = ("bronze", "telemetry")
    silver = ("silver", "telemetry")
    features = ("gold", "machine_hour_features")
    return {
        "produce": ([("dataset", "telemetry")], [topic]),
        "bronze": ([topic], [telemetry]),
        "silver": ([telemetry], [silver]),
        "gold": ([silver, ("dataset", "orders"), ("dataset", "order_lines")], [features, ("gold", "daily_sales")]),
        "score": ([features], [("gold", "machine_risk")]),
    }


def _dataset(conf: Settings, kind: str, name: str) -> dict:
    """An OpenLineage dataset: a Delta table by its layer.name (its version as a facet), the topic, a dataset."""
    if kind == "kafka":
        return {"namespace": f"kafka://{lablib.kafka_config()['bootstrap.servers']}", "name": name}
    if kind == "dataset":
        return {"namespace": "lablib.data", "name": f"dataset.{name}"}
    facets = {}
    path = conf.table(kind, name)
    if (path / "_delta_log").exists():
        from deltalake import DeltaTable

        facets["version"] = {"datasetVersion": str(DeltaTable(str(path)).version())}
    return {"namespace": conf.root.as_uri(), "name": f"{kind}.{name}", "facets": facets}


def lineage_file(conf: Settings) -> Path:
    return conf.state / "lineage.jsonl"


def record(conf: Settings, stage: str, run_id: str | None = None) -> dict:
    """Append the stage's COMPLETE run event (its inputs and outputs as they are now) to the lineage file."""
    inputs, outputs = stage_io(conf)[stage]
    event = {
        "eventType": "COMPLETE",
        "eventTime": dt.datetime.now(dt.UTC).isoformat(),
        "producer": "mat_platform",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "mat_platform", "name": stage},
        "inputs": [_dataset(conf, *d) for d in inputs],
        "outputs": [_dataset(conf, *d) for d in outputs],
    }
    path = lineage_file(conf)
    path.parent.mkdir(parents=True, exist_ok=True)
    # one line per event, appended in one write (O_APPEND): concurrent stages never interleave a line
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(event, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)
    return event


def edges(conf: Settings) -> set[tuple[str, str]]:
    """The table edges (input, output) of every recorded stage, read as chapter 10 reads lineage."""
    tables, _ = governance.lineage_edges(governance.read_events(lineage_file(conf)))
    return tables


def upstream(conf: Settings, table: str) -> list[str]:
    """Everything ``table`` (e.g. ``gold.machine_hour_features``) was built from, nearest first."""
    found, todo = [], [table]
    known = edges(conf)
    while todo:
        here = todo.pop(0)
        for a, b in sorted(known):
            if b == here and a not in found:
                found.append(a)
                todo.append(a)
    return found
