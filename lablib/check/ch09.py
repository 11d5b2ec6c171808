"""Checks of chapter 09, orchestration with Dagster: they read the learner's real definitions, the
runs' own events and the Delta tables the runs wrote.

The truths come from the pipeline's tables (gold_machine_daily, the machines table) and from
Dagster's run records, never from the learner's code. The lake is the chapter's:
``$LAB_HOME/scratch/ch09/lake/<asset>`` (pipelines/mat/landing.py).
"""

from __future__ import annotations

from lablib.check import exercise, fail
from lablib.check._spark import need_columns, spark_session


def _table(name: str):
    from lablib.paths import workdir

    path = workdir("09") / "lake" / name
    if not (path / "_delta_log").is_dir():
        fail(f"there is no Delta table {name} in the chapter's lake (nothing at $LAB_HOME/scratch/ch09/lake/{name})",
             f"materialize the asset so it writes assets.table_path({name!r})")
    return spark_session().read.format("delta").load(str(path))


def _dagster():
    import dagster as dg

    return dg


def _run_result(result, what: str):
    dg = _dagster()
    if result is None:
        fail(f"{what} is still None", "assign the result of dg.materialize(...)")
    if not isinstance(result, dg.ExecuteInProcessResult):
        fail(f"{what} should be the result of dg.materialize(...), not a {type(result).__name__}")
    return result


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


# --------------------------------------------------------------------------- 1. add an asset
@exercise("09", hint="@dg.asset(partitions_def=assets.DAILY, deps=['gold_machine_daily'], ...): read the day's "
                     "gold_machine_daily rows, join the machines table for factory_id, sum per factory, and "
                     "replace the day in assets.table_path('gold_factory_daily')")
def factory_asset(asset, day):
    """``asset``: the learner's ``gold_factory_daily`` asset, materialized for ``day``."""
    dg = _dagster()
    from pyspark.sql import functions as F

    from lablib import data

    if asset is None:
        fail("gold_factory_daily is still None", "define it with @dg.asset")
    if not isinstance(asset, dg.AssetsDefinition):
        fail(f"gold_factory_daily should be a Dagster asset (@dg.asset), not a {type(asset).__name__}")
    key = asset.key.to_user_string()
    if key != "gold_factory_daily":
        fail(f"the asset is called {key}, not gold_factory_daily", "name the function gold_factory_daily")
    deps = {k.to_user_string() for k in asset.asset_deps.get(asset.key, set())}
    if "gold_machine_daily" not in deps:
        fail(f"gold_factory_daily does not depend on gold_machine_daily (its deps: {', '.join(sorted(deps)) or 'none'})",
             "add deps=['gold_machine_daily'], so Dagster runs it after that asset and draws the edge")
    parts = asset.partitions_def
    if not isinstance(parts, dg.DailyPartitionsDefinition):
        fail("gold_factory_daily is not partitioned by day", "use partitions_def=assets.DAILY, as the assets it reads")
    got = _table("gold_factory_daily")
    need_columns(got, ["day", "factory_id", "readings"], "gold_factory_daily")
    machines = data.read("machines").select(F.upper(F.trim("machine_id")).alias("machine_id"), "factory_id")
    truth = (_table("gold_machine_daily").where(F.col("day") == day).join(machines, "machine_id")
             .groupBy("factory_id").agg(F.sum("readings").alias("readings")))
    expected = {r.factory_id: r.readings for r in truth.collect()}
    mine = got.where(F.col("day") == day).select("factory_id", "readings").collect()
    if not mine:
        fail(f"gold_factory_daily has no rows for {day}", f"materialize it with partition_key={day!r}")
    if len(mine) != len({r.factory_id for r in mine}):
        fail(f"gold_factory_daily has more than one row per factory on {day}", "group by day and factory_id")
    have = {r.factory_id: r.readings for r in mine}
    if set(have) != set(expected):
        fail(f"gold_factory_daily has {len(have)} factories on {day}, gold_machine_daily's machines are in "
             f"{len(expected)}", "join the machines table on machine_id to get each machine's factory_id")
    wrong = sorted(f for f in expected if have[f] != expected[f])
    if wrong:
        f = wrong[0]
        fail(f"{len(wrong)} factories have readings that differ from gold_machine_daily's (e.g. {f}: "
             f"{have[f]} instead of {expected[f]})", "sum the machines' readings per factory")
    return (f"gold_factory_daily depends on gold_machine_daily, daily partitions; {day}: {len(have)} factories, "
            f"{sum(have.values()):,} readings, as its machines")


