"""The platform's stages, each idempotent, and :func:`run` which chains them.

    produce -> bronze -> silver -> gold -> train -> score

* produce: the course's replayer sends the factory telemetry into the topic once; the count it
  delivered is recorded, and a second run sends nothing (the topic already holds it).
* bronze: Structured Streaming from Kafka into Delta, ``availableNow`` with a checkpoint: each run
  takes what arrived since the last, exactly once (the checkpoint and the Delta commit agree).
* silver: the new bronze rows, parsed and cleaned, MERGEd on the event key (insert when absent).
  Late or replayed events are handled by that rule: however late, a reading lands once, and a
  reading seen before is not inserted twice. (Chapter 04's watermark bounds the state of a
  streaming aggregation; a keyed MERGE into a table needs none.)
* gold: recomputed from silver and the sales datasets, replacing the tables in one commit each.
* train, score (model.py): chapter 06's failure model trained on gold when gold changed, registered
  in MLflow and promoted by rule; the champion scores the machine-hours it has not scored yet.

:func:`run` takes each stage once; :func:`live` runs them continuously while the replay sends: bronze
and silver as long-running streaming queries on the same checkpoints, gold, the first champion and
the scoring in a loop on the driver.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import lablib

from mat_platform import model, quality, transforms
from mat_platform.settings import TABLE_PROPERTIES, Settings, committed, external_mlflow

GOLD = ("machine_hour_features", "daily_sales")
#: the model's stages, public here like the others (model.py holds them)
train, score = model.train, model.score


def write_record(path: Path, data) -> None:
    # temp then rename: a reader never sees half a record
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def read_record(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def topic_size(conf: Settings) -> int:
    """How many records the topic holds (sum of its partitions' end offsets; 0 when absent)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    kafka = lablib.kafka_config()
    consumer = Consumer({**kafka, "group.id": "mat-platform-size", "enable.auto.commit": False})
    try:
        try:
            meta = consumer.list_topics(conf.topic, timeout=10).topics.get(conf.topic)
        except KafkaException:
            raise lablib.LabError(
                f"Kafka at {kafka['bootstrap.servers']} does not answer: start it (`lab capstone up` for the "
                "embedded broker) or point KAFKA_BOOTSTRAP_SERVERS at a running one"
            ) from None
        if meta is None or meta.error is not None:
            return 0
        return sum(
            consumer.get_watermark_offsets(TopicPartition(conf.topic, p), timeout=10)[1] for p in meta.partitions
        )
    finally:
        consumer.close()


def replayed(conf: Settings) -> int | None:
    """How many events the finished replay delivered into the topic, or None when it has not run yet.

    Refuses a topic that disagrees with the record, or that holds records of a replay that never
    recorded its end (the process died while sending)."""
    done = read_record(conf.state / "produced.json")
    held = topic_size(conf)
    if done is not None:
        if held != done["sent"]:
            raise lablib.LabError(
                f"topic {conf.topic} holds {held} records, the replay recorded {done['sent']}: "
                f"remove {lablib.rel(conf.root)} and delete the topic to start again"
            )
        return done["sent"]
    if held:
        raise lablib.LabError(
            f"topic {conf.topic} holds {held} records of an interrupted replay: remove "
            f"{lablib.rel(conf.root)} and delete the topic (`lab down kafka` then `lab up kafka` "
            "keeps the broker's data) to start again"
        )
    return None


def replay(conf: Settings, rate: float = 0.0, stop=None) -> dict:
    """Send the factory telemetry into the topic (``rate`` events/s, 0 as fast as possible) and record
    the count delivered, also when ``stop`` (a threading.Event) or Ctrl-C ends it early: the topic holds
    exactly what the record says. Returns the replayer's summary.

    The topic is first made as ``resources.py`` declares it (created, or its retention put back): the
    replayer stamps each record with its 2024 event time, and under the broker's default time retention
    (7 days) every closed log segment is already expired, deleted at the broker's next retention check.
    At full scale segments close during the replay, and a run once found 5,016 records gone."""
    from mat_platform import resources

    resources.apply(conf, kinds=("topic",))
    summary = lablib.data.replay("telemetry", to="kafka", topic=conf.topic, rate=rate, stop=stop)
    write_record(conf.state / "produced.json", {"sent": summary["sent"], "topic": conf.topic})
    return summary


def produce(conf: Settings) -> int:
    """Replay the factory telemetry into the topic once; returns how many events the topic got."""
    done = replayed(conf)
    return done if done is not None else replay(conf)["sent"]


def reset(conf: Settings) -> list[str]:
    """Remove this environment-scale's tables, checkpoints and records and delete its topic (and the
    topic's subject on the embedded registry when it runs): the next run starts fresh.

    Only the embedded broker's topic is deleted; on a Kafka named by KAFKA_BOOTSTRAP_SERVERS nothing
    is touched (the topic is someone else's) and the refusal says so. Returns what was removed.
    """
    import shutil

    from confluent_kafka.admin import AdminClient

    external = lablib.targets().kafka
    if external:  # refused before anything is removed: half a reset would leave a run that cannot start
        raise lablib.LabError(
            f"reset deletes a topic only on the embedded broker, and Kafka here is {external} "
            f"(KAFKA_BOOTSTRAP_SERVERS): delete {conf.topic} there and remove {lablib.rel(conf.root)} yourself"
        )
    kafka = lablib.kafka_config()  # starts the embedded broker when it is down: the topic lives in its storage
    removed = []
    admin = AdminClient(kafka)
    if conf.topic in admin.list_topics(timeout=10).topics:
        admin.delete_topics([conf.topic], operation_timeout=30)[conf.topic].result()
        deadline = time.monotonic() + 30
        # deletion is asynchronous: a run started right after must not find the old records
        while conf.topic in admin.list_topics(timeout=10).topics:
            if time.monotonic() > deadline:
                raise lablib.LabError(f"topic {conf.topic} is still listed 30 s after its deletion; run reset again")
            time.sleep(0.2)
        removed.append(f"topic {conf.topic}")
    removed += _forget_subject(conf)
    if conf.root.exists():
        # renamed first, then deleted: a reset interrupted halfway never leaves half a table where a run looks
        doomed = conf.root.with_name(f".{conf.root.name}.{os.getpid()}.deleting")
        conf.root.replace(doomed)
        shutil.rmtree(doomed)
        removed.append(f"tables, checkpoints and records in {lablib.rel(conf.root)}")
    return removed


def _forget_subject(conf: Settings) -> list[str]:
    """Delete the topic's registry subject (resources.subject) on the embedded registry, if it runs:
    a registry that is down is not started only to be cleared (its subject, as declared, is harmless)."""
    from lablib import services

    if lablib.targets().registry or "registry" not in services.running():
        return []
    from confluent_kafka.schema_registry import SchemaRegistryClient

    client = SchemaRegistryClient({"url": lablib.registry_url()})
    name = f"{conf.topic}-value"
    if name not in client.get_subjects():
        return []
    client.delete_subject(name)
    client.delete_subject(name, permanent=True)  # the name free again, as after a topic's deletion
    return [f"subject {name}"]


def _count(spark, path: Path) -> int:
    return spark.read.format("delta").load(str(path)).count()


def start_bronze(conf: Settings, spark, **trigger):
    """Start the Kafka -> bronze Delta query with ``trigger`` (``availableNow=True``, or
    ``processingTime="10 seconds"`` for a query that keeps running); returns the StreamingQuery.

    One checkpoint whatever the trigger: a batch run and a running query take turns exactly once (the
    checkpoint's offsets and Delta's record of the query's commits agree)."""
    bootstrap = lablib.kafka_config()["bootstrap.servers"]
    path = conf.table("bronze", "telemetry")
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", conf.topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    return (
        transforms.bronze(source)
        .writeStream.format("delta")
        .queryName("capstone_bronze")
        .option("checkpointLocation", conf.checkpoint("bronze"))
        .trigger(**trigger)
        .start(str(path))
    )


