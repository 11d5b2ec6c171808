"""Measure what the OpenLineage listener costs: the same batch job with and without it.

    .venv/bin/python benchmarks/lineage.py [--scale ci] [--repeats 3]

Runs in a throw-away LAB_HOME whose name holds a space (sharing the resolved jars): a chapter-04
style batch medallion (telemetry and orders CSV to bronze, cleaned and de-duplicated silver
telemetry, a gold machine-day and a gold channel-month table: five catalog writes), once to warm up each way, then
``--repeats`` times each, alternating without / with ``lablib.governance.lineage`` (file transport).
Reports the median seconds of each, in c.u. too (one calibration sample taken in the same run), the
ratio, and the events and lineage edges the listener recorded. Timings on a shared machine are noisy:
read the ratio, and run it again before trusting a small difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _bench import scratch_home


def job(spark) -> None:
    """Bronze, silver, gold: five Delta tables written through the catalog."""
    from pyspark.sql import functions as F

    import lablib

    spark.sql("CREATE DATABASE IF NOT EXISTS bench")
    lablib.data.read("telemetry").write.format("delta").mode("overwrite").saveAsTable("bench.telemetry_bronze")
    lablib.data.read("orders").write.format("delta").mode("overwrite").saveAsTable("bench.orders_bronze")
    (spark.table("bench.telemetry_bronze").dropDuplicates()
     .withColumn("ts", F.try_to_timestamp("event_time"))
     .withColumn("machine_id", F.upper(F.trim("machine_id")))
     .withColumn("temperature_c", F.expr("try_cast(temperature_c AS DOUBLE)"))
     .where(F.col("ts").isNotNull() & F.col("temperature_c").between(-20, 150))
     .write.format("delta").mode("overwrite").saveAsTable("bench.telemetry_silver"))
    (spark.table("bench.telemetry_silver").groupBy("machine_id", F.to_date("ts").alias("day"))
     .agg(F.count("*").alias("readings"), F.avg("temperature_c").alias("avg_temperature_c"),
          F.max("vibration_mm_s").alias("max_vibration_mm_s"), F.avg("power_kw").alias("avg_power_kw"))
     .write.format("delta").mode("overwrite").saveAsTable("bench.machine_days"))
    (spark.table("bench.orders_bronze").dropDuplicates(["order_id"])
     .withColumn("amount", F.expr("try_cast(total_amount AS DECIMAL(10,2))"))
     .groupBy(F.lower(F.trim("channel")).alias("channel"),
              F.date_trunc("month", F.try_to_timestamp("order_ts")).alias("month"))
     .agg(F.sum("amount").alias("revenue"), F.count("*").alias("orders"))
     .write.format("delta").mode("overwrite").saveAsTable("bench.channel_months"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="ci", help="dataset scale (default ci)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs each way (default 3)")
    args = parser.parse_args()

    with scratch_home("lineage", args.scale, space=True) as (home, scale):
        import lablib
        from lablib import calibration, governance

        spark = lablib.spark()
        events_file = home / "lineage" / "events.jsonl"
        timed: dict[bool, list[float]] = {False: [], True: []}
        for round_ in range(args.repeats + 1):  # round 0 warms up both ways
            for listening in (False, True):
                events_file.unlink(missing_ok=True)
                began = time.perf_counter()
                if listening:
                    with governance.lineage(events_file):  # its events delivered when the block ends
                        job(spark)
                else:
                    job(spark)
                seconds = time.perf_counter() - began
                if round_:
                    timed[listening].append(seconds)
        events = governance.read_events(events_file)
        tables, columns = governance.lineage_edges(events)
        cal = calibration.measure()

    off, on = statistics.median(timed[False]), statistics.median(timed[True])
    print(f"The OpenLineage listener on this machine ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, scale {scale}, a LAB_HOME with a space; {cal.describe()}):\n")
    print(f"| same job (median of {args.repeats}, after a warm-up) | seconds | c.u. |")
    print("|---|---:|---:|")
    print(f"| without the listener | {off:.1f} | {cal.cu(off):.2f} |")
    print(f"| with the listener (file transport) | {on:.1f} | {cal.cu(on):.2f} |")
    print(f"| ratio with / without | {on / off:.2f} | |\n")
    print(f"every run: without {', '.join(f'{s:.1f}' for s in timed[False])} s; "
          f"with {', '.join(f'{s:.1f}' for s in timed[True])} s")
    print(f"one run with the listener: {len(events)} events, {len(tables)} table edges, {len(columns)} column edges")
    return 0 if tables else 1


if __name__ == "__main__":
    sys.exit(main())
