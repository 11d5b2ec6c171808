"""Two LAB_HOMEs on one machine: each has its own services on its own ports, and neither uses,
resets or stops the other's.

1. One after the other: home A has run chapter 05 (nbval's run, or one made here) and its broker
   and registry run. `lab run 05` in a fresh home B passes on B's own services and stops the one
   it started (B's registry, up before the run, keeps running); A's topics and subjects are as they
   were, and `lab status --all` lists both homes' services.
2. At the same time: both homes' Kafka, registry and MLflow run together; a client in each home
   produces, consumes, tracks and registers under the same chapter names at once; a reset in B
   clears B's and leaves A's alone.

Before homes were isolated, B used A's broker (it answered on 127.0.0.1:9092) and failed at its
8th cell with TOPIC_ALREADY_EXISTS, or, had its reset run, deleted A's topics.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from homes import FIRST_RUN_MARK, notebook_home

from lablib import config, ports
from lablib.services import SERVICES, _process, reset_chapter, running

pytestmark = [pytest.mark.services, pytest.mark.notebook]

EXTERNAL = ("KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "SCHEMA_REGISTRY_URL")


def env_of(home: Path) -> dict[str, str]:
    """A process in ``home``: its ports from its own record (no LAB_*_PORT), embedded services."""
    env = {k: v for k, v in os.environ.items() if k not in (*config.PORT_VARIABLES.values(), *EXTERNAL, "CI")}
    return {**env, "LAB_HOME": str(home), "LAB_SCALE": "ci"}


def lab(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env_of(home))


def snapshot(home: Path, prefix: str) -> dict:
    """Topics (messages per topic), subjects (latest schema's name) and experiments (their runs' "home"
    parameter) of a chapter, read from the home's own services without starting any."""
    import requests
    from confluent_kafka import Consumer, TopicPartition
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as mp:
        for name in (*config.PORT_VARIABLES.values(), *EXTERNAL):
            mp.delenv(name, raising=False)
        mp.setenv("LAB_HOME", str(home))
        up = running()
        seen: dict = {"topics": {}, "subjects": {}, "experiments": {}}
        if "kafka" in up:
            consumer = Consumer({"bootstrap.servers": SERVICES["kafka"].address(), "group.id": "ch00-snapshot"})
            for topic, meta in consumer.list_topics(timeout=10).topics.items():
                if topic.startswith(f"{prefix}."):
                    seen["topics"][topic] = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                                                for p in meta.partitions)
            consumer.close()
        if "registry" in up:
            url = SERVICES["registry"].address()
            for subject in requests.get(f"{url}/subjects", timeout=10).json():
                if subject.startswith(f"{prefix}."):
                    latest = requests.get(f"{url}/subjects/{subject}/versions/latest", timeout=10).json()
                    seen["subjects"][subject] = json.loads(latest["schema"]).get("name")
        if "mlflow" in up:
            client = MlflowClient(SERVICES["mlflow"].address())
            for exp in client.search_experiments(filter_string=f"name LIKE '{prefix}-%'"):
                runs = client.search_runs([exp.experiment_id])
                seen["experiments"][exp.name] = sorted(r.data.params.get("home", "") for r in runs)
    return seen


@pytest.fixture(scope="module")
def home_a():
    """Home A: chapter 05's nbval home (run here first when nbval did not run it), its broker and registry up."""
    # svc.external(), not the variables: an earlier test's mlflow.set_tracking_uri() exports this
    # home's own embedded address as MLFLOW_TRACKING_URI, which is no external service (until
    # stop 42 that skipped both tests in every full run)
    if any(svc.external() is not None for svc in SERVICES.values()):
        pytest.skip("external services are shared on purpose")
    home = notebook_home("solutions/05_kafka.ipynb")
    if not (home / FIRST_RUN_MARK).exists():
        home.mkdir(parents=True, exist_ok=True)
        first = lab(home, "run", "05", "--scale", "ci", timeout=900)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    up = lab(home, "up", "kafka", "registry")
    assert up.returncode == 0, up.stderr
    yield home
    lab(home, "down", "all")