def bronze(conf: Settings, spark) -> int:
    """Kafka -> bronze Delta, exactly once: availableNow from the checkpoint's offsets; returns bronze's rows."""
    start_bronze(conf, spark, availableNow=True).awaitTermination()
    return _count(spark, conf.table("bronze", "telemetry"))


def start_silver(conf: Settings, spark, **trigger):
    """Start the bronze -> silver query (each micro-batch's rows parsed, cleaned and MERGEd on the event
    key) with ``trigger``, as :func:`start_bronze`; returns the StreamingQuery. Bronze must exist."""
    path = conf.table("silver", "telemetry")
    ddl = lablib.data.schema("telemetry")

    def merge(batch, batch_id: int) -> None:
        rows = transforms.silver(transforms.parse(batch, ddl))
        session = batch.sparkSession
        if committed(path) is None:  # the first batch (or a first write a crash left without its commit)
            writer = rows.write.format("delta")
            for key, value in TABLE_PROPERTIES.items():
                writer = writer.option(key, value)
            writer.save(str(path))
            return
        rows.createOrReplaceTempView("capstone_silver_batch")
        on = " AND ".join(f"t.{k} = s.{k}" for k in transforms.KEY)
        session.sql(f"MERGE INTO delta.`{path}` t USING capstone_silver_batch s ON {on} WHEN NOT MATCHED THEN INSERT *")

    source = spark.readStream.format("delta").load(str(conf.table("bronze", "telemetry")))
    return (
        source.writeStream.foreachBatch(merge)
        .queryName("capstone_silver")
        .option("checkpointLocation", conf.checkpoint("silver"))
        .trigger(**trigger)
        .start()
    )


