"""Configuration per environment: where the platform's tables live and which services it talks to.

Two environments, one code path:

* ``dev`` — the course's embedded services on this machine (Kafka, MLflow started on demand),
  Spark in local mode.
* ``prod`` — a cluster, reached through the variables the course already honours:
  ``LAB_SPARK_MASTER`` or ``SPARK_REMOTE`` (Spark), ``KAFKA_BOOTSTRAP_SERVERS``,
  ``MLFLOW_TRACKING_URI``, ``SCHEMA_REGISTRY_URL``.

This module reads no environment variable itself: lablib's configuration owns them, and
``lablib.spark()`` / ``lablib.kafka_config()`` / ``lablib.mlflow_uri()`` already follow them.
Here we only name the folders and the topic, and refuse ``prod`` when it would silently
run on the embedded services.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lablib

ENVIRONMENTS = ("dev", "prod")
#: the Delta properties every table is created with: readable by delta-rs (the dashboard's reader)
TABLE_PROPERTIES = {"delta.enableDeletionVectors": "false", "delta.columnMapping.mode": "none"}


@dataclass(frozen=True)
class Settings:
    env: str
    scale: str  # the datasets' scale (LAB_SCALE, or `lab capstone run --scale`)
    root: Path  # every table, checkpoint and record of this environment and scale, in this home
    topic: str  # where the factory telemetry is replayed

    def table(self, layer: str, name: str) -> Path:
        """A Delta table's folder: ``<root>/<layer>/<name>``."""
        return self.root / layer / name

    def checkpoint(self, name: str) -> str:
        """A streaming query's checkpoint folder."""
        return str(self.root / "checkpoints" / name)

    @property
    def started(self) -> Path:
        """The record of the services `up` started, one per home (`down` stops them whatever the scale)."""
        return self.root.parent / "started.json"

    @property
    def state(self) -> Path:
        """The folder of the platform's own records (what was produced, what `up` started, the last run)."""
        return self.root / "state"


def committed(path: Path):
    """The Delta table at ``path`` as delta-rs reads it, or None while it has no commit yet.

    A streaming query creates ``_delta_log/`` a moment before its first commit lands there, so the
    folder's existence does not mean a table: readers running beside a writer ask here instead.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(str(path))
    except TableNotFoundError:
        return None


def load(env: str = "dev") -> Settings:
    """The settings of ``env`` (dev or prod): tables under ``$LAB_HOME/capstone/<env>-<scale>``.

    The scale is part of every name: a run at another scale never mixes its events with these.
    """
    if env not in ENVIRONMENTS:
        raise lablib.LabError(f"unknown environment {env!r}: use dev or prod")
    if env == "prod":
        _require_cluster()
    scale = lablib.targets().scale
    return Settings(
        env=env, scale=scale, root=lablib.home() / "capstone" / f"{env}-{scale}", topic=f"capstone.{scale}.telemetry"
    )


def external_kafka() -> bool:
    """Whether Kafka is one named by KAFKA_BOOTSTRAP_SERVERS (someone else's) rather than the embedded broker."""
    return lablib.targets().kafka is not None


def external_mlflow() -> bool:
    """Whether MLflow is one named by MLFLOW_TRACKING_URI (someone else's) rather than the embedded server."""
    return lablib.targets().mlflow is not None


def _require_cluster() -> None:
    # lablib's configuration, already read from the environment: prod never falls back to embedded services
    where = lablib.targets()
    missing = []
    if not where.spark:
        missing.append("LAB_SPARK_MASTER (spark://host:7077) or SPARK_REMOTE (sc://host:15002)")
    if not where.kafka:
        missing.append("KAFKA_BOOTSTRAP_SERVERS")
    if missing:
        raise lablib.LabError(
            "the prod environment runs on a cluster: set "
            + " and ".join(missing)
            + ", or use --env dev for the embedded services"
        )
