"""Measure chapter 07: the dashboard's cold start, and Spark SQL vs DuckDB (over delta-rs) per query.

    .venv/bin/python benchmarks/dashboard.py [--scale small] [--repeats 5]

Runs in a throw-away LAB_HOME (sharing the resolved jars, at the dataset scale you choose): builds the
gold tables (lablib.gold.build), then measures

- the dashboard's cold start: `streamlit run` spawned until `/_stcore/health` answers, and until the
  first KPI is drawn in headless Chromium (Playwright, the system Chromium; skipped without them);
- each of a few small interactive queries in Spark SQL (catalog tables) and in DuckDB (delta-rs
  datasets): median of ``--repeats`` after one warm-up, the answers compared, and the ratio.

Prints markdown tables and stops everything it started. Needs `lab setup` and a free port.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal

from _bench import scratch_home

QUERIES = {
    "revenue by region, 2024": "SELECT region, sum(revenue) FROM {o} WHERE year = 2024 GROUP BY region",
    "repeat customers per region": "SELECT region, count_if(n >= 2) / count(*) FROM (SELECT region, customer_id, "
                                   "count(*) AS n FROM {o} WHERE customer_id IS NOT NULL GROUP BY ALL) GROUP BY region",
    "top 5 categories, winter": "SELECT category, sum(revenue) AS r FROM {c} WHERE season = 'winter' "
                                "GROUP BY category ORDER BY r DESC LIMIT 5",
    "availability by factory": "SELECT factory, sum(readings - down_readings) / sum(readings) FROM {m} GROUP BY factory",
}
SPARK_T = {"o": "ch07.sales_orders", "c": "ch07.sales_by_category", "m": "ch07.machine_days"}
DUCK_T = {"o": "sales_orders", "c": "sales_by_category", "m": "machine_days"}


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _normal(rows) -> list[tuple]:
    def one(v):
        if isinstance(v, Decimal | float):
            return round(float(v), 6)
        return v
    return sorted(tuple(one(v) for v in r) for r in rows)


def _first_render(url: str) -> float | None:
    try:
        from playwright.sync_api import sync_playwright

        from lablib.browser import chromium
    except ImportError:
        return None
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium()), headless=True)
        try:
            page = browser.new_page()
            began = time.perf_counter()
            page.goto(url, timeout=120_000)
            page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=120_000)
            return time.perf_counter() - began
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", help="dataset scale (default small)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per query and engine (default 5)")
    args = parser.parse_args()

    with scratch_home("dashboard", args.scale) as (home, scale):
        import requests

        import lablib
        from lablib import gold, services
        from lablib.services import SERVED

        try:
            spark = lablib.spark()
            began = time.perf_counter()
            rows = gold.build(quiet=True)
            build_s = time.perf_counter() - began

            svc = SERVED["dashboard"]
            began = time.perf_counter()
            url = services.serve_dashboard()
            health_s = time.perf_counter() - began
            assert requests.get(f"{url}/_stcore/health", timeout=10).text == "ok"
            render_s = _first_render(url)
            services.stop_dashboard(log=lambda line: None)
            del svc

            con = gold.duckdb()
            results = []
            for label, sql in QUERIES.items():
                s = _median_ms(lambda sql=sql: spark.sql(sql.format(**SPARK_T)).collect(), args.repeats)
                d = _median_ms(lambda sql=sql: con.execute(sql.format(**DUCK_T)).fetchall(), args.repeats)
                same = _normal(spark.sql(sql.format(**SPARK_T)).collect()) == _normal(con.execute(sql.format(**DUCK_T)).fetchall())
                results.append((label, s, d, same))
        finally:
            services.stop_dashboard(log=lambda line: None)

    print(f"Chapter 07 on this machine ({os.cpu_count()} cores, Python {sys.version.split()[0]}, scale {scale}; "
          + ", ".join(f"{n} {r:,} rows" for n, r in rows.items()) + f"; gold build {build_s:.1f} s):\n")
    print("| dashboard cold start | seconds |")
    print("|---|---:|")
    print(f"| `streamlit run` spawned → `/_stcore/health` answers | {health_s:.1f} |")
    print(f"| page opened in headless Chromium → first KPI drawn | "
          f"{'n/a (no Playwright)' if render_s is None else f'{render_s:.1f}'} |\n")
    print(f"| query (median of {args.repeats}, after a warm-up) | Spark SQL ms | DuckDB ms | ratio | same answer |")
    print("|---|---:|---:|---:|---|")
    for label, s, d, same in results:
        print(f"| {label} | {s:,.1f} | {d:,.1f} | {s / d:,.0f} | {'yes' if same else 'NO'} |")
    return 0 if all(r[3] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