def silver(conf: Settings, spark) -> int:
    """The new bronze rows -> silver, MERGEd on the event key; returns silver's rows."""
    start_silver(conf, spark, availableNow=True).awaitTermination()
    return _count(spark, conf.table("silver", "telemetry"))


def _replace(frame, path: Path) -> int:
    writer = frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    for key, value in TABLE_PROPERTIES.items():
        writer = writer.option(key, value)
    writer.save(str(path))
    return _count(frame.sparkSession, path)


def gold(conf: Settings, spark) -> dict[str, int]:
    """Silver and the sales datasets -> the gold tables, each replaced in one commit; returns their rows.

    Gold is a function of silver (and of the sales datasets, fixed per scale): when silver's version
    is the one gold was last built from, there is nothing new and the tables stay as they are.
    """
    from deltalake import DeltaTable

    silver_path = conf.table("silver", "telemetry")
    version = DeltaTable(str(silver_path)).version()
    record = conf.state / "gold.json"
    built = read_record(record)
    if built is not None and built["silver_version"] == version:
        return {name: built["rows"][name] for name in GOLD}
    # that version exactly: a running silver query may commit the next one meanwhile
    readings = spark.read.format("delta").option("versionAsOf", version).load(str(silver_path))
    frames = {
        "machine_hour_features": transforms.machine_hour_features(readings),
        "daily_sales": transforms.daily_sales(lablib.data.read("orders"), lablib.data.read("order_lines")),
    }
    rows = {name: _replace(frame, conf.table("gold", name)) for name, frame in frames.items()}
    write_record(record, {"silver_version": version, "rows": rows})
    return rows


def model_stages(conf: Settings) -> bool:
    """Whether this environment trains and scores: dev always (the embedded MLflow), prod only with
    MLFLOW_TRACKING_URI (prod never falls back to an embedded server)."""
    return conf.env == "dev" or bool(external_mlflow())


def model_versions(conf: Settings, spark) -> int:
    """:func:`train` (a new version only when gold changed), then the versions registered so far."""
    train(conf, spark)
    return model.versions(conf)


