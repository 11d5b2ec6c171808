"""The capstone as one Dagster job (capstone/src/mat_platform/orchestration.py) and its quality gates.

One child process, a fresh LAB_HOME (a space in its name), CI-scale data, one JVM: the job runs in
process with its bronze stage made to fail once (the retry policy must carry it), through the model
stage (train, score and the risk gate), then again (it must add nothing, predictions included), then
gold's daily_sales is backfilled for two days (twice: the same rows), then a duplicate key is planted
in silver and the job must stop at silver's gate with its sentence. The child prints what it saw as
JSON; the tests judge it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "capstone" / "src"
HANG_SECONDS = 900  # a hang guard only, far above a run on a loaded machine

SCENARIO = r"""
import json
from deltalake import DeltaTable
from lablib import orchestration as course
from mat_platform import orchestration, quality, settings

conf = settings.load("dev")
seen = {}

def versions():
    return {f"{layer}.{name}": DeltaTable(str(conf.table(layer, name))).version()
            for layer, name in [("bronze", "telemetry"), ("silver", "telemetry"),
                                ("gold", "machine_hour_features"), ("gold", "daily_sales"),
                                ("gold", "machine_risk")]}

def sales(days):
    t = DeltaTable(str(conf.table("gold", "daily_sales"))).to_pyarrow_table().to_pylist()
    return sorted([str(r["order_date"]), r["channel"], r["orders"], r["units"], r["revenue"]]
                  for r in t if str(r["order_date"]) in days)

first, instance = orchestration.run_once(fail_once="bronze")
seen["first"] = {"success": first.success, "steps": course.run_table(first, instance),
                 "failure": orchestration.failure(first), "versions": versions(),
                 "checks": {e.check_name: e.passed for e in first.get_asset_check_evaluations()},
                 "upstream": quality.upstream(conf, "gold.machine_hour_features"),
                 "risk_upstream": quality.upstream(conf, "gold.machine_risk"),
                 "risk_rows": len(DeltaTable(str(conf.table("gold", "machine_risk"))).to_pyarrow_table()),
                 "hours": len(DeltaTable(str(conf.table("gold", "machine_hour_features"))).to_pyarrow_table())}
second, _ = orchestration.run_once(instance=instance)
seen["second"] = {"success": second.success, "versions": versions(), "failure": orchestration.failure(second)}

all_days = sorted({str(r["order_date"]) for r in
                   DeltaTable(str(conf.table("gold", "daily_sales"))).to_pyarrow_table().to_pylist()})
days = all_days[-3:-1]
before = sales(days)
fill, _ = orchestration.backfill(days, instance=instance)
after = sales(days)
again, _ = orchestration.backfill(days, instance=instance)
seen["backfill"] = {"days": days, "success": [fill.success, again.success], "before": before, "after": after,
                    "again": sales(days), "tags": dict(fill.dagster_run.tags),
                    "rows": fill.output_for_node("rebuild_daily_sales"),
                    "total": len(DeltaTable(str(conf.table("gold", "daily_sales"))).to_pyarrow_table()),
                    "history": [h.get("operationParameters", {}).get("predicate") for h in
                                DeltaTable(str(conf.table("gold", "daily_sales"))).history(2)]}

import lablib
spark = lablib.spark()
silver = spark.read.format("delta").load(str(conf.table("silver", "telemetry")))
silver.limit(1).write.format("delta").mode("append").save(str(conf.table("silver", "telemetry")))
gold_before = versions()["gold.machine_hour_features"]
planted, _ = orchestration.run_once(instance=instance)
seen["planted"] = {"success": planted.success, "failure": orchestration.failure(planted),
                   "steps": course.run_table(planted, instance),
                   "gold_unchanged": versions()["gold.machine_hour_features"] == gold_before}
