"""Helpers of the fault drills (tests/test_services_drills.py, tests/test_bad_disk.py).

A drill gets a throw-away LAB_HOME with ports of its own, so killing its
services never touches the suite's services or another helper's; it runs `lab`
the way a learner does (a separate process) and uses real signals and real
filesystems, never a mock.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PORT_VARS = ("LAB_KAFKA_PORT", "LAB_KAFKA_CONTROLLER_PORT", "LAB_MLFLOW_PORT", "LAB_REGISTRY_PORT",
             "LAB_SPARK_UI_PORT")
EXTERNAL_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "SCHEMA_REGISTRY_URL")


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports nothing listens on now (the kernel picks them)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """Point this process (and the processes it starts) at ``home``, with free ports, all embedded."""
    monkeypatch.setenv("LAB_HOME", str(home))
    for var, port in zip(PORT_VARS, free_ports(len(PORT_VARS)), strict=True):
        monkeypatch.setenv(var, str(port))
    for var in EXTERNAL_VARS:
        # set then delete: monkeypatch then restores the variable as it was, also when a client
        # library (mlflow.set_tracking_uri) exports it during the test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    return home


def lab(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """`lab ARGS` as a learner runs it: another process, this environment."""
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def states(printed: str | None = None) -> dict[str, str]:
    """service → state, from `lab status`'s table (``printed``: the output of a run already made)."""
    if printed is None:
        out = lab("status")
        assert out.returncode == 0, out.stderr
        printed = out.stdout
    table = printed.split("\n\n")[0]  # advice lines follow the table after a blank line
    return {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}


def alive(pid: int) -> bool:
    """The process runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, f"still running after SIGKILL: {[p for p in pids if alive(p)]}"
        time.sleep(0.05)


def report(line: str) -> None:
    """A measured number, on the terminal (pytest -s) and in $LAB_TEST_HOMES/drills.log."""
    print(f"[drill] {line}")
    base = Path(os.environ.get("LAB_TEST_HOMES", "/tmp"))
    try:
        base.mkdir(parents=True, exist_ok=True)
        with open(base / "drills.log", "a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
    except OSError:
        pass
