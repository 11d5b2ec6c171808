"""The platform as one Dagster job (chapter 09): the stages of :mod:`mat_platform.pipeline` as assets.

    telemetry_topic -> bronze_telemetry -> silver_telemetry -> machine_hour_features, daily_sales
                                                                machine_hour_features -> machine_risk

* job ``capstone``: every stage once, in process (one Spark JVM for all steps), each asset with its
  blocking quality gate as an asset check (:mod:`mat_platform.quality`): a failed gate stops the
  assets below it. Each stage records its lineage.
* ``machine_risk``: chapter 06's model trained on gold (a new version only when gold changed, promoted
  by rule) and the champion's risk MERGEd into gold.machine_risk, with its own gate; left out of a
  run where the environment has no model stages (prod without MLFLOW_TRACKING_URI).
* the stages that talk to Kafka retry (:data:`SERVICE_RETRY`): a broker that answers late is tried again.
* schedule ``hourly_capstone``: the job every hour, stopped until someone turns it on (UI or CLI).
* job ``daily_sales_backfill``: gold's daily_sales rebuilt for a range of days (daily partitions,
  one run for the range); each day is replaced as a whole, so a re-run changes nothing.

``dagster dev -m mat_platform.orchestration`` serves it (from capstone/src); ``python -m mat_platform
orchestrate`` runs the job once, headless, recorded in the course's Dagster instance.

No ``from __future__ import annotations`` here: Dagster reads the context's type hint.
"""

import warnings

import dagster as dg
import lablib
from pipelines.mat.resources import SparkResource

from mat_platform import pipeline, quality, settings

warnings.filterwarnings("ignore", category=dg.BetaWarning)  # BackfillPolicy is in beta

#: Kafka that answers late (a broker starting, a leader moving): tried again after 2 s, then 4 s
SERVICE_RETRY = dg.RetryPolicy(max_retries=2, delay=2.0, backoff=dg.Backoff.EXPONENTIAL)
#: the days the telemetry and sales of every scale cover
DAILY = dg.DailyPartitionsDefinition(start_date="2024-12-02", end_date="2025-01-01")
GROUP = "capstone"
#: the job's steps in the order they run (a run's event log does not list them in that order)
STEPS = ("telemetry_topic", "bronze_telemetry", "silver_telemetry", "gold", "machine_risk")


class Platform(dg.ConfigurableResource):
    """The platform's settings (environment), and a test's switch to make one stage fail once."""

    env: str = "dev"
    #: the name of a stage whose first attempt raises (tests of the retry policy; empty: none)
    fail_once: str = ""

    def conf(self) -> settings.Settings:
        return settings.load(self.env)

    def attempt(self, context, stage: str) -> None:
        if self.fail_once == stage and context.retry_number == 0:
            raise RuntimeError(f"{stage}: failing its first attempt on purpose (fail_once)")


def _gate(layer: str, conf, spark, asset: str):
    problems = quality.gate(layer, conf, spark)
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=f"{layer}_gate",
        passed=not problems,
        description=problems[0] if problems else f"{layer} gate passed",
        metadata={"problems": len(problems)},
    )


def _check(layer: str, asset: str, what: str) -> list:
    return [dg.AssetCheckSpec(f"{layer}_gate", asset=asset, blocking=True, description=what)]


@dg.asset(group_name=GROUP, retry_policy=SERVICE_RETRY, kinds={"kafka"})
def telemetry_topic(context: dg.AssetExecutionContext, platform: Platform) -> dg.MaterializeResult:
    """The factory telemetry replayed into the topic, once."""
    conf = platform.conf()
    platform.attempt(context, "produce")
    sent = pipeline.produce(conf)
    quality.record(conf, "produce", context.run_id)
    return dg.MaterializeResult(metadata={"records": sent, "topic": conf.topic})


@dg.asset(
    group_name=GROUP,
    deps=[telemetry_topic],
    retry_policy=SERVICE_RETRY,
    kinds={"spark", "delta"},
    check_specs=_check("bronze", "bronze_telemetry", "offsets contiguous, as many rows as the topic"),
)
def bronze_telemetry(context: dg.AssetExecutionContext, platform: Platform, spark: SparkResource):
    """Kafka -> bronze, exactly once (availableNow from the checkpoint)."""
    conf = platform.conf()
    platform.attempt(context, "bronze")
    session = spark.session()
    rows = pipeline.bronze(conf, session)
    quality.record(conf, "bronze", context.run_id)
    yield dg.MaterializeResult(metadata={"rows": rows})
    yield _gate("bronze", conf, session, "bronze_telemetry")


@dg.asset(
    group_name=GROUP,
    deps=[bronze_telemetry],
    kinds={"spark", "delta"},
    check_specs=_check("silver", "silver_telemetry", "unique, non-null (machine_id, event_time)"),
)
def silver_telemetry(context: dg.AssetExecutionContext, platform: Platform, spark: SparkResource):
    """The new bronze rows parsed, cleaned and MERGEd on the event key."""
    conf = platform.conf()
    platform.attempt(context, "silver")
    session = spark.session()
    rows = pipeline.silver(conf, session)
    quality.record(conf, "silver", context.run_id)
    yield dg.MaterializeResult(metadata={"rows": rows})
    yield _gate("silver", conf, session, "silver_telemetry")


