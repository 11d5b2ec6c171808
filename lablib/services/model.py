"""A registered model served over REST: ``mlflow models serve --env-manager local`` on 127.0.0.1.

Started from a notebook (``lablib.serve_model("models:/ch06-failures@champion")``), never by
``lab up``: it needs a model. Like the other services it runs in a session of its own with a PID
file, is health-checked (``/ping``) and stopped by ``lab down model`` (or ``all``) and by the
chapter's reset. Unlike them it lives no longer than the process that started it: the kernel's
exit stops it (atexit), and on Linux so does the kernel's death (the parent-death signal), so a
notebook that fails half way leaves no server behind.

What is served (the URI, the registered name and version) is recorded beside the PID file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lablib.config import ensure_dir, settings
from lablib.errors import LabError
from lablib.services._service import Service


def ping_answers(base: str, timeout: float) -> bool:
    import requests

    try:
        return requests.get(f"{base.rstrip('/')}/ping", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


class ModelServer(Service):
    name = "model"
    title = "MLflow model server"
    env_var = ""  # never external: a model is served from this machine's registry
    start_timeout = 120.0
    stop_grace = 10.0
    started_by = "`lablib.serve_model(uri)` in a lab"

    def external(self) -> str | None:
        return None

    port_names = ("model",)

    def address_on(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    @property
    def record_file(self) -> Path:
        return settings().state / "model.json"

    def served(self) -> dict | None:
        """What the PID file's process serves: {"uri", "name", "version"}, or None."""
        try:
            return json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return None

    def remember(self, what: dict) -> None:
        ensure_dir(self.record_file.parent)
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(what))
        tmp.replace(self.record_file)

    def forget(self) -> None:
        self.record_file.unlink(missing_ok=True)

    def command(self) -> list[str]:
        what = self.served()
        if not what:
            raise LabError("no model to serve: call lablib.serve_model(model_uri)")
        # `mlflow models serve`, with its uvicorn in the same process (mlflow_cli.py): 2-3 s sooner
        return [sys.executable, "-m", "lablib.services.mlflow_cli", "models", "serve", "-m", what["uri"],
                "--env-manager", "local",
                "--host", "127.0.0.1", "--port", str(self.ports()[0]), "--workers", "1"]

    def env(self) -> dict[str, str]:
        from lablib.config import MLFLOW_CLIENT_ENV
        from lablib.services.mlflow import MLflow

        env = dict(os.environ)
        # should `mlflow models serve` start `uvicorn` by name after all (mlflow_cli.py falls back to
        # MLflow's own child when it cannot run it here), this Python's scripts folder goes first on PATH
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["MLFLOW_TRACKING_URI"] = MLflow().uri()
        env.update(MLFLOW_CLIENT_ENV)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def ready(self) -> bool:
        return ping_answers(self.address(), timeout=2)

    def check_external(self) -> None:  # never external
        return None
