"""Measure chapter 06's scoring paths: spark_udf batch scoring vs plain pandas predict, and REST latency.

    .venv/bin/python benchmarks/serving.py [--scale small] [--requests 500]

Runs in a throw-away LAB_HOME (sharing the resolved jars, and the dataset scale you choose): builds
the chapter's feature table, registers its two candidate models, then measures

- the rate (rows/s) of ``mlflow.pyfunc.spark_udf(..., env_manager="local")`` over every row of the
  table (written to Spark's no-op sink, so only scoring is timed; first run and the median of three
  warm runs) beside the registered model's own pandas ``predict`` on the same rows (median of three);
- the latency of ``mlflow models serve`` (lablib.serve_model) for one-row requests over one HTTP
  session: p50, p95, p99 after a warm-up, and one request of 1,000 rows.

Prints a markdown table and stops everything it started. Needs `lab setup` and free service ports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _bench import scratch_home


def _median_seconds(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", help="dataset scale (default small)")
    parser.add_argument("--requests", type=int, default=500, help="one-row requests to time (default 500)")
    args = parser.parse_args()

    with scratch_home("serving", args.scale) as (home, scale):
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        import numpy as np
        import requests

        import lablib
        from lablib import ml, services
        from lablib.services import SERVICES, _service

        try:
            spark = lablib.spark()
            ml.build_feature_table("ch06.features")
            frame = spark.table("ch06.features").toPandas().sort_values(["machine_id", "hour"], ignore_index=True)
            train, _ = ml.time_split(frame, ml.holdout_start(frame))
            import mlflow

            name = "ch06-bench"
            versions = ml.register_candidates(name, train, experiment="ch06-bench")
            uri = f"models:/{name}/{versions['champion']}"
            features = ml.feature_columns()
            table = spark.table("ch06.features")
            rows = table.count()

            udf = mlflow.pyfunc.spark_udf(spark, uri, env_manager="local", result_type="double")
            scored = table.select(udf(*features).alias("score"))

            def run_udf():
                scored.write.format("noop").mode("overwrite").save()

            began = time.perf_counter()
            run_udf()
            udf_cold = time.perf_counter() - began
            udf_warm = _median_seconds(run_udf)

            model = mlflow.pyfunc.load_model(uri)
            X = frame[features]
            pandas_s = _median_seconds(lambda: model.predict(X))

            url = lablib.serve_model(f"models:/{name}@champion")
            session = requests.Session()
            bodies = [ml.json_rows(X.iloc[[i % len(X)]]) for i in range(args.requests)]
            for body in bodies[:20]:  # warm-up: first requests pay for lazy imports and connection set-up
                session.post(f"{url}/invocations", json=body, timeout=30).raise_for_status()
            latencies = []
            for body in bodies:
                began = time.perf_counter()
                session.post(f"{url}/invocations", json=body, timeout=30).raise_for_status()
                latencies.append(time.perf_counter() - began)
            big = ml.json_rows(X.head(1000))
            big_s = _median_seconds(lambda: session.post(f"{url}/invocations", json=big, timeout=60).raise_for_status())
            p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) * 1000
        finally:
            services.stop_model(quiet=True)
            _service.down(list(SERVICES.values()), log=lambda line: None)

    print(f"Chapter 06 scoring on this machine ({os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"scale {scale}, {rows:,} feature rows, {len(features)} features, LightGBM booster):\n")
    print("| path | rows/s | seconds |")
    print("|---|---:|---:|")
    print(f"| spark_udf, first run (Python workers load the model) | {rows / udf_cold:,.0f} | {udf_cold:.2f} |")
    print(f"| spark_udf, warm (median of 3) | {rows / udf_warm:,.0f} | {udf_warm:.2f} |")
    print(f"| pandas predict of the same model, one process (median of 3) | {rows / pandas_s:,.0f} | {pandas_s:.2f} |")
    print(f"| ratio spark_udf warm / pandas | {pandas_s / udf_warm:.2f} | |")
    print(f"\n`mlflow models serve` (one uvicorn worker), {args.requests} requests of one row over one session:\n")
    print("| p50 (ms) | p95 (ms) | p99 (ms) | one request of 1,000 rows (ms) |")
    print("|---:|---:|---:|---:|")
    print(f"| {p50:.1f} | {p95:.1f} | {p99:.1f} | {big_s * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
