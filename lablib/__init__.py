"""lablib: the small helper library every Mega Awesome Toys lab imports.

The public face, and all a notebook may use::

    import lablib

    spark = lablib.spark()                   # the Delta-enabled SparkSession
    lablib.reset("03")                       # this chapter's tables, checkpoints, topics, experiments: gone
    work = lablib.workdir("03")              # a clean folder of this chapter under LAB_HOME
    lablib.rel(work / "orders")              # "$LAB_HOME/scratch/ch03/orders": a path fit to print
    lablib.local_path(location)              # a catalog location or file: URI as a local Path
    orders = lablib.data.read("orders")      # a dataset table as a DataFrame (generated on first use)
    conf = lablib.kafka_config()             # confluent-kafka settings (starts the embedded broker)
    uri = lablib.mlflow_uri()                # the MLflow tracking server (started if embedded)
    url = lablib.serve_model("models:/ch06-failures@champion")  # a registered model over REST (127.0.0.1)
    feats = lablib.ml.rolling_features(hours)  # chapter 06's feature builders (lablib/ml.py)
    lablib.gold.build(); con = lablib.gold.duckdb()  # chapter 07's gold tables; DuckDB over delta-rs (lablib/gold.py)
    lablib.orchestration.run_table(result)   # chapter 09: a Dagster run's steps; its instance, the asset graph
    repo = lablib.ci.scratch_repo()          # chapter 08's scratch git repository and its gates (lablib/ci.py)
    folder = lablib.iac.workdir()            # chapter 08's Terraform folder and its runs (lablib/iac.py)
    lablib.governance.refused("GRANT …")     # chapter 10: what Spark refuses; OpenLineage events to a file
    url = lablib.registry_url()              # the schema registry (started if embedded)
    lablib.targets().scale                   # the scale, and which services are someone else's (Kafka, a cluster)
    cmd = lablib.connect_command(worker, connector)  # a Kafka Connect standalone worker's command line
    lablib.check.ch02.dedupe(silver_orders)  # one line of feedback
    with lablib.measure("join") as m: ...    # time, tasks, shuffle bytes, files read of a block
    lablib.bars([m1, m2], {"seconds": ...}, "title")  # those measurements side by side, one chart per metric
    with lablib.spark_conf({"spark.sql.adaptive.enabled": False}): ...  # settings for one block only

Importing lablib sets the kernel's zone to UTC, as Spark's and the data's (lablib/clock.py):
``datetime.now()`` then gives UTC too.

This module is only the face: each name comes from the module that owns it
(session, measuring, paths, resetting, services, data, ml, check). Modules inside
lablib import those modules, never this one (docs/architecture.md).
"""

from __future__ import annotations

import importlib

from lablib.clock import use_utc
from lablib.errors import LabError
from lablib.measuring import bars, measure
from lablib.paths import checkpoint, home, local_path, rel, workdir
from lablib.resetting import reset
from lablib.session import spark, spark_conf

__all__ = [
    "spark", "spark_conf", "measure", "bars", "reset", "workdir", "checkpoint", "rel", "local_path", "home",
    "targets", "kafka_config", "mlflow_uri", "serve_model", "registry_url", "connect_command",
    "data", "ml", "gold", "ci", "iac", "resources", "orchestration", "governance", "check", "LabError",
]
__version__ = "0.1.0"

use_utc()  # before any session: collected timestamps read as Spark shows them (lablib/clock.py)


def targets():
    """The scale (LAB_SCALE) and the services given from outside: ``.kafka`` (KAFKA_BOOTSTRAP_SERVERS) and
    ``.spark`` (SPARK_REMOTE or a cluster's LAB_SPARK_MASTER), ``.mlflow`` (MLFLOW_TRACKING_URI),
    ``.registry`` (SCHEMA_REGISTRY_URL), None where the course's own are used."""
    from lablib.config import targets

    return targets()


def kafka_config(**overrides) -> dict:
    """Settings for confluent-kafka clients; the embedded broker is started if it is down."""
    from lablib import services

    return services.kafka_config(**overrides)


def mlflow_uri() -> str:
    """The MLflow tracking URI; the embedded server is started if it is down."""
    from lablib import services

    return services.mlflow_uri()


def serve_model(model_uri: str) -> str:
    """Serve a registered model (``models:/<name>@<alias>`` or ``/<version>``) on 127.0.0.1 with
    ``mlflow models serve``; returns its base URL. It stops with the kernel, `lab down model`, or the
    chapter's reset; one model is served at a time."""
    from lablib import services

    return services.serve_model(model_uri)


def registry_url() -> str:
    """The schema registry URL (Confluent-compatible API); started if embedded and down."""
    from lablib import services

    return services.registry_url()


def connect_command(*properties, heap: str = "256m") -> list[str]:
    """The command line of a Kafka Connect standalone worker (worker .properties, then one per
    connector); run it with ``subprocess``. Nothing is started here."""
    from lablib import services

    return services.connect_command(*properties, heap=heap)


def __getattr__(name: str):
    # lablib.data, lablib.ml, lablib.gold, lablib.ci, lablib.orchestration, lablib.governance and lablib.check load
    # on first use, keeping `import lablib` light
    if name in ("data", "ml", "gold", "ci", "iac", "resources", "orchestration", "governance", "check"):
        return importlib.import_module(f"lablib.{name}")
    raise AttributeError(f"module 'lablib' has no attribute {name!r}")
