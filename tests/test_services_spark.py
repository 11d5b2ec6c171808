"""Spark Structured Streaming reads a Kafka topic of the embedded broker into a Delta table."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import lablib

pytestmark = pytest.mark.services


def test_kafka_to_delta_counts_match(lab_services, topic_name, tmp_path):
    conf = lablib.kafka_config()
    admin = AdminClient(conf)  # keep a reference: a collected client cancels its futures
    admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])[topic_name].result(30)
    producer = Producer(conf)
    for i in range(1000):
        producer.produce(topic_name, key=f"m{i % 7}", value=f'{{"n": {i}}}')
    assert producer.flush(30) == 0

    spark = lablib.spark()
    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", conf["bootstrap.servers"])
        .option("subscribe", topic_name)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value", "partition", "offset")
    )
    table = tmp_path / "bronze"
    query = (
        stream.writeStream.format("delta")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start(str(table))
    )
    query.awaitTermination(120)
    assert query.exception() is None
    df = spark.read.format("delta").load(str(table))
    assert df.count() == 1000
    assert df.select("value").distinct().count() == 1000
    assert df.select("partition").distinct().count() == 3