def run(conf: Settings) -> list[dict]:
    """Every stage once, in order, each followed by its layer's quality gate (quality.GateFailed stops
    the run); returns one row per layer: rows after the stage, seconds it took."""
    report = []

    def timed(layer: str, stage, *args):
        t0 = time.monotonic()
        rows = stage(*args)
        seconds = round(time.monotonic() - t0, 1)
        if isinstance(rows, dict):
            report.extend(
                {"layer": f"gold.{name}", "rows": n, "seconds": seconds if i == 0 else None}
                for i, (name, n) in enumerate(rows.items())
            )
        else:
            report.append({"layer": layer, "rows": rows, "seconds": seconds})

    timed("produced", produce, conf)
    quality.record(conf, "produce")
    spark = lablib.spark()
    for layer, stage in (("bronze", bronze), ("silver", silver), ("gold", gold)):
        timed(layer, stage, conf, spark)
        quality.record(conf, layer)  # lineage: what the stage read and wrote
        quality.require(quality.gate(layer, conf, spark))  # a failed gate stops the run here
    # the model's rows: versions registered so far, then the predictions table's rows and their gate
    if model_stages(conf):
        timed("model.versions", model_versions, conf, spark)
        timed("gold.machine_risk", score, conf, spark)
        quality.record(conf, "score")
        quality.require(quality.gate("risk", conf, spark))
    write_record(conf.state / "last_run.json", report)
    return report


# --------------------------------------------------------------------------- live: the same stages, continuously
def _version(path: Path) -> int | None:
    table = committed(path)
    return None if table is None else table.version()


def _rows(path: Path) -> int:
    """A Delta table's rows from its log's file statistics (no scan; 0 when the table is absent)."""
    table = committed(path)
    if table is None:
        return 0
    actions = table.get_add_actions(flatten=True)
    return int(sum(n or 0 for n in actions.column("num_records").to_pylist()))


def check_live(rate: float, seconds: float | None, interval: float) -> None:
    """Refuse, in one sentence, what :func:`live` cannot run with."""
    if not rate > 0:
        raise lablib.LabError(f"the rate must be more than 0 events per second, not {rate:g}")
    if not interval > 0:
        raise lablib.LabError(f"the interval must be more than 0 seconds, not {interval:g}")
    if seconds is not None and not seconds > 0:
        raise lablib.LabError(f"the time limit must be more than 0 seconds, not {seconds:g}")


class _Replay:
    """:func:`replay` in a background thread: what it delivered, when it ended, what it raised."""

    def __init__(self, conf: Settings, rate: float):
        import threading

        self.stop = threading.Event()
        self.summary: dict | None = None
        self.error: Exception | None = None
        self.ended: float | None = None  # time.monotonic() when the record was written
        self.thread = threading.Thread(target=self._run, args=(conf, rate), name="capstone-replay", daemon=True)
        self.thread.start()

    def _run(self, conf: Settings, rate: float) -> None:
        try:
            self.summary = replay(conf, rate, self.stop)
            quality.record(conf, "produce")
        except Exception as exc:  # noqa: BLE001 - handed to the driver loop, which raises it there
            self.error = exc
        finally:
            self.ended = time.monotonic()

    @property
    def done(self) -> bool:
        return self.ended is not None


