"""The Mega Awesome Toys medallion pipeline as Dagster software-defined assets.

Two graphs, both Delta tables under ``$LAB_HOME/scratch/ch09/lake``:

* telemetry, in daily partitions (one landed file per day): ``bronze_telemetry`` →
  ``silver_telemetry`` → ``gold_machine_daily``;
* orders, as one export: ``bronze_orders`` → ``silver_orders`` and ``bronze_order_lines``, both →
  ``gold_daily_sales``.

Files arrive in the landing folder (:func:`pipelines.mat.landing.land_day`, ``land_orders``).
Quality gates are blocking asset checks: when one fails, the assets below it do not run.

No ``from __future__ import annotations`` here: Dagster reads the context's type hint.
"""

import warnings
from pathlib import Path

import dagster as dg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.mat import landing, transforms
from pipelines.mat.resources import SparkResource

# BackfillPolicy (one run for a range of days: one Spark job instead of one per day) is in beta
warnings.filterwarnings("ignore", category=dg.BetaWarning)

#: the telemetry window of every scale: ci covers 2024-12-18 … 12-31, small and full 12-02 … 12-31
DAILY = dg.DailyPartitionsDefinition(start_date="2024-12-02", end_date="2025-01-01")
#: a transient failure (a file not landed yet) is tried again: after 1 s, then 2 s, then 4 s
LANDING_RETRY = dg.RetryPolicy(max_retries=3, delay=1.0, backoff=dg.Backoff.EXPONENTIAL)


def table_path(name: str) -> str:
    return str(landing.lake() / name)


def _days(context) -> list[str]:
    return list(context.partition_keys) if context.has_partition_key_range or context.has_partition_key else []


def rows_written(name: str) -> int:
    """Rows the table's latest commit wrote: Delta records them in the commit itself
    (``operationMetrics.numOutputRows``), so counting them reads the log, not the data again.
    delta-rs reads that one commit file directly (a few ms); Spark's ``history(1)`` plans and runs
    a job for it (about 0.14 s a call here; 09a and 09b make 26)."""
    from deltalake import DeltaTable

    last = DeltaTable(table_path(name)).history(1)[0]
    return int(last["operationMetrics"]["numOutputRows"])


def _write_days(df: DataFrame, name: str, days: list[str]) -> int:
    """Replace the given days of a day-partitioned Delta table with ``df`` (idempotent); the rows
    written."""
    where = "day IN (" + ", ".join(f"'{d}'" for d in days) + ")"
    (df.write.format("delta").mode("overwrite").option("replaceWhere", where)
     .partitionBy("day").save(table_path(name)))
    return rows_written(name)


def _read_days(spark, name: str, days: list[str]) -> DataFrame:
    return spark.read.format("delta").load(table_path(name)).where(F.col("day").isin(days))


# --------------------------------------------------------------------------- telemetry


def silver_findings(silver: DataFrame, machines: DataFrame) -> list:
    """What the three checks of ``silver_telemetry`` need, from one read of the table as written:
    one row per day and machine with its duplicate (machine_id, event_time) keys, its last hour and
    whether the machine is known. One Spark job instead of three scans of the same rows."""
    keys = silver.groupBy("machine_id", "event_time").agg(F.count(F.lit(1)).alias("n"), F.max("day").alias("day"))
    per_machine = keys.groupBy("day", "machine_id").agg(
        F.sum((F.col("n") > 1).cast("int")).alias("duplicate_keys"),
        F.max(F.hour("event_time")).alias("last_hour"))
    known = machines.distinct().withColumn("known", F.lit(True))
    return (per_machine.join(known, "machine_id", "left")
            .select("day", "machine_id", "duplicate_keys", "last_hour", F.coalesce("known", F.lit(False)).alias("known"))
            .collect())


@dg.asset(partitions_def=DAILY, group_name="telemetry", retry_policy=LANDING_RETRY,
          backfill_policy=dg.BackfillPolicy.single_run(), kinds={"spark", "delta"},
          check_specs=[dg.AssetCheckSpec("rows_match_landing", asset="bronze_telemetry", blocking=True,
                                         description="every line of the day's landed file, once")])
def bronze_telemetry(context: dg.AssetExecutionContext, spark: SparkResource):
    """The day's landed telemetry file(s), as text, with the file name and the day."""
    days = _days(context)
    files = [landing.day_file(d) for d in days]
    missing = [d for d, f in zip(days, files, strict=True) if not f.exists()]
    if missing:  # a transient failure: the retry policy tries again
        raise landing.NotLanded(f"telemetry for {', '.join(missing)} has not landed yet "
                                f"(attempt {context.retry_number + 1})")
    session = spark.session()
    from lablib import data

    raw = (session.read.schema(data.schema("telemetry")).option("header", True).csv([str(f) for f in files])
           .withColumn("_source_file", F.element_at(F.split(F.input_file_name(), "/"), -1))
           .withColumn("day", F.regexp_extract("_source_file", r"(\d{4}-\d{2}-\d{2})", 1)))
    rows = _write_days(raw, "bronze_telemetry", days)
    lines = sum(landing.data_lines(f) for f in files)
    yield dg.MaterializeResult(metadata={"rows": rows, "days": len(days)})
    yield dg.AssetCheckResult(check_name="rows_match_landing", passed=rows == lines,
                              metadata={"bronze_rows": rows, "landed_lines": lines})


