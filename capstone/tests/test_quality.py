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
