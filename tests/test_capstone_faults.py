"""Fault drills on the capstone platform, and its cluster run: faults cost time, never an event.

One throw-away LAB_HOME (ports of its own, so the suite's broker is never the one stopped), CI scale:

1. dev, with faults: the telemetry is replayed, the embedded broker is stopped and started again
   (between produce and bronze), then `python -m mat_platform run` is SIGKILLed while bronze writes
   its first batch, and run again to the end;
2. `lab capstone reset` (refused in one sentence on an external Kafka, then for real): the tables,
   checkpoints, records and the topic go;
3. prod, on a standalone cluster (master + 2 workers from pip's pyspark, tests/standalone.py), with
   one worker JVM SIGKILLed while bronze writes;
4. prod again over Spark Connect (`lab up connect` in the same home, SPARK_REMOTE): silver's
   foreachBatch then runs in the Connect server's Python worker, which imports mat_platform from the
   course's environment (`make setup` installs it).

Every layer is then counted with delta-rs: bronze holds the replayer's count, each Kafka coordinate
once; silver one row per key, exactly the generator's count; the cluster's gold tables hold the same
rows as the local run's. The time each recovery took is printed in seconds and calibration units
(lablib.calibration); only counts are asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from delta_readers import read_with_delta_rs
from drills import EXTERNAL_VARS, PORT_VARS, free_ports
from standalone import standalone

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "capstone" / "src"
#: hang guards only (a stuck broker or query), far above a run on a loaded machine
HANG_SECONDS = 900
KEYS = {("bronze", "telemetry"): ("partition", "offset"), ("silver", "telemetry"): ("machine_id", "event_time"),
        ("gold", "machine_hour_features"): ("machine_id", "hour"), ("gold", "daily_sales"): ("order_date", "channel")}


def lab(*args: str, env: dict, timeout: float = HANG_SECONDS) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def platform(env: dict, *args: str) -> subprocess.Popen:
    """`python -m mat_platform ARGS` as `lab capstone` runs it (from capstone/src), in a session of its own."""
    return subprocess.Popen([sys.executable, "-m", "mat_platform", *args], cwd=SRC, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=HANG_SECONDS)
    assert proc.returncode == 0, out + err[-3000:]
    return out


def when_bronze_writes(root: Path, proc: subprocess.Popen) -> float:
    """Wait until bronze's first batch is planned (offsets/0) and not committed (commits/0); its time."""
    checkpoint = root / "checkpoints" / "bronze"
    deadline = time.monotonic() + HANG_SECONDS
    while not (checkpoint / "offsets" / "0").exists():
        assert proc.poll() is None, "the run ended before bronze started: " + "".join(proc.communicate())[-3000:]
        assert time.monotonic() < deadline, "bronze never started"
        time.sleep(0.05)
    # the drill is only one if it lands inside the batch: a batch already committed tests nothing
    assert not (checkpoint / "commits" / "0").exists(), "bronze committed before the fault could be injected"
    return time.monotonic()


