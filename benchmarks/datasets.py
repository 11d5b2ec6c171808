"""Benchmark of the dataset generator: rows/s and bytes/s for telemetry and orders.

    .venv/bin/python benchmarks/datasets.py [--scale full] [--workers N]

Writes into a temporary folder (removed afterwards) and prints a Markdown table
for docs/datasets.md. A measurement, not a test: nothing is asserted.

Wall-clock rows/s depend on whatever else runs on the machine, so each step
also reports its CPU seconds (this process plus its worker processes, which
other load hardly changes) and "rows/s unloaded" = rows / (CPU seconds / P),
P = the processes the step runs in (telemetry: its workers; orders: 1), at
most the cores this process may use: what the step would reach with those
cores to itself and all of them kept busy (an upper bound; the load average
at the start is printed too).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (the telemetry workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


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
    import numpy
    import pyarrow

    return (f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, pyarrow {pyarrow.__version__}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="full")
    ap.add_argument("--workers", type=int, default=None, help="telemetry processes (default: cores, at most 4)")
    args = ap.parse_args()

    import numpy as np

    from lablib.data import dims, sales, telemetry
    from lablib.data._io import write_csv, write_parquet
    from lablib.data.scales import DEFAULT_SEED, resolve

    s = resolve(args.scale)
    seed = DEFAULT_SEED
    root = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    results = []
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    try:
        t0, c0 = time.perf_counter(), cpu_seconds()
        report, _ = telemetry.generate(seed, s, root, args.workers)
        sec, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        procs = args.workers or (min(os.cpu_count() or 1, 4) if s.telemetry_rows > 2_000_000 else 1)
        procs = max(1, min(procs, cores, s.days))
        results.append(("telemetry (CSV, daily files)", report["rows"], folder_bytes(root / "telemetry"), sec, cpu, procs))

        people = dims.customers(seed, s.customers)
        _, prod = dims.products(seed, s.products)
        t0, c0 = time.perf_counter(), cpu_seconds()
        o, _ = sales.generate(seed, s, people, prod, s.stores)
        no_sessions = np.full(len(o["ts"]), None, dtype=object)  # the clickstream is not timed here
        orders, _ = sales.orders_table(seed, o, no_sessions, s.stores)
        b1 = write_csv(root / "orders.csv", orders)
        lines, _ = sales.lines_table(seed, o, s.products)
        b2 = write_parquet(root / "order_lines.parquet", lines)
        sec, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        results.append(("orders (CSV) + order lines (Parquet)", orders.num_rows + lines.num_rows, b1 + b2, sec, cpu, 1))
        results.append(("  of which orders", orders.num_rows, b1, sec, cpu, 1))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"scale {s.name}, seed {seed}; machine: {machine()}")
    print(f"cores this process may use: {cores}; load average at the start: {load:.1f}\n")
    print("| what | rows | MB | seconds | rows/s | MB/s | CPU s | CPU s per M rows | processes | rows/s unloaded |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for what, rows, size, sec, cpu, procs in results:
        print(f"| {what} | {rows:,} | {size / 1e6:,.0f} | {sec:.1f} | {rows / sec:,.0f} | {size / 1e6 / sec:,.0f} "
              f"| {cpu:.1f} | {cpu / rows * 1e6:.2f} | {procs} | {rows / (cpu / procs):,.0f} |")


if __name__ == "__main__":
    main()
