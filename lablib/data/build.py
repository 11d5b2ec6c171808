"""Build a whole dataset folder: every table, dirt.json, and a _SUCCESS marker.

The dataset is built in a hidden sibling folder and renamed into place at the
end, so $LAB_HOME/data/<scale> is either complete or absent, never half there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from lablib.config import ensure_dir, settings
from lablib.data import clickstream, dims, finance, sales, telemetry
from lablib.data._io import oserror, write_bytes, write_csv, write_parquet
from lablib.data.scales import DEFAULT_SEED, Scale, folder_name, resolve
from lablib.errors import LabError, cannot_write

#: bump when the generator's output changes (old folders are then rebuilt)
VERSION = 1
MARKER = "_SUCCESS.json"


def folder(scale: str | Scale | None = None, seed: int | None = None) -> Path:
    s = resolve(scale)
    return settings().data / folder_name(s, DEFAULT_SEED if seed is None else int(seed))


def is_complete(path: Path) -> bool:
    try:
        return json.loads((path / MARKER).read_text()).get("version") == VERSION
    except (OSError, ValueError):
        return False


def ensure(scale: str | Scale | None = None, seed: int | None = None, quiet: bool = True) -> Path:
    """The dataset folder, generated if missing or made by an older generator."""
    path = folder(scale, seed)
    if not is_complete(path):
        build(scale, seed, quiet=quiet)
    return path


def build(scale: str | Scale | None = None, seed: int | None = None, workers: int | None = None,
          quiet: bool = False, dest: Path | None = None) -> dict:
    """Generate every table into the dataset folder (replacing it); returns a summary."""
    s = resolve(scale)
    seed = DEFAULT_SEED if seed is None else int(seed)
    if seed < 0:
        raise LabError(f"the seed must be a whole number of 0 or more, not {seed}")
    dest = dest or folder(s, seed)
    ensure_dir(dest.parent)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    try:
        report = write_all(seed, s, tmp, workers)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError as exc:
        raise oserror(exc, dest) from None
    except LabError as exc:
        if getattr(exc, "errno", None) is None:
            raise
        # name the dataset's folder, not the hidden one it was being built in (removed below)
        raise cannot_write(dest, exc.errno) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - t0
    rows = {name: r["rows"] for name, r in report.items()}
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    if not quiet:
        print(f"lab data: scale {s.name}, seed {seed}: {sum(rows.values()):,} rows, "
              f"{size / 1e6:,.1f} MB in {seconds:.1f} s")
    return {"scale": s.name, "seed": seed, "path": dest, "rows": rows, "bytes": size, "seconds": seconds}


def write_all(seed: int, s: Scale, root: Path, workers: int | None = None) -> dict:
    """Write every table under root; returns the dirt report (also written as dirt.json)."""
    report: dict[str, dict] = {}

    def clean(name: str, rows: int) -> None:
        report[name] = {"rows": rows}

    t = dims.factories()
    write_csv(root / "factories.csv", t)
    clean("factories", t.num_rows)
    t, _ = dims.machines(seed, s.machines)
    write_csv(root / "machines.csv", t)
    clean("machines", t.num_rows)
    report["telemetry"], failures = telemetry.generate(seed, s, root, workers)
    write_csv(root / "failures.csv", failures)
    clean("failures", failures.num_rows)

    products, prod = dims.products(seed, s.products)
    write_parquet(root / "products.parquet", products)
    clean("products", products.num_rows)
    t = dims.stores(seed, s.stores)
    write_csv(root / "stores.csv", t)
    clean("stores", t.num_rows)

    # each generator is a function of what it is given and returns what it derives: the
    # orders give the clickstream its purchases, the clickstream gives each web order its session
    people = dims.customers(seed, s.customers)
    o, signup = sales.generate(seed, s, people, prod, s.stores)
    report["clickstream"], sessions = clickstream.generate(seed, s, o, prod, s.customers, root)
    t, report["orders"] = sales.orders_table(seed, o, sessions, s.stores)
    write_csv(root / "orders.csv", t)
    t, report["order_lines"] = sales.lines_table(seed, o, s.products)
    write_parquet(root / "order_lines.parquet", t)
    t, report["customers"] = dims.customers_table(seed, people, signup)
    write_csv(root / "customers.csv", t)
    batches, report["customer_updates"] = dims.customer_updates(seed, people)
    for end, t in batches:
        write_csv(root / "customer_updates" / f"{end}.csv", t)
    report["customer_updates"]["rows"] = sum(t.num_rows for _, t in batches)
    t = finance.generate(seed, o)
    write_parquet(root / "ledger.parquet", t)
    clean("ledger", t.num_rows)

    ordered = {name: report[name] for name in sorted(report)}
    body = {"scale": s.name, "seed": seed, "version": VERSION, "tables": ordered}
    write_bytes(root / "dirt.json", (json.dumps(body, indent=1, sort_keys=True) + "\n").encode())
    write_bytes(root / MARKER, (json.dumps({"scale": s.name, "seed": seed, "version": VERSION}, sort_keys=True) + "\n").encode())
    return ordered
