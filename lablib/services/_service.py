"""What every embedded service shares: start, wait until ready, stop, status.

A service (kafka.py, mlflow.py, registry.py) says how to prepare its folders,
which command runs it, which ports it binds and how to tell it is ready; this
module does the rest the same way for all three.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lablib import ports, sockets
from lablib.config import ensure_dir, settings
from lablib.errors import LabError
from lablib.paths import rel
from lablib.services import _process


class Service:
    """One embedded service. Subclasses fill in the hooks below."""

    name = ""  # kafka, mlflow, registry: the CLI word, the PID file and the log name
    title = ""  # "Kafka broker", for messages
    env_var = ""  # the variable that points at an external one instead
    start_timeout = 90.0  # seconds; MLflow needs ~15 s, a cold Apicurio ~12 s on 2 cores
    stop_grace = 30.0  # seconds of SIGTERM before SIGKILL (Kafka flushes its logs)
    started_by: str | None = None  # how it starts when not by `lab up` (advice under `lab status`)

    # -- hooks ------------------------------------------------------------------
    def external(self) -> str | None:
        """The configured external address, or None for the embedded service."""
        raise NotImplementedError

    port_names: tuple[str, ...] = ()  # its ports in this home's record (lablib/ports.py); the first is its address

    def address_on(self, port: int) -> str:
        """The address clients use when the service listens on ``port``."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Create folders, format storage, unpack: everything before the first start."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def ready(self) -> bool:
        """One quick probe (a few seconds at most): does the service answer?"""
        raise NotImplementedError

    def check_external(self) -> None:
        """Raise a LabError within 10 s when the external service does not answer."""
        raise NotImplementedError

    def leftovers(self, prefix: str) -> bool:
        """Read while the service is down: may its stored state hold what chapter ``prefix`` left?
        A chapter's reset then starts it at once to clear that; otherwise it starts in the
        background. True unless a service knows better (better safe)."""
        return True

    # -- shared -----------------------------------------------------------------
    def ports(self) -> list[int]:
        return [ports.port(name) for name in self.port_names]

    def address(self) -> str:
        return self.address_on(self.ports()[0])

    @property
    def log(self) -> Path:
        return settings().logs / f"{self.name}.log"

    def rel_log(self) -> str:
        return rel(self.log)


@dataclass(frozen=True)
class Status:
    service: str
    state: str  # running, stopped, external, stale (PID file of a dead process), not ready
    address: str
    pid: int | None
    uptime: float | None
    left: int = 0  # stale: processes its dead leader left running (they may hold its ports)


def status(svc: Service) -> Status:
    ext = svc.external()
    if ext is not None:
        return Status(svc.name, "external", ext, None, None)
    record = _process.read_pid(svc.name)
    if record is None:
        return Status(svc.name, "stopped", svc.address(), None, None)
    if not _process.is_alive(record):
        return Status(svc.name, "stale", svc.address(), record.pid, None, len(_process.leftovers(record)))
    state = "running" if svc.ready() else "not ready"
    return Status(svc.name, state, svc.address(), record.pid, time.time() - record.started)


def advice(st: Status, start: str | None = None) -> str | None:
    """One line under `lab status` for a service that is not simply running or stopped. ``start``:
    how this service is started, when not by `lab up` (a served model: by a lab)."""
    if st.state == "stale" and start:
        return (f"{st.service} is down: its process (pid {st.pid}) has ended with the lab that started it; "
                f"{start} starts one again")
    if st.state == "stale":
        left = ""
        if st.left:
            left = (f"; {st.left} of its processes {'is' if st.left == 1 else 'are'} still running, "
                    f"and `lab up {st.service}` stops {'it' if st.left == 1 else 'them'} first")
        return (f"{st.service} is down: its process (pid {st.pid}) has ended, killed or crashed (that PID "
                f"may belong to another program now){left}; `lab up {st.service}` starts it again on its data")
    if st.state == "not ready":
        return (f"{st.service} runs (pid {st.pid}) but does not answer on {st.address}: it may still be "
                f"starting; if it stays so, `lab down {st.service}` then `lab up {st.service}`")
    return None