@dg.multi_asset(
    group_name=GROUP,
    specs=[
        dg.AssetSpec("machine_hour_features", deps=[silver_telemetry], kinds={"spark", "delta"}),
        dg.AssetSpec("daily_sales", deps=[silver_telemetry], kinds={"spark", "delta"}),
    ],
    check_specs=_check("gold", "machine_hour_features", "one row per machine-hour, features in range"),
)
def gold(context: dg.AssetExecutionContext, platform: Platform, spark: SparkResource):
    """Silver and the sales datasets -> the gold tables (unchanged when silver is)."""
    conf = platform.conf()
    platform.attempt(context, "gold")
    session = spark.session()
    rows = pipeline.gold(conf, session)
    quality.record(conf, "gold", context.run_id)
    for name, n in rows.items():
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": n})
    yield _gate("gold", conf, session, "machine_hour_features")


@dg.asset(
    group_name=GROUP,
    deps=["machine_hour_features"],
    kinds={"mlflow", "spark", "delta"},
    check_specs=_check("risk", "machine_risk", "one row per machine-hour, scored by the champion, risk in 0 … 1"),
)
def machine_risk(context: dg.AssetExecutionContext, platform: Platform, spark: SparkResource):
    """Train on gold (registered, promoted by rule), then score every machine-hour the champion has not."""
    conf = platform.conf()
    if not pipeline.model_stages(conf):  # run_once leaves it out; a run from the UI gets the reason
        raise lablib.LabError(
            f"{conf.env} has no model stages without MLFLOW_TRACKING_URI; set it to a tracking server"
        )
    platform.attempt(context, "score")
    session = spark.session()
    trained = pipeline.train(conf, session)
    rows = pipeline.score(conf, session)
    quality.record(conf, "score", context.run_id)
    yield dg.MaterializeResult(metadata={"rows": rows, "model_version": trained["version"]})
    yield _gate("risk", conf, session, "machine_risk")


capstone_job = dg.define_asset_job(
    "capstone", selection=dg.AssetSelection.groups(GROUP), executor_def=dg.in_process_executor
)
hourly_capstone = dg.ScheduleDefinition(
    name="hourly_capstone", job=capstone_job, cron_schedule="0 * * * *", default_status=dg.DefaultScheduleStatus.STOPPED
)


# --------------------------------------------------------------------------- backfill
def sales_days(conf, session, days: list[str]) -> int:
    """Replace the given days of gold daily_sales with their recomputation; the rows written.

    Each day is a function of that day's orders, so replacing it (replaceWhere) is idempotent:
    a re-run, or a backfill over days a full build already wrote, leaves the same rows.
    """
    from pyspark.sql import functions as F

    from mat_platform import transforms
    from mat_platform.settings import TABLE_PROPERTIES

    frame = transforms.daily_sales(lablib.data.read("orders"), lablib.data.read("order_lines"))
    picked = frame.where(F.col("order_date").cast("string").isin(days))
    where = "CAST(order_date AS STRING) IN (" + ", ".join(f"'{d}'" for d in days) + ")"
    writer = picked.write.format("delta").mode("overwrite").option("replaceWhere", where)
    for key, value in TABLE_PROPERTIES.items():
        writer = writer.option(key, value)
    path = conf.table("gold", "daily_sales")
    writer.save(str(path))
    return session.read.format("delta").load(str(path)).where(where).count()


@dg.op(retry_policy=SERVICE_RETRY)
def rebuild_daily_sales(context: dg.OpExecutionContext, platform: Platform, spark: SparkResource) -> int:
    """The partition range's days of gold daily_sales, recomputed and replaced."""
    days = list(context.partition_keys)
    rows = sales_days(platform.conf(), spark.session(), days)
    context.add_output_metadata({"days": ", ".join(days), "rows": rows})
    return rows


@dg.job(partitions_def=DAILY, executor_def=dg.in_process_executor)
def daily_sales_backfill():
    rebuild_daily_sales()


def resources(**platform) -> dict:
    return {"platform": Platform(**platform), "spark": SparkResource()}


defs = dg.Definitions(
    assets=[telemetry_topic, bronze_telemetry, silver_telemetry, gold, machine_risk],
    jobs=[capstone_job, daily_sales_backfill],
    schedules=[hourly_capstone],
    resources=resources(),
    executor=dg.in_process_executor,
)

#: Dagster's console logger kept to errors that stop a run (the run's steps are printed as a table)
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_once(env: str = "dev", instance=None, **platform):
    """The ``capstone`` job once, in this process, recorded in ``instance`` (default: the course's).

    Returns (result, instance). ``platform``: extra settings of the :class:`Platform` resource.
    """
    from lablib import orchestration

    instance = instance or orchestration.instance()
    job = defs.resolve_job_def("capstone")
    # no model stages (prod without MLFLOW_TRACKING_URI): every asset but machine_risk, with their checks
    without_model = [key for key in job.asset_layer.executable_asset_keys if key != dg.AssetKey("machine_risk")]
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=QUIET,
        asset_selection=None if pipeline.model_stages(settings.load(env)) else without_model,
        resources={"platform": Platform(env=env, **platform), "spark": SparkResource()},
    )
    return result, instance


def backfill(days: list[str], env: str = "dev", instance=None):
    """Gold's daily_sales for ``days`` (consecutive, e.g. two partitions) in one run."""
    from lablib import orchestration

    instance = instance or orchestration.instance()
    job = defs.resolve_job_def("daily_sales_backfill")
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=QUIET,
        # one run for the range, as a backfill with a single-run policy launches it
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        resources={"platform": Platform(env=env), "spark": SparkResource()},
    )
    return result, instance


def failure(result) -> str | None:
    """Why a run failed, in one sentence: the first failed gate's, else the first failed step's message."""
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            return evaluation.description
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            return error.message.strip() if error else f"step {event.step_key} failed"
    return None
