"""Chapter 09's checks accept the right answer and reject wrong or missing ones, each for the reason
the learner reads (real Dagster runs in process, real Spark and Delta tables).

No ``from __future__ import annotations``: Dagster reads the assets' type hints (context, resources).
"""

import shutil

import dagster as dg
import pytest
from checking import accepts, rejects
from pyspark.sql import functions as F

import lablib
from lablib.check import ch09
from pipelines.mat import assets, definitions, landing

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
QUIET = definitions.QUIET


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as inst:
        yield inst


@pytest.fixture(scope="module")
def days(spark):
    shutil.rmtree(landing.root(), ignore_errors=True)
    yield landing.dataset_days()
    shutil.rmtree(landing.root(), ignore_errors=True)


def run(instance, graph, day=None, **kw):
    return dg.materialize(graph, partition_key=day, resources=definitions.resources(), instance=instance,
                          run_config=QUIET, **kw)


@pytest.fixture(scope="module")
def built(days, instance):
    """days[0] built through gold."""
    landing.land_day(days[0])
    assert run(instance, assets.TELEMETRY, days[0]).success
    return days[0]


# -- 1. add an asset ------------------------------------------------------------------

def factory_asset(deps=("gold_machine_daily",), partitions=assets.DAILY, count_machines=False):
    @dg.asset(name="gold_factory_daily", partitions_def=partitions, group_name="telemetry", deps=list(deps))
    def gold_factory_daily(context: dg.AssetExecutionContext, spark: assets.SparkResource):
        days_ = list(context.partition_keys) if partitions else [context.run.tags.get("day", "")]
        machines = lablib.data.read("machines").select(F.upper(F.trim("machine_id")).alias("machine_id"), "factory_id")
        readings = F.count("*") if count_machines else F.sum("readings")
        out = (spark.session().read.format("delta").load(assets.table_path("gold_machine_daily"))
               .where(F.col("day").isin(days_)).join(machines, "machine_id")
               .groupBy("day", "factory_id").agg(readings.alias("readings")))
        where = "day IN (" + ", ".join(f"'{d}'" for d in days_) + ")"
        (out.write.format("delta").mode("overwrite").option("replaceWhere", where).partitionBy("day")
         .save(assets.table_path("gold_factory_daily")))
    return gold_factory_daily


def test_factory_asset(built, instance):
    day = built
    rejects(ch09.factory_asset(None, day), "gold_factory_daily is still None")
    rejects(ch09.factory_asset(assets.gold_machine_daily.op, day), "should be a Dagster asset")
    rejects(ch09.factory_asset(assets.gold_machine_daily, day), "is called gold_machine_daily, not gold_factory_daily")
    rejects(ch09.factory_asset(factory_asset(deps=("silver_telemetry",)), day),
            "does not depend on gold_machine_daily")
    rejects(ch09.factory_asset(factory_asset(partitions=None), day), "is not partitioned by day")
    rejects(ch09.factory_asset(factory_asset(), day), "there is no Delta table gold_factory_daily")

    wrong = factory_asset(count_machines=True)
    assert run(instance, [*assets.TELEMETRY, wrong], day, selection=[wrong]).success
    rejects(ch09.factory_asset(wrong, day), "readings that differ from gold_machine_daily's")

    right = factory_asset()
    assert run(instance, [*assets.TELEMETRY, right], day, selection=[right]).success
    accepts(ch09.factory_asset(right, day))


# -- 2. a blocking check --------------------------------------------------------------

def vibration_check(blocking=True, asset="silver_telemetry", always_fail=False):
    @dg.asset_check(asset=asset, blocking=blocking, name="vibration_not_negative")
    def vibration_not_negative(spark: assets.SparkResource) -> dg.AssetCheckResult:
        silver = spark.session().read.format("delta").load(assets.table_path("silver_telemetry"))
        negative = silver.where(F.col("vibration_mm_s") < 0).count()
        return dg.AssetCheckResult(passed=(negative == 0) and not always_fail)
    return vibration_not_negative


