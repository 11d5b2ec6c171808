"""SPARK_REMOTE attaches lablib.spark() to a real Spark Connect server: `lab up connect` starts one
from pip's pyspark (its own SparkConnectServer jar) with the course's Delta jars, on 127.0.0.1.

One server for the module (a Spark driver: ~20-30 s to start); a chapter that needs the classic
session says so in one sentence at its lablib.reset.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest

from lablib import config, over_connect
from tests.homes import fresh_process_env

LAB = [sys.executable, "-m", "lablib.cli"]


def _env(home, **extra) -> dict[str, str]:
    return fresh_process_env(home, drop=("LAB_SPARK_GATEWAY", "SPARK_REMOTE", "LAB_SPARK_MASTER", "LAB_CONNECT_PORT"),
                             **extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("connect") / "home connect"  # a space, as the notebook homes have
    env = _env(home)
    up = subprocess.run([*LAB, "up", "connect"], capture_output=True, text=True, env=env, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        port = subprocess.run([*LAB, "port", "connect"], capture_output=True, text=True, env=env,
                              timeout=60).stdout.strip()
        assert f"attach a notebook with SPARK_REMOTE=sc://127.0.0.1:{port}" in up.stdout, up.stdout
        yield home, f"sc://127.0.0.1:{port}"
    finally:
        subprocess.run([*LAB, "down", "connect"], capture_output=True, text=True, env=env, timeout=120)


_JOB = r"""
import json, lablib
spark = lablib.spark()
path = str(lablib.workdir("10") / "over connect")
orders = spark.range(1000).selectExpr("id", "id % 7 AS shop")
orders.write.format("delta").mode("overwrite").save(path)
spark.sql(f"DELETE FROM delta.`{path}` WHERE shop = 0")
back = spark.read.format("delta").load(path)
out = {"session": type(spark).__module__, "rows": back.count(),
       "shops": [r.shop for r in back.select("shop").distinct().orderBy("shop").collect()],
       "versions": spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count(),
       "server_sees": spark.conf.get("spark.sql.extensions")}
lablib.reset("07")  # a chapter that runs over Connect: no refusal
try:
    lablib.reset("03")
except lablib.LabError as e:
    out["refused"] = str(e)
try:
    lablib.reset("05")
except lablib.LabError as e:
    out["refused 05"] = str(e)
print(json.dumps(out))
"""


def test_a_dataframe_job_and_delta_over_connect(server):
    home, remote = server
    proc = subprocess.run([sys.executable, "-c", _JOB], capture_output=True, text=True,
                          env=_env(home, SPARK_REMOTE=remote), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["session"].startswith("pyspark.sql.connect"), out  # a Connect client, not a local JVM
    assert out["rows"] == 1000 - 143 and out["shops"] == [1, 2, 3, 4, 5, 6]
    assert out["versions"] == 2  # the write and the DELETE, committed by Delta on the server
    assert out["server_sees"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert out["refused"] == (
        "chapter 03 (03a, 03b, 03c) cannot run over Spark Connect (SPARK_REMOTE is set): it uses Delta's "
        "DeltaTable API and lablib.measure (the Spark UI's job metrics), which a Connect session does not "
        "offer here; unset SPARK_REMOTE to run it on the local session")
    assert out["refused 05"] == (
        "chapter 05 cannot run over Spark Connect (SPARK_REMOTE is set): its Kafka stream stopped mid-batch "
        "(the exactly-once exercise) hung over Connect when tried; unset SPARK_REMOTE to run it on the local session")


def test_the_server_listens_on_loopback_only(server):
    _, remote = server
    port = int(remote.rsplit(":", 1)[1])
    lines = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout.split("\n")
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in lines if line.strip()}
    assert addresses and addresses <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, addresses


def test_a_taken_port_is_one_sentence(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([*LAB, "up", "connect"], capture_output=True, text=True, timeout=120,
                              env=_env(tmp_path / "home", LAB_CONNECT_PORT=str(port)))
    assert proc.returncode != 0
    assert f"cannot start connect: port {port} on 127.0.0.1 (LAB_CONNECT_PORT) is taken by" in proc.stdout + proc.stderr


def test_lab_up_alone_does_not_start_connect():
    from lablib.services import by_name

    assert "connect" not in [svc.name for svc in by_name("all")]
    assert [svc.name for svc in by_name(["connect"])] == ["connect"]


def test_the_classic_only_list_is_what_the_notebooks_use():
    """Each solution's code cells against Connect's gaps: FROM_CODE in lablib/over_connect.py is exact."""
    # Delta's Spark DeltaTable lives in delta.tables; deltalake's DeltaTable (delta-rs) needs no Spark at all
    gaps = {"Delta's DeltaTable API": r"\bdelta\.tables\b", "the SparkContext (an RDD)": r"\bsparkContext\b|\.rdd\b",
            "lablib.measure (the Spark UI's job metrics)": r"\blablib\.measure\b"}
    found: dict[str, dict[str, list[str]]] = {}
    for path in sorted((config.REPO / "solutions").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        uses = [name for name, pattern in gaps.items() if re.search(pattern, code)]
        part = path.name.split("_", 1)[0]
        if uses:
            found.setdefault(part[:2], {})[part] = uses
    listed = {ch: {p: sorted(u) for p, u in parts.items()} for ch, parts in over_connect.FROM_CODE.items()}
    assert {ch: {p: sorted(u) for p, u in parts.items()} for ch, parts in found.items()} == listed


def test_what_was_tried_decides_each_chapters_answer():
    """Failed when tried (05, 09, 10): one sentence; passed when tried (07, 08, 11, 12): no refusal."""
    for chapter in ("05", "09", "10"):
        why = over_connect.refusal(chapter)
        assert why and why.startswith(f"chapter {chapter} cannot run over Spark Connect (SPARK_REMOTE is set): ")
        assert why.endswith("unset SPARK_REMOTE to run it on the local session")
    assert "OpenLineage listener" in over_connect.refusal("10")
    for chapter in ("07", "08", "11", "12"):
        assert over_connect.refusal(chapter) is None, chapter
