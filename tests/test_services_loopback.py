"""Nothing we start listens beyond loopback.

While a Spark session works and Kafka, the schema registry and MLflow run, JupyterLab is started
with the very command `make lab` runs (read from `make -n lab`) and starts a kernel. Then every
listening TCP socket of the machine is read from /proc/net/tcp and tcp6; each one held by our
processes (this test and everything it started, and the services' sessions) must be bound to
127.0.0.1 or ::1. Measured before this test existed: the Spark UI on *:4040.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from lablib import ports, sockets
from lablib.config import REPO
from lablib.services import SERVICES, _process

pytestmark = pytest.mark.services


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _process._stat(int(proc.name))
        if fields:
            tree.setdefault(int(fields[1]), []).append(int(proc.name))
    return tree


def ours(*roots: int) -> set[int]:
    """The root processes and all their descendants."""
    tree, found, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += tree.get(pid, [])
    return found


def _listening_ports(pids: set[int]) -> set[int]:
    return {listener.port for listener in sockets.listeners() if listener.pid in pids}


def beyond_loopback(pids: set[int]) -> list[str]:
    """Each listener of these processes bound to something other than loopback, named."""
    return [listener.describe() for listener in sockets.listeners() if listener.pid in pids and not listener.loopback]


def test_the_scan_names_the_program_and_port_of_a_socket_on_every_interface():
    with socket.socket() as wide:
        wide.bind(("0.0.0.0", 0))
        wide.listen()
        port = wide.getsockname()[1]
        found = beyond_loopback({os.getpid()})
    comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert f"{comm} (pid {os.getpid()}) on 0.0.0.0:{port}" in found


def _jupyter(tmp: Path) -> tuple[subprocess.Popen, str, str]:
    """JupyterLab started by the command `make lab` runs (`lab jupyter`); (process, base URL, token)."""
    dry = subprocess.run(["make", "-n", "lab", f"VENV={sys.prefix}"], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    line = next((ln for ln in dry.stdout.splitlines() if ln.rstrip().endswith(" jupyter")), None)
    assert line, f"`make -n lab` shows no `lab jupyter` command:\n{dry.stdout}{dry.stderr}"
    log, runtime = tmp / "jupyter.log", tmp / "runtime"
    with open(log, "w") as out:
        proc = subprocess.Popen(shlex.split(line), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = sorted(runtime.glob("jpserver-*.json"))
        if found:
            info = json.loads(found[0].read_text())
            return proc, f"http://127.0.0.1:{info['port']}", info["token"]
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise AssertionError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")


def test_nothing_we_start_listens_beyond_loopback(lab_services, spark, tmp_path):
    embedded = [svc for svc in SERVICES.values() if svc.external() is None]
    if len(embedded) < 3:
        pytest.skip("external services are not ours to inspect")
    assert spark.range(20_000).selectExpr("id % 7 AS k").groupBy("k").count().count() == 7  # a shuffle
    ui = spark.sparkContext.uiWebUrl
    assert ui.startswith("http://127.0.0.1:"), ui
    assert spark.conf.get("spark.ui.killEnabled") == "false"
    jupyter, url, token = _jupyter(tmp_path)
    try:
        assert url == f"http://127.0.0.1:{ports.port('jupyter')}"  # the home's port (lab jupyter's default)
        auth = {"Authorization": f"token {token}"}  # token refused or missing: tests/test_jupyter.py
        started = requests.post(f"{url}/api/kernels", headers=auth, json={"name": "python3"}, timeout=60)
        assert started.status_code == 201, started.text
        # the kernel binds its five ZMQ ports (shell, iopub, stdin, control, heartbeat) as it starts
        deadline = time.monotonic() + 90
        while len(_listening_ports(ours(jupyter.pid) - {jupyter.pid})) < 5 and time.monotonic() < deadline:
            time.sleep(0.5)

        services = [_process.read_pid(svc.name).pid for svc in embedded]
        pids = ours(os.getpid(), jupyter.pid, *services)
        listening = _listening_ports(pids)
        # the scan sees every one of them, or its silence would prove nothing
        expected = {int(ui.rsplit(":", 1)[1]), int(url.rsplit(":", 1)[1])}
        expected |= {port for svc in embedded for port in svc.ports()}
        assert expected <= listening, f"not seen listening: {sorted(expected - listening)}"
        assert len(listening) >= len(expected) + 5  # the driver, block manager, py4j, the registry's management
        assert beyond_loopback(pids) == []
    finally:
        os.killpg(jupyter.pid, signal.SIGTERM)
        jupyter.wait(60)
