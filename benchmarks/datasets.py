"""Benchmark of the dataset generator: rows/s and bytes/s for telemetry and orders.

    .venv/bin/python benchmarks/datasets.py [--scale full] [--workers N]

Writes into a temporary folder (removed afterwards) and prints a Markdown table
for docs/datasets.md. A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def machine() -> str:
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="full")
    ap.add_argument("--workers", type=int, default=None, help="telemetry processes (default: cores, at most 4)")
    args = ap.parse_args()

    from lablib.data import dims, sales, telemetry
    from lablib.data._io import write_csv, write_parquet
    from lablib.data.scales import DEFAULT_SEED, resolve

    s = resolve(args.scale)
    seed = DEFAULT_SEED
    root = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    results = []
    try:
        t0 = time.perf_counter()
        report, _ = telemetry.generate(seed, s, root, args.workers)
        sec = time.perf_counter() - t0
        results.append(("telemetry (CSV, daily files)", report["rows"], folder_bytes(root / "telemetry"), sec))

        people = dims.customers(seed, s.customers)
        _, prod = dims.products(seed, s.products)
        t0 = time.perf_counter()
        o = sales.generate(seed, s, people, prod, s.stores)
        orders, _ = sales.orders_table(seed, o, s.stores)
        b1 = write_csv(root / "orders.csv", orders)
        lines, _ = sales.lines_table(seed, o, s.products)
        b2 = write_parquet(root / "order_lines.parquet", lines)
        sec = time.perf_counter() - t0
        results.append(("orders (CSV) + order lines (Parquet)", orders.num_rows + lines.num_rows, b1 + b2, sec))
        results.append(("  of which orders", orders.num_rows, b1, sec))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"scale {s.name}, seed {seed}; machine: {machine()}\n")
    print("| what | rows | MB | seconds | rows/s | MB/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for what, rows, size, sec in results:
        print(f"| {what} | {rows:,} | {size / 1e6:,.0f} | {sec:.1f} | {rows / sec:,.0f} | {size / 1e6 / sec:,.0f} |")


if __name__ == "__main__":
    main()