@dg.asset(partitions_def=DAILY, group_name="telemetry", deps=["bronze_telemetry"],
          backfill_policy=dg.BackfillPolicy.single_run(), kinds={"spark", "delta"},
          check_specs=[dg.AssetCheckSpec("unique_readings", asset="silver_telemetry", blocking=True,
                                         description="one row per (machine_id, event_time)"),
                       dg.AssetCheckSpec("known_machines", asset="silver_telemetry", blocking=True,
                                         description="every machine_id is in the machines table"),
                       dg.AssetCheckSpec("day_complete", asset="silver_telemetry", blocking=False,
                                         description="freshness: the day's readings reach its last hour")])
def silver_telemetry(context: dg.AssetExecutionContext, spark: SparkResource):
    """Typed, trimmed, de-duplicated readings (transforms.clean_telemetry)."""
    days = _days(context)
    session = spark.session()
    silver = transforms.clean_telemetry(_read_days(session, "bronze_telemetry", days))
    rows = _write_days(silver, "silver_telemetry", days)
    from lablib import data

    machines = data.read("machines").select(F.upper(F.trim("machine_id")).alias("machine_id"))
    found = silver_findings(_read_days(session, "silver_telemetry", days), machines)
    dupes = sum(r.duplicate_keys for r in found)
    unknown = sorted({r.machine_id for r in found if not r.known})[:5]
    last: dict[str, int] = {}
    for r in found:  # a day's last hour: the latest of its machines'
        last[r.day] = max(last.get(r.day, -1), -1 if r.last_hour is None else r.last_hour)
    short = sorted(d for d in days if last.get(d, -1) < 23)
    yield dg.MaterializeResult(metadata={"rows": rows})
    yield dg.AssetCheckResult(check_name="unique_readings", passed=dupes == 0,
                              metadata={"duplicate_keys": dupes})
    yield dg.AssetCheckResult(check_name="known_machines", passed=not unknown,
                              metadata={"unknown_machine_ids": ", ".join(unknown) or "none"})
    yield dg.AssetCheckResult(check_name="day_complete", passed=not short,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata={"days_ending_before_23h": ", ".join(short) or "none"})


@dg.asset(partitions_def=DAILY, group_name="telemetry", deps=["silver_telemetry"],
          backfill_policy=dg.BackfillPolicy.single_run(), kinds={"spark", "delta"})
def gold_machine_daily(context: dg.AssetExecutionContext, spark: SparkResource) -> dg.MaterializeResult:
    """One row per machine and day: readings, mean temperature, peak vibration, warnings, failures."""
    days = _days(context)
    gold = transforms.machine_daily(_read_days(spark.session(), "silver_telemetry", days))
    return dg.MaterializeResult(metadata={"rows": _write_days(gold, "gold_machine_daily", days)})


# --------------------------------------------------------------------------- orders


def _export(name: str) -> Path:
    path = landing.export_file(name)
    if not path.exists():
        raise landing.NotLanded(f"the {name} export has not landed yet ({path.name})")
    return path


def _overwrite(df: DataFrame, name: str) -> int:
    df.write.format("delta").mode("overwrite").option("overwriteSchema", True).save(table_path(name))
    return rows_written(name)


@dg.asset(group_name="orders", kinds={"spark", "delta"})
def bronze_orders(spark: SparkResource) -> dg.MaterializeResult:
    """The orders export as landed (text columns)."""
    from lablib import data

    raw = spark.session().read.schema(data.schema("orders")).option("header", True).csv(str(_export("orders")))
    return dg.MaterializeResult(metadata={"rows": _overwrite(raw, "bronze_orders")})


@dg.asset(group_name="orders", kinds={"spark", "delta"})
def bronze_order_lines(spark: SparkResource) -> dg.MaterializeResult:
    """The order lines export as landed."""
    raw = spark.session().read.parquet(str(_export("order_lines")))
    return dg.MaterializeResult(metadata={"rows": _overwrite(raw, "bronze_order_lines")})


@dg.asset(group_name="orders", deps=["bronze_orders"], kinds={"spark", "delta"},
          check_specs=[dg.AssetCheckSpec("unique_order_id", asset="silver_orders", blocking=True)])
def silver_orders(spark: SparkResource):
    """One row per order_id, with a parsed timestamp and day (transforms.clean_orders)."""
    session = spark.session()
    rows = _overwrite(transforms.clean_orders(session.read.format("delta").load(table_path("bronze_orders"))),
                      "silver_orders")
    dupes = (session.read.format("delta").load(table_path("silver_orders"))
             .groupBy("order_id").count().where("count > 1").count())
    yield dg.MaterializeResult(metadata={"rows": rows})
    yield dg.AssetCheckResult(check_name="unique_order_id", passed=dupes == 0,
                              metadata={"duplicate_order_ids": dupes})


@dg.asset(group_name="orders", deps=["silver_orders", "bronze_order_lines"], kinds={"spark", "delta"})
def gold_daily_sales(spark: SparkResource) -> dg.MaterializeResult:
    """Orders, units and revenue per day and channel (transforms.daily_sales)."""
    session = spark.session()
    gold = transforms.daily_sales(session.read.format("delta").load(table_path("silver_orders")),
                                  session.read.format("delta").load(table_path("bronze_order_lines")))
    return dg.MaterializeResult(metadata={"rows": _overwrite(gold, "gold_daily_sales")})


TELEMETRY = [bronze_telemetry, silver_telemetry, gold_machine_daily]
ORDERS = [bronze_orders, bronze_order_lines, silver_orders, gold_daily_sales]
