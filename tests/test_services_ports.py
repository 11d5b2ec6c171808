"""A recorded port taken by an unrelated program, and `lab status --all`, with real services.

The program is this test: it holds a real listening socket on the port the home recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from lablib import ports

pytestmark = pytest.mark.services


def lab(home, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "LAB_HOME": str(home)})


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh home with its ports recorded, nothing set explicitly; its services stopped at the end."""
    for name in ("LAB_KAFKA_PORT", "LAB_KAFKA_CONTROLLER_PORT", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "a home"
    monkeypatch.setenv("LAB_HOME", str(path))
    ports.ports()
    yield path
    lab(path, "down", "all")


def test_a_port_taken_by_another_program_moves_the_service_and_says_so(home):
    taken = ports.port("kafka")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        # the first use from a notebook: the broker starts on a new port, and says so in one line
        code = "import lablib; print('bootstrap', lablib.kafka_config()['bootstrap.servers'])"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                             env={**os.environ, "LAB_HOME": str(home)})
    assert run.returncode == 0, run.stderr[-2000:]
    moved = ports.recorded()["kafka"]
    assert moved != taken
    lines = run.stdout.splitlines()
    assert lines[0] == (f"kafka: port {taken} is taken by {_me()} on 127.0.0.1:{taken}; this home's Kafka broker "
                        f"moves to {moved} (recorded in $LAB_HOME/state/ports.json)")
    assert lines[1].startswith(f"Kafka broker is not running: starting it on 127.0.0.1:{moved} … ready in ")
    assert lines[2] == f"bootstrap 127.0.0.1:{moved}"
    assert json.loads(ports.record_path().read_text())["kafka"] == moved
    status = lab(home, "status").stdout
    assert re.search(rf"^kafka +running +127\.0\.0\.1:{moved} ", status, re.M), status
    assert f"Kafka {moved}," in status
    # the port is free again: the home keeps its new port (recorded, so the same from now on)
    assert f"already running on 127.0.0.1:{moved}" in lab(home, "up", "kafka").stdout


def _me() -> str:
    comm = open(f"/proc/{os.getpid()}/comm").read().strip()
    return f"{comm} (pid {os.getpid()})"


def test_status_all_lists_every_homes_services_and_the_orphans_of_a_deleted_home(home, tmp_path):
    up = lab(home, "up", "kafka")
    assert up.returncode == 0, up.stderr
    # a home deleted while something of it ran there: its PID files are gone with it
    gone = tmp_path / "gone home"
    gone.mkdir()
    lab(gone, "port", "kafka")  # recorded, so the home is in the machine's index
    orphan = subprocess.Popen(["sleep", "120"], cwd=gone, start_new_session=True)
    try:
        shutil.rmtree(gone)
        out = lab(home, "status", "--all").stdout
    finally:
        orphan.kill()
        orphan.wait()
    pid = json.loads((home / "state" / "kafka.pid").read_text())["pid"]
    assert re.search(rf"^{re.escape(str(home))} +kafka +running +127\.0\.0\.1:{ports.port('kafka')} +{pid} ",
                     out, re.M), out
    assert re.search(rf"^{re.escape(str(gone))} \(deleted\) +sleep +orphan +- +{orphan.pid} ", out, re.M), out
    assert f"kill -- -{orphan.pid}" in out
    # once nothing runs there, the deleted home leaves the index
    assert str(gone) not in lab(home, "status", "--all").stdout

    # this home's broker with its PID file lost is not "another program": no second broker on its data
    pid_file = home / "state" / "kafka.pid"
    saved = pid_file.read_text()
    pid_file.unlink()
    try:
        again = lab(home, "up", "kafka")
    finally:
        pid_file.write_text(saved)
    assert again.returncode == 1
    assert (f"error: Kafka broker of this home runs without its PID file (pid {pid}, port {ports.port('kafka')}); "
            f"stop it (kill {pid}), then `lab up kafka`") in again.stderr
