"""LAB_SPARK_MASTER points the same code at a real standalone Spark cluster.

pip's pyspark ships bin/spark-class, which runs a real Master and Worker on
localhost; the session must ship the Delta jars to the cluster's executors.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from lablib import jvm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    spark_class = str(jvm.pyspark_home() / "bin" / "spark-class")
    port, ui, wui = _free_port(), _free_port(), _free_port()
    logs = tmp_path_factory.mktemp("cluster")
    # SPARK_LOCAL_IP: the master's and worker's web UIs bind every interface without it
    env = {**os.environ, "SPARK_LOG_DIR": str(logs), "SPARK_WORKER_DIR": str(logs / "work"),
           "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(jvm.pyspark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
    procs = [subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(ui)],
                              stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)]
    try:
        _wait_port(port)
        procs.append(subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker",
                                       f"spark://127.0.0.1:{port}", "--host", "127.0.0.1", "--cores", "2",
                                       "--memory", "1g", "--webui-port", str(wui)],
                                      stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True))
        _wait_port(wui)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for p in procs:
            os.killpg(p.pid, 15)
        for p in procs:
            p.wait(timeout=30)


def test_delta_on_a_standalone_cluster(cluster, tmp_path):
    code = (
        "import lablib\n"
        "spark = lablib.spark()\n"
        "p = str(lablib.workdir('00') / 'cluster')\n"
        "spark.range(1000).selectExpr('id', 'id % 10 AS k').write.format('delta').save(p)\n"
        "print(spark.sparkContext.master, spark.read.format('delta').load(p).where('k = 3').count())\n"
    )
    env = {**os.environ, "LAB_SPARK_MASTER": cluster, "LAB_HOME": str(tmp_path / "home"),
           "LAB_DRIVER_MEMORY": "512m"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == f"{cluster} 100"


def test_an_unreachable_master_is_one_clear_error(tmp_path):
    code = ("import lablib\ntry:\n    lablib.spark()\nexcept lablib.LabError as e:\n    print('LabError:', e)\n")
    env = {**os.environ, "LAB_SPARK_MASTER": f"spark://127.0.0.1:{_free_port()}", "LAB_HOME": str(tmp_path)}
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "LabError: cannot reach the Spark master at spark://127.0.0.1:" in proc.stdout, proc.stdout
    assert time.time() - started < 20
