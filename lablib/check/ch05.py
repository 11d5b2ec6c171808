"""Checks of chapter 05, streaming with Kafka: they read the real topics, groups, subjects and tables."""

from __future__ import annotations

import json

from lablib.check import exercise, fail
from lablib.check._spark import need_delta, spark_session

_GROUP = "ch05.checker"  # only assigns partitions, never commits


_admins: dict = {}


def _admin():
    # kept alive: a future outlives the call, and a collected client cancels it (_DESTROY)
    from confluent_kafka.admin import AdminClient

    from lablib import services

    conf = services.kafka_config()
    key = conf["bootstrap.servers"]
    if key not in _admins:
        _admins[key] = AdminClient(conf)
    return _admins[key]


def _need_topic(topic):
    if topic is None:
        fail("the topic name is still None", "assign the topic's name to the variable the exercise names")
    if not isinstance(topic, str):
        fail(f"the topic should be a name (str), not a {type(topic).__name__}")
    meta = _admin().list_topics(timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        fail(f"there is no topic {topic} on the broker")
    return meta


def _topic_config(topic: str) -> dict:
    from confluent_kafka.admin import ConfigResource, ResourceType

    res = ConfigResource(ResourceType.TOPIC, topic)
    return {k: v.value for k, v in _admin().describe_configs([res])[res].result(timeout=10).items()}


def read_topic(topic: str, isolation: str = "read_uncommitted", timeout: float = 20.0) -> list:
    """Every message of ``topic`` (all partitions, from the start to the end), ordered by
    (partition, offset), as tuples (partition, offset, key bytes, value bytes, timestamp ms)."""
    import time

    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from lablib import services

    meta = _need_topic(topic)
    # fetch.wait.max.ms: at a partition's end the broker holds a fetch this long hoping for data (500 ms by
    # default); a check that only wants to reach the end asks it not to wait (30 ms here instead of 530)
    consumer = Consumer(services.kafka_config(group_id=_GROUP, enable_auto_commit=False,
                                              isolation_level=isolation, enable_partition_eof=True,
                                              fetch_wait_max_ms=10))
    try:
        parts = sorted(meta.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        pending, out = set(parts), []
        for p in parts:  # empty partitions give no EOF event before a first fetch; skip them
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                pending.discard(p)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                continue
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value(), msg.timestamp()[1]))
        if pending:
            fail(f"could not read {topic} to its end within {timeout:.0f} s")
        return sorted(out, key=lambda m: (m[0], m[1]))
    finally:
        consumer.close()


def _end_offsets(topic: str, partitions) -> dict[int, tuple[int, int]]:
    from confluent_kafka import Consumer, TopicPartition

    from lablib import services

    consumer = Consumer(services.kafka_config(group_id=_GROUP, enable_auto_commit=False))
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
    finally:
        consumer.close()


def _text(b) -> str | None:
    return None if b is None else b.decode("utf-8", errors="replace")


# -- 1. a log-compacted topic ------------------------------------------------------

@exercise("05", hint="AdminClient.create_topics([NewTopic(name, num_partitions=3, replication_factor=1, "
                     "config={'cleanup.policy': 'compact'})]), then produce each update with key=machine_id")