def test_a_second_home_runs_05_beside_the_first_and_leaves_it_alone(home_a, tmp_path):
    before = snapshot(home_a, "ch05")
    assert "ch05.telemetry" in before["topics"] and "ch05.readings-value" in before["subjects"], before
    home_b = tmp_path / "home b"
    home_b.mkdir()
    pre = lab(home_b, "up", "registry")  # as a learner's `make lab` would have it: up before the run
    assert pre.returncode == 0, pre.stderr
    a_ports, b_ports = ports.recorded(home_a), ports.recorded(home_b)
    assert not set(a_ports.values()) & set(b_ports.values()), (a_ports, b_ports)

    began = time.monotonic()
    run = lab(home_b, "run", "05", "--scale", "ci", timeout=900)
    seconds = time.monotonic() - began
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    print(f"05 in home B beside home A: {seconds:.0f} s")
    assert "stopped the services this run started: kafka (still running from before: registry)" in run.stdout
    # B's own broker, started by 05's reset (in the background), at B's address
    executed = (home_b / "runs" / "solutions" / "05_kafka.ipynb").read_text()
    assert "reset chapter 05: (Kafka broker starting in the background)" in executed
    assert f"listeners = [PLAINTEXT://127.0.0.1:{b_ports['kafka']}," in (home_b / "logs" / "kafka.log").read_text()

    states = {line.split()[0]: line.split()[1] for line in lab(home_b, "status").stdout.splitlines()[1:4]}
    assert states == {"kafka": "stopped", "registry": "running", "mlflow": "stopped"}
    assert snapshot(home_a, "ch05") == before  # A's broker and registry: up, and untouched
    everywhere = lab(home_b, "status", "--all").stdout
    for home, name, port in ((home_a, "kafka", a_ports["kafka"]), (home_a, "registry", a_ports["registry"]),
                             (home_b, "registry", b_ports["registry"])):
        assert re.search(rf"^{re.escape(str(home))} +{name} +running +\S*127\.0\.0\.1:{port}\b", everywhere, re.M), \
            everywhere
    assert not re.search(rf"^{re.escape(str(home_b))} +kafka ", everywhere, re.M)
    lab(home_b, "down", "all")


CLIENT = textwrap.dedent("""
    import json, sys, time
    import mlflow, requests
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    import lablib
    from lablib.services import reset_chapter

    me, topic = sys.argv[1], "ch98.homes"
    reset_chapter("98")  # what an earlier run of this test left in this home
    admin = AdminClient(lablib.kafka_config())
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    producer = Producer(lablib.kafka_config(enable_idempotence=True))
    for i in range(500):
        producer.produce(topic, key=str(i % 10), value=f"{me}-{i}")
    assert producer.flush(30) == 0
    consumer = Consumer(lablib.kafka_config(group_id="ch98-homes", auto_offset_reset="earliest"))
    consumer.subscribe([topic])
    values, deadline = [], time.monotonic() + 60
    while len(values) < 500 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            values.append(msg.value().decode())
    consumer.close()
    mlflow.set_tracking_uri(lablib.mlflow_uri())
    mlflow.set_experiment("ch98-homes")
    with mlflow.start_run():
        mlflow.log_param("home", me)
    schema = {"type": "record", "name": f"From{me}", "fields": [{"name": "x", "type": "string"}]}
    requests.post(f"{lablib.registry_url()}/subjects/{topic}-value/versions", timeout=10,
                  json={"schema": json.dumps(schema), "schemaType": "AVRO"}).raise_for_status()
    print(json.dumps({"consumed": len(values), "mine": sum(v.startswith(me + "-") for v in values),
                      "bootstrap": lablib.kafka_config()["bootstrap.servers"]}))
""")


def test_two_homes_at_once_each_with_its_own_topics_experiments_and_subjects(home_a, tmp_path, monkeypatch):
    home_b = tmp_path / "home b"
    home_b.mkdir()
    a_before = running_in(home_a)
    ups = [subprocess.Popen([sys.executable, "-m", "lablib.cli", "up", "all"], env=env_of(home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for home in (home_a, home_b)]
    outs = [p.communicate(timeout=300)[0] for p in ups]
    assert [p.returncode for p in ups] == [0, 0], outs
    try:
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, name], env=env_of(home), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
                   for name, home in (("A", home_a), ("B", home_b))]
        results = [p.communicate(timeout=300) for p in clients]
        assert [p.returncode for p in clients] == [0, 0], [err[-2000:] for _, err in results]
        a, b = (json.loads(out.strip().splitlines()[-1]) for out, _ in results)
        assert a["consumed"] == a["mine"] == 500 and b["consumed"] == b["mine"] == 500, (a, b)
        assert a["bootstrap"] != b["bootstrap"]

        a_seen = snapshot(home_a, "ch98")
        for seen, me in ((a_seen, "A"), (snapshot(home_b, "ch98"), "B")):
            assert seen == {"topics": {"ch98.homes": 500}, "subjects": {"ch98.homes-value": f"From{me}"},
                            "experiments": {"ch98-homes": [me]}}
        monkeypatch.setenv("LAB_HOME", str(home_b))
        for name in (*config.PORT_VARIABLES.values(), *EXTERNAL):
            monkeypatch.delenv(name, raising=False)
        removed = reset_chapter("98")
        assert {"topic ch98.homes", "experiment ch98-homes", "subject ch98.homes-value"} <= set(removed), removed
        assert snapshot(home_b, "ch98") == {"topics": {}, "subjects": {}, "experiments": {}}
        assert snapshot(home_a, "ch98") == a_seen  # B's reset never reached A's services
        monkeypatch.setenv("LAB_HOME", str(home_a))
        reset_chapter("98")
    finally:
        lab(home_b, "down", "all")
        started_here = {"kafka", "registry", "mlflow"} - a_before
        if started_here:
            lab(home_a, "down", *sorted(started_here))


def running_in(home: Path) -> set[str]:
    return {name for name in SERVICES if (r := _process.read_pid(name, home)) and _process.is_alive(r)}
