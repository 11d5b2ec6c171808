"""`lab up / down / status` as a learner runs them, plus the failure messages and the chapter reset."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import lablib
from lablib.errors import LabError
from lablib.services import SERVICES, _process, _service, reset_chapter

pytestmark = pytest.mark.services


def lab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})})


def states() -> dict[str, str]:
    """The three services' states in `lab status` (whose last rows, the served model and the dashboard, are read apart)."""
    return {name: state for name, state in all_states().items() if name in SERVICES}


def all_states() -> dict[str, str]:
    table = lab("status").stdout.split("\n\n")[0]  # advice lines may follow the table
    return {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}


def embedded() -> list:
    return [svc for svc in SERVICES.values() if svc.external() is None]


@pytest.fixture
def restore_services(lab_services):
    """Leave the services as the session fixture made them: running."""
    yield
    _service.up(embedded(), log=lambda line: None)


def _stale_pid_file_and_taken_port(registry) -> None:
    """With the registry down: a stale PID file is reported and cleaned, a taken port is one clear error."""
    # a dead PID in the PID file: status says stale, up cleans it
    dead = subprocess.Popen(["true"])
    dead.wait()
    _process.pid_file("registry").write_text(json.dumps({"pid": dead.pid, "started": time.time(), "ticks": None,
                                                         "ports": registry.ports()}))
    assert states()["registry"] == "stale"
    # a port set explicitly (LAB_REGISTRY_PORT) and held by another program cannot move: a one-line
    # error naming the port and the program (a recorded port moves instead: test_services_ports.py)
    with socket.socket() as squatter:
        # the registry just stopped: connections it closed itself sit in TIME_WAIT on that port for a
        # minute, and a plain bind is refused for them (a listener still refuses this one)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", registry.ports()[0]))
        squatter.listen()
        failed = lab("up", "registry", env={"LAB_REGISTRY_PORT": str(registry.ports()[0])})
    assert failed.returncode == 1
    assert f"port {registry.ports()[0]} on 127.0.0.1 (LAB_REGISTRY_PORT) is taken by" in failed.stderr
    assert f"(pid {os.getpid()})" in failed.stderr and "Traceback" not in failed.stderr
    assert not _process.pid_file("registry").exists()


def test_up_twice_down_twice_status_in_each_state_stale_pid_and_taken_port(restore_services):
    # one down/up cycle for all of it: the stale PID file and the taken port are tried while
    # everything is down, instead of stopping and starting the registry once more for them
    if len(embedded()) < 3:
        pytest.skip("external services are not started or stopped here")
    assert set(states().values()) == {"running"}
    sessions = [_process.read_pid(s.name).pid for s in embedded()]

    first = lab("down", "all")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("stopped (pid") == 3
    assert set(states().values()) == {"stopped"}
    assert all_states()["model"] == "stopped"  # `lab status` lists the served model too; none is served here
    assert all_states()["dashboard"] == "stopped"  # and chapter 07's dashboard
    second = lab("down")
    assert second.returncode == 0 and second.stdout.count("not running") == 7  # the three, the model server, the Dagster UI, the dashboard, Spark Connect
    # nothing left behind: no process of their sessions, no open port
    assert not any(_process.session_members(sid) for sid in sessions)
    ports = [p for svc in embedded() for p in svc.ports()]
    assert not [p for p in ports if _process.port_open(p)]

    _stale_pid_file_and_taken_port(SERVICES["registry"])

    up = lab("up", "all")
    assert up.returncode == 0, up.stderr
    assert up.stdout.count("started on") == 3
    assert set(states().values()) == {"running"}
    again = lab("up")
    assert again.returncode == 0 and again.stdout.count("already running") == 3
    assert set(states().values()) == {"running"}


def test_unreachable_external_kafka_fails_fast(monkeypatch):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    began = time.monotonic()
    with pytest.raises(LabError) as err:
        lablib.kafka_config()
    assert time.monotonic() - began < 10
    assert f"127.0.0.1:{port}" in err.value.message and "KAFKA_BOOTSTRAP_SERVERS" in err.value.message


def test_reset_chapter_removes_topics_experiments_subjects(lab_services, unique):
    import mlflow
    import requests
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"ch98.reset-{unique}"
    admin = AdminClient(lablib.kafka_config())
    admin.create_topics([NewTopic(topic, 1, 1), NewTopic(f"ch97.keep-{unique}", 1, 1)])[topic].result(30)
    mlflow.set_tracking_uri(lablib.mlflow_uri())
    mlflow.set_experiment(f"ch98-reset-{unique}")
    url = lablib.registry_url()
    requests.post(f"{url}/subjects/{topic}-value/versions", timeout=10,
                  json={"schema": json.dumps({"type": "string"}), "schemaType": "AVRO"}).raise_for_status()

    removed = reset_chapter("98")
    assert f"topic {topic}" in removed
    assert f"experiment ch98-reset-{unique}" in removed
    assert f"subject {topic}-value" in removed
    assert f"ch97.keep-{unique}" in admin.list_topics(timeout=10).topics
    # the lab can run again: the same experiment name is free
    mlflow.set_experiment(f"ch98-reset-{unique}")
    assert reset_chapter("98") == [f"experiment ch98-reset-{unique}"]
    reset_chapter("97")


def test_reset_in_another_home_never_touches_this_homes_broker(lab_services, unique, tmp_path, monkeypatch):
    # another LAB_HOME whose services are down: its reset finds nothing of its own to clear, and leaves
    # this home's broker (which answers on a port of this home's record, not of that one) alone
    from confluent_kafka.admin import AdminClient, NewTopic

    if SERVICES["kafka"].external() is not None:
        pytest.skip("an external broker is shared on purpose")
    admin = AdminClient(lablib.kafka_config())
    topic = f"ch98.this-home-{unique}"
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    mine = SERVICES["kafka"].ports()
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "another home"))
    assert not set(SERVICES["kafka"].ports()) & set(mine)  # its own ports, recorded in its home
    assert _service.status(SERVICES["kafka"]).state == "stopped"
    assert reset_chapter("98") == []
    assert not _process.pid_file("kafka").exists()  # nothing started there either
    monkeypatch.undo()
    assert topic in admin.list_topics(timeout=10).topics
    assert f"topic {topic}" in reset_chapter("98")
