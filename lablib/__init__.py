"""lablib: the small helper library every Mega Awesome Toys lab imports.

The public face, and all a notebook may use::

    import lablib

    spark = lablib.spark()                   # the Delta-enabled SparkSession
    lablib.reset("03")                       # this chapter's tables, checkpoints, topics, experiments: gone
    work = lablib.workdir("03")              # a clean folder of this chapter under LAB_HOME
    lablib.rel(work / "orders")              # "$LAB_HOME/scratch/ch03/orders": a path fit to print
    orders = lablib.data.read("orders")      # a dataset table as a DataFrame (generated on first use)
    conf = lablib.kafka_config()             # confluent-kafka settings (starts the embedded broker)
    uri = lablib.mlflow_uri()                # the MLflow tracking server (started if embedded)
    url = lablib.registry_url()              # the schema registry (started if embedded)
    lablib.check.ch02.dedupe(silver_orders)  # one line of feedback
    with lablib.measure("join") as m: ...    # time, tasks, shuffle bytes, files read of a block
    lablib.bars([m1, m2], {"seconds": ...}, "title")  # those measurements side by side, one chart per metric
    with lablib.spark_conf({"spark.sql.adaptive.enabled": False}): ...  # settings for one block only
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from lablib.config import ensure_dir, settings
from lablib.errors import LabError
from lablib.measure import bars, measure
from lablib.spark import spark, spark_conf

__all__ = [
    "spark", "spark_conf", "measure", "bars", "reset", "workdir", "checkpoint", "rel", "home",
    "kafka_config", "mlflow_uri", "registry_url",
    "data", "check", "LabError",
]
__version__ = "0.1.0"


def home() -> Path:
    """LAB_HOME: where jars, data, tables, checkpoints and logs live."""
    return settings().home


def workdir(chapter: str | int) -> Path:
    """This chapter's scratch folder under LAB_HOME (created if missing)."""
    from lablib import chapters

    return ensure_dir(settings().scratch / f"ch{chapters.normalise(chapter)}")


def checkpoint(chapter: str | int, name: str) -> str:
    """A streaming checkpoint location for one query of a chapter."""
    from lablib import chapters

    return str(settings().checkpoints / f"ch{chapters.normalise(chapter)}" / name)


def rel(path: str | Path) -> str:
    """A path shown relative to LAB_HOME, so printed outputs carry no user or host names."""
    text = str(path).removeprefix("file://").removeprefix("file:")
    root = str(settings().home)
    if text.startswith(root):
        return "$LAB_HOME" + text[len(root):]
    return text


def reset(chapter: str | int, scale: str | None = None) -> None:
    """Remove everything chapter NN made: its database, folders, checkpoints, topics, runs.

    Run at the top of every lab so it can run twice in a row with the same result.
    ``scale`` (the notebook's SCALE parameter) picks the dataset scale for this
    kernel: ci, small, full or a number; None keeps LAB_SCALE.
    """
    import os

    from lablib import chapters
    from lablib.notebooks import _check_scale

    number = chapters.parts(chapter)[0].number  # every part of a chapter shares its namespace
    if scale is not None:
        _check_scale(str(scale))
        os.environ["LAB_SCALE"] = str(scale)
    cfg = settings()
    removed: list[str] = []
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        for query in active.streams.active:
            query.stop()
        db = f"ch{number}"
        if any(d.name == db for d in active.catalog.listDatabases()):
            active.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
            removed.append(f"database {db}")
    for folder in (
        cfg.scratch / f"ch{number}",
        cfg.checkpoints / f"ch{number}",
        cfg.warehouse / f"ch{number}.db",
    ):
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(rel(folder))
    from lablib import services

    removed += services.reset_chapter(number)
    print(f"reset chapter {number}: " + (", ".join(removed) if removed else "nothing to remove"))


def kafka_config(**overrides) -> dict:
    """Settings for confluent-kafka clients; the embedded broker is started if it is down."""
    from lablib import services

    return services.kafka_config(**overrides)


def mlflow_uri() -> str:
    """The MLflow tracking URI; the embedded server is started if it is down."""
    from lablib import services

    return services.mlflow_uri()


def registry_url() -> str:
    """The schema registry URL (Confluent-compatible API); started if embedded and down."""
    from lablib import services

    return services.registry_url()


def __getattr__(name: str):
    # lablib.data and lablib.check load on first use, keeping `import lablib` light
    if name in ("data", "check"):
        return importlib.import_module(f"lablib.{name}")
    raise AttributeError(f"module 'lablib' has no attribute {name!r}")