# --------------------------------------------------------------------------- 2. a blocking check
@exercise("09", hint="@dg.asset_check(asset='silver_telemetry', blocking=True): read silver, count rows with "
                     "vibration_mm_s < 0 and return dg.AssetCheckResult(passed=count == 0, ...)")
def blocking_check(check, good_run, bad_run):
    """``check``: an asset check on silver_telemetry that stops negative vibration; ``good_run``
    and ``bad_run``: the materialize() results of a clean day and of the planted bad day."""
    dg = _dagster()
    if check is None:
        fail("vibration_not_negative is still None", "define it with @dg.asset_check")
    if not isinstance(check, dg.AssetChecksDefinition):
        fail(f"vibration_not_negative should be an asset check (@dg.asset_check), not a {type(check).__name__}")
    specs = list(check.check_specs)
    targets = {s.asset_key.to_user_string() for s in specs}
    if targets != {"silver_telemetry"}:
        fail(f"the check is on {', '.join(sorted(targets))}, not on silver_telemetry",
             "asset='silver_telemetry': the gate sits between silver and gold")
    if not all(s.blocking for s in specs):
        fail("the check is not blocking: gold would still be built from the bad data",
             "@dg.asset_check(..., blocking=True)")
    names = {s.name for s in specs}
    good, bad = _run_result(good_run, "good_run"), _run_result(bad_run, "bad_run")

    def mine(result):
        return [e for e in result.get_asset_check_evaluations() if e.check_name in names]

    if not mine(good):
        fail("the check did not run in good_run", "pass it to dg.materialize([...assets, vibration_not_negative])")
    if not all(e.passed for e in mine(good)):
        fail("the check failed on a clean day: it would stop every run", "count only readings with vibration_mm_s < 0")
    if not mine(bad):
        fail("the check did not run in bad_run", "pass it to dg.materialize([...assets, vibration_not_negative])")
    if any(e.passed for e in mine(bad)):
        fail("the check passed on the day with planted negative vibration", "fail when any vibration_mm_s < 0")
    if "gold_machine_daily" in _materialized(bad):
        fail("gold_machine_daily was still materialized in bad_run", "make the check blocking")
    return ("a blocking check on silver_telemetry: passed on a clean day, failed on the planted day, "
            "and gold_machine_daily was not built from it")


# --------------------------------------------------------------------------- 3. a sensor
@exercise("09", hint="@dg.sensor(job=definitions.orders_job): look at landing.export_file('orders') and "
                     "('order_lines'); when both exist and their modification times differ from the cursor, "
                     "yield dg.RunRequest(run_key=...) and context.update_cursor(...)")
