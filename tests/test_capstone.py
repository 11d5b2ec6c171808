"""The capstone platform (capstone/, chapters 11-12) run as a learner runs it: `lab capstone run`.

One fresh LAB_HOME (a space in its name), CI-scale data, two runs back to back: the first must
carry every replayed event to bronze exactly once, build silver and gold, train and register the
failure model and score every gold machine-hour; the second must add nothing (no event, no model
version, no prediction). Tables are read back with delta-rs, outside Spark. The project's own test suite and its
CI workflow's gates (GitHub's schema, zizmor) run here too, so `make test` covers them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from delta_readers import read_with_delta_rs

REPO = Path(__file__).resolve().parent.parent
CAPSTONE = REPO / "capstone"
#: hang guards only (a stuck broker or query), far above a run on a loaded machine
HANG_SECONDS = 900

def lab(*args: str, env: dict, timeout: float = HANG_SECONDS) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def read(tables: dict[Path, tuple[str, ...]]) -> dict[str, dict]:
    """{layer.table: {version, rows, distinct keys}} as delta-rs reads each table."""
    seen = read_with_delta_rs(list(tables), timeout=HANG_SECONDS, keys=tables)
    unreadable = {p: got["error"] for p, got in seen.items() if "error" in got}
    assert not unreadable, unreadable
    return {f"{p.parent.name}.{p.name}": got for p, got in seen.items()}


def report(stdout: str) -> dict[str, int]:
    """The run's table of counts: {layer: rows}."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].replace(",", "").isdigit():
            rows[parts[0]] = int(parts[1].replace(",", ""))
    return rows


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    home = tmp_path_factory.mktemp("capstone") / "capstone home"
    env = {**os.environ, "LAB_HOME": str(home)}
    root = home / "capstone" / "dev-ci"
    tables = {root / "bronze" / "telemetry": ("partition", "offset"),
              root / "silver" / "telemetry": ("machine_id", "event_time"),
              root / "gold" / "machine_hour_features": ("machine_id", "hour"),
              root / "gold" / "daily_sales": ("order_date", "channel"),
              root / "gold" / "machine_risk": ("machine_id", "hour")}
    try:
        first = lab("capstone", "run", "--scale", "ci", env=env)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        after_first = read(tables)
        contracts_first = (root / "state" / "contracts.json").read_text()
        second = lab("capstone", "run", "--scale", "ci", env=env)
        assert second.returncode == 0, second.stdout + second.stderr[-3000:]
        yield {"first": first, "second": second, "after_first": after_first, "after_second": read(tables),
               "root": root, "env": env, "home": home, "contracts_after_first": contracts_first}
    finally:
        down = lab("capstone", "down", env=env)
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.services
def test_every_replayed_event_reaches_bronze_exactly_once(platform):
    counts = report(platform["first"].stdout)
    produced = json.loads((platform["root"] / "state" / "produced.json").read_text())["sent"]
    bronze = platform["after_first"]["bronze.telemetry"]
    assert produced > 0 and counts["produced"] == produced
    # 0 lost, 0 duplicated: as many rows as events, each Kafka coordinate once
    assert bronze["rows"] == produced == bronze["distinct"] == counts["bronze"]


@pytest.mark.services
def test_the_run_replays_into_the_topic_as_declared(platform):
    # nothing applied resources.py in this home, yet the topic must keep every record: the replayer
    # stamps records with their 2024 event time, so under the broker's default time retention (7 days)
    # a closed segment is already expired and goes at the broker's next retention check (a full-scale
    # run, whose segments close during the replay, once found 5,016 records gone from bronze's reach)
    plan = in_platform(platform, "import json; from mat_platform import resources, settings; "
                       "print(json.dumps([str(c) for c in resources.plan(settings.load('dev'), ('topic',))]))")
    assert plan == []


@pytest.mark.services
def test_silver_holds_one_row_per_event_key_and_every_late_event(platform):
    silver = platform["after_first"]["silver.telemetry"]
    assert 0 < silver["rows"] == silver["distinct"] <= platform["after_first"]["bronze.telemetry"]["rows"]
    assert report(platform["first"].stdout)["silver"] == silver["rows"]
    # the generator's own dirt report: exactly its duplicates and unparseable times are gone, and
    # nothing else, so its late and out-of-order events all landed
    dirt = json.loads((platform["home"] / "data" / "ci" / "dirt.json").read_text())["tables"]["telemetry"]
    assert dirt["late_events"] > 0 and dirt["out_of_order_events"] > 0
    assert silver["rows"] == dirt["rows"] - dirt["duplicate_rows"] - dirt["malformed_dates"]["event_time"]


@pytest.mark.services
def test_gold_tables_are_readable_outside_spark(platform):
    counts = report(platform["first"].stdout)
    for name in ("machine_hour_features", "daily_sales"):
        gold = platform["after_first"][f"gold.{name}"]
        assert 0 < gold["rows"] == gold["distinct"] == counts[f"gold.{name}"], name