def _clear_stale(svc: Service, record: _process.PidRecord) -> int:
    """Forget a dead service: stop what its leader left behind, remove the PID file. Caller holds the lock."""
    left = _process.leftovers(record)
    if left:
        _process.stop_session(record.pid, grace=svc.stop_grace)
    _process.remove_pid(svc.name)
    return len(left)


@dataclass
class _Launch:
    svc: Service
    proc: object  # subprocess.Popen
    began: float


def _make_room(svc: Service, log) -> None:
    """Every port of the service is free before it starts. A port an unrelated program holds moves:
    a new free one, recorded in the home, said in one line. A port set by a LAB_*_PORT variable
    cannot move: one error naming the program that holds it."""
    taken = [name for name, port in zip(svc.port_names, svc.ports(), strict=True) if not ports.free(port)]
    if not taken:
        return
    held = {name: ports.port(name) for name in taken}
    ours = set(ports.running_in(settings().home))  # services run in their home's folder
    for name in taken:
        mine = [listener.pid for listener in sockets.listeners(held[name]) if listener.pid in ours]
        if mine:  # this home's own service, whose PID file was lost: a second one would share its data
            raise LabError(
                f"{svc.title} of this home runs without its PID file (pid {mine[0]}, port {held[name]}); "
                f"stop it (kill {mine[0]}), then `lab up {svc.name}`"
            )
        variable = ports.explicit(name)
        if variable:
            raise LabError(
                f"cannot start {svc.name}: port {held[name]} on 127.0.0.1 ({variable}) is taken by "
                f"{sockets.holder(held[name])}; stop that program, or set {variable} to another port"
            )
    moved = ports.move(taken)
    were, now = ", ".join(map(str, held.values())), ", ".join(map(str, moved.values()))
    log(f"{svc.name}: {'ports ' + were + ' are' if len(held) > 1 else 'port ' + were + ' is'} taken by "
        f"{sockets.holder(next(iter(held.values())))}; this home's {svc.title} moves to {now} "
        f"(recorded in {rel(ports.record_path())})")


def _launch(svc: Service, log=print, dies_with_parent: bool = False) -> _Launch | None:
    """Start the process unless it already runs; None when it does. Caller holds the lock.
    ``dies_with_parent``: the process is stopped when this one dies (Linux), not only when it exits."""
    record = _process.read_pid(svc.name)
    if record is not None:
        if _process.is_alive(record):
            return None
        _clear_stale(svc, record)  # the process died (killed, crashed) or the machine restarted
    _make_room(svc, log)
    ensure_dir(settings().logs)
    svc.prepare()
    began = time.monotonic()
    proc = _process.spawn(svc.command(), svc.log, env=svc.env(), cwd=settings().home,
                          dies_with_parent=dies_with_parent)
    _process.write_pid(svc.name, proc.pid, svc.ports())
    return _Launch(svc, proc, began)


def _wait(launch: _Launch) -> float:
    """Block until the service is ready; on failure stop it and raise a LabError naming its log."""
    svc, proc = launch.svc, launch.proc
    deadline = launch.began + svc.start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _process.remove_pid(svc.name)
            why = _process.last_error_line(svc.log)
            raise LabError(
                f"{svc.title} exited while starting (code {proc.returncode}); read {svc.rel_log()}"
                + (f": {why}" if why else "")
            )
        if svc.ready():
            return time.monotonic() - launch.began
        time.sleep(0.3)
    _process.stop_session(proc.pid, grace=5)
    _process.remove_pid(svc.name)
    raise LabError(
        f"{svc.title} did not become ready within {svc.start_timeout:.0f} s; "
        f"read {svc.rel_log()} and try `lab up {svc.name}` again"
    )


