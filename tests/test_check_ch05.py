"""Chapter 05's checks accept the right answer and reject wrong or missing ones (real Kafka, registry, Spark)."""

import json
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pyspark.sql import functions as F

import lablib
from lablib.check import ch05
from lablib.services import SERVICES, _service

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def services():
    wanted = [SERVICES["kafka"], SERVICES["registry"]]
    started = [s for s in wanted if s.external() is None and _service.status(s).state != "running"]
    _service.up(wanted, log=lambda line: None)
    yield
    _service.down(started, log=lambda line: None)


@pytest.fixture(scope="module")
def admin(services):
    return AdminClient(lablib.kafka_config())


@pytest.fixture
def new_topic(admin):
    made = []

    def make(partitions=1, **config):
        name = f"ch99.test-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(name, partitions, 1, config=config)])[name].result()
        made.append(name)
        return name

    yield make
    if made:
        for f in admin.delete_topics(made).values():
            f.result()


def produce(topic, items, **conf):
    p = Producer(lablib.kafka_config(**conf))
    for item in items:
        key, value, *rest = item
        kwargs = {"partition": rest[0]} if rest else {}
        p.produce(topic, key=key, value=value, **kwargs)
    p.flush()


UPDATES = [{"machine_id": f"M-{m:05d}", "status": s, "update": k}
           for k, s in enumerate(["RUNNING", "IDLE"]) for m in range(1, 5)]


def test_compacted_topic(new_topic):
    right = new_topic(3, **{"cleanup.policy": "compact"})
    produce(right, [(u["machine_id"], json.dumps(u)) for u in UPDATES])
    assert ch05.compacted_topic(right, UPDATES)
    assert not ch05.compacted_topic(None, UPDATES)
    assert not ch05.compacted_topic("ch99.no-such-topic", UPDATES)
    not_compact = new_topic(3)
    produce(not_compact, [(u["machine_id"], json.dumps(u)) for u in UPDATES])
    assert not ch05.compacted_topic(not_compact, UPDATES)
    one_partition = new_topic(1, **{"cleanup.policy": "compact"})
    produce(one_partition, [(u["machine_id"], json.dumps(u)) for u in UPDATES])
    assert not ch05.compacted_topic(one_partition, UPDATES)
    stale = new_topic(3, **{"cleanup.policy": "compact"})
    produce(stale, [(u["machine_id"], json.dumps(u)) for u in UPDATES[:4]])  # latest updates missing
    assert not ch05.compacted_topic(stale, UPDATES)
    spread = new_topic(3, **{"cleanup.policy": "compact"})
    produce(spread, [(u["machine_id"], json.dumps(u), i % 3) for i, u in enumerate(UPDATES)])  # partition forced
    assert not ch05.compacted_topic(spread, UPDATES)


def _transactions(topic, commit_both=False):
    p = Producer(lablib.kafka_config(transactional_id=f"ch99-tx-{uuid.uuid4().hex[:6]}"))
    p.init_transactions()
    p.begin_transaction()
    p.produce(topic, value="good 1")
    p.produce(topic, value="good 2")
    p.commit_transaction()
    p.begin_transaction()
    p.produce(topic, value="bad 1")
    p.flush()
    if commit_both:
        p.commit_transaction()
    else:
        p.abort_transaction()


def test_aborted_invisible(new_topic):
    right = new_topic()
    _transactions(right)
    assert ch05.aborted_invisible(right, ["good 1", "good 2"], ["bad 1"])
    assert not ch05.aborted_invisible(None, ["good 1", "good 2"], ["bad 1"])
    both = new_topic()
    _transactions(both, commit_both=True)
    assert not ch05.aborted_invisible(both, ["good 1", "good 2"], ["bad 1"])
    plain = new_topic()
    produce(plain, [(None, "good 1"), (None, "good 2")])  # no aborted write in the log at all
    assert not ch05.aborted_invisible(plain, ["good 1", "good 2"], ["bad 1"])


def _consume(topic, group, commit=True, partitions=3):
    c = Consumer(lablib.kafka_config(group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                                     enable_partition_eof=True))
    c.subscribe([topic])
    done, ends = [], set()
    while len(ends) < partitions:
        m = c.poll(5)
        if m is None:
            break
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                ends.add(m.partition())
            continue
        done.append((m.partition(), m.offset(), m.value()))
        if commit:
            c.commit(message=m, asynchronous=False)
    c.close()
    return done


