"""Processes of the embedded services: PID files, ports, sessions, clean stops.

Each service runs as the leader of its own session (``start_new_session``), so
it outlives the ``lab up`` or kernel process that started it, and everything it
forks (MLflow's gunicorn and huey workers) can be found and stopped with it.
A PID file records the PID *and* the kernel's start time of that PID, so a
recycled PID is never mistaken for our service.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lablib.config import ensure_dir, settings

_PROC = Path("/proc")


@dataclass(frozen=True)
class PidRecord:
    pid: int
    started: float  # wall clock, for the uptime column
    ticks: int | None  # the process start time in /proc ticks (None where there is no /proc)
    ports: tuple[int, ...]


def pid_file(name: str, home: Path | None = None) -> Path:
    """The PID file of a service of this home (or of another ``home``, for `lab status --all`)."""
    return (home / "state" if home else settings().state) / f"{name}.pid"


def read_pid(name: str, home: Path | None = None) -> PidRecord | None:
    try:
        raw = json.loads(pid_file(name, home).read_text())
        return PidRecord(int(raw["pid"]), float(raw["started"]), raw.get("ticks"), tuple(raw["ports"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_pid(name: str, pid: int, ports: list[int]) -> PidRecord:
    record = PidRecord(pid, time.time(), _start_ticks(pid), tuple(ports))
    path = pid_file(name)
    ensure_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.__dict__ | {"ports": list(ports)}))
    tmp.replace(path)  # atomic: a reader never sees half a file
    return record


def remove_pid(name: str) -> None:
    pid_file(name).unlink(missing_ok=True)


@contextlib.contextmanager
def lock(name: str):
    """Serialise start/stop of one service across processes (two kernels, `lab up` + a lab)."""
    path = ensure_dir(settings().state) / f"{name}.lock"
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- is it alive? -------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_alive(record: PidRecord) -> bool:
    """The recorded process still runs (not a zombie, not a recycled PID)."""
    _reap(record.pid)
    if _PROC.is_dir():
        fields = _stat(record.pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        # where there is /proc, write_pid always records the start time: a record without one
        # (written by hand, or by an older lablib) cannot prove the PID is still ours, and
        # trusting it would let `lab down` signal whatever program holds that PID now
        return record.ticks is not None and int(fields[19]) == record.ticks
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def session_members(sid: int) -> list[int]:
    """Live processes of a session: the service and whatever it forked."""
    if not _PROC.is_dir():
        try:
            os.killpg(sid, 0)
            return [sid]
        except (ProcessLookupError, PermissionError):
            return []
    members = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[0] not in ("Z", "X") and int(fields[3]) == sid:
                members.append(int(entry.name))
    return members


def leftovers(record: PidRecord) -> list[int]:
    """Processes still running from a service whose leader is gone.

    ``kill -9`` of a leader that forks (``dagster dev``, the PID `lab status` shows) leaves
    its children running, one of them serving on the port. They are ours only while no live
    process holds the leader's PID: Linux does not hand out a PID that a live process still
    uses as its session id, so when the PID does belong to another program now, its session
    is that program's.
    """
    if record.ticks is None or not _PROC.is_dir() or is_alive(record):
        return []  # without the leader's start time nothing proves the session was ours
    fields = _stat(record.pid)
    if fields is not None and fields[0] not in ("Z", "X"):
        return []  # the PID was recycled: not our session
    # started after our leader: a process of the session it led
    return [pid for pid in session_members(record.pid) if (_start_ticks(pid) or 0) >= record.ticks]


def rss_bytes(sid: int) -> int:
    """Resident memory of a whole session (Linux; 0 elsewhere)."""
    total = 0
    for pid in session_members(sid):
        with contextlib.suppress(OSError):
            for line in (_PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def _reap(pid: int) -> None:
    # a service started by *this* process (a test, a kernel) stays a zombie until waited for
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# -- ports --------------------------------------------------------------------

def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# -- start and stop -----------------------------------------------------------

def _term_when_parent_dies() -> None:
    # runs in the child between fork and exec: ask Linux for SIGTERM when the parent dies
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent's atexit hook is the only stop


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
          dies_with_parent: bool = False) -> subprocess.Popen:
    """Start ``cmd`` in a new session, its output appended to ``log``. ``dies_with_parent``: the
    process gets SIGTERM when this process dies, however it dies (Linux's parent-death signal)."""
    ensure_dir(log.parent)
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {cmd[0]} ... {cmd[-1]}\n".encode())
        out.flush()
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True, close_fds=True,
            preexec_fn=_term_when_parent_dies if dies_with_parent and sys.platform.startswith("linux") else None,
        )


def _signal_all(sid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for pid in session_members(sid):  # children that moved to a process group of their own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_session(sid: int, grace: float) -> None:
    """SIGTERM the whole session, wait up to ``grace`` seconds, then SIGKILL what is left."""
    _signal_all(sid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(sid)
        if not session_members(sid):
            return
        time.sleep(0.1)
    _signal_all(sid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _reap(sid)
        if not session_members(sid):
            return
        time.sleep(0.1)


def wait_ports_closed(ports: list[int], timeout: float = 5.0) -> list[int]:
    """Ports still open after ``timeout`` (normally none)."""
    deadline = time.monotonic() + timeout
    while True:
        still = [p for p in ports if port_open(p, timeout=0.2)]
        if not still or time.monotonic() > deadline:
            return still
        time.sleep(0.1)


def last_error_line(log: Path) -> str:
    """The last line of a log that looks like an error, to quote in a LabError."""
    try:
        lines = log.read_text(errors="replace").splitlines()[-200:]
    except OSError:
        return ""
    for line in reversed(lines):
        if any(word in line for word in ("ERROR", "Exception", "Error:", "error:")):
            return line.strip()[:240]
    return ""
