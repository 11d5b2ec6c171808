"""The embedded MLflow tracking server (with its model registry).

A sqlite backend store and an artifact store under ``$LAB_HOME/mlflow``;
artifacts go through the server (``mlflow-artifacts:/``), so clients need no
shared folder. One worker: the default four cost about a gigabyte. MLflow's CLI runs
in ``mlflow_cli.py``, which keeps its uvicorn in the same process (one MLflow import, not two).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from lablib import ports
from lablib.config import MLFLOW_CLIENT_ENV, ensure_dir, settings
from lablib.errors import LabError
from lablib.services._service import Service


def health_answers(base: str, timeout: float) -> bool:
    import requests

    try:
        return requests.get(f"{base.rstrip('/')}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def _embedded_somewhere(uri: str) -> bool:
    """``uri`` is the loopback address of an embedded MLflow of a home on this machine."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or host not in ("127.0.0.1", "localhost", "::1") or port is None:
        return False
    return port == ports.port("mlflow") or any(ports.recorded(home).get("mlflow") == port for home in ports.homes())


class MLflow(Service):
    name = "mlflow"
    title = "MLflow tracking server"
    env_var = "MLFLOW_TRACKING_URI"
    stop_grace = 15.0
    port_names = ("mlflow",)

    def external(self) -> str | None:
        uri = settings().mlflow_uri
        # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI to every process started after it, so
        # the address of an embedded server (this home's, or another home's, inherited by a kernel
        # started from a process of that home) is not a choice to share: this home uses its own
        if uri is None or _embedded_somewhere(uri):
            return None
        return uri

    def address_on(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def uri(self) -> str:
        return self.external() or self.address()

    @property
    def store(self) -> Path:
        return settings().home / "mlflow" / "mlflow.db"

    def leftovers(self, prefix: str) -> bool:
        """The embedded store (read while the server is down) holds live experiments or registered
        models named ``<prefix>-*``; True also when the store cannot be read (better safe)."""
        import sqlite3

        if not self.store.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=5)) as db:
                like = f"{prefix}-%"
                experiments = db.execute("SELECT count(*) FROM experiments WHERE name LIKE ? "
                                         "AND lifecycle_stage = 'active'", (like,)).fetchone()[0]
                models = db.execute("SELECT count(*) FROM registered_models WHERE name LIKE ?", (like,)).fetchone()[0]
        except sqlite3.Error:
            return True
        return bool(experiments or models)

    def prepare(self) -> None:
        from lablib.services import mlflow_store

        ensure_dir(settings().home / "mlflow" / "artifacts")
        mlflow_store.seed(self.store)  # a fresh home: MLflow's empty store, migrated at `lab setup`

    def command(self) -> list[str]:
        folder = self.store.parent
        return [
            # `mlflow server`, with its uvicorn in the same process (mlflow_cli.py): 2 s sooner
            sys.executable, "-m", "lablib.services.mlflow_cli", "server",
            "--host", "127.0.0.1", "--port", str(self.ports()[0]), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination", str(folder / "artifacts"),
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        # no phoning home from a classroom laptop (and no waiting on a blocked network)
        env.update(MLFLOW_CLIENT_ENV, PYTHONUNBUFFERED="1")
        # the server's job runner (GenAI judges, optimisation) forks seven huey consumers,
        # about 1 GB together; the labs use none of it
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        return env

    def ready(self) -> bool:
        return health_answers(self.address(), timeout=2)

    def check_external(self) -> None:
        uri = self.external()
        if not uri.startswith(("http://", "https://")):
            return  # a file or database store: nothing to reach
        if not health_answers(uri, timeout=8):
            raise LabError(
                f"MLflow at {uri} (MLFLOW_TRACKING_URI) did not answer /health within 8 s; start it or "
                "fix the address, or unset MLFLOW_TRACKING_URI to use the embedded server"
            )