print("SEEN " + json.dumps(seen, default=str))
"""


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    home = tmp_path_factory.mktemp("capstone_ops") / "ops home"
    env = {**os.environ, "LAB_HOME": str(home), "LAB_SCALE": "ci",
           "PYTHONPATH": os.pathsep.join([str(SRC), str(REPO), os.environ.get("PYTHONPATH", "")])}
    try:
        child = subprocess.run([sys.executable, "-c", SCENARIO], cwd=SRC, env=env, capture_output=True,
                               text=True, timeout=HANG_SECONDS)
        lines = [line for line in child.stdout.splitlines() if line.startswith("SEEN ")]
        assert child.returncode == 0 and lines, child.stdout[-3000:] + child.stderr[-3000:]
        print(lines[-1])
        yield json.loads(lines[-1].removeprefix("SEEN "))
    finally:
        down = subprocess.run([sys.executable, "-m", "lablib.cli", "capstone", "down"], env=env,
                              capture_output=True, text=True, timeout=HANG_SECONDS)
        # the job's model stage started the home's MLflow on first use: stop every service of this home
        rest = subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], env=env,
                              capture_output=True, text=True, timeout=HANG_SECONDS)
        assert down.returncode == 0, down.stdout + down.stderr
        assert rest.returncode == 0, rest.stdout + rest.stderr


@pytest.mark.services
def test_the_job_runs_every_stage_and_its_gates_once(seen):
    first = seen["first"]
    assert first["success"], first["failure"]
    steps = {row["step"]: row["status"] for row in first["steps"]}
    assert steps == {"telemetry_topic": "succeeded", "bronze_telemetry": "succeeded",
                     "silver_telemetry": "succeeded", "gold": "succeeded", "machine_risk": "succeeded"}
    assert first["checks"] == {"bronze_gate": True, "silver_gate": True, "gold_gate": True, "risk_gate": True}
    # the model stage scored every gold machine-hour once, and its lineage starts at gold
    assert first["risk_rows"] == first["hours"] > 0
    assert first["risk_upstream"][0] == "gold.machine_hour_features"


@pytest.mark.services
def test_the_retry_policy_carries_a_stage_that_fails_once(seen):
    attempts = {row["step"]: row["attempts"] for row in seen["first"]["steps"]}
    # bronze's first attempt raised (fail_once), its retry succeeded; nothing else ran twice
    assert attempts == {"telemetry_topic": 1, "bronze_telemetry": 2, "silver_telemetry": 1, "gold": 1,
                        "machine_risk": 1}


@pytest.mark.services
def test_a_second_run_adds_nothing(seen):
    assert seen["second"]["success"], seen["second"]["failure"]
    assert seen["second"]["versions"] == seen["first"]["versions"]


@pytest.mark.services
def test_lineage_of_gold_leads_back_to_the_topic(seen):
    upstream = seen["first"]["upstream"]  # nearest first: the chain gold <- silver <- bronze <- topic <- dataset
    assert set(upstream) == {"silver.telemetry", "bronze.telemetry", "capstone.ci.telemetry", "dataset.telemetry",
                             "dataset.orders", "dataset.order_lines"}
    chain = [upstream.index(t) for t in ("silver.telemetry", "bronze.telemetry", "capstone.ci.telemetry",
                                         "dataset.telemetry")]
    assert chain == sorted(chain)


@pytest.mark.services
def test_the_backfill_of_two_days_rewrites_both_with_the_same_rows(seen):
    fill = seen["backfill"]
    first, last = fill["days"]
    assert fill["success"] == [True, True]
    assert fill["tags"]["dagster/asset_partition_range_start"] == first
    assert fill["tags"]["dagster/asset_partition_range_end"] == last
    days = {row[0] for row in fill["after"]}
    assert days == {first, last} and fill["rows"] == len(fill["after"]) > 0
    # idempotent: the full build's rows, the backfill's, and a second backfill's are the same
    assert fill["before"] == fill["after"] == fill["again"]
    assert all(p and first in p and last in p for p in fill["history"])  # both runs replaced just those days


@pytest.mark.services
def test_a_duplicate_key_planted_in_silver_stops_the_job_at_silvers_gate(seen):
    planted = seen["planted"]
    assert not planted["success"]
    assert planted["failure"] == "silver gate: 1 duplicate (machine_id, event_time) key(s) in silver.telemetry"
    steps = {row["step"]: row["status"] for row in planted["steps"]}
    assert steps.get("gold", "not run") in ("skipped", "not run")
    assert steps.get("machine_risk", "not run") in ("skipped", "not run")
    assert planted["gold_unchanged"]
