"""The platform's transformations: DataFrame in, DataFrame out, no table read or written.

They build on the course's own (lablib.ml for chapter 06's telemetry cleaning and machine-hour
features, pipelines.mat.transforms for chapter 09's sales): one definition of each rule, here
only wired to the capstone's layers. The tests in tests/ run them on a handful of rows.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: the event key: one silver row per machine and reading time
KEY = ("machine_id", "event_time")
#: what bronze keeps of a Kafka record: the payload and where it came from (exactly-once is checked on these)
BRONZE_COLUMNS = ("key", "value", "topic", "partition", "offset", "kafka_ts")


def bronze(kafka: DataFrame) -> DataFrame:
    """Kafka records (as Spark's Kafka source gives them) -> bronze rows: text payload and coordinates."""
    return kafka.select(
        F.col("key").cast("string").alias("key"),
        F.col("value").cast("string").alias("value"),
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_ts"),
    )


def parse(bronze_rows: DataFrame, ddl: str) -> DataFrame:
    """Bronze rows -> telemetry columns as landed (the dataset's schema ``ddl``).

    The replayer sends every field as JSON text, dirt included; each is read as a string and cast
    with ``try_cast`` so a malformed value is null, never a lost row.
    """
    fields = T.StructType.fromDDL(ddl).fields
    as_text = T.StructType([T.StructField(f.name, T.StringType()) for f in fields])
    parsed = bronze_rows.select(F.from_json("value", as_text).alias("r"), "kafka_ts")
    return parsed.select(
        *[
            F.col(f"r.{f.name}")
            if isinstance(f.dataType, T.StringType)
            else F.expr(f"try_cast(r.{f.name} AS {f.dataType.simpleString()})").alias(f.name)
            for f in fields
        ],
        "kafka_ts",
    )


def silver(landed: DataFrame) -> DataFrame:
    """Telemetry as landed -> typed, cleaned rows, one per event key (chapter 06's cleaning)."""
    from lablib.ml import clean_telemetry

    return clean_telemetry(landed)


def machine_hour_features(silver_rows: DataFrame) -> DataFrame:
    """Silver readings -> gold: one row per machine and hour with chapter 06's rolling features."""
    from lablib.ml import machine_hours, rolling_features

    return rolling_features(machine_hours(silver_rows))


def daily_sales(orders: DataFrame, lines: DataFrame) -> DataFrame:
    """Raw orders and order lines -> gold: orders, units and revenue per day and channel (chapter 09's rule)."""
    from pipelines.mat.transforms import clean_orders
    from pipelines.mat.transforms import daily_sales as per_day

    return per_day(clean_orders(orders), lines)