def gone(pgid: int, timeout: float = 120) -> None:
    """Wait until no process of session ``pgid`` is left (the driver's JVM leaves once Python has gone)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(pgid, signal.SIGKILL)  # a JVM that outlived its Python would be a second writer
            pytest.fail(f"session {pgid} still ran {timeout:.0f} s after its Python was killed")
        time.sleep(0.2)


def layers(root: Path) -> dict[str, dict]:
    """{layer.table: {version, rows, distinct, digest}} as delta-rs reads each table."""
    tables = {root / layer / name: keys for (layer, name), keys in KEYS.items()}
    seen = read_with_delta_rs(list(tables), timeout=HANG_SECONDS, keys=tables, digest=True)
    unreadable = {p: got["error"] for p, got in seen.items() if "error" in got}
    assert not unreadable, unreadable
    return {f"{p.parent.name}.{p.name}": got for p, got in seen.items()}


def produced(root: Path) -> int:
    return json.loads((root / "state" / "produced.json").read_text())["sent"]


def topics(bootstrap: str) -> set[str]:
    from confluent_kafka.admin import AdminClient

    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("faults") / "fault home"
    env = {k: v for k, v in os.environ.items() if k not in (*EXTERNAL_VARS, "LAB_SPARK_MASTER", "SPARK_REMOTE")}
    env.update({"LAB_HOME": str(home), "LAB_SCALE": "ci", **dict(zip(PORT_VARS, map(str, free_ports(len(PORT_VARS))),
                                                                    strict=True))})
    try:
        yield {"home": home, "env": env, "bootstrap": f"127.0.0.1:{env['LAB_KAFKA_PORT']}", "times": {}}
    finally:
        lab("down", "all", env=env, timeout=300)


@pytest.fixture(scope="module")
def dev(home):
    """The dev run with a broker restart before bronze and a SIGKILL inside bronze, run again to the end."""
    env, times, root = home["env"], home["times"], home["home"] / "capstone" / "dev-ci"
    up = lab("capstone", "up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    sent = subprocess.run([sys.executable, "-c", "from mat_platform import pipeline, settings\n"
                           "print(pipeline.produce(settings.load('dev')))"],
                          cwd=SRC, env=env, capture_output=True, text=True, timeout=HANG_SECONDS)
    assert sent.returncode == 0, sent.stderr[-3000:]
    # (a) the broker stopped and started between produce and bronze: what it acknowledged is on its disk
    t0 = time.monotonic()
    for step in ("down", "up"):
        proc = lab(step, "kafka", env=env, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    times["broker restart"] = time.monotonic() - t0
    # (b) the platform's process SIGKILLed while bronze writes its first batch
    run = platform(env, "run")
    killed_at = when_bronze_writes(root, run)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    gone(run.pid)
    t0 = time.monotonic()
    out = finish(platform(env, "run"))
    times["rerun after the SIGKILL in bronze"] = time.monotonic() - t0
    times["SIGKILL in bronze -> the run complete"] = time.monotonic() - killed_at
    return {"root": root, "sent": int(sent.stdout.split()[-1]), "produced": produced(root), "layers": layers(root),
            "stdout": out}


@pytest.fixture(scope="module")
def reset(home, dev):
    """`lab capstone reset`: first refused on an external Kafka (nothing removed), then for real."""
    env = home["env"]
    refused = lab("capstone", "reset", "--scale", "ci", env={**env, "KAFKA_BOOTSTRAP_SERVERS": home["bootstrap"]},
                  timeout=300)
    kept = dev["root"].exists()
    done = lab("capstone", "reset", "--scale", "ci", env=env, timeout=300)
    return {"refused": refused, "kept": kept, "done": done, "topics": topics(home["bootstrap"])}


@pytest.fixture(scope="module")
def cluster_run(home, reset, tmp_path_factory):
    """prod on master + 2 workers (1 core, 1 GiB each), one worker SIGKILLed while bronze writes."""
    root = home["home"] / "capstone" / "prod-ci"
    with standalone(tmp_path_factory.mktemp("cluster"), workers=2, cores=1, memory="1g") as cluster:
        env = {**home["env"], "LAB_SPARK_MASTER": cluster.master, "KAFKA_BOOTSTRAP_SERVERS": home["bootstrap"],
               "LAB_DRIVER_MEMORY": "512m"}
        t0 = time.monotonic()
        run = platform(env, "run", "--env", "prod")
        killed_at = when_bronze_writes(root, run)
        victim = cluster.workers[0]
        os.kill(victim.pid, signal.SIGKILL)
        out = finish(run)
        home["times"]["cluster run (a worker killed in bronze)"] = time.monotonic() - t0
        home["times"]["worker SIGKILL in bronze -> the run complete"] = time.monotonic() - killed_at
        assert victim.wait(timeout=60) == -signal.SIGKILL
    return {"root": root, "produced": produced(root), "layers": layers(root), "stdout": out}


@pytest.fixture(scope="module")
def connect_run(home, cluster_run):
    """prod on `lab up connect`'s server: the same code, SPARK_REMOTE instead of LAB_SPARK_MASTER."""
    env, root = home["env"], home["home"] / "capstone" / "prod-ci"
    cleared = lab("capstone", "reset", "--scale", "ci", env=env, timeout=300)  # the shared topic, afresh
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    shutil.rmtree(root)  # the cluster run's tables: reset (dev) does not own them
    up = lab("up", "connect", env=env, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        remote = lab("port", "connect", env=env, timeout=60).stdout.strip()
        t0 = time.monotonic()
        out = finish(platform({**env, "SPARK_REMOTE": f"sc://127.0.0.1:{remote}",
                               "KAFKA_BOOTSTRAP_SERVERS": home["bootstrap"]}, "run", "--env", "prod"))
        home["times"]["prod over Spark Connect"] = time.monotonic() - t0
        log = (home["home"] / "logs" / "connect.log").read_text(errors="replace")
    finally:
        lab("down", "connect", env=env, timeout=120)
    return {"root": root, "produced": produced(root), "layers": layers(root), "stdout": out, "log": log}


def _exactly_once(run: dict, home: Path) -> None:
    bronze, silver = run["layers"]["bronze.telemetry"], run["layers"]["silver.telemetry"]
    # 0 lost, 0 duplicated: as many bronze rows as replayed events, each Kafka coordinate once
    assert run["produced"] > 0 and bronze["rows"] == bronze["distinct"] == run["produced"]
    dirt = json.loads((home / "data" / "ci" / "dirt.json").read_text())["tables"]["telemetry"]
    expected = dirt["rows"] - dirt["duplicate_rows"] - dirt["malformed_dates"]["event_time"]
    assert silver["rows"] == silver["distinct"] == expected
    for name in ("machine_hour_features", "daily_sales"):
        gold = run["layers"][f"gold.{name}"]
        assert 0 < gold["rows"] == gold["distinct"], name


def test_a_broker_restart_and_a_killed_bronze_lose_and_duplicate_nothing(home, dev):
    assert dev["sent"] == dev["produced"]
    _exactly_once(dev, home["home"])


def test_reset_is_refused_on_an_external_kafka_in_one_sentence(home, reset):
    assert reset["refused"].returncode == 1
    assert reset["refused"].stderr.strip().splitlines() == [
        "error: reset deletes a topic only on the embedded broker, and Kafka here is "
        f"{home['bootstrap']} (KAFKA_BOOTSTRAP_SERVERS): delete capstone.ci.telemetry there and remove "
        "$LAB_HOME/capstone/dev-ci yourself"]
    assert reset["kept"]  # refused before anything was removed


def test_reset_removes_the_tables_and_the_topic(home, reset):
    assert reset["done"].returncode == 0, reset["done"].stderr
    assert reset["done"].stdout.strip() == (
        "removed: topic capstone.ci.telemetry, tables, checkpoints and records in $LAB_HOME/capstone/dev-ci")
    assert not (home["home"] / "capstone" / "dev-ci").exists()
    assert "capstone.ci.telemetry" not in reset["topics"]


def test_the_cluster_run_survives_a_lost_worker_with_the_local_runs_gold(home, dev, cluster_run, cu):
    # the topic was deleted by reset and replayed afresh: the same events, the same count
    assert cluster_run["produced"] == dev["produced"]
    _exactly_once(cluster_run, home["home"])
    for name in ("bronze.telemetry", "silver.telemetry", "gold.machine_hour_features", "gold.daily_sales"):
        local, remote = dev["layers"][name], cluster_run["layers"][name]
        print(f"{name}: local {local['rows']:,} rows, cluster {remote['rows']:,} rows")
        if name.startswith("bronze"):
            continue  # Kafka's timestamps and offsets differ between two replays; the payloads do not
        assert remote["rows"] == local["rows"] and remote["digest"] == local["digest"], name
    for what, took in home["times"].items():
        print(f"{what}: {took:.1f} s = {took / cu:.1f} c.u. (1 c.u. = {cu:.1f} s)")


def test_the_run_over_spark_connect_has_the_local_runs_gold(home, dev, connect_run, cu):
    # silver's batches really ran on the server: its foreachBatch worker says so in the server's log
    assert "Streaming ForeachBatch worker Completed batch 0" in connect_run["log"]
    assert connect_run["produced"] == dev["produced"]
    _exactly_once(connect_run, home["home"])
    for name in ("silver.telemetry", "gold.machine_hour_features", "gold.daily_sales"):
        local, remote = dev["layers"][name], connect_run["layers"][name]
        assert remote["rows"] == local["rows"] and remote["digest"] == local["digest"], name
    took = home["times"]["prod over Spark Connect"]
    print(f"prod over Spark Connect: {took:.1f} s = {took / cu:.1f} c.u.")