@pytest.mark.services
def test_a_second_run_adds_nothing(platform):
    before, after = platform["after_first"], platform["after_second"]
    assert after["bronze.telemetry"] == before["bronze.telemetry"]  # same rows, and no new commit
    assert after["silver.telemetry"] == before["silver.telemetry"]
    assert report(platform["second"].stdout) == report(platform["first"].stdout)


@pytest.mark.services
def test_the_champion_scores_every_gold_machine_hour_once(platform):
    counts, risk = report(platform["first"].stdout), platform["after_first"]["gold.machine_risk"]
    hours = platform["after_first"]["gold.machine_hour_features"]["rows"]
    assert counts["model.versions"] == 1
    assert 0 < risk["rows"] == risk["distinct"] == hours == counts["gold.machine_risk"]
    # gold unchanged: the second run trains no version and scores no hour (not even an empty commit)
    assert report(platform["second"].stdout)["model.versions"] == 1
    assert platform["after_second"]["gold.machine_risk"] == risk
    trained = json.loads((platform["root"] / "state" / "model.json").read_text())
    assert [(t["gold_version"], t["version"]) for t in trained.values()] == [
        (platform["after_first"]["gold.machine_hour_features"]["version"], "1")]


@pytest.mark.services
def test_every_published_table_kept_its_data_contract_at_the_version_the_run_left(platform):
    # the gates ran chapter 10's contracts (capstone/contracts) after each stage: each table's version
    # that kept its contract is recorded, and the second run (no new version) tested none again
    text = (platform["root"] / "state" / "contracts.json").read_text()
    assert text == platform["contracts_after_first"]  # the second run changed no table: nothing tested again
    kept = json.loads(text)
    assert sorted(kept) == ["gold.daily_sales", "gold.machine_hour_features", "gold.machine_risk", "silver.telemetry"]
    for label, record in kept.items():
        assert record["table_version"] == platform["after_second"][label]["version"], label
    print("contract seconds per table:", {label: record["seconds"] for label, record in kept.items()})


#: in the platform's own process: the registry as the first runs left it, then a weaker candidate
#: (one tree of two leaves) trained on the same gold, which the promotion rule must refuse
_REGISTRY = r"""
import json, os, sys
import lablib
from mlflow import MlflowClient
from mat_platform import model, settings
conf = settings.load("dev")
client, name = MlflowClient(lablib.mlflow_uri()), model.model_name(conf)
champion = client.get_model_version_by_alias(name, "champion")
run = client.get_run(champion.run_id).data
before = {"champion": champion.version, "metric": run.metrics.get(model.METRIC), "gold_version": run.tags.get("gold_version")}
weak = model.train(conf, lablib.spark(), params={"n_estimators": 1, "num_leaves": 2})
after = {"champion": client.get_model_version_by_alias(name, "champion").version,
         "challenger": client.get_model_version_by_alias(name, "challenger").version}
print(json.dumps({"before": before, "weak": weak, "after": after}))
sys.stdout.flush()
os._exit(0)  # delta-rs may abort at interpreter exit after a good read
"""


