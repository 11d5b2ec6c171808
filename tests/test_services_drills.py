"""Fault drills: each embedded service killed with a real SIGKILL while in use, then recovered.

Each drill runs in a LAB_HOME of its own with ports of its own (tests/drills.py), so
the suite's services are never touched. What a learner sees is checked through
`lab status` and `lab up` run as commands; what must survive is read back through
the service's own client. The numbers each drill measures are printed (pytest -s)
and appended to $LAB_TEST_HOMES/drills.log; docs/services.md quotes them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import lablib
from lablib.services import SERVICES, _process, _service
from lablib.services._service import Service
from tests.drills import alive, lab, report, states, use_home, wait_gone

pytestmark = pytest.mark.services


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh LAB_HOME with free ports; whatever a drill leaves running is stopped after it."""
    path = use_home(monkeypatch, tmp_path / "drill home")
    yield path
    down = lab("down", "all")
    assert down.returncode == 0, down.stderr


def _record(name: str) -> _process.PidRecord:
    record = _process.read_pid(name)
    assert record is not None, f"no PID file for {name}"
    return record


def _kill_session(record: _process.PidRecord) -> list[int]:
    """SIGKILL the service's whole session (what an OOM killer or a closed terminal does to it all)."""
    members = _process.session_members(record.pid)
    os.killpg(record.pid, signal.SIGKILL)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_gone(members)
    return members


def _started_seconds(out: subprocess.CompletedProcess, name: str) -> float:
    """The start time `lab up` printed ("kafka: started on … in 4.9 s …")."""
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith(f"{name}: started on"))
    return float(line.split(" in ", 1)[1].split(" s", 1)[0])


def _assert_down_in_status(name: str) -> str:
    """`lab status` shows the service stale, with the line saying what to run; returns what it printed."""
    out = lab("status")
    assert out.returncode == 0, out.stderr
    assert states(out.stdout)[name] == "stale", out.stdout
    # one line under the table says what happened and what to run
    assert f"`lab up {name}`" in out.stdout, out.stdout
    return out.stdout


# -- Kafka ---------------------------------------------------------------------------------

