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
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import lablib

from mat_platform import model, quality, transforms
from mat_platform.settings import TABLE_PROPERTIES, Settings, external_mlflow

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


def produce(conf: Settings) -> int:
    """Replay the factory telemetry into the topic once; returns how many events the topic got."""
    record = conf.state / "produced.json"
    done = read_record(record)
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
    summary = lablib.data.replay("telemetry", to="kafka", topic=conf.topic)
    write_record(record, {"sent": summary["sent"], "topic": conf.topic})
    return summary["sent"]


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


def bronze(conf: Settings, spark) -> int:
    """Kafka -> bronze Delta, exactly once: availableNow from the checkpoint's offsets; returns bronze's rows."""
    bootstrap = lablib.kafka_config()["bootstrap.servers"]
    path = conf.table("bronze", "telemetry")
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", conf.topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    query = (
        transforms.bronze(source)
        .writeStream.format("delta")
        .option("checkpointLocation", conf.checkpoint("bronze"))
        .trigger(availableNow=True)
        .start(str(path))
    )
    query.awaitTermination()
    return _count(spark, path)


def silver(conf: Settings, spark) -> int:
    """The new bronze rows -> silver, MERGEd on the event key; returns silver's rows."""
    path = conf.table("silver", "telemetry")
    ddl = lablib.data.schema("telemetry")

    def merge(batch, batch_id: int) -> None:
        rows = transforms.silver(transforms.parse(batch, ddl))
        session = batch.sparkSession
        if not (path / "_delta_log").exists():
            writer = rows.write.format("delta")
            for key, value in TABLE_PROPERTIES.items():
                writer = writer.option(key, value)
            writer.save(str(path))
            return
        rows.createOrReplaceTempView("capstone_silver_batch")
        on = " AND ".join(f"t.{k} = s.{k}" for k in transforms.KEY)
        session.sql(f"MERGE INTO delta.`{path}` t USING capstone_silver_batch s ON {on} WHEN NOT MATCHED THEN INSERT *")

    source = spark.readStream.format("delta").load(str(conf.table("bronze", "telemetry")))
    query = (
        source.writeStream.foreachBatch(merge)
        .option("checkpointLocation", conf.checkpoint("silver"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return _count(spark, path)


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
    readings = spark.read.format("delta").load(str(silver_path))
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
