"""The quality gates on a handful of rows: each passes a clean layer and names what fails in a dirty one."""

from __future__ import annotations

import datetime as dt

import pytest

from mat_platform import quality

T0 = dt.datetime(2024, 12, 30, 8, 0)


def bronze_rows(spark, offsets):
    return spark.createDataFrame([(0, o) for o in offsets], "partition int, offset long")


def test_bronze_gate_passes_contiguous_offsets_as_many_as_the_topic(spark):
    assert quality.bronze_problems(bronze_rows(spark, [0, 1, 2, 3]), topic_records=4) == []


def test_bronze_gate_names_a_gap_a_repeat_and_a_short_count(spark):
    problems = quality.bronze_problems(bronze_rows(spark, [0, 1, 1, 3]), topic_records=5)
    assert problems == [
        "bronze gate: 1 Kafka offset(s) appear more than once in bronze.telemetry",
        "bronze gate: 1 Kafka offset(s) missing between the first and last of a partition",
        "bronze gate: bronze.telemetry holds 4 rows, the topic 5 records",
    ]


def silver_rows(spark, keys):
    return spark.createDataFrame(keys, "machine_id string, event_time timestamp")


def test_silver_gate_passes_unique_keys(spark):
    assert quality.silver_problems(silver_rows(spark, [("M-1", T0), ("M-2", T0)])) == []


def test_silver_gate_names_a_duplicate_and_an_unparsed_time(spark):
    problems = quality.silver_problems(silver_rows(spark, [("M-1", T0), ("M-1", T0), ("M-2", None)]))
    assert problems == [
        "silver gate: 1 duplicate (machine_id, event_time) key(s) in silver.telemetry",
        (
            "silver gate: 1 row(s) of silver.telemetry with a null machine_id or event_time "
            "(a timestamp that did not parse)"
        ),
    ]
    with pytest.raises(quality.GateFailed, match=r"^silver gate: 1 duplicate"):
        quality.require(problems)


def gold_rows(spark, rows):
    schema = (
        "machine_id string, hour timestamp, temperature_c double, temperature_c_mean_3h double, warnings_24h double"
    )
    return spark.createDataFrame(rows, schema)


def test_gold_gate_passes_one_row_per_machine_hour_in_range(spark):
    rows = [("M-1", T0, 70.0, 69.5, 0.0), ("M-1", T0 + dt.timedelta(hours=1), None, 69.5, 1.0)]
    assert quality.gold_problems(gold_rows(spark, rows)) == []


def test_gold_gate_names_a_second_row_for_an_hour_and_a_feature_out_of_range(spark):
    rows = [("M-1", T0, 70.0, 69.5, 0.0), ("M-1", T0, 70.0, 900.0, 0.0)]
    assert quality.gold_problems(gold_rows(spark, rows)) == [
        (
            "gold gate: 1 extra row(s) for a machine and hour in gold.machine_hour_features (one row per machine-hour "
            "expected)"
        ),
        "gold gate: 1 value(s) of temperature_c_mean_3h outside -40 … 200 in gold.machine_hour_features",
    ]


D0 = dt.date(2024, 12, 30)


def sales_rows(spark, rows):
    return spark.createDataFrame(rows, "order_date date, channel string, orders long, units long, revenue double")


def test_sales_gate_passes_one_row_per_day_and_channel(spark):
    rows = [(D0, "web", 3, 5, 50.0), (D0, "store", 1, 1, 9.5), (D0 + dt.timedelta(days=1), "web", 0, 0, 0.0)]
    assert quality.sales_problems(sales_rows(spark, rows)) == []


def test_sales_gate_names_a_second_row_a_null_channel_and_a_negative_revenue(spark):
    rows = [(D0, "web", 3, 5, 50.0), (D0, "web", 3, 5, 50.0), (D0, None, 1, 1, 9.5), (D0, "store", 1, 1, -9.5)]
    assert quality.sales_problems(sales_rows(spark, rows)) == [
        "gold gate: 1 extra row(s) for a day and channel in gold.daily_sales (one row per day and channel expected)",
        "gold gate: 1 row(s) of gold.daily_sales with a null order_date or channel",
        "gold gate: 1 row(s) of gold.daily_sales with negative orders, units or revenue",
    ]


def risk_rows(spark, rows):
    return spark.createDataFrame(
        rows, "machine_id string, hour timestamp, risk double, at_risk boolean, model_version string"
    )


def test_risk_gate_passes_every_hour_scored_by_the_champion(spark):
    rows = [("M-1", T0, 0.9, True, "2"), ("M-2", T0, 0.01, False, "2")]
    assert quality.risk_problems(risk_rows(spark, rows), hours=2, champion="2", threshold=0.2) == []


def test_risk_gate_names_a_second_row_a_risk_out_of_range_a_wrong_flag_and_hours_left_unscored(spark):
    rows = [
        ("M-1", T0, 0.9, True, "2"),
        ("M-1", T0, 0.9, True, "2"),  # a second row for the same machine-hour
        ("M-2", T0, 1.5, True, "2"),  # not a probability
        ("M-3", T0, 0.5, False, "2"),  # above the threshold, yet not flagged
        ("M-4", T0, 0.1, False, "1"),  # scored by the old version only
    ]
    assert quality.risk_problems(risk_rows(spark, rows), hours=5, champion="2", threshold=0.2) == [
        "risk gate: 1 extra row(s) for a machine and hour in gold.machine_risk",
        "risk gate: 1 risk value(s) missing or outside 0 … 1 in gold.machine_risk",
        "risk gate: 1 at_risk flag(s) disagree with risk >= 0.2 in gold.machine_risk",
        "risk gate: 4 of 5 gold machine-hours scored by the champion (version 2) in gold.machine_risk",
    ]


def test_risk_gate_without_a_champion_says_nothing_was_scored():
    assert quality.risk_problems(None, 0, None, 0.2) == [
        "risk gate: the model has no champion version, so gold.machine_risk was not scored"
    ]
