"""`lab status --all`: the embedded services every LAB_HOME on this machine left running.

The homes come from the machine's index (lablib/ports.py); each home's PID files say
what runs. A home deleted while its services ran has no PID files left: its processes
are still found by their working folder (services run in their home) and listed as
orphans, with the PIDs to stop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lablib import ports
from lablib.services import _process
from lablib.services._service import Service, format_uptime


@dataclass(frozen=True)
class Left:
    home: Path
    service: str  # kafka, mlflow, registry; "?" for an orphan of a deleted home
    state: str  # running, not ready (runs, port closed), orphan (its home is gone)
    address: str
    pid: int
    uptime: float | None


#: how each service's command line gives it away, for the orphans of a deleted home
_SIGNS = {"kafka": "kafka.Kafka", "registry": "quarkus-run.jar", "model": "models serve", "mlflow": "mlflow"}


def _program(pid: int) -> str:
    try:
        cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        comm = (Path("/proc") / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"
    return next((name for name, sign in _SIGNS.items() if sign in cmdline), comm)


def left_running(services: list[Service]) -> list[Left]:
    """Every embedded service of every home in the machine's index that runs now."""
    rows: list[Left] = []
    for home in ports.homes():
        if not home.is_dir():
            pids = set(ports.running_in(home))
            # one row per session (a service and what it forked): its leader, or the top-most left
            tops = sorted(pid for pid in pids if _session_of(pid) == pid or _session_of(pid) not in pids)
            rows += [Left(home, _program(pid), "orphan", "-", pid, None) for pid in tops]
            continue
        for svc in services:
            record = _process.read_pid(svc.name, home)
            if record is None or not _process.is_alive(record):
                continue
            port = record.ports[0] if record.ports else None
            answers = port is not None and _process.port_open(port, timeout=0.3)
            rows.append(Left(home, svc.name, "running" if answers else "not ready",
                             svc.address_on(port) if port else "-", record.pid, time.time() - record.started))
    return rows


def _session_of(pid: int) -> int | None:
    fields = _process._stat(pid)
    return int(fields[3]) if fields else None


def table(rows: list[Left]) -> str:
    if not rows:
        return "no embedded service of any LAB_HOME runs on this machine"
    head = ("home", "service", "state", "address", "pid", "uptime")
    body = [(str(r.home) + (" (deleted)" if r.state == "orphan" else ""), r.service, r.state, r.address,
             str(r.pid), format_uptime(r.uptime)) for r in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *body]]
    orphans = [r for r in rows if r.state == "orphan"]
    if orphans:
        lines.append(f"orphans run in a deleted LAB_HOME; stop them with: kill -- {' '.join(f'-{r.pid}' for r in orphans)}")
    return "\n".join(lines)
