"""The Dagster UI of chapter 09: ``dagster dev`` on the repository's code location (pipelines/mat).

Started by ``lab orchestrator up`` (never by ``lab up``: it is a tool for one chapter, about 550 MB),
stopped by ``lab orchestrator down``, ``lab down orchestrator`` or ``lab down all``. The webserver
binds 127.0.0.1 on this home's ``orchestrator`` port; its code server and daemon are children in
the same process session. Runs, schedules and sensors live in ``$LAB_HOME/dagster``
(``lablib.orchestration.dagster_home``, telemetry off), the same instance a notebook records its
in-process runs in, so the UI shows them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lablib.config import REPO, ensure_dir, settings
from lablib.services._service import Service

CODE_LOCATION = "pipelines.mat.definitions"

_DAGSTER_YAML = """\
# written by lablib (chapter 09): runs, events, schedules and sensors of this LAB_HOME, in sqlite
telemetry:
  enabled: false
"""


def dagster_home() -> Path:
    """``$LAB_HOME/dagster``: the instance notebooks record their in-process runs in and
    ``lab orchestrator up`` serves (sqlite storage; telemetry off). Also sets DAGSTER_HOME."""
    home = ensure_dir(settings().home / "dagster")
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != _DAGSTER_YAML:
        config.write_text(_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def answers(base: str, timeout: float) -> bool:
    import requests

    try:
        return requests.get(f"{base.rstrip('/')}/server_info", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


class Orchestrator(Service):
    name = "orchestrator"
    title = "Dagster UI (dagster dev)"
    env_var = ""  # never external: it serves this checkout's code location
    start_timeout = 180.0  # ~35 s on a quiet 2-core machine, far more under load
    stop_grace = 15.0
    started_by = "`lab orchestrator up`"
    port_names = ("orchestrator",)

    def external(self) -> str | None:
        return None

    def address_on(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def prepare(self) -> None:
        dagster_home()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "dagster", "dev", "-m", CODE_LOCATION,
                "-h", "127.0.0.1", "-p", str(self.ports()[0])]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DAGSTER_HOME"] = str(dagster_home())
        # the code location is imported from this checkout, as a lab's kernel imports it
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        env["LAB_HOME"] = str(settings().home)
        env["DAGSTER_DISABLE_TELEMETRY"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def ready(self) -> bool:
        return answers(self.address(), timeout=2)

    def check_external(self) -> None:  # never external
        return None
