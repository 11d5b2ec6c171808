"""Replayers deliver exactly --limit events: into a folder, and to a real Kafka topic."""

from __future__ import annotations

import json
import os

import pytest

from lablib.data import streams
from lablib.errors import LabError


@pytest.fixture
def ci_home(ci_data, monkeypatch):
    """LAB_HOME whose data/ci is the session's ci dataset (so nothing is generated twice)."""
    home = ci_data.parent.parent / "home"
    (home / "data").mkdir(parents=True, exist_ok=True)
    link = home / "data" / "ci"
    if not link.exists():
        link.symlink_to(ci_data, target_is_directory=True)
    monkeypatch.setenv("LAB_HOME", str(home))
    monkeypatch.setenv("LAB_SCALE", "ci")
    yield home
    # lablib.kafka_config() starts the broker of the home it runs in, and lab_services stops only the
    # suite home's: what runs in this home is stopped here (a broker used to outlive the session)
    from lablib import services

    services.stop(services.running(), log=lambda line: None)


@pytest.mark.parametrize("source,limit,batch", [("telemetry", 2500, 1000), ("clickstream", 777, 100)])
def test_replay_to_files_delivers_exactly_limit(ci_home, tmp_path, source, limit, batch):
    out = tmp_path / "in"
    summary = streams.replay(source, "files", folder=out, limit=limit, batch_size=batch)
    assert summary["sent"] == limit and summary["stopped"] == "limit"
    files = sorted(out.iterdir())
    assert len(files) == summary["files"] == -(-limit // batch)
    assert not [f for f in files if f.name.startswith(".")]  # no temp files left
    rows = 0
    for f in files:
        lines = f.read_text().splitlines()
        rows += len(lines) - (source == "telemetry")  # telemetry batches have a header
    assert rows == limit


def test_replay_paces_and_continues_numbering(ci_home, tmp_path):
    out = tmp_path / "in"
    first = streams.replay("telemetry", "files", folder=out, limit=10, rate=50, batch_size=5)
    assert first["seconds"] >= 0.15  # 10 events at 50/s take about 0.2 s
    streams.replay("telemetry", "files", folder=out, limit=5, batch_size=5)
    assert sorted(p.name for p in out.iterdir())[-1] == "telemetry-000003.csv"


def test_a_stop_event_ends_a_replay_in_another_thread_as_ctrl_c_does(ci_home, tmp_path):
    import threading

    out, stop = tmp_path / "in", threading.Event()
    threading.Timer(0.5, stop.set).start()  # 100 events/s: about 50 sent when it is set, far from all
    summary = streams.replay("telemetry", "files", folder=out, rate=100, batch_size=10, stop=stop)
    assert summary["stopped"] == "interrupted" and 0 < summary["sent"] < 500
    rows = sum(len(f.read_text().splitlines()) - 1 for f in out.iterdir())  # each batch file has a header
    assert rows == summary["sent"]  # what was sent is all delivered, the last partial batch too


def test_replay_rejects_bad_arguments(ci_home, tmp_path):
    with pytest.raises(LabError, match="rate must be 0"):
        streams.replay("telemetry", "files", folder=tmp_path, rate=-1)
    with pytest.raises(LabError, match="unknown stream source"):
        streams.replay("orders", "files", folder=tmp_path)
    with pytest.raises(LabError, match="limit"):
        streams.replay("telemetry", "files", folder=tmp_path, limit=-2)


def test_events_carry_keys_and_event_time(ci_home, ci_data):
    from lablib.data import build

    events = streams.events("clickstream", build.ensure("ci"))
    e = next(events)
    body = json.loads(e.value)
    assert e.key == body["session"]["session_id"]
    assert e.ms == streams.event_ms(body["event_time"])
    t = next(streams.events("telemetry", build.ensure("ci")))
    assert t.key.startswith("M-") and t.ms is not None


@pytest.mark.services
def test_replay_to_kafka_delivers_exactly_limit(ci_home, lab_services, topic_name):
    from confluent_kafka import Consumer, TopicPartition

    import lablib

    limit = 1234
    summary = streams.replay("telemetry", "kafka", topic=topic_name, limit=limit, rate=0)
    assert summary["sent"] == limit
    conf = lablib.kafka_config()
    consumer = Consumer({**conf, "group.id": f"test-{os.getpid()}", "auto.offset.reset": "earliest"})
    try:
        meta = consumer.list_topics(topic_name, timeout=10).topics[topic_name]
        total = 0
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic_name, p), timeout=10)
            total += high - low
        assert total == limit
        consumer.subscribe([topic_name])
        msg = None
        for _ in range(30):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None and msg.error() is None
        body = json.loads(msg.value())
        assert msg.key().decode() == body["machine_id"].strip().upper()
        assert msg.timestamp()[1] == streams.event_ms(body["event_time"])
    finally:
        consumer.close()
