"""The Mega Awesome Toys datasets: generated on first use, deterministic, documented dirt.

    import lablib
    orders = lablib.data.read("orders")            # a Spark DataFrame (generated on first use)
    lablib.data.path("telemetry")                  # the daily batch files' folder
    lablib.data.dirt()["orders"]["duplicate_rows"] # exact counts of the seeded dirt
    lablib.data.replay("telemetry", to="files", dir=..., limit=1000)

Tables, columns, dirt and sizes: docs/datasets.md. Scale: LAB_SCALE (ci, small,
full or a number; default small), as lablib.config reads it (its design note says
how `lab run --scale` and a notebook's SCALE reach it). Files live in $LAB_HOME/data/<scale>/.
"""

from __future__ import annotations

import json
from pathlib import Path

from lablib.data.catalog import TABLES
from lablib.data.scales import DEFAULT_SEED, NAMED
from lablib.errors import LabError

__all__ = ["read", "path", "generate", "dirt", "tables", "schema", "replay", "verify",
           "DEFAULT_SEED", "NAMED"]


def tables() -> list[str]:
    """Every table's name."""
    return list(TABLES)


def _table(name: str):
    try:
        return TABLES[name]
    except KeyError:
        raise LabError(f"unknown table {name!r}; the tables are: {', '.join(TABLES)}") from None


def schema(table: str) -> str:
    """The Spark DDL schema the table is read with."""
    return _table(table).schema


def generate(scale: str | float | None = None, seed: int | None = None, force: bool = False) -> Path:
    """Generate every table at ``scale`` (default LAB_SCALE) unless already there; returns its folder."""
    from lablib.data import build as gen

    if force:
        return gen.build(scale, seed, quiet=True)["path"]
    return gen.ensure(scale, seed)


def path(table: str, scale: str | float | None = None, seed: int | None = None) -> Path:
    """The table's file, or its folder of batch files (generated on first use)."""
    t = _table(table)
    return generate(scale, seed) / t.path


def read(table: str, scale: str | float | None = None, seed: int | None = None):
    """The table as a Spark DataFrame (files generated on first use).

    CSV and JSON are read with the documented schema; dirty columns stay STRING.
    """
    from lablib.session import spark

    t = _table(table)
    where = str(path(table, scale, seed))
    reader = spark().read
    if t.format == "parquet":
        return reader.parquet(where)
    if t.format == "csv":
        # positional columns: older batches lack the trailing new column and read it as null
        return reader.schema(t.schema).option("header", True).option("mode", "PERMISSIVE").csv(where)
    return (reader.schema(t.schema).option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record").json(where))


def dirt(scale: str | float | None = None, seed: int | None = None) -> dict:
    """The dirt report: per table, the exact count of every kind of seeded dirt."""
    return json.loads((generate(scale, seed) / "dirt.json").read_text())["tables"]


def replay(source: str, to: str = "files", *, topic: str | None = None, dir: str | Path | None = None,
           rate: float = 0.0, limit: int | None = None, scale: str | float | None = None,
           batch_size: int | None = None, quiet: bool = True, stop=None) -> dict:
    """Replay telemetry or clickstream events to Kafka or into a folder; returns a summary.

    ``rate`` is events per second (0 = as fast as possible), ``limit`` the number of
    events to send (None = all). Stops cleanly on Ctrl-C, or when ``stop`` (a
    ``threading.Event``, for a replay in a background thread) is set, and reports what was sent.
    """
    from lablib.data import streams as rp

    return rp.replay(source, to, topic=topic, folder=dir, rate=rate, limit=limit, scale=scale,
                     batch_size=batch_size, quiet=quiet, stop=stop)


def verify(scale: str | None = None) -> list[str]:
    """Differences between the generated files and datasets/MANIFEST.json (empty: all match)."""
    from lablib.data import manifest

    return manifest.verify(scale)