def test_at_least_once(new_topic):
    topic = new_topic(3)
    produce(topic, [(f"k{i}", f"v{i}", i % 3) for i in range(12)])
    group = f"ch99.test-{uuid.uuid4().hex[:6]}"
    processed = _consume(topic, group)
    assert len(processed) == 12
    assert ch05.at_least_once(group, topic, processed)
    assert ch05.at_least_once(group, topic, processed + processed[:2])  # duplicates are allowed
    assert not ch05.at_least_once(group, topic, None)
    assert not ch05.at_least_once(group, topic, processed[1:])  # one never processed
    lazy = f"ch99.test-{uuid.uuid4().hex[:6]}"
    assert not ch05.at_least_once(lazy, topic, _consume(topic, lazy, commit=False))  # nothing committed


V1 = {"type": "record", "name": "R", "namespace": "t", "fields": [{"name": "machine_id", "type": "string"}]}
V2 = {**V1, "fields": V1["fields"] + [{"name": "firmware_version", "type": ["null", "string"], "default": None}]}


def test_schema_evolved(new_topic):
    registry = SchemaRegistryClient({"url": lablib.registry_url()})
    topic = new_topic()
    subject = f"{topic}-value"
    ctx = SerializationContext(topic, MessageField.VALUE)
    try:
        p = Producer(lablib.kafka_config())
        p.produce(topic, AvroSerializer(registry, json.dumps(V1))({"machine_id": "M-1"}, ctx))
        p.flush()
        assert not ch05.schema_evolved(subject, topic)  # one version only
        assert not ch05.schema_evolved(None, topic)
        registry.register_schema(subject, Schema(json.dumps(V2), "AVRO"))
        assert not ch05.schema_evolved(subject, topic)  # no message written with v2 yet
        p.produce(topic, AvroSerializer(registry, json.dumps(V2))({"machine_id": "M-2", "firmware_version": "4"}, ctx))
        p.flush()
        assert ch05.schema_evolved(subject, topic)
    finally:
        registry.delete_subject(subject)
        registry.delete_subject(subject, permanent=True)


def _kafka_batch(spark, topic):
    return (spark.read.format("kafka").option("kafka.bootstrap.servers", lablib.kafka_config()["bootstrap.servers"])
            .option("subscribe", topic).option("startingOffsets", "earliest").option("endingOffsets", "latest").load())


def test_exactly_once(new_topic, spark, tmp_path):
    topic = new_topic(3)
    produce(topic, [(f"M-{i % 5}", f"r{i}") for i in range(30)])
    rows = _kafka_batch(spark, topic).select(F.col("key").cast("string"), F.col("value").cast("string"),
                                             "topic", "partition", "offset")
    right = str(tmp_path / "right")
    rows.write.format("delta").save(right)
    assert ch05.exactly_once(right, topic)
    assert not ch05.exactly_once(None, topic)
    twice = str(tmp_path / "twice")
    rows.union(rows.where("offset = 0")).write.format("delta").save(twice)
    assert not ch05.exactly_once(twice, topic)
    short = str(tmp_path / "short")
    rows.where("offset > 0").write.format("delta").save(short)
    assert not ch05.exactly_once(short, topic)


def test_republished(new_topic, spark, tmp_path):
    source = new_topic(3)
    produce(source, [(f"M-{i % 5}", f"r{i}") for i in range(30)])
    archive = str(tmp_path / "archive")
    _kafka_batch(spark, source).select("key", "value", "partition", "offset", "timestamp") \
        .write.format("delta").save(archive)
    rows = spark.read.format("delta").load(archive).select(
        "key", "value", "partition", F.unix_millis("timestamp").alias("ms")).orderBy("partition", "offset").collect()

    def republish(topic, items):
        p = Producer(lablib.kafka_config())
        for key, value, part, ms in items:
            when = {} if ms is None else {"timestamp": ms}  # no timestamp: the producer stamps now
            p.produce(topic, key=bytes(key), value=bytes(value), partition=part, **when)
        p.flush()

    right = new_topic(3)
    republish(right, [(r.key, r.value, r.partition, r.ms) for r in rows])
    assert ch05.republished(archive, right)
    assert not ch05.republished(archive, None)
    squashed = new_topic(3)
    republish(squashed, [(r.key, r.value, 0, r.ms) for r in rows])  # everything in partition 0
    assert not ch05.republished(archive, squashed)
    reordered = new_topic(3)
    republish(reordered, [(r.key, r.value, r.partition, r.ms) for r in reversed(rows)])
    assert not ch05.republished(archive, reordered)
    retimed = new_topic(3)
    republish(retimed, [(r.key, r.value, r.partition, None) for r in rows])  # timestamps lost
    assert not ch05.republished(archive, retimed)
