"""The embedded schema registry through confluent_kafka.schema_registry: rules and a real Avro round trip."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

import lablib

pytestmark = pytest.mark.services

V1 = {"type": "record", "name": "Reading", "namespace": "megaawesometoys",
      "fields": [{"name": "machine", "type": "string"}, {"name": "temp_c", "type": "double"}]}
# adding a field with a default: readers of v2 can read v1 data (BACKWARD compatible)
V2 = dict(V1, fields=[*V1["fields"], {"name": "line", "type": "string", "default": "A"}])
# changing a field's type: not compatible
BAD = dict(V1, fields=[{"name": "machine", "type": "int"}, {"name": "temp_c", "type": "double"}])


def test_avro_schema_evolution_rules(lab_services, topic_name):
    client = SchemaRegistryClient({"url": lablib.registry_url()})
    subject = f"{topic_name}-value"
    first = client.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    assert client.test_compatibility(subject, Schema(json.dumps(V2), "AVRO"))
    second = client.register_schema(subject, Schema(json.dumps(V2), "AVRO"))
    assert second != first
    assert not client.test_compatibility(subject, Schema(json.dumps(BAD), "AVRO"))
    with pytest.raises(SchemaRegistryError) as rejected:
        client.register_schema(subject, Schema(json.dumps(BAD), "AVRO"))
    assert rejected.value.http_status_code == 409
    assert client.get_versions(subject) == [1, 2]


def test_avro_record_through_kafka(lab_services, topic_name):
    client = SchemaRegistryClient({"url": lablib.registry_url()})
    serializer = AvroSerializer(client, json.dumps(V2))
    deserializer = AvroDeserializer(client)
    record = {"machine": "press-07", "temp_c": 71.5, "line": "B"}

    producer = Producer(lablib.kafka_config())
    ctx = SerializationContext(topic_name, MessageField.VALUE)
    producer.produce(topic_name, key="press-07", value=serializer(record, ctx))
    assert producer.flush(30) == 0
    assert f"{topic_name}-value" in client.get_subjects()

    consumer = Consumer(lablib.kafka_config(group_id=f"{topic_name}-reader", auto_offset_reset="earliest"))
    consumer.subscribe([topic_name])
    deadline, msg = time.monotonic() + 30, None
    while msg is None and time.monotonic() < deadline:
        candidate = consumer.poll(0.5)
        if candidate is not None and candidate.error() is None:
            msg = candidate
    consumer.close()
    assert msg is not None
    assert msg.value()[0] == 0  # the Confluent wire format: magic byte, then the schema id
    assert deserializer(msg.value(), ctx) == record