def compacted_topic(topic, updates):
    """``topic`` is compacted, has 3 partitions, and holds ``updates`` keyed by machine (latest state last)."""
    meta = _need_topic(topic)
    if len(meta.partitions) != 3:
        fail(f"{topic} has {len(meta.partitions)} partition(s), not 3", "set num_partitions=3 when you create it")
    policy = _topic_config(topic).get("cleanup.policy", "")
    if "compact" not in policy:
        fail(f"{topic} has cleanup.policy={policy}, not compact")
    messages = read_topic(topic)
    if not messages:
        fail(f"{topic} is empty", "produce every update, then flush()")
    where: dict[str, set[int]] = {}
    latest: dict[str, dict] = {}
    for part, _offset, key, value, _ts in messages:
        if key is None:
            fail("a message has no key", "use the machine_id as the key: it decides the partition and what compaction keeps")
        where.setdefault(_text(key), set()).add(part)
        try:
            latest[_text(key)] = json.loads(value)
        except (TypeError, ValueError):
            fail(f"a value is not JSON: {_text(value)!r:.60}")
    split = sorted(k for k, parts in where.items() if len(parts) > 1)
    if split:
        fail(f"machine {split[0]} is in more than one partition", "let the key pick the partition; do not set it")
    truth = {}
    for u in updates:
        truth[u["machine_id"]] = u
    if set(latest) != set(truth):
        extra, missing = sorted(set(latest) - set(truth)), sorted(set(truth) - set(latest))
        fail(f"the keys differ from the machines of the updates (extra {extra[:3]}, missing {missing[:3]})")
    wrong = sorted(k for k in truth if latest[k] != truth[k])
    if wrong:
        fail(f"the latest message of {wrong[0]} is {latest[wrong[0]]}, its latest update is {truth[wrong[0]]}",
             "produce the updates in order, one producer, and flush()")
    if len(messages) > len(updates):
        fail(f"{topic} holds {len(messages)} messages for {len(updates)} updates: something was sent twice")
    return (f"{topic}: compacted, 3 partitions, {len(truth)} machines each in one partition, "
            f"latest state of each = its last update")


# -- 2. transactions -------------------------------------------------------------------

@exercise("05", hint="Producer(kafka_config(transactional_id=...)); init_transactions(); then "
                     "begin_transaction() / produce / commit_transaction() and begin / produce / abort_transaction()")
def aborted_invisible(topic, committed, aborted):
    """A read_committed consumer of ``topic`` sees exactly ``committed``; ``aborted`` is in the log but unseen."""
    if not committed or not aborted:
        fail("the lists of committed and aborted values must not be empty")
    seen = [_text(m[3]) for m in read_topic(topic, "read_committed")]
    raw = [_text(m[3]) for m in read_topic(topic, "read_uncommitted")]
    leaked = [v for v in aborted if v in seen]
    if leaked:
        fail(f"a read_committed consumer sees the aborted value {leaked[0]!r}", "abort that transaction, do not commit it")
    if sorted(seen) != sorted(committed):
        fail(f"a read_committed consumer sees {len(seen)} message(s) {seen[:4]}, expected {list(committed)[:4]}")
    missing = [v for v in aborted if v not in raw]
    if missing:
        fail(f"the aborted value {missing[0]!r} is not in the log at all",
             "produce it inside a transaction (and flush) before you abort; an abort of nothing shows nothing")
    return (f"read_committed sees the {len(seen)} committed message(s); the {len(aborted)} aborted one(s) "
            f"are in the log ({len(raw)} messages read_uncommitted) but invisible")


# -- 3. at-least-once consumer -----------------------------------------------------------

@exercise("05", hint="enable.auto.commit=False; poll, process (append), then consumer.commit(message=msg, "
                     "asynchronous=False); stop at the end of every partition")
