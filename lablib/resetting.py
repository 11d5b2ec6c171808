"""``lablib.reset("NN")``: a chapter's database, folders, checkpoints, topics and runs, gone.

On the face as ``lablib.reset()``. It is also where a notebook's SCALE parameter becomes the
kernel's dataset scale (the one route of the scale: see lablib/config.py).
"""

from __future__ import annotations

import shutil

from lablib import chapters, over_connect
from lablib.config import settings, use_scale
from lablib.paths import rel


def reset(chapter: str | int, scale: str | None = None) -> None:
    """Remove everything chapter NN made: its database, folders, checkpoints, topics, runs.

    Run at the top of every lab so it can run twice in a row with the same result.
    ``chapter``: "05", or a part ("08c"), which resets the whole chapter but starts only the
    services that part's notebook declares.
    ``scale`` (the notebook's SCALE parameter) picks the dataset scale for this
    kernel: ci, small, full or a number; None keeps LAB_SCALE.
    """
    number = chapters.parts(chapter)[0].number  # every part of a chapter shares its namespace
    over_connect.require_classic(number)  # SPARK_REMOTE set: a chapter that needs the classic session says so
    if scale is not None:
        use_scale(scale)
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
    from lablib import services  # imported here: `import lablib` stays light

    removed += services.reset_chapter(number, uses=chapters.services(chapter))
    print(f"reset chapter {number}: " + (", ".join(removed) if removed else "nothing to remove"))