def _read_all(conf: dict, topic: str) -> list[int]:
    """Every record's sequence number in the topic, from offset 0 to the end of each partition."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": f"drill-check-{time.time_ns()}", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    try:
        parts = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        seen, position = [], dict.fromkeys(parts, 0)
        deadline = time.monotonic() + 60
        while any(position[p] < ends[p] for p in parts):
            assert time.monotonic() < deadline, f"read {len(seen)} records, positions {position}, ends {ends}"
            for msg in consumer.consume(1000, timeout=1):
                assert msg.error() is None, msg.error()
                seen.append(int(msg.key()))
                position[msg.partition()] = msg.offset() + 1
        return seen
    finally:
        consumer.close()


def test_kafka_sigkill_under_an_idempotent_producer_loses_and_duplicates_nothing(home):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from lablib.services.kafka import _quiet_logger  # the outage's refused connections are expected

    began = time.monotonic()
    up = lab("up", "kafka")
    cold = _started_seconds(up, "kafka")
    conf = lablib.kafka_config()
    topic = "ch99.drill-kill"
    admin = AdminClient({**conf, "logger": _quiet_logger()})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    del admin  # it would report every refused connection during the outage

    producer = Producer({**conf, "logger": _quiet_logger(), "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                         # long enough to retry through the outage: a send fails only after 3 minutes
                         "delivery.timeout.ms": 180_000, "retry.backoff.max.ms": 500,
                         "reconnect.backoff.max.ms": 500})
    acked: dict[int, float] = {}  # sequence number → when its delivery report said "written"
    failed: list[str] = []
    sent = 0
    stop = threading.Event()

    def delivered(err, msg):
        if err is None:
            acked[int(msg.key())] = time.monotonic()
        else:
            failed.append(f"{msg.key()}: {err}")

    def send():
        nonlocal sent
        while not stop.is_set():
            for _ in range(20):  # about 2,000 messages a second, a numbered stream
                while True:
                    try:
                        producer.produce(topic, key=str(sent), value=f"reading {sent:08d} ".ljust(100, "."),
                                         on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.1)
                sent += 1
            producer.poll(0.01)

    sender = threading.Thread(target=send, name="drill-producer")
    sender.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 3000:
            assert time.monotonic() < deadline and sender.is_alive(), f"only {len(acked)} acked"
            time.sleep(0.05)
        record = _record("kafka")
        killed_at = time.monotonic()
        _kill_session(record)
        acked_before = len(acked)
        _assert_down_in_status("kafka")

        up_again = lab("up", "kafka")  # recovers the log on the same data folder
        warm = _started_seconds(up_again, "kafka")
        recovered_at = time.monotonic()
        sent_in_outage = sent
        # keep sending a while on the recovered broker, then drain everything
        while not any(t > recovered_at for t in acked.values()):
            assert time.monotonic() < recovered_at + 120, "no delivery after the restart"
            time.sleep(0.05)
        first_ack_after = min(t for t in acked.values() if t > recovered_at)
        target = len(acked) + 2000
        while len(acked) < target and time.monotonic() < recovered_at + 60:
            time.sleep(0.05)
    finally:
        stop.set()
        sender.join(30)
    assert producer.flush(180) == 0, "messages still unsent 3 minutes after the restart"

    assert failed == [], f"{len(failed)} sends failed, e.g. {failed[:3]}"
    keys = _read_all(conf, topic)
    unique = set(keys)
    missing = set(acked) - unique
    duplicated = len(keys) - len(unique)
    report(f"kafka SIGKILL: {sent} sent, {acked_before} acked before the kill, {len(acked) - acked_before} after; "
           f"{sent_in_outage - acked_before} waited through the outage; in the topic {len(keys)} records, "
           f"{len(unique)} distinct, {duplicated} duplicated, {len(missing)} acked but missing; "
           f"lab up {cold:.1f} s cold, {warm:.1f} s after the kill; first delivery "
           f"{first_ack_after - killed_at:.1f} s after the kill; drill {time.monotonic() - began:.0f} s")
    assert not missing, f"{len(missing)} acknowledged messages are not in the topic, e.g. {sorted(missing)[:5]}"
    assert duplicated == 0, f"{duplicated} records written twice"
    assert unique == set(range(sent)), "the topic holds sequence numbers that were never sent"
    assert len(acked) == sent


# -- MLflow --------------------------------------------------------------------------------

def test_mlflow_killed_mid_run_keeps_experiment_runs_params_metrics_artifacts(home, tmp_path, capsys):
    from mlflow import MlflowClient
    from mlflow.entities import RunStatus

    began = time.monotonic()
    cold = _started_seconds(lab("up", "mlflow"), "mlflow")
    uri = lablib.mlflow_uri()
    client = MlflowClient(uri)  # no mlflow.set_tracking_uri: nothing global outlives the drill
    exp = client.create_experiment("ch99-drill")
    notes = tmp_path / "notes.txt"
    notes.write_text("model card: press failures, drill\n" * 50)

    done = client.create_run(exp, run_name="finished-before")
    client.log_param(done.info.run_id, "max_depth", "6")
    for step in range(10):
        client.log_metric(done.info.run_id, "auc", 0.5 + step / 100, step=step)
    client.log_artifact(done.info.run_id, str(notes))
    client.set_terminated(done.info.run_id)

    live = client.create_run(exp, run_name="killed-during")  # RUNNING while the server dies
    client.log_param(live.info.run_id, "learning_rate", "0.1")
    for step in range(5):
        client.log_metric(live.info.run_id, "loss", 1.0 / (step + 1), step=step)
    client.log_artifact(live.info.run_id, str(notes), artifact_path="docs")

    # kill -9 of the PID `lab status` shows: the server is one process (uvicorn runs inside it,
    # lablib/services/mlflow_cli.py), so nothing of it is left to serve the port
    record = _record("mlflow")
    assert _process.session_members(record.pid) == [record.pid], "the server was expected to be one process"
    killed_at = time.monotonic()
    os.kill(record.pid, signal.SIGKILL)
    wait_gone([record.pid])
    said = _assert_down_in_status("mlflow")
    assert "still running" not in said, said

    capsys.readouterr()
    assert lablib.mlflow_uri() == uri  # the next lab that needs it starts it again
    restarted_at = time.monotonic()
    said = capsys.readouterr().out
    assert "not running: starting it" in said and "ready in" in said, said
    assert states()["mlflow"] == "running"

    client = MlflowClient(uri)
    for step in range(5, 10):  # the interrupted run goes on where it stopped
        client.log_metric(live.info.run_id, "loss", 1.0 / (step + 1), step=step)
    client.set_terminated(live.info.run_id)

    assert client.get_experiment_by_name("ch99-drill").experiment_id == exp
    runs = {r.info.run_name: r for r in client.search_runs([exp])}
    assert set(runs) == {"finished-before", "killed-during"}
    assert all(r.info.status == RunStatus.to_string(RunStatus.FINISHED) for r in runs.values())
    assert runs["finished-before"].data.params == {"max_depth": "6"}
    assert runs["killed-during"].data.params == {"learning_rate": "0.1"}
    auc = client.get_metric_history(done.info.run_id, "auc")
    assert [(m.step, m.value) for m in sorted(auc, key=lambda m: m.step)] == [(s, 0.5 + s / 100) for s in range(10)]
    loss = client.get_metric_history(live.info.run_id, "loss")
    assert [(m.step, m.value) for m in sorted(loss, key=lambda m: m.step)] == [(s, 1.0 / (s + 1)) for s in range(10)]
    for run_id, path in ((done.info.run_id, "notes.txt"), (live.info.run_id, "docs/notes.txt")):
        got = client.download_artifacts(run_id, path, str(tmp_path / run_id))
        assert open(got).read() == notes.read_text(), path
    report(f"mlflow SIGKILL of the server process mid-run (one process: nothing left running); "
           f"lab up {cold:.1f} s cold, back {restarted_at - killed_at:.1f} s after the kill via lablib.mlflow_uri(); "
           f"2 runs, params, 15 metric steps and 2 artifacts read back intact; drill {time.monotonic() - began:.0f} s")


# -- schema registry -------------------------------------------------------------------------

_V1 = {"type": "record", "name": "Reading", "namespace": "megaawesometoys",
       "fields": [{"name": "machine", "type": "string"}, {"name": "temp_c", "type": "double"}]}
_V2 = dict(_V1, fields=[*_V1["fields"], {"name": "line", "type": "string", "default": "A"}])
_BAD = dict(_V1, fields=[{"name": "machine", "type": "int"}, {"name": "temp_c", "type": "double"}])


def test_registry_killed_keeps_subjects_versions_and_compatibility(home):
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    began = time.monotonic()
    cold = _started_seconds(lab("up", "registry"), "registry")
    url = lablib.registry_url()
    client = SchemaRegistryClient({"url": url})
    readings, orders, last = "ch99.readings-value", "ch99.orders-value", "ch99.last-value"
    ids = [client.register_schema(readings, Schema(json.dumps(v), "AVRO")) for v in (_V1, _V2)]
    client.register_schema(orders, Schema(json.dumps(_V1), "AVRO"))
    client.set_compatibility(orders, "FULL")
    # written a moment before the kill: a registry that acknowledges and then forgets would lose it
    last_id = client.register_schema(last, Schema(json.dumps({"type": "string"}), "AVRO"))

    record = _record("registry")
    killed_at = time.monotonic()
    _kill_session(record)
    _assert_down_in_status("registry")
    warm = _started_seconds(lab("up", "registry"), "registry")
    back = time.monotonic() - killed_at

    client = SchemaRegistryClient({"url": url})  # a new client: nothing answered from a cache
    assert sorted(client.get_subjects()) == sorted([readings, orders, last])
    assert client.get_versions(readings) == [1, 2]
    assert client.get_versions(orders) == [1]
    assert client.get_versions(last) == [1]
    assert [client.get_version(readings, v).schema_id for v in (1, 2)] == ids
    assert client.get_version(last, 1).schema_id == last_id
    assert json.loads(client.get_version(readings, 2).schema.schema_str) == _V2
    assert client.get_compatibility(orders) == "FULL"
    assert client.get_compatibility() == "BACKWARD"
    # the rules still hold: an incompatible change is refused
    assert not client.test_compatibility(readings, Schema(json.dumps(_BAD), "AVRO"))
    report(f"registry SIGKILL: 3 subjects, 4 versions and a subject's FULL compatibility intact (the one registered "
           f"just before the kill too); lab up {cold:.1f} s cold, {warm:.1f} s after the kill, back {back:.1f} s "
           f"after it; drill {time.monotonic() - began:.0f} s")


# -- stale PID files -------------------------------------------------------------------------

def _write_pid_file(name: str, pid: int, ticks: int | None, ports: list[int]) -> None:
    path = _process.pid_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "started": time.time() - 3600, "ticks": ticks, "ports": ports}))


def test_stale_pid_files_never_block_up_nor_stop_another_program(home):
    began = time.monotonic()
    kafka = SERVICES["kafka"]
    # an unrelated program in a session of its own, as our services are: a `lab down` that
    # trusted the PID file would signal its whole session
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        ticks = _process._start_ticks(sleeper.pid)
        assert ticks
        kinds = {"a recycled PID (the file's start time is older than the program's)": ticks - 1,
                 "a PID file without a start time (hand-written, or an older lablib)": None}
        for kind, recorded in kinds.items():
            _write_pid_file("kafka", sleeper.pid, recorded, kafka.ports())
            out = lab("status")
            assert states()["kafka"] == "stale", (kind, out.stdout)
            assert f"kafka is down: its process (pid {sleeper.pid}) has ended" in out.stdout, (kind, out.stdout)
            down = lab("down", "kafka")
            assert down.returncode == 0 and "not running (removed a stale PID file)" in down.stdout, (kind, down)
            assert alive(sleeper.pid), f"`lab down` killed another program ({kind})"
            assert not _process.pid_file("kafka").exists()

        # `lab up` over such a file starts the service (one start is enough: both kinds are
        # judged by the same test, which status and down just passed for each)
        _write_pid_file("kafka", sleeper.pid, None, kafka.ports())
        up = lab("up", "kafka", timeout=120)
        assert up.returncode == 0 and "kafka: started on" in up.stdout, (up.stdout, up.stderr)
        assert _record("kafka").pid != sleeper.pid
        assert states()["kafka"] == "running"
        down = lab("down", "kafka")
        assert down.returncode == 0 and "kafka: stopped" in down.stdout, down
        assert alive(sleeper.pid), "`lab down` killed another program"
    finally:
        sleeper.kill()
        sleeper.wait()
    report(f"stale PID files (recycled PID; no start time): up never refused, down never touched `sleep`; "
           f"drill {time.monotonic() - began:.0f} s")


class _Forking(Service):
    """A service whose leader starts a child that serves the port, as `dagster dev` does (and `mlflow
    server` did, before it ran its uvicorn in its own process): a real process tree, nothing mocked."""

    name, title, port_names, stop_grace = "forking", "forking drill service", ("mlflow",), 5.0

    def external(self) -> str | None:
        return None

    def address_on(self, port: int) -> str:
        return f"127.0.0.1:{port}"

    def command(self) -> list[str]:
        child = ("import socket, time; s = socket.socket(); "
                 "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                 f"s.bind(('127.0.0.1', {self.ports()[0]})); s.listen(); time.sleep(600)")
        leader = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(600)"
        return [sys.executable, "-c", leader]

    def ready(self) -> bool:
        return _process.port_open(self.ports()[0])


def test_a_killed_leaders_children_are_reported_then_stopped_before_the_next_start(home):
    svc = _Forking()
    try:
        _service.up([svc], log=lambda line: None)
        record = _record(svc.name)
        child = [pid for pid in _process.session_members(record.pid) if pid != record.pid]
        assert len(child) == 1, _process.session_members(record.pid)

        os.kill(record.pid, signal.SIGKILL)
        wait_gone([record.pid])
        assert alive(child[0]) and svc.ready(), "the child was expected to outlive its leader and hold the port"
        st = _service.status(svc)
        assert (st.state, st.left) == ("stale", 1), st
        said = _service.advice(st)
        assert "1 of its processes is still running, and `lab up forking` stops it first" in said, said

        _service.ensure(svc)  # what a lab's helper does: the leftover goes before the probe and the start
        assert not alive(child[0]), "the dead leader's child still runs"
        again = _record(svc.name)
        assert again.pid != record.pid and _service.status(svc).state == "running"
    finally:
        _service.down([svc], log=lambda line: None)
    assert not any(alive(pid) for pid in _process.session_members(again.pid))
