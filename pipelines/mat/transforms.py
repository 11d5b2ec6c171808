"""The medallion transformations of Mega Awesome Toys, as plain DataFrame functions.

One place for them: the Dagster assets (pipelines/mat/assets.py) call them. Each takes and returns
Spark DataFrames; none reads or writes a table.

Telemetry arrives as one CSV file per day with documented dirt (docs/datasets.md): mixed and
malformed event times, casing and whitespace in machine_id and status, ``NA`` and outlier
temperatures, exact duplicate lines. Orders arrive as one CSV export, order lines as Parquet.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

#: event_time formats seen in the telemetry and orders files, tried in this order
EVENT_TIME_FORMATS = ("yyyy-MM-dd HH:mm:ss", "MM/dd/yyyy HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ssX")  # as lablib.ml's


def parse_time(column: str, formats=EVENT_TIME_FORMATS):
    """A timestamp from text in any of ``formats`` (null when none parses)."""
    return F.coalesce(*[F.try_to_timestamp(F.col(column), F.lit(f)) for f in formats])


def clean_telemetry(bronze: DataFrame) -> DataFrame:
    """Bronze telemetry (text as landed) → typed, trimmed, de-duplicated silver rows.

    The cleaning is lablib.ml.clean_telemetry's (the same as chapter 06's silver readings), keeping
    the ``day`` the file landed for (the partition): times parsed in their three formats, ids and
    statuses trimmed and upper-cased, impossible temperatures null, one row per (machine_id, event_time).
    """
    from lablib.ml import clean_telemetry as clean

    return clean(bronze, keep=["day"])


def machine_daily(silver: DataFrame) -> DataFrame:
    """Silver telemetry → gold: one row per machine and landed day."""
    return (silver.groupBy("day", "machine_id")
            .agg(F.count("*").alias("readings"),
                 F.round(F.avg("temperature_c"), 2).alias("avg_temperature_c"),
                 F.round(F.max("vibration_mm_s"), 2).alias("max_vibration_mm_s"),
                 F.sum(F.when(F.col("status") == "WARNING", 1).otherwise(0)).alias("warnings"),
                 F.sum(F.when(F.col("status") == "FAILURE", 1).otherwise(0)).alias("failures")))


def clean_orders(bronze: DataFrame) -> DataFrame:
    """Bronze orders → one row per order_id with a timestamp and a day (the first of duplicates)."""
    return (bronze
            .select(F.trim("order_id").alias("order_id"),
                    parse_time("order_ts").alias("order_ts"),
                    F.lower(F.trim("channel")).alias("channel"),
                    F.lower(F.trim("status")).alias("status"))
            .where(F.col("order_id").isNotNull() & F.col("order_ts").isNotNull())
            .dropDuplicates(["order_id"])
            .withColumn("order_date", F.to_date("order_ts")))


def daily_sales(orders: DataFrame, lines: DataFrame) -> DataFrame:
    """Silver orders + order lines → gold: units and revenue per day and channel."""
    line_totals = (lines.groupBy("order_id")
                   .agg(F.sum("quantity").alias("units"),
                        F.sum(F.col("quantity") * F.col("unit_price") * (1 - F.coalesce(F.col("discount_pct"), F.lit(0.0))))
                        .alias("line_revenue")))
    return (orders.where(F.col("status") != "cancelled")
            .join(line_totals, "order_id")
            .groupBy("order_date", "channel")
            .agg(F.count("*").alias("orders"), F.sum("units").alias("units"),
                 F.round(F.sum("line_revenue"), 2).alias("revenue")))