def in_platform(platform, code: str, *args: str) -> dict:
    """Run ``code`` as the platform's own process would (its folder, home and scale); its last line as JSON."""
    env = {**platform["env"], "LAB_SCALE": "ci",
           "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=CAPSTONE / "src", env=env, capture_output=True,
                          text=True, timeout=HANG_SECONDS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.services
def test_the_model_is_registered_champion_and_a_worse_one_is_refused(platform):
    got = in_platform(platform, _REGISTRY)
    gold_version = platform["after_first"]["gold.machine_hour_features"]["version"]
    assert got["before"]["champion"] == "1" and got["before"]["gold_version"] == str(gold_version)
    assert 0 < got["before"]["metric"] <= 1
    weak = got["weak"]
    assert weak["trained"] == 1 and weak["version"] == "2"
    # the champion is judged on the same held-out hours as when it was trained (same gold): its logged score
    said = re.fullmatch(r"version 2 stays challenger: holdout_pr_auc (0\.\d{4}) does not beat champion version 1's "
                        r"(0\.\d{4}) on the same held-out hours", weak["message"])
    assert said and said[2] == f"{got['before']['metric']:.4f}" and said[1] < said[2], weak["message"]
    assert got["after"] == {"champion": "1", "challenger": "2"}


@pytest.mark.services
def test_status_shows_the_last_run_and_what_up_started(platform):
    proc = lab("capstone", "status", "--scale", "ci", env=platform["env"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert report(proc.stdout) == report(platform["second"].stdout)
    assert "started by the capstone: kafka, mlflow" in proc.stdout
    assert "last live: none yet (`lab capstone live`)" in proc.stdout


#: what the dashboard must show, computed here with pandas over delta-rs (not the page's DuckDB SQL)
_EXPECTED = r"""
import json, os, sys
import pandas as pd
from deltalake import DeltaTable
sales = DeltaTable(os.path.join(sys.argv[1], "daily_sales")).to_pandas()
risk = DeltaTable(os.path.join(sys.argv[1], "machine_risk")).to_pandas()
recent = risk[(risk["hour"] > risk["hour"].max() - pd.Timedelta(hours=24)) & risk["at_risk"]]
print(json.dumps({"Revenue": f"{float(sales['revenue'].sum()):,.2f}", "Orders": f"{int(sales['orders'].sum()):,}",
                  "Machine-hours scored": f"{len(risk):,}", "At-risk machine-hours": f"{int(risk['at_risk'].sum()):,}",
                  "Machines at risk (last 24 h)": f"{recent['machine_id'].nunique():,}"}))
sys.stdout.flush()
os._exit(0)
"""
#: one machine's predictions removed, as if its hours had not been scored yet
_FORGET_ONE_MACHINE = r"""
import json, os, sys
from deltalake import DeltaTable
table = DeltaTable(sys.argv[1])
machine = min(table.to_pyarrow_table(columns=["machine_id"]).column("machine_id").to_pylist())
print(json.dumps(table.delete(f"machine_id = '{machine}'")))
sys.stdout.flush()
os._exit(0)
"""
_SCORE = r"""
import json, os
import lablib
from mat_platform import model, settings
print(json.dumps(model.score(settings.load("dev"), lablib.spark())))
os._exit(0)
"""


def _metrics(page, cu) -> dict[str, str]:
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=cu * 2000)
    shown = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        shown[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return shown


@pytest.mark.services
@pytest.mark.browser
def test_the_dashboard_shows_the_gold_numbers_and_newly_scored_hours(platform, tab, cu):
    gold = platform["root"] / "gold"
    proc = lab("capstone", "dashboard", "--scale", "ci", env=platform["env"], timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)", proc.stdout)[1]
    page = tab.page
    page.goto(url, timeout=cu * 2000)
    page.get_by_text("Mega Awesome Toys: platform dashboard").wait_for()
    expected = in_platform(platform, _EXPECTED, str(gold))
    assert _metrics(page, cu) == expected
    hours = expected["Machine-hours scored"]
    assert hours == f"{platform['after_first']['gold.machine_risk']['rows']:,}"

    # a machine's hours not scored yet (its predictions removed): the page shows fewer, a score run
    # scores exactly those, and the page, reloaded, shows them again
    forgot = in_platform(platform, _FORGET_ONE_MACHINE, str(gold / "machine_risk"))["num_deleted_rows"]
    assert forgot > 0
    fewer = f"{int(hours.replace(',', '')) - forgot:,}"
    page.reload()
    page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(f"^{fewer}$")).wait_for()
    assert _metrics(page, cu) == in_platform(platform, _EXPECTED, str(gold))
    assert in_platform(platform, _SCORE) == int(hours.replace(",", ""))
    page.reload()
    page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(f"^{hours}$")).wait_for()
    assert _metrics(page, cu) == in_platform(platform, _EXPECTED, str(gold)) == expected
    tab.screenshot("capstone-dashboard")
    assert tab.offsite == [], f"the dashboard called out: {tab.offsite}"


def test_prod_without_a_cluster_is_refused_in_one_sentence(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LAB_SPARK_MASTER", "SPARK_REMOTE", "KAFKA_BOOTSTRAP_SERVERS")}
    proc = lab("capstone", "run", "--env", "prod", env={**env, "LAB_HOME": str(tmp_path)}, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: the prod environment runs on a cluster: set LAB_SPARK_MASTER (spark://host:7077) or SPARK_REMOTE "
        "(sc://host:15002) and KAFKA_BOOTSTRAP_SERVERS, or use --env dev for the embedded services"]
    assert not (tmp_path / "capstone").exists()  # refused before anything was written


def test_a_taken_port_is_one_sentence_naming_the_fix(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "LAB_HOME": str(tmp_path), "LAB_KAFKA_PORT": str(port)}
        proc = lab("capstone", "up", env=env, timeout=300)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot start kafka: port {port} on 127.0.0.1 (LAB_KAFKA_PORT) is taken")
    assert line.endswith("stop that program, or set LAB_KAFKA_PORT to another port")


def test_a_broker_that_does_not_answer_is_one_sentence(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LAB_HOME": str(tmp_path), "LAB_SPARK_MASTER": "spark://127.0.0.1:7077",
           "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
    proc = lab("capstone", "run", "--env", "prod", "--scale", "ci", env=env, timeout=300)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: Kafka at 127.0.0.1:{port} (KAFKA_BOOTSTRAP_SERVERS) did not answer"), line


def test_the_workflow_passes_the_schema_and_zizmor():
    from lablib import ci

    path = CAPSTONE / ".github" / "workflows" / "ci.yml"
    schema = ci.run("check-jsonschema", ["check-jsonschema", "--builtin-schema", "vendor.github-workflows",
                                         str(path)], path.parent)
    assert schema.passed, schema.output
    audit = ci.zizmor(path)
    assert audit.passed and audit.extra["findings"] == [], audit.output


def test_the_projects_own_suite_passes():
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=CAPSTONE,
                          capture_output=True, text=True, timeout=HANG_SECONDS)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
