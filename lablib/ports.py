"""The ports of a LAB_HOME: chosen once, recorded in the home, the same from then on.

Two homes on one machine (a second checkout, a CI run beside a learner, a classroom
server with a home per learner) must never reach each other's embedded services.
So every home records its own ports in ``$LAB_HOME/state/ports.json`` (written
whole: a temp file, then a rename):

* the first home on the machine gets the defaults (Kafka 9092, the registry 8081,
  MLflow 5000, a served model 5001, the Spark UI from 4040, JupyterLab 8888, the Dagster UI 3000, the dashboard 8501:
  ``config.DEFAULT_PORTS``);
* every other home gets free ports of its own, drawn where no server expects one
  and the kernel hands none to outgoing connections (above Linux's ephemeral range);
* ``LAB_KAFKA_PORT`` and the other ``LAB_*_PORT`` variables win, and are never recorded.

A machine-wide index of homes (``LAB_HOMES_INDEX``, default
``~/.cache/mega-awesome-toys/homes``: one small file per home, naming it) lets a
new home see which ports the others hold, also while their services are down.
An entry whose home is gone, with nothing of it still running, is dropped.
When a recorded port is taken by an unrelated program, the service moves to a
new free port (:func:`move`, called when it starts).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import socket
import tempfile
from pathlib import Path

from lablib.config import DEFAULT_PORTS, PORT_VARIABLES, ensure_dir, settings
from lablib.errors import LabError

NAMES = tuple(DEFAULT_PORTS)
#: a human name for each port, for messages and `lab status`
LABELS = {"kafka": "Kafka", "kafka_controller": "Kafka controller", "registry": "schema registry",
          "mlflow": "MLflow", "model": "served model", "spark_ui": "Spark UI", "jupyter": "JupyterLab",
          "orchestrator": "Dagster UI", "dashboard": "dashboard", "connect": "Spark Connect"}
_RECORD = "ports.json"
#: room above a chosen port: the Spark UI tries the next ones when a second session runs in the home
_SPARE = 64


def record_path(home: Path | None = None) -> Path:
    return (home or settings().home) / "state" / _RECORD


def recorded(home: Path | None = None) -> dict[str, int]:
    """The ports a home recorded ({} when it has none yet)."""
    try:
        raw = json.loads(record_path(home).read_text())
        return {name: int(raw[name]) for name in NAMES if name in raw}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def ports() -> dict[str, int]:
    """This home's ports: the record (chosen and written on first use), under any LAB_*_PORT."""
    cfg = settings()
    mine = recorded(cfg.home)
    if all(name in mine for name in NAMES):
        _register(cfg.home)  # cheap when it is there; puts back a home whose entry was wiped
    else:
        with _index_lock():
            mine = recorded(cfg.home)  # another process may have chosen them meanwhile
            missing = [name for name in NAMES if name not in mine]
            if missing:
                avoid = _claimed(besides=cfg.home) | set(mine.values())
                for name in missing:
                    mine[name] = _choose(name, avoid, prefer_default=True)
                    avoid.add(mine[name])
                _write(cfg.home, mine)
            _register(cfg.home)
    return {**mine, **cfg.port_overrides}


def port(name: str) -> int:
    return ports()[name]


def explicit(name: str) -> str | None:
    """The variable that sets this port, when it is set (such a port never moves)."""
    return PORT_VARIABLES[name] if name in settings().port_overrides else None


def move(names: list[str]) -> dict[str, int]:
    """New free ports for ``names`` (taken by another program), recorded; returns them."""
    cfg = settings()
    with _index_lock():
        mine = recorded(cfg.home) or dict(ports())
        avoid = _claimed(besides=cfg.home) | set(mine.values())
        for name in names:
            mine[name] = _choose(name, avoid, prefer_default=False)
            avoid.add(mine[name])
        _write(cfg.home, mine)
    return {name: mine[name] for name in names}


def free(number: int) -> bool:
    """Nothing holds 127.0.0.1:``number``: a server could bind it now.

    SO_REUSEADDR as Java and uvicorn set it, so a just-stopped service's connections in
    TIME_WAIT do not count as taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", number))
        except OSError:
            return False
    with socket.socket() as knock:  # a listener on another address of this port (0.0.0.0, ::)
        knock.settimeout(0.3)
        return knock.connect_ex(("127.0.0.1", number)) != 0


def _candidates() -> range:
    """Where free ports are drawn: the dynamic range (49152-65535, which no server registers), minus
    the kernel's ephemeral range (ports it gives outgoing connections; Linux: 32768-60999)."""
    low = 49152
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = max(low, int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[1]) + 1)
    if 65536 - _SPARE - low < 1000:
        low = 49152
    return range(low, 65536 - _SPARE)


def _choose(name: str, avoid: set[int], prefer_default: bool) -> int:
    default = DEFAULT_PORTS[name]
    if prefer_default and default not in avoid and free(default):
        return default
    # drawn among the ports no other home recorded: with hundreds of homes on a machine (CI runs, a
    # classroom) a sample of the whole range could miss the few that are left
    unclaimed = [number for number in _candidates() if number not in avoid]
    for number in random.sample(unclaimed, k=min(500, len(unclaimed))):
        if free(number):
            return number
    raise LabError(f"no free port found for {LABELS[name]} on 127.0.0.1; set {PORT_VARIABLES[name]} to one")


def _write(home: Path, mine: dict[str, int]) -> None:
    path = record_path(home)
    ensure_dir(path.parent)
    tmp = path.with_name(f".{_RECORD}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({name: mine[name] for name in NAMES if name in mine}, indent=1) + "\n")
    tmp.replace(path)  # atomic: a reader sees the old record or the new one, never half


# -- the machine's index of homes ------------------------------------------------

def _index() -> Path:
    try:
        return ensure_dir(settings().homes_index)
    except LabError:
        # a read-only home folder (some containers): a per-user folder in /tmp still works
        return ensure_dir(Path(tempfile.gettempdir()) / f"mega-awesome-toys-{os.getuid()}" / "homes")


@contextlib.contextmanager
def _index_lock():
    """One process at a time chooses ports on this machine, so two new homes never pick the same."""
    with open(_index() / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _entry(home: Path) -> Path:
    return _index() / f"{hashlib.sha256(str(home).encode()).hexdigest()[:16]}.json"


def _register(home: Path) -> None:
    entry = _entry(home)
    if entry.exists():
        return
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"home": str(home)}) + "\n")
    tmp.replace(entry)


def homes() -> list[Path]:
    """Every home in the machine's index; entries of homes that are gone and left nothing
    running are dropped on the way."""
    found = []
    for entry in sorted(_index().glob("*.json")):
        try:
            home = Path(json.loads(entry.read_text())["home"])
        except (OSError, ValueError, KeyError, TypeError):
            entry.unlink(missing_ok=True)  # unreadable: a half-written entry from a crash
            continue
        if not home.is_dir() and not running_in(home):
            entry.unlink(missing_ok=True)
            continue
        found.append(home)
    return found


def _claimed(besides: Path) -> set[int]:
    """Ports recorded by the other homes of the machine."""
    return {number for home in homes() if home != besides for number in recorded(home).values()}


def running_in(home: Path) -> list[int]:
    """PIDs of processes whose working folder is ``home``: embedded services run there (also after
    their home was deleted, when Linux shows the folder as "… (deleted)")."""
    names = {str(home), f"{home} (deleted)"}
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if os.readlink(proc / "cwd") in names:
                pids.append(int(proc.name))
    return pids
