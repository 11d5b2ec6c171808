"""The Dagster pipeline of chapter 09 (pipelines/mat), in process on CI-scale data: the whole
graph, a retry after a late file, a blocking check stopping planted bad data, a re-run from failure,
a two-day backfill in one run, and the sensor's decision.

One Spark session for all of it (the in-process executor); each test lands its own files in the
chapter's landing folder, which the module empties first.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC

import dagster as dg
import pytest
from pyspark.sql import functions as F

from lablib import orchestration
from pipelines.mat import assets, definitions, landing


@pytest.fixture(scope="module")
def days(spark):
    shutil.rmtree(landing.root(), ignore_errors=True)
    found = landing.dataset_days()
    assert len(found) >= 6
    yield found
    shutil.rmtree(landing.root(), ignore_errors=True)


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as inst:
        yield inst


def table(spark, name):
    return spark.read.format("delta").load(assets.table_path(name))


def steps(result) -> dict[str, str]:
    return {row["step"]: row["status"] for row in orchestration.run_table(result)}


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_whole_graph(spark, days, instance):
    landing.land_day(days[0])
    landing.land_orders()
    tele = dg.materialize(assets.TELEMETRY, partition_key=days[0], resources=definitions.resources(),
                          instance=instance)
    orders = dg.materialize(assets.ORDERS, resources=definitions.resources(), instance=instance)
    assert tele.success and orders.success
    assert set(steps(tele).values()) == {"succeeded"} and set(steps(orders).values()) == {"succeeded"}
    assert checks(tele) == {"rows_match_landing": True, "unique_readings": True, "known_machines": True,
                            "day_complete": True}
    assert checks(orders) == {"unique_order_id": True}
    gold = table(spark, "gold_machine_daily").where(F.col("day") == days[0])
    assert gold.count() == spark.read.csv(str(landing.day_file(days[0])), header=True) \
        .select(F.upper(F.trim("machine_id"))).distinct().count()
    assert table(spark, "silver_orders").groupBy("order_id").count().where("count > 1").count() == 0
    assert table(spark, "gold_daily_sales").count() > 0


def test_a_late_file_is_retried(spark, days, instance):
    day = days[1]
    late = landing.land_after_a_failed_attempt(day, instance)  # lands once the first attempt failed
    result = dg.materialize(assets.TELEMETRY, partition_key=day, resources=definitions.resources(),
                            instance=instance)
    late.join()
    assert result.success
    row = next(r for r in orchestration.run_table(result) if r["step"] == "bronze_telemetry")
    assert row["status"] == "succeeded" and row["attempts"] >= 2
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried and all(e.step_key == "bronze_telemetry" for e in retried)
    assert table(spark, "gold_machine_daily").where(F.col("day") == day).count() > 0


def test_a_blocking_check_stops_bad_data(spark, days, instance):
    day = days[2]
    landing.land_bad_day(day, rows=25)
    result = dg.materialize(assets.TELEMETRY, partition_key=day, resources=definitions.resources(),
                            instance=instance, raise_on_error=False)
    assert not result.success
    assert checks(result)["known_machines"] is False
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "known_machines")
    assert evaluation.metadata["unknown_machine_ids"].value == "M-99999"
    status = steps(result)
    assert status["silver_telemetry"] == "failed" and "gold_machine_daily" not in status  # never started
    gold_days = {r.day for r in table(spark, "gold_machine_daily").select("day").distinct().collect()}
    assert day not in gold_days


def test_rerun_from_failure_runs_only_what_failed(spark, days, instance):
    landing.export_file("order_lines").unlink(missing_ok=True)
    landing.land_orders("orders")
    job = dg.reconstructable(definitions.orders_job_def)
    first = dg.execute_job(job, instance=instance, raise_on_error=False)
    assert not first.success
    assert steps(first)["bronze_order_lines"] == "failed" and steps(first)["silver_orders"] == "succeeded"
    landing.land_orders("order_lines")
    again = dg.execute_job(job, instance=instance,
                           reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance))
    assert again.success
    assert set(steps(again)) == {"bronze_order_lines", "gold_daily_sales"}


def test_backfill_of_two_days_in_one_run(spark, days, instance):
    start, end = days[3], days[4]
    landing.land_day(start)
    landing.land_day(end)
    result = dg.materialize(assets.TELEMETRY, resources=definitions.resources(), instance=instance,
                            tags={"dagster/asset_partition_range_start": start,
                                  "dagster/asset_partition_range_end": end})
    assert result.success
    gold = table(spark, "gold_machine_daily").where(F.col("day").isin(start, end))
    assert {r.day for r in gold.select("day").distinct().collect()} == {start, end}
    materialized = instance.get_materialized_partitions(dg.AssetKey("gold_machine_daily"))
    assert {start, end} <= materialized


def test_the_sensor_decides_from_landed_files(days):
    assert definitions.new_days({"2024-12-20": 1.0}, {}) == ["2024-12-20"]
    assert definitions.new_days({"2024-12-20": 1.0}, {"2024-12-20": 1.0}) == []
    assert definitions.new_days({"2024-12-20": 2.0}, {"2024-12-20": 1.0}) == ["2024-12-20"]

    shutil.rmtree(landing.folder() / "telemetry", ignore_errors=True)
    with dg.build_sensor_context() as context:
        nothing = list(definitions.telemetry_landed(context))
    assert len(nothing) == 1 and isinstance(nothing[0], dg.SkipReason)

    landing.land_day(days[5])
    with dg.build_sensor_context() as context:
        requests = list(definitions.telemetry_landed(context))
        cursor = context.cursor
    assert [r.partition_key for r in requests] == [days[5]]
    assert json.loads(cursor).keys() == {days[5]}

    with dg.build_sensor_context(cursor=cursor) as context:
        again = list(definitions.telemetry_landed(context))
    assert len(again) == 1 and isinstance(again[0], dg.SkipReason)


def test_the_daily_schedule_asks_for_yesterday():
    from datetime import datetime

    with dg.build_schedule_context(scheduled_execution_time=datetime(2024, 12, 21, 6, tzinfo=UTC)) as ctx:
        schedule = definitions.defs.resolve_schedule_def("daily_telemetry")
        request = schedule.evaluate_tick(ctx).run_requests[0]
    assert request.partition_key == "2024-12-20"


def test_definitions_load_and_use_the_in_process_executor():
    defs = definitions.defs
    for name in ("telemetry", "orders"):
        assert defs.resolve_job_def(name).executor_def is dg.in_process_executor
    assert {c.name for c in defs.resolve_asset_graph().get(dg.AssetKey("silver_telemetry")).check_keys} == \
        {"unique_readings", "known_machines", "day_complete"}


def test_silver_findings_see_a_duplicate_an_unknown_machine_and_a_short_day(spark):
    # silver_telemetry's three checks read these findings; each kind of fault is planted once
    silver = spark.createDataFrame(
        [("M-1", "2024-12-20 05:00:00", "2024-12-20"), ("M-1", "2024-12-20 05:00:00", "2024-12-20"),
         ("M-1", "2024-12-20 23:10:00", "2024-12-20"), ("M-9", "2024-12-21 07:00:00", "2024-12-21")],
        "machine_id string, event_time string, day string").withColumn("event_time", F.to_timestamp("event_time"))
    machines = spark.createDataFrame([("M-1",), ("M-1",), ("M-2",)], "machine_id string")
    found = {(r.day, r.machine_id): (r.duplicate_keys, r.last_hour, r.known)
             for r in assets.silver_findings(silver, machines)}
    assert found == {("2024-12-20", "M-1"): (1, 23, True), ("2024-12-21", "M-9"): (0, 7, False)}