def _wait_existing(svc: Service, timeout: float) -> None:
    """A process we started earlier (maybe from another kernel) is still coming up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.ready():
            return
        record = _process.read_pid(svc.name)
        if record is not None and not _process.is_alive(record):
            # it was started in the background (or by another kernel) and died while starting
            _process.remove_pid(svc.name)
            why = _process.last_error_line(svc.log)
            raise LabError(f"{svc.title} exited while starting; read {svc.rel_log()}" + (f": {why}" if why else ""))
        time.sleep(0.3)
    raise LabError(
        f"{svc.title} runs (PID file {_process.pid_file(svc.name)}) but does not answer on "
        f"{svc.address()}; run `lab down {svc.name}` and `lab up {svc.name}`"
    )


def up(services: list[Service], log=print) -> None:
    """`lab up`: start every stopped service (in parallel), report each; idempotent."""
    launches = []
    for svc in services:
        ext = svc.external()
        if ext is not None:
            svc.check_external()
            log(f"{svc.name}: external at {ext} ({svc.env_var}); nothing to start")
            continue
        with _process.lock(svc.name):
            launch = _launch(svc, log)
        if launch is None:
            _wait_existing(svc, svc.start_timeout)
            record = _process.read_pid(svc.name)
            log(f"{svc.name}: already running on {svc.address()} (pid {record.pid if record else '?'})")
        else:
            launches.append(launch)
    for launch in launches:  # they start side by side: the slowest decides the wait
        seconds = _wait(launch)
        svc = launch.svc
        log(f"{svc.name}: started on {svc.address()} in {seconds:.1f} s (pid {launch.proc.pid}, log {svc.rel_log()})")


def ensure(svc: Service) -> None:
    """Make sure this home's embedded service answers; start it (one printed line) when it is down.

    Only this home's own service counts: whatever answers on its port otherwise (another home's, an
    unrelated program) is never used; the service then moves to a free port (:func:`_make_room`)."""
    with _process.lock(svc.name):
        record = _process.read_pid(svc.name)
        if record is not None and not _process.is_alive(record):
            _clear_stale(svc, record)  # before the probe: a dead leader's worker may still answer
            record = None
        if record is not None:
            launch = None
        else:
            _make_room(svc, print)  # first, so the line below names the address it really uses
            print(f"{svc.title} is not running: starting it on {svc.address()} …", end=" ", flush=True)
            try:
                launch = _launch(svc, print)
            except LabError:
                print("failed")
                raise
    if launch is None:
        if not svc.ready():
            _wait_existing(svc, svc.start_timeout)
        return
    try:
        seconds = _wait(launch)
    except LabError:
        print("failed")
        raise
    print(f"ready in {seconds:.0f} s (log: {svc.rel_log()}; `lab down {svc.name}` stops it)")


def down(services: list[Service], log=print) -> None:
    """`lab down`: stop what `lab up` started (whole sessions), wait for exit and closed ports."""
    import signal

    stopping = []
    for svc in services:
        if svc.external() is not None:
            log(f"{svc.name}: external ({svc.env_var}); not managed here")
            continue
        record = _process.read_pid(svc.name)
        if record is None:
            log(f"{svc.name}: not running")
            continue
        if not _process.is_alive(record):
            with _process.lock(svc.name):
                left = _clear_stale(svc, record)
            note = f"; stopped {left} process{'es' if left != 1 else ''} it left running" if left else ""
            log(f"{svc.name}: not running (removed a stale PID file{note})")
            continue
        _process._signal_all(record.pid, signal.SIGTERM)  # all first, so they stop side by side
        stopping.append((svc, record, time.monotonic()))
    for svc, record, began in stopping:
        with _process.lock(svc.name):
            _process.stop_session(record.pid, grace=svc.stop_grace)
            _process.remove_pid(svc.name)
        left = _process.wait_ports_closed(list(record.ports))
        note = f"; port {', '.join(map(str, left))} still open" if left else ""
        log(f"{svc.name}: stopped (pid {record.pid}) in {time.monotonic() - began:.1f} s{note}")


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def table(rows: list[Status]) -> str:
    head = ("service", "state", "address", "pid", "uptime")
    body = [(s.service, s.state, s.address, str(s.pid or "-"), format_uptime(s.uptime)) for s in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *body])