def at_least_once(group, topic, processed):
    """Group ``group`` committed the end of every partition of ``topic``; ``processed`` covers every message."""
    from confluent_kafka import TopicPartition

    if processed is None:
        fail("processed is still None", "append (partition, offset) of every message you process")
    if group is None:
        fail("the group name is still None")
    meta = _need_topic(topic)
    parts = sorted(meta.partitions)
    ends = _end_offsets(topic, parts)
    admin = _admin()
    from confluent_kafka import ConsumerGroupTopicPartitions

    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])
    result = admin.list_consumer_group_offsets([request])[group].result(timeout=10)
    committed = {tp.partition: tp.offset for tp in result.topic_partitions}
    for p in parts:
        if ends[p][1] > ends[p][0] and committed.get(p, -1) < ends[p][1]:
            shown = committed.get(p, -1)
            fail(f"group {group} committed offset {shown if shown >= 0 else 'nothing'} on partition {p}, "
                 f"its end is {ends[p][1]}", "commit after processing each message (or each batch)")
    try:
        got = {(int(x[0]), int(x[1])) for x in processed}
    except (TypeError, ValueError, IndexError):
        fail("processed should hold (partition, offset, ...) tuples")
    expected = {(p, o) for p in parts for o in range(ends[p][0], ends[p][1])}
    lost = sorted(expected - got)
    if lost:
        fail(f"{len(lost)} message(s) were never processed, e.g. partition {lost[0][0]} offset {lost[0][1]}")
    dupes = len(processed) - len(got)
    return (f"group {group} committed the end of all {len(parts)} partitions; all {len(expected)} messages "
            f"processed at least once ({dupes} twice)")


# -- 4. schema evolution ------------------------------------------------------------------

#: seconds one registry request may wait for its answer; the client tries a request four times. Without it
#: a registry that takes the connection and never answers would hang the check (and the notebook) for good
REGISTRY_TIMEOUT = 10


def _registry():
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from lablib import services

    return SchemaRegistryClient({"url": services.registry_url(), "timeout": REGISTRY_TIMEOUT})


def _registry_answers(call, *args):
    """``call(*args)`` on the registry client; a registry that does not answer fails the check, saying so."""
    try:
        return call(*args)
    except Exception as exc:
        # the client's HTTP library is httpx or its successor httpx2, whichever is installed: both name the
        # errors of a request that got no answer (refused, reset, timed out) TransportError
        if not any(cls.__name__ == "TransportError" for cls in type(exc).__mro__):
            raise
        fail(f"the schema registry does not answer ({type(exc).__name__} after 4 tries)",
             "restart it: `lab down registry`, then `lab up registry`")


@exercise("05", hint='add {"name": "firmware_version", "type": ["null", "string"], "default": null} to the '
                     "fields, register it, and produce with an AvroSerializer of the new schema")
def schema_evolved(subject, topic):
    """``subject`` has a compatible second version with a new optional field; ``topic`` has a message in it."""
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.serialization import MessageField, SerializationContext

    if subject is None:
        fail("the subject is still None")
    sr = _registry()
    try:
        versions = _registry_answers(sr.get_versions, subject)
    except SchemaRegistryError:  # an unknown subject is the learner's miss, not a crash
        fail(f"the registry has no subject {subject}")
    if len(versions) < 2:
        fail(f"{subject} has {len(versions)} version(s); register the evolved schema as a new version")
    first = json.loads(_registry_answers(sr.get_version, subject, min(versions)).schema.schema_str)
    latest = _registry_answers(sr.get_latest_version, subject)
    newest = json.loads(latest.schema.schema_str)
    old = {f["name"] for f in first["fields"]}
    new = {f["name"]: f for f in newest["fields"]}
    if not old <= set(new):
        fail(f"the new version drops field(s) {sorted(old - set(new))}")
    added = [f for name, f in new.items() if name not in old]
    if not added:
        fail("the latest version adds no field")
    no_default = [f["name"] for f in added if "default" not in f]
    if no_default:
        fail(f"the new field {no_default[0]} has no default, so old messages could not be read with it")
    seen = [m for m in read_topic(topic) if m[3] and len(m[3]) > 5 and m[3][0] == 0
            and int.from_bytes(m[3][1:5], "big") == latest.schema_id]
    if not seen:
        fail(f"no message of {topic} is written with the latest schema (id {latest.schema_id})",
             "serialise with AvroSerializer(registry, the new schema string) and produce")
    record = _registry_answers(AvroDeserializer(sr), seen[-1][3], SerializationContext(topic, MessageField.VALUE))
    names = ", ".join(f["name"] for f in added)
    return (f"{subject}: {len(versions)} versions, the latest adds {names} with a default; "
            f"{len(seen)} message(s) of {topic} use it (e.g. {names.split(', ')[0]}={record.get(added[0]['name'])!r})")


