"""Chapter 05's checks accept the right answer and reject wrong or missing ones (real Kafka, registry, Spark)."""

import json
import socket
import threading
import time
import uuid

import pytest
from checking import accepts, rejects
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pyspark.sql import functions as F

import lablib
from lablib.check import ch05

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def admin(lab_services):
    # the session's real services (tests/fixtures_services.py), started once for every module that needs them
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
    accepts(ch05.compacted_topic(right, UPDATES))
    rejects(ch05.compacted_topic(None, UPDATES), "the topic name is still None")
    rejects(ch05.compacted_topic("ch99.no-such-topic", UPDATES), "there is no topic ch99.no-such-topic on the broker")
    not_compact = new_topic(3)
    produce(not_compact, [(u["machine_id"], json.dumps(u)) for u in UPDATES])
    rejects(ch05.compacted_topic(not_compact, UPDATES), "has cleanup.policy=delete, not compact")
    one_partition = new_topic(1, **{"cleanup.policy": "compact"})
    produce(one_partition, [(u["machine_id"], json.dumps(u)) for u in UPDATES])
    rejects(ch05.compacted_topic(one_partition, UPDATES), "has 1 partition(s), not 3")
    stale = new_topic(3, **{"cleanup.policy": "compact"})
    produce(stale, [(u["machine_id"], json.dumps(u)) for u in UPDATES[:4]])  # latest updates missing
    rejects(ch05.compacted_topic(stale, UPDATES), "the latest message of M-00001 is")
    spread = new_topic(3, **{"cleanup.policy": "compact"})
    produce(spread, [(u["machine_id"], json.dumps(u), i % 3) for i, u in enumerate(UPDATES)])  # partition forced
    rejects(ch05.compacted_topic(spread, UPDATES), "is in more than one partition")


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
    accepts(ch05.aborted_invisible(right, ["good 1", "good 2"], ["bad 1"]))
    rejects(ch05.aborted_invisible(None, ["good 1", "good 2"], ["bad 1"]), "the topic name is still None")
    both = new_topic()
    _transactions(both, commit_both=True)
    rejects(ch05.aborted_invisible(both, ["good 1", "good 2"], ["bad 1"]),
            "a read_committed consumer sees the aborted value 'bad 1'")
    plain = new_topic()
    produce(plain, [(None, "good 1"), (None, "good 2")])  # no aborted write in the log at all
    rejects(ch05.aborted_invisible(plain, ["good 1", "good 2"], ["bad 1"]),
            "the aborted value 'bad 1' is not in the log at all")


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
    accepts(ch05.at_least_once(group, topic, processed))
    accepts(ch05.at_least_once(group, topic, processed + processed[:2]))  # duplicates are allowed
    rejects(ch05.at_least_once(group, topic, None), "processed is still None")
    rejects(ch05.at_least_once(group, topic, processed[1:]), "1 message(s) were never processed")
    lazy = f"ch99.test-{uuid.uuid4().hex[:6]}"
    rejects(ch05.at_least_once(lazy, topic, _consume(topic, lazy, commit=False)),
            f"group {lazy} committed offset nothing on partition")  # nothing committed


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
        rejects(ch05.schema_evolved(subject, topic), f"{subject} has 1 version(s)")  # one version only
        rejects(ch05.schema_evolved(None, topic), "the subject is still None")
        registry.register_schema(subject, Schema(json.dumps(V2), "AVRO"))
        rejects(ch05.schema_evolved(subject, topic),
                f"no message of {topic} is written with the latest schema")  # none written with v2 yet
        p.produce(topic, AvroSerializer(registry, json.dumps(V2))({"machine_id": "M-2", "firmware_version": "4"}, ctx))
        p.flush()
        accepts(ch05.schema_evolved(subject, topic))
    finally:
        registry.delete_subject(subject)
        registry.delete_subject(subject, permanent=True)


def test_schema_evolved_says_when_the_registry_does_not_answer(monkeypatch):
    """A registry that takes the connection and never answers: the check says so within its timeouts.
    Without a timeout the registry client waits for ever, and a notebook hangs until nbval's 10 minutes."""
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def take_and_hold():
        while True:
            try:
                held.append(server.accept()[0])  # accepted, never answered
            except OSError:
                return

    threading.Thread(target=take_and_hold, daemon=True).start()
    monkeypatch.setattr(lablib.services, "registry_url", lambda: f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setattr(ch05, "REGISTRY_TIMEOUT", 0.5)
    verdict = {}
    check = threading.Thread(target=lambda: verdict.update(result=ch05.schema_evolved("ch05.silent-value", "ch05.silent")),
                             daemon=True)  # a thread, so a check that waits for ever fails this test, not CI
    started = time.monotonic()
    try:
        check.start()
        check.join(60)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert not check.is_alive(), "the check still waits on a silent registry after 60 s"
    assert held, "the control: the check never reached the silent registry"
    rejects(verdict["result"], "the schema registry does not answer (ReadTimeout after 4 tries)")
    assert time.monotonic() - started < 30


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
    accepts(ch05.exactly_once(right, topic))
    rejects(ch05.exactly_once(None, topic), "the table path is still None")
    twice = str(tmp_path / "twice")
    rows.union(rows.where("offset = 0")).write.format("delta").save(twice)
    rejects(ch05.exactly_once(twice, topic), "3 message(s) are in the table twice")
    short = str(tmp_path / "short")
    rows.where("offset > 0").write.format("delta").save(short)
    rejects(ch05.exactly_once(short, topic), "the table holds 27 messages, the topic 30")


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
    accepts(ch05.republished(archive, right))
    rejects(ch05.republished(archive, None), "the topic name is still None")
    squashed = new_topic(3)
    republish(squashed, [(r.key, r.value, 0, r.ms) for r in rows])  # everything in partition 0
    rejects(ch05.republished(archive, squashed), "partition 0: 30 message(s) in")
    reordered = new_topic(3)
    republish(reordered, [(r.key, r.value, r.partition, r.ms) for r in reversed(rows)])
    rejects(ch05.republished(archive, reordered), "key/value differ from the archive's offset")
    retimed = new_topic(3)
    republish(retimed, [(r.key, r.value, r.partition, None) for r in rows])  # timestamps lost
    rejects(ch05.republished(archive, retimed), "timestamp differs from the archive")