def test_blocking_check(built, days, instance):
    rejects(ch09.blocking_check(None, None, None), "vibration_not_negative is still None")
    rejects(ch09.blocking_check(assets.silver_telemetry, None, None), "should be an asset check")
    rejects(ch09.blocking_check(vibration_check(asset="gold_machine_daily"), None, None),
            "not on silver_telemetry")
    rejects(ch09.blocking_check(vibration_check(blocking=False), None, None), "the check is not blocking")
    right = vibration_check()
    rejects(ch09.blocking_check(right, None, None), "good_run is still None")

    landing.land_day(days[1])
    always = vibration_check(always_fail=True)
    failing_good = run(instance, [*assets.TELEMETRY, always], days[1], raise_on_error=False)
    rejects(ch09.blocking_check(always, failing_good, failing_good), "the check failed on a clean day")

    good = run(instance, [*assets.TELEMETRY, right], days[1])
    without = run(instance, assets.TELEMETRY, days[1])
    rejects(ch09.blocking_check(right, without, without), "the check did not run in good_run")
    rejects(ch09.blocking_check(right, good, good), "the check passed on the day with planted negative vibration")

    landing.land_negative_vibration(days[2])
    bad = run(instance, [*assets.TELEMETRY, right], days[2], raise_on_error=False)
    assert not bad.success
    accepts(ch09.blocking_check(right, good, bad))
    landing.land_day(days[2])
    assert run(instance, assets.TELEMETRY, days[2]).success  # silver clean again for the other tests


# -- 3. a sensor ----------------------------------------------------------------------

def orders_sensor(job=None, remember=True, always=False):
    @dg.sensor(job=job or definitions.orders_job, name="orders_landed")
    def orders_landed(context):
        files = [landing.export_file("orders"), landing.export_file("order_lines")]
        if not always and not all(f.exists() for f in files):
            yield dg.SkipReason("not landed")
            return
        seen = "|".join(f"{f.name}@{f.stat().st_mtime if f.exists() else 0}" for f in files)
        if remember and seen == context.cursor:
            yield dg.SkipReason("seen")
            return
        yield dg.RunRequest(run_key=seen)
        context.update_cursor(seen)
    return orders_landed


def test_orders_sensor(days):
    rejects(ch09.orders_sensor(None), "orders_landed is still None")
    rejects(ch09.orders_sensor(definitions.daily_telemetry), "should be a sensor")
    rejects(ch09.orders_sensor(orders_sensor(job=definitions.telemetry_job)), "starts telemetry, not the orders job")
    rejects(ch09.orders_sensor(orders_sensor(always=True)), "asked for a run while no orders export had landed")
    rejects(ch09.orders_sensor(orders_sensor(remember=False)), "asked again for the same export")
    accepts(ch09.orders_sensor(orders_sensor()))
    assert landing.export_file("orders").exists() and landing.export_file("order_lines").exists()


# -- 4. a backfill --------------------------------------------------------------------

def test_backfill(built, days, instance):
    window = days[-3:]
    rejects(ch09.backfill(None, window), "backfill_run is still None")
    for day in window:
        landing.land_day(day)
    single = run(instance, assets.TELEMETRY, window[0])
    rejects(ch09.backfill(single, window), "is not a range backfill")
    short = dg.materialize(assets.TELEMETRY, resources=definitions.resources(), instance=instance, run_config=QUIET,
                           tags={"dagster/asset_partition_range_start": window[1],
                                 "dagster/asset_partition_range_end": window[2]})
    rejects(ch09.backfill(short, window), f"the run backfilled {window[1]} … {window[2]}")
    right = dg.materialize(assets.TELEMETRY, resources=definitions.resources(), instance=instance, run_config=QUIET,
                           tags={"dagster/asset_partition_range_start": window[0],
                                 "dagster/asset_partition_range_end": window[2]})
    accepts(ch09.backfill(right, window))
