"""Silver orders: row-level cleaning, then one row per order (the later row in the file wins)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

TS_FORMATS = ("yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss'Z'", "MM/dd/yyyy HH:mm:ss")
MAX_AMOUNT = 100_000


def normalise(raw: DataFrame) -> DataFrame:
    """Every raw row kept: timestamps parsed, codes lower-cased and trimmed, amounts typed."""
    amount = F.expr("try_cast(total_amount AS DECIMAL(12,2))")
    return raw.select(
        "order_id",
        F.coalesce(*[F.try_to_timestamp("order_ts", F.lit(f)) for f in TS_FORMATS]).alias(
            "order_ts"
        ),
        "customer_id",
        "store_id",
        F.lower(F.trim("channel")).alias("channel"),
        F.lower(F.trim("status")).alias("status"),
        F.coalesce("payment_method", F.lit("unknown")).alias("payment_method"),
        amount.alias("total_amount"),
        F.coalesce(~amount.between(0, MAX_AMOUNT), F.lit(False)).alias("amount_outlier"),
        "_pos",
    )


def dedupe_latest(df: DataFrame, key: str = "order_id", order: str = "_pos") -> DataFrame:
    """One row per ``key``: the row with the highest ``order`` (the later one in the file)."""
    latest_first = Window.partitionBy(key).orderBy(F.col(order))
    return (
        df.withColumn("_rank", F.row_number().over(latest_first))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def clean_orders(raw: DataFrame) -> DataFrame:
    """The silver orders: ``normalise`` then ``dedupe_latest``."""
    return dedupe_latest(normalise(raw))