# -- 5. exactly-once into Delta ----------------------------------------------------------------

@exercise("05", hint="start the same query again with the SAME checkpointLocation and trigger(availableNow=True), "
                     "then awaitTermination()")
def exactly_once(bronze_path, topic):
    """Every message of ``topic`` is in the Delta table once: count, (partition, offset) unique, no gaps."""
    from pyspark.sql import functions as F

    spark = spark_session()
    need_delta(bronze_path, spark)
    meta = _need_topic(topic)
    ends = _end_offsets(topic, sorted(meta.partitions))
    produced = sum(high - low for low, high in ends.values())
    df = spark.read.format("delta").load(str(bronze_path))
    if not {"partition", "offset"} <= set(df.columns):
        fail("the table lacks the Kafka columns partition and offset", "keep them from the Kafka source")
    mine = df.where(F.col("topic") == topic) if "topic" in df.columns else df
    coords = mine.select("partition", "offset").toPandas()   # two integers a row: cheap to check here
    rows = len(coords)
    dupes = int(coords.duplicated().sum())
    if dupes:
        fail(f"{dupes} message(s) are in the table twice (same partition and offset)")
    if rows != produced:
        fail(f"the table holds {rows:,} messages, the topic {produced:,}",
             "restart from the checkpoint until the query has caught up (availableNow)")
    for part, offs in coords.groupby("partition")["offset"]:
        low, high = ends.get(int(part), (0, 0))
        if (offs.min(), offs.max()) != (low, high - 1):
            fail(f"partition {part}: offsets {offs.min()}…{offs.max()} in the table, {low}…{high - 1} in the topic")
    return f"{rows:,} rows = {produced:,} messages produced, no (partition, offset) twice, no gaps"


# -- 6. dump and repopulate --------------------------------------------------------------------

@exercise("05", hint="read the archive ordered by partition, offset; produce each row to the new topic with "
                     "its key, value, partition and timestamp; flush()")
def republished(archive_path, topic):
    """``topic`` holds the archived messages again, message by message: partition, order, key, value, timestamp."""
    spark = spark_session()
    need_delta(archive_path, spark)
    from pyspark.sql import functions as F

    archived = sorted(spark.read.format("delta").load(str(archive_path))
                      .select("partition", "offset", "key", "value", F.unix_millis("timestamp").alias("ms"))
                      .collect(), key=lambda r: (r.partition, r.offset))
    if not archived:
        fail("the archive is empty")
    got = read_topic(topic)
    if len(got) != len(archived):
        fail(f"{topic} holds {len(got):,} messages, the archive {len(archived):,}")

    def as_bytes(v):
        return None if v is None else (v.encode() if isinstance(v, str) else bytes(v))

    want: dict[int, list] = {}
    for a in archived:
        want.setdefault(a.partition, []).append(a)
    have: dict[int, list] = {}
    for m in got:
        have.setdefault(m[0], []).append(m)
    for p, rows in sorted(want.items()):
        mine = have.get(p, [])
        if len(mine) != len(rows):
            fail(f"partition {p}: {len(mine)} message(s) in {topic}, {len(rows)} in the archive",
                 "produce each row to its archived partition")
        for i, (a, m) in enumerate(zip(rows, mine, strict=True)):
            if as_bytes(a.key) != m[2] or as_bytes(a.value) != m[3]:
                fail(f"partition {p}, message {i}: key/value differ from the archive's offset {a.offset}",
                     "produce in (partition, offset) order")
            if a.ms is not None and a.ms != m[4]:
                fail(f"partition {p}, message {i}: timestamp differs from the archive",
                     "pass timestamp= (milliseconds) to produce")
    return f"{len(got):,} messages republished to {topic}: same partition, order, key, value and timestamp"
