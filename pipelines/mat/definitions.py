"""The code location: ``dagster dev -m pipelines.mat.definitions`` (``lab orchestrator up``) loads
``defs``; notebooks and tests use the same objects in process.

Every job runs with the in-process executor: one process, one Spark JVM for all its steps.
"""

from __future__ import annotations

import json

import dagster as dg

from pipelines.mat import assets, landing
from pipelines.mat.resources import SparkResource

telemetry_job = dg.define_asset_job("telemetry", selection=dg.AssetSelection.groups("telemetry"),
                                    executor_def=dg.in_process_executor)
orders_job = dg.define_asset_job("orders", selection=dg.AssetSelection.groups("orders"),
                                 executor_def=dg.in_process_executor)

#: every morning at 06:00 UTC, yesterday's telemetry partition
daily_telemetry = dg.build_schedule_from_partitioned_job(telemetry_job, hour_of_day=6,
                                                         name="daily_telemetry")


def new_days(landed: dict[str, float], seen: dict[str, float]) -> list[str]:
    """The landed days to run: new files, and files replaced since they were seen (by mtime)."""
    return sorted(d for d, mtime in landed.items() if seen.get(d) != mtime)


@dg.sensor(job=telemetry_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED)
def telemetry_landed(context: dg.SensorEvaluationContext):
    """A run for every day whose telemetry file landed (or was replaced) since the last look."""
    seen = json.loads(context.cursor) if context.cursor else {}
    files = {landing.day_file(d) for d in landing.landed_days()}
    landed = {f.stem: f.stat().st_mtime for f in files if f.exists()}
    days = new_days(landed, seen)
    if not days:
        yield dg.SkipReason(f"no new telemetry file ({len(landed)} landed, all seen)")
        return
    for day in days:
        if day in assets.DAILY.get_partition_keys():
            yield dg.RunRequest(run_key=f"{day}@{landed[day]}", partition_key=day)
    context.update_cursor(json.dumps(landed, sort_keys=True))


def resources() -> dict:
    return {"spark": SparkResource()}


defs = dg.Definitions(
    assets=[*assets.TELEMETRY, *assets.ORDERS],
    jobs=[telemetry_job, orders_job],
    schedules=[daily_telemetry],
    sensors=[telemetry_landed],
    resources=resources(),
    executor=dg.in_process_executor,
)


def telemetry_job_def():
    """The resolved telemetry job (reconstructable: re-execution from failure needs it)."""
    return defs.resolve_job_def("telemetry")


def orders_job_def():
    return defs.resolve_job_def("orders")


#: run_config that keeps Dagster's console logger to errors that stop a run (a notebook shows the
#: run's events as a table instead of a hundred DEBUG lines)
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
