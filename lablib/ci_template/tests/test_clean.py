"""The cleaning, one kind of dirt at a time (the kinds are those of the dataset's dirt.json)."""

from datetime import datetime
from decimal import Decimal

import pytest
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from mat_orders import clean_orders, normalise

COLUMNS = [
    "order_id",
    "order_ts",
    "customer_id",
    "store_id",
    "channel",
    "status",
    "payment_method",
    "total_amount",
    "_pos",
]
RAW_SCHEMA = (
    "order_id STRING, order_ts STRING, customer_id STRING, store_id STRING, "
    "channel STRING, status STRING, payment_method STRING, total_amount STRING, _pos LONG"
)


def raw_row(pos=0, **changes):
    row = {
        "order_id": "O-1",
        "order_ts": "2024-03-01 10:00:00",
        "customer_id": "C-1",
        "store_id": "S-1",
        "channel": "web",
        "status": "completed",
        "payment_method": "card",
        "total_amount": "10.00",
        "_pos": pos,
    }
    row.update(changes)
    return tuple(row[c] for c in COLUMNS)


def test_silver_schema(spark):
    raw = spark.createDataFrame([raw_row()], RAW_SCHEMA)
    want = spark.createDataFrame(
        [],
        "order_id STRING, order_ts TIMESTAMP, customer_id STRING, store_id STRING, "
        "channel STRING, status STRING, payment_method STRING, total_amount DECIMAL(12,2), "
        "amount_outlier BOOLEAN, _pos LONG",
    ).schema
    assertSchemaEqual(clean_orders(raw).schema, want)


# one case per kind of row-level dirt: (dirt.json kind, raw column, raw value, column, clean value)
ROW_DIRT = [
    ("casing_whitespace", "channel", "  WEB ", "channel", "web"),
    ("casing_whitespace", "status", "Cancelled", "status", "cancelled"),
    ("mixed_format_dates", "order_ts", "03/01/2024 10:00:00", "order_ts", datetime(2024, 3, 1, 10)),
    (
        "mixed_format_dates",
        "order_ts",
        "2024-03-01T10:00:00Z",
        "order_ts",
        datetime(2024, 3, 1, 10),
    ),
    ("malformed_dates", "order_ts", "2024-03-01 10", "order_ts", None),
    ("na_strings", "total_amount", "NA", "total_amount", None),
    ("nulls", "payment_method", None, "payment_method", "unknown"),
    ("outliers", "total_amount", "-5.00", "amount_outlier", True),
    ("outliers", "total_amount", "999999.99", "amount_outlier", True),
]


@pytest.mark.parametrize(
    "kind, raw_col, raw_value, col, want",
    ROW_DIRT,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(ROW_DIRT)],
)
def test_row_dirt(spark, kind, raw_col, raw_value, col, want):
    raw = spark.createDataFrame([raw_row(**{raw_col: raw_value})], RAW_SCHEMA)
    assert normalise(raw).first()[col] == want


def test_duplicate_rows(spark):
    raw = spark.createDataFrame([raw_row(0), raw_row(0)], RAW_SCHEMA)
    assert clean_orders(raw).count() == 1


def test_clean_rows_untouched(spark):
    raw = spark.createDataFrame([raw_row(0), raw_row(1, order_id="O-2")], RAW_SCHEMA)
    got = clean_orders(raw).select("order_id", "total_amount", "amount_outlier")
    want = spark.createDataFrame(
        [("O-1", Decimal("10.00"), False), ("O-2", Decimal("10.00"), False)],
        "order_id STRING, total_amount DECIMAL(12,2), amount_outlier BOOLEAN",
    )
    assertDataFrameEqual(got, want)  # rows compared in any order


def test_cleaning_is_idempotent(spark):
    """A property, not an example: cleaning the clean orders changes nothing."""
    rows = [
        raw_row(i, order_id=f"O-{i % 3}", status=s, channel=c)
        for i, (s, c) in enumerate(
            [
                ("completed", "WEB"),
                ("cancelled", " store"),
                ("returned", "web"),
                ("completed", "web"),
            ]
        )
    ]
    once = clean_orders(spark.createDataFrame(rows, RAW_SCHEMA))
    again = clean_orders(
        once.select(*[once[c].cast("string").alias(c) if c != "_pos" else once[c] for c in COLUMNS])
    )
    assertDataFrameEqual(again, once)