def live(conf: Settings, rate: float = 1000.0, seconds: float | None = None, interval: float = 10.0, echo=None) -> dict:
    """The platform running continuously: the replay at ``rate`` events/s (only when the topic has not
    been replayed yet), bronze and silver as long-running streaming queries (processingTime trigger of
    ``interval`` seconds, the batch stages' checkpoints), and every ``interval`` seconds, on the driver,
    one cycle: gold rebuilt when silver moved, a champion trained if there is none and gold allows one,
    the new machine-hours scored, each moved layer's gate run and its lineage recorded.

    Stops after ``seconds``, or (None) once the replay has ended and a whole cycle found nothing new,
    or on Ctrl-C. Unless interrupted, it then stops the queries, drains what they had not taken yet
    with the batch stages (availableNow) and runs the full gates, as :func:`run` would. ``echo`` is
    called with each cycle's row. Returns the report (also written to ``state/last_live.json``).
    """
    check_live(rate, seconds, interval)
    t0 = time.monotonic()
    sent_before = replayed(conf)  # refuses a topic that disagrees with the record, as produce does
    spark = lablib.spark()
    feeder = None if sent_before is not None else _Replay(conf, rate)
    every = f"{interval:g} seconds"
    bronze_path, silver_path = conf.table("bronze", "telemetry"), conf.table("silver", "telemetry")
    queries = {}
    models = model_stages(conf)
    cycles: list[dict] = []
    seen = {"bronze": _version(bronze_path), "silver": _version(silver_path)}
    last_scored_at = None
    scored = _rows(conf.table("gold", "machine_risk"))
    stopped = "caught up"
    notes: list[str] = []

    def step() -> dict:
        nonlocal last_scored_at, scored
        c0 = time.monotonic()
        for name, query in queries.items():
            if query.exception() is not None:
                raise lablib.LabError(f"the {name} query stopped: {query.exception().desc.splitlines()[0]}")
        if feeder is not None and feeder.error is not None:
            raise feeder.error
        if "silver" not in queries and committed(bronze_path) is not None:
            queries["silver"] = start_silver(conf, spark, processingTime=every)
        moved, spent = [], {}

        def timed(name: str, stage, *args, **kwargs):
            s0 = time.monotonic()
            try:
                return stage(*args, **kwargs)
            finally:
                spent[name] = round(spent.get(name, 0.0) + time.monotonic() - s0, 1)

        for layer, path in (("bronze", bronze_path), ("silver", silver_path)):
            version = _version(path)
            if version is not None and version != seen[layer]:
                seen[layer] = version
                moved.append(layer)
                quality.record(conf, layer)
                quality.require(timed("gates", quality.gate, layer, conf, spark, catching_up=True, contracts=False))
        # bronze counted before the topic: bronze never holds more than the topic, so the lag is never negative
        bronze_rows, silver_rows = _rows(bronze_path), _rows(silver_path)
        held = topic_size(conf)
        rebuilt = False
        if seen["silver"] is not None:
            before = read_record(conf.state / "gold.json")
            timed("gold", gold, conf, spark)
            rebuilt = read_record(conf.state / "gold.json") != before
            if rebuilt:
                moved.append("gold")
                quality.record(conf, "gold")
                quality.require(timed("gates", quality.gate, "gold", conf, spark, contracts=False))
        new = 0
        if models and (conf.table("gold", "machine_hour_features") / "_delta_log").is_dir():
            if model.champion_version(conf) is None and (rebuilt or not cycles):
                try:
                    trained = timed("train", train, conf, spark)
                    notes.append(trained["message"])
                    moved.append("model")
                except model.NotEnoughHours as exc:
                    notes.append(f"not trained yet: {exc.message}")
            total = timed("score", score, conf, spark)
            new, scored = total - scored, total
            if new:
                last_scored_at = time.monotonic()
                moved.append("score")
                quality.record(conf, "score")
                quality.require(timed("gates", quality.gate, "risk", conf, spark, contracts=False))
        hours = _rows(conf.table("gold", "machine_hour_features"))
        return {
            "cycle": len(cycles) + 1,
            "at": round(c0 - t0, 1),
            "topic": held,
            "bronze": bronze_rows,
            "lag": held - bronze_rows,
            "silver": silver_rows,
            "gold_hours": hours,
            "scored": scored,
            "new_scored": new,
            "moved": moved,
            "replaying": feeder is not None and not feeder.done,
            "seconds": round(time.monotonic() - c0, 1),
            "spent": spent,  # seconds of the cycle in gates, gold, train, score
        }

    try:
        queries["bronze"] = start_bronze(conf, spark, processingTime=every)
        while True:
            c0 = time.monotonic()
            row = step()
            cycles.append(row)
            if echo is not None:
                echo(row)
            if seconds is not None and time.monotonic() - t0 >= seconds:
                stopped = "time limit"
                break
            idle = not row["replaying"] and not row["moved"] and row["lag"] == 0
            if seconds is None and idle:
                break
            time.sleep(max(0.0, c0 + interval - time.monotonic()))
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        if feeder is not None:
            feeder.stop.set()  # a replay cut short records what it delivered (as produce does on Ctrl-C)
        for query in queries.values():
            query.stop()
        if feeder is not None:
            feeder.thread.join()
    if feeder is not None and feeder.error is not None:
        raise feeder.error
    if stopped != "interrupted":
        # what the queries had not taken when they stopped, taken by the batch stages, then run()'s full gates
        for layer, stage in (("bronze", bronze), ("silver", silver)):
            before = _version(conf.table(layer, "telemetry"))
            stage(conf, spark)
            if _version(conf.table(layer, "telemetry")) != before:
                quality.record(conf, layer)
        before = read_record(conf.state / "gold.json")
        gold(conf, spark)
        if read_record(conf.state / "gold.json") != before:
            quality.record(conf, "gold")
        for layer in ("bronze", "silver", "gold"):
            quality.require(quality.gate(layer, conf, spark))
        if models:
            if model.champion_version(conf) is None:
                try:
                    notes.append(train(conf, spark)["message"])
                except model.NotEnoughHours as exc:
                    notes.append(f"not trained: {exc.message}")
            total = score(conf, spark)
            if total != scored:
                scored, last_scored_at = total, time.monotonic()
                quality.record(conf, "score")
            quality.require(quality.gate("risk", conf, spark))
    sent = sent_before if feeder is None else feeder.summary["sent"]
    report = {
        "stopped": stopped,
        "seconds": round(time.monotonic() - t0, 1),
        "interval": interval,
        "rate": rate,
        "replay": None
        if feeder is None
        else {
            "sent": sent,
            "seconds": feeder.summary["seconds"],
            "events_per_second": round(sent / feeder.summary["seconds"], 1) if feeder.summary["seconds"] else None,
            "stopped": feeder.summary["stopped"],
        },
        "rows": {
            "produced": sent,
            "bronze": _rows(bronze_path),
            "silver": _rows(silver_path),
            **{f"gold.{name}": _rows(conf.table("gold", name)) for name in GOLD},
            **({"model.versions": model.versions(conf), "gold.machine_risk": scored} if models else {}),
        },
        "cycles": cycles,
        "last_event_to_last_score_seconds": None
        if feeder is None or last_scored_at is None or last_scored_at < feeder.ended
        else round(last_scored_at - feeder.ended, 1),
        "notes": notes,
    }
    write_record(conf.state / "last_live.json", report)
    return report


def cycle_line(row: dict) -> str:
    """One cycle of :func:`live` as the line it prints."""
    flowing = ", replaying" if row["replaying"] else ""
    return (
        f"cycle {row['cycle']:>3} at {row['at']:>6.1f} s: topic {row['topic']:,}, bronze {row['bronze']:,} "
        f"(lag {row['lag']:,}), silver {row['silver']:,}, gold {row['gold_hours']:,} machine-hours, scored "
        f"{row['scored']:,} (+{row['new_scored']:,}) in {row['seconds']:.1f} s{flowing}"
    )


def table(report: list[dict]) -> str:
    """The report as a small text table (one line per layer)."""
    lines = [f"{'layer':<28}{'rows':>10}{'seconds':>10}"]
    for row in report:
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
        lines.append(f"{row['layer']:<28}{row['rows']:>10,}{seconds:>10}")
    return "\n".join(lines)


def last_run(conf: Settings) -> list[dict] | None:
    """The report of the last completed run of this environment, if any."""
    return read_record(conf.state / "last_run.json")