def orders_sensor(sensor):
    """``sensor``: a sensor that starts the orders job when a new orders export has landed."""
    import json
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from lablib.paths import workdir

    dg = _dagster()
    if sensor is None:
        fail("orders_landed is still None", "define it with @dg.sensor")
    if not isinstance(sensor, dg.SensorDefinition):
        fail(f"orders_landed should be a sensor (@dg.sensor), not a {type(sensor).__name__}")
    try:
        job = sensor.job_name
    except Exception:  # noqa: BLE001 - a sensor without one job
        job = None
    if job != "orders":
        fail(f"the sensor starts {job or 'no job'}, not the orders job", "@dg.sensor(job=definitions.orders_job)")

    def tick(cursor=None):
        with dg.build_sensor_context(cursor=cursor) as context:
            data = sensor.evaluate_tick(context)
        return [r for r in data.run_requests or []], data.cursor

    landing = workdir("09") / "landing"
    exports = [landing / "orders.csv", landing / "order_lines.parquet"]
    aside = Path(tempfile.mkdtemp(prefix="ch09-check-"))
    kept = []
    try:
        for f in exports:
            if f.exists():
                shutil.move(str(f), aside / f.name)
                kept.append(f)
        requests, _ = tick()
        if requests:
            fail("the sensor asked for a run while no orders export had landed", "yield a run only when the files exist")
        from lablib import data

        landing.mkdir(parents=True, exist_ok=True)
        for f in exports:
            source = aside / f.name if f in kept else data.path("orders" if f.suffix == ".csv" else "order_lines")
            shutil.copyfile(source, f)
        requests, cursor = tick()
        if len(requests) != 1:
            fail(f"the sensor asked for {len(requests)} runs when a new export landed, not 1")
        again, _ = tick(cursor)
        if again:
            fail("the sensor asked again for the same export on its next tick (its cursor did not remember it)",
                 "context.update_cursor(...) with what you saw, and compare with context.cursor")
        stamp = exports[0].stat().st_mtime + 60
        os.utime(exports[0], (stamp, stamp))
        fresh, _ = tick(cursor)
        if len(fresh) != 1:
            fail("the sensor missed a replaced orders export (same name, newer file)",
                 "remember modification times, not only names")
        if fresh[0].run_key and requests[0].run_key and fresh[0].run_key == requests[0].run_key:
            fail("the new export's run has the same run_key as the first: Dagster would drop it",
                 "put the modification time in the run_key")
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    json.dumps(cursor)  # a cursor is text
    return "no run without an export, one run per new or replaced export, none on an unchanged one"


# --------------------------------------------------------------------------- 4. a backfill
@exercise("09", hint="one run over the range: dg.materialize(assets.TELEMETRY, ..., tags={"
                     "'dagster/asset_partition_range_start': first, 'dagster/asset_partition_range_end': last})")
def backfill(result, days):
    """``result``: one run that backfilled the telemetry assets for ``days`` (consecutive)."""
    from pyspark.sql import functions as F

    result = _run_result(result, "backfill_run")
    if not result.success:
        fail("the backfill run failed", "land the days' files first (landing.land_day)")
    tags = result.dagster_run.tags
    first, last = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if first is None:
        fail("the run is not a range backfill (it has no partition range)",
             "one run for the range, with the dagster/asset_partition_range_* tags")
    if (first, last) != (days[0], days[-1]):
        fail(f"the run backfilled {first} … {last}, not {days[0]} … {days[-1]}")
    if "gold_machine_daily" not in _materialized(result):
        fail("the run did not materialize gold_machine_daily", "materialize bronze, silver and gold together")
    silver = _table("silver_telemetry").where(F.col("day").isin(list(days)))
    machines = {r.day: r.n for r in silver.groupBy("day").agg(F.countDistinct("machine_id").alias("n")).collect()}
    gold = {r.day: r.n for r in _table("gold_machine_daily").where(F.col("day").isin(list(days)))
            .groupBy("day").count().withColumnRenamed("count", "n").collect()}
    missing = [d for d in days if d not in gold]
    if missing:
        fail(f"gold_machine_daily has no rows for {', '.join(missing)}")
    off = [d for d in days if gold[d] != machines.get(d)]
    if off:
        fail(f"gold_machine_daily has {gold[off[0]]} rows for {off[0]}, silver has {machines.get(off[0])} machines")
    return f"one run backfilled {days[0]} … {days[-1]}: {len(days)} days, {sum(gold.values()):,} gold rows"
