"""Chapter 07's dashboard: the Streamlit app ``dashboards/sales.py`` served on 127.0.0.1.

``lab dashboard up`` starts it (``lab dashboard down`` / ``lab down dashboard`` / ``lab down all``
and chapter 07's reset stop it). Like the other services it runs in a session of its own with a PID
file in the home, on the home's recorded port (8501 for the first home, ``LAB_DASHBOARD_PORT`` to
choose; a port another program holds moves to a free one), and is health-checked on Streamlit's
``/_stcore/health``. It reads the gold tables with delta-rs + DuckDB (lablib/gold.py), so it needs no
Spark; a missing gold table shows a page saying how to build it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lablib.config import REPO
from lablib.services._service import Service

#: the Streamlit script served
APP = REPO / "dashboards" / "sales.py"  # = lablib.gold.dashboard_app()


def health_answers(base: str, timeout: float) -> bool:
    import requests

    try:
        reply = requests.get(f"{base.rstrip('/')}/_stcore/health", timeout=timeout)
        return reply.status_code == 200 and reply.text.strip() == "ok"
    except requests.RequestException:
        return False


class Dashboard(Service):
    """One dashboard per home: chapter 07's by default, or another Streamlit ``app`` (the capstone's,
    with its own ``args`` and import ``paths``) on the same port and PID file."""

    name = "dashboard"
    title = "dashboard (Streamlit)"
    env_var = ""  # never external
    start_timeout = 60.0
    stop_grace = 5.0
    started_by = "`lab dashboard up`"
    port_names = ("dashboard",)

    def __init__(self, app: Path = APP, args: tuple[str, ...] = (), paths: tuple[Path, ...] = ()) -> None:
        # paths: folders the app imports from (its own package's), ahead of this checkout on PYTHONPATH
        self.app, self.args, self.paths = Path(app), tuple(args), tuple(str(p) for p in paths)

    def external(self) -> str | None:
        return None

    @property
    def record_file(self) -> Path:
        from lablib.config import settings

        return settings().state / "dashboard.json"

    def served(self) -> dict | None:
        """What this home's dashboard process serves: {"app", "args"} (None: none recorded)."""
        import json

        try:
            return json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return None

    def prepare(self) -> None:
        import json

        from lablib.config import ensure_dir

        # which app the PID file's process serves, so a request for another one is not handed this one
        ensure_dir(self.record_file.parent)
        tmp = self.record_file.with_name(f".{self.record_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"app": str(self.app), "args": list(self.args)}))
        tmp.replace(self.record_file)

    def address_on(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "streamlit", "run", str(self.app),
                "--server.address", "127.0.0.1", "--server.port", str(self.ports()[0]),
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", "--global.developmentMode", "false",
                "--server.runOnSave", "false", "--theme.base", "light",
                # viewer: no Deploy button (it offers Streamlit's cloud, which a course dashboard must not)
                "--client.toolbarMode", "viewer", *(["--", *self.args] if self.args else [])]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # the app imports this checkout's lablib (the one that started it), whatever is installed
        env["PYTHONPATH"] = os.pathsep.join([*self.paths, str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        env["PYTHONUNBUFFERED"] = "1"
        env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
        return env

    def ready(self) -> bool:
        return health_answers(self.address(), timeout=2)

    def check_external(self) -> None:  # never external
        return None


def app_path() -> Path:
    return APP
