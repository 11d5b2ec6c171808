"""The embedded MLflow tracking server (with its model registry).

A sqlite backend store and an artifact store under ``$LAB_HOME/mlflow``;
artifacts go through the server (``mlflow-artifacts:/``), so clients need no
shared folder. One worker: the default four cost about a gigabyte.
"""

from __future__ import annotations

import os
import sys

from lablib.config import ensure_dir, settings
from lablib.errors import LabError
from lablib.services._service import Service


def health_answers(base: str, timeout: float) -> bool:
    import requests

    try:
        return requests.get(f"{base.rstrip('/')}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


class MLflow(Service):
    name = "mlflow"
    title = "MLflow tracking server"
    env_var = "MLFLOW_TRACKING_URI"
    stop_grace = 15.0

    def external(self) -> str | None:
        uri = settings().mlflow_uri
        # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI: our own address stays embedded
        if uri is None or uri.rstrip("/") == self.address():
            return None
        return uri

    def ports(self) -> list[int]:
        return [settings().mlflow_port]

    def address(self) -> str:
        return f"http://127.0.0.1:{settings().mlflow_port}"

    def uri(self) -> str:
        return self.external() or self.address()

    def prepare(self) -> None:
        ensure_dir(settings().home / "mlflow" / "artifacts")

    def command(self) -> list[str]:
        folder = settings().home / "mlflow"
        return [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(settings().mlflow_port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination", str(folder / "artifacts"),
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        # no phoning home from a classroom laptop (and no waiting on a blocked network)
        env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
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
