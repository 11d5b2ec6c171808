"""LAB_SPARK_MASTER points the same code at a real standalone Spark cluster.

pip's pyspark ships bin/spark-class, which runs a real Master and Worker on
localhost; the session must ship the Delta jars to the cluster's executors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from standalone import free_port, standalone


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with standalone(tmp_path_factory.mktemp("cluster")) as running:
        yield running.master


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
    env = {**os.environ, "LAB_SPARK_MASTER": f"spark://127.0.0.1:{free_port()}", "LAB_HOME": str(tmp_path)}
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "LabError: cannot reach the Spark master at spark://127.0.0.1:" in proc.stdout, proc.stdout
    assert time.time() - started < 20
