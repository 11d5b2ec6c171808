"""Open every Delta table under a LAB_HOME with delta-rs, the reader DuckDB, Polars and pandas users rely on.

Spark is one Delta reader among many; a course table that only Spark can open is not "open".
The tables are read in a child process that leaves with ``os._exit(0)``: delta-rs 1.6 can abort
at interpreter exit after a good read, which must not pass for a failed table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: tables meant to stay out of other readers' reach: (notebook, path relative to its LAB_HOME) -> the
#: words delta-rs's refusal must contain (the reason). The test holds this exact: a table here that
#: opens, or is refused for another reason, or one missing here that does not open, fails it.
UNREADABLE: dict[tuple[str, str], str] = {
    # 03b switches deletion vectors on to teach them, and shows delta-rs refusing the table; no later
    # chapter reads it (03a's own ch03.products has none). delta-rs 1.6.6 says: "The table has set
    # these reader features: {'deletionVectors'} but these are not yet supported by the deltalake reader."
    ("03b_delta_lake", "warehouse/ch03.db/products"): "{'deletionVectors'} but these are not yet supported",
    # 07b shows the same refusal beside its gold tables, which keep deletion vectors off (lablib/gold.py)
    ("07b_sql_dashboard", "warehouse/ch07.db/dv_demo"): "{'deletionVectors'} but these are not yet supported",
}

_READ = r"""
import json, os, sys
from deltalake import DeltaTable
out = {}
digest = sys.argv[1] == "--digest"

def fingerprint(rows):
    # the rows in one order, doubles to 12 significant digits: two engines (or two clusters) that add
    # the same numbers in another order agree to far more than that, and differ in the last bits
    import hashlib
    ordered = rows.sort_by([(c, "ascending") for c in rows.column_names]).to_pylist()
    text = repr([[f"{v:.12g}" if isinstance(v, float) else v for v in r.values()] for r in ordered])
    return hashlib.sha256(text.encode()).hexdigest()

for spec in sys.argv[2:]:
    path, _, keys = spec.partition("::")
    try:
        table = DeltaTable(path)
        # every column of every row: a table that lists but cannot be read does not count
        rows = table.to_pyarrow_table()
        out[path] = {"version": table.version(), "rows": rows.num_rows}
        if keys:  # how many distinct values of these columns (a key held once per row, or not)
            out[path]["distinct"] = rows.group_by(keys.split(",")).aggregate([]).num_rows
        if digest:  # the content itself, to compare two runs' tables row for row
            out[path]["digest"] = fingerprint(rows)
    except BaseException as exc:  # noqa: BLE001 - each table gets its own verdict
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        out[path] = {"error": f"{type(exc).__name__}: {first}"}
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


def delta_tables(home: Path) -> list[Path]:
    """Every Delta table under ``home``: a folder holding a ``_delta_log`` with at least one commit."""
    found = []
    for log in sorted(home.rglob("_delta_log")):
        if log.is_dir() and any(log.glob("*.json")):
            found.append(log.parent)
    return found


def read_with_delta_rs(paths: list[Path], timeout: float = 300,
                       keys: dict[Path, tuple[str, ...]] | None = None, digest: bool = False) -> dict[Path, dict]:
    """{table: {"version": v, "rows": n} or {"error": "..."}} as delta-rs sees each table.

    With ``keys`` ({table: columns}), each such table also gets "distinct": its distinct values of
    those columns, so a test sees whether every row holds a key of its own.
    With ``digest``, each table also gets "digest": a hash of its rows in sorted order (doubles to
    12 significant digits), equal for two tables holding the same rows.
    """
    if not paths:
        return {}
    keys = keys or {}
    specs = [f"{p}::{','.join(keys[p])}" if keys.get(p) else str(p) for p in paths]
    proc = subprocess.run([sys.executable, "-c", _READ, "--digest" if digest else "--counts", *specs],
                          capture_output=True, text=True, timeout=timeout)
    if not proc.stdout.strip():
        raise RuntimeError(f"the delta-rs reader died (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return {Path(k): v for k, v in json.loads(proc.stdout).items()}
