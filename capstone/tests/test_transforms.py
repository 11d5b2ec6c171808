"""The platform's transformations on a handful of rows: what each layer keeps, fixes and drops."""

import json
from datetime import date, datetime

from mat_platform import transforms

DDL = (
    "event_time STRING, machine_id STRING, temperature_c STRING, vibration_mm_s DOUBLE, rpm INT, "
    "power_kw DOUBLE, status STRING, firmware_version STRING"
)  # the telemetry dataset's schema


def record(event_time, machine_id=" m-001 ", temperature="71.5", vibration="2.5", status="running"):
    # as the course's replayer sends it: every field as JSON text (or null)
    return json.dumps(
        {
            "event_time": event_time,
            "machine_id": machine_id,
            "temperature_c": temperature,
            "vibration_mm_s": vibration,
            "rpm": "1500",
            "power_kw": "12.0",
            "status": status,
            "firmware_version": None,
        }
    )


def kafka_rows(spark, values):
    rows = [(b"M-001", v.encode(), "t", 0, i, datetime(2024, 1, 1)) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "key BINARY, value BINARY, topic STRING, partition INT, offset LONG, timestamp TIMESTAMP"
    )


def test_bronze_keeps_the_payload_and_its_coordinates(spark):
    out = transforms.bronze(kafka_rows(spark, [record("2024-01-01 00:00:00")])).collect()
    assert [tuple(r) for r in out] == [("M-001", record("2024-01-01 00:00:00"), "t", 0, 0, datetime(2024, 1, 1))]
    assert tuple(transforms.BRONZE_COLUMNS) == tuple(transforms.bronze(kafka_rows(spark, [])).columns)


def test_parse_casts_text_and_nulls_what_does_not_parse(spark):
    rows = transforms.bronze(kafka_rows(spark, [record("2024-01-01 00:00:00", vibration="not a number")]))
    row = transforms.parse(rows, DDL).first()
    assert row["vibration_mm_s"] is None and row["rpm"] == 1500 and row["temperature_c"] == "71.5"


def test_silver_cleans_and_keeps_one_row_per_event_key(spark):
    values = [
        record("2024-01-01 00:00:00"),
        record("01/01/2024 00:00:00"),  # the same reading in the US format: a duplicate key
        record("2024-01-01 00:15:00", temperature="999"),  # impossible: null, row kept
        record("garbage"),
    ]  # no event time: dropped
    out = transforms.silver(transforms.parse(transforms.bronze(kafka_rows(spark, values)), DDL))
    rows = sorted(out.collect(), key=lambda r: r["event_time"])
    assert [(r["machine_id"], r["event_time"], r["temperature_c"], r["status"]) for r in rows] == [
        ("M-001", datetime(2024, 1, 1, 0, 0), 71.5, "RUNNING"),
        ("M-001", datetime(2024, 1, 1, 0, 15), None, "RUNNING"),
    ]


def test_daily_sales_counts_completed_orders_per_day_and_channel(spark):
    orders = spark.createDataFrame(
        [
            ("o1", "2024-01-01 10:00:00", "Web", "completed"),
            ("o1", "2024-01-01 10:00:00", "Web", "completed"),
            ("o2", "01/01/2024 11:00:00", "store ", "completed"),
            ("o3", "2024-01-01 12:00:00", "web", "cancelled"),
        ],
        "order_id STRING, order_ts STRING, channel STRING, status STRING",
    )
    lines = spark.createDataFrame(
        [("o1", 2, 10.0, None), ("o2", 1, 5.0, 0.2), ("o3", 9, 1.0, None)],
        "order_id STRING, quantity INT, unit_price DOUBLE, discount_pct DOUBLE",
    )
    out = {
        (r["channel"]): (r["order_date"], r["orders"], r["units"], r["revenue"])
        for r in transforms.daily_sales(orders, lines).collect()
    }
    assert out == {"web": (date(2024, 1, 1), 1, 2, 20.0), "store": (date(2024, 1, 1), 1, 1, 4.0)}
