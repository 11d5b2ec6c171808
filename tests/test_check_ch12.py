"""Chapter 12's checks accept the right answer and reject wrong or missing ones (the real broker's
offsets, Delta tables written by delta-rs)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from checking import accepts, rejects
from deltalake import write_deltalake

from lablib.check import ch12


@pytest.fixture
def topic(lab_services, topic_name):
    """A topic holding 6 records (3 per partition)."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from lablib import kafka_config

    admin = AdminClient({"bootstrap.servers": kafka_config()["bootstrap.servers"]})
    admin.create_topics([NewTopic(topic_name, num_partitions=2, replication_factor=1)])[topic_name].result(30)
    producer = Producer({"bootstrap.servers": kafka_config()["bootstrap.servers"]})
    for i in range(6):
        producer.produce(topic_name, value=b"x", partition=i % 2)
    assert producer.flush(30) == 0
    yield topic_name
    admin.delete_topics([topic_name])[topic_name].result(timeout=30)


def _bronze(path, coords):
    write_deltalake(str(path), pa.table({"partition": pa.array([p for p, _ in coords], pa.int32()),
                                         "offset": pa.array([o for _, o in coords], pa.int64())}))
    return path


ALL = [(p, o) for p in (0, 1) for o in range(3)]


def test_exactly_once(topic, tmp_path):
    right = _bronze(tmp_path / "right", ALL)
    accepts(ch12.exactly_once({"sent": 6, "bronze": 6, "lost": 0, "duplicated": 0}, topic, right))
    rejects(ch12.exactly_once(None, topic, right), "counts is still None")
    rejects(ch12.exactly_once({"sent": 6, "bronze": 6}, topic, right), "counts has no lost, duplicated")
    rejects(ch12.exactly_once({"sent": 6, "bronze": 6, "lost": 0, "duplicated": 1}, topic, right),
            "counts['duplicated'] is 1, the broker and bronze say 0")
    doubled = _bronze(tmp_path / "doubled", ALL[:5] + [ALL[0]])
    rejects(ch12.exactly_once({"sent": 6, "bronze": 6, "lost": 0, "duplicated": 0}, topic, doubled),
            "counts['lost'] is 0, the broker and bronze say 1")
    rejects(ch12.exactly_once({"sent": 6, "bronze": 6, "lost": 1, "duplicated": 1}, topic, doubled),
            "bronze lost 1 and duplicated 1 of 6 events")
    rejects(ch12.exactly_once({"sent": 6, "bronze": 6, "lost": 0, "duplicated": 0}, topic + "-gone", right),
            "does not exist")


def test_revenue_by_channel(tmp_path):
    path = tmp_path / "daily_sales"
    write_deltalake(str(path), pa.table({"order_date": ["2024-01-01", "2024-01-02", "2024-01-01"],
                                         "channel": ["web", "web", "store"], "revenue": [10.0, 5.5, 7.25]}))
    right = pd.DataFrame({"channel": ["web", "store"], "revenue": [15.5, 7.25]})
    accepts(ch12.revenue_by_channel(right, path))
    rejects(ch12.revenue_by_channel(None, path), "revenue is still None")
    rejects(ch12.revenue_by_channel(right.to_dict(), path), "should be a pandas DataFrame")
    rejects(ch12.revenue_by_channel(right.set_index("channel"), path), "has no column channel")
    rejects(ch12.revenue_by_channel(pd.DataFrame({"channel": ["web", "web", "store"], "revenue": [10.0, 5.5, 7.25]}),
                                    path), "a channel appears in more than one row")
    rejects(ch12.revenue_by_channel(right.iloc[:1], path), "channels ['web'], gold has ['store', 'web']")
    rejects(ch12.revenue_by_channel(pd.DataFrame({"channel": ["web", "store"], "revenue": [10.0, 7.25]}), path),
            "the revenue of web is 10.00, gold's daily sales add up to 15.50")
