"""Measure what Dagster costs on top of the work: chapter 09's telemetry pipeline (bronze → silver →
gold with its checks) for N days, run by ``dg.materialize()`` (in process, one run per day, events
recorded in the throw-away home's sqlite instance, telemetry off, as in the notebooks) against the very same asset functions called directly (no run, no
event log, no instance).

    .venv/bin/python benchmarks/orchestration.py [--scale ci] [--days 4] [--repeat 3]

Runs in a throw-away LAB_HOME (sharing the resolved jars). Each round rebuilds the same days both ways,
alternating which goes first; Spark is warmed up before timing. Prints a markdown table: median
seconds per day for each way and their ratio, and Dagster's import time in a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _bench import scratch_home  # noqa: E402  (after the path is set)


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import dagster; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="ci")
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with scratch_home("orchestration", args.scale):
        dagster_import = import_seconds()
        import warnings

        import dagster as dg

        warnings.filterwarnings("ignore")
        import lablib
        from pipelines.mat import assets, definitions, landing

        spark = lablib.spark()
        days = landing.dataset_days()[: args.days]
        for day in days:
            landing.land_day(day)
        resources = definitions.resources()
        spark_resource = resources["spark"]
        quiet = definitions.QUIET

        instance = lablib.orchestration.instance()  # the home's sqlite instance, as the notebooks use

        def orchestrated():
            for day in days:
                assert dg.materialize(assets.TELEMETRY, partition_key=day, resources=resources,
                                      instance=instance, run_config=quiet).success

        def plain():
            for day in days:
                for asset in assets.TELEMETRY:
                    context = dg.build_asset_context(partition_key=day)
                    out = asset(context, spark=spark_resource)
                    if not isinstance(out, dg.MaterializeResult):
                        list(out)  # a generator asset (one with checks) does its work as it is consumed

        orchestrated(), plain()  # warm: JIT, Delta log caches, Python imports
        times = {"dagster": [], "plain": []}
        for i in range(args.repeat):
            order = [("dagster", orchestrated), ("plain", plain)]
            for name, fn in (order if i % 2 == 0 else order[::-1]):
                began = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - began) / len(days))
        spark.stop()
        d, p = statistics.median(times["dagster"]), statistics.median(times["plain"])
        print("| scale | days × rounds | plain calls s/day | dagster materialize() s/day | ratio | import dagster |")
        print("|---|---|---:|---:|---:|---:|")
        print(f"| {args.scale} | {len(days)} × {args.repeat} | {p:.2f} | {d:.2f} | {d / p:.2f} | {dagster_import:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
