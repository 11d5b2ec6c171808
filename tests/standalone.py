"""A Spark standalone cluster on 127.0.0.1 from pip's pyspark (its own bin/spark-class): one master, N workers.

Used by tests/test_cluster.py, tests/test_capstone_faults.py and benchmarks/capstone.py. Each
worker is its own JVM (spark-class execs java, so the Popen's pid is the JVM's): a drill can
SIGKILL one and the master sees a worker lost, as on a real cluster.

    with standalone(tmp, workers=2) as cluster:
        env["LAB_SPARK_MASTER"] = cluster.master
        ...
        os.kill(cluster.workers[0].pid, signal.SIGKILL)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lablib import jvm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass
class Cluster:
    master: str  # spark://127.0.0.1:port
    logs: Path
    master_proc: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)


@contextlib.contextmanager
def standalone(logs: Path, workers: int = 1, cores: int = 2, memory: str = "1g"):
    """Start a master and ``workers`` workers (``cores`` and ``memory`` each); stop them all on exit."""
    spark_class = str(jvm.pyspark_home() / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    logs.mkdir(parents=True, exist_ok=True)
    # SPARK_LOCAL_IP: the master's and worker's web UIs bind every interface without it
    env = {**os.environ, "SPARK_LOG_DIR": str(logs), "SPARK_WORKER_DIR": str(logs / "work"),
           "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(jvm.pyspark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_DAEMON_MEMORY": "256m"}  # the master and workers only schedule; executors get `memory`

    def launch(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "w") as out:
            return subprocess.Popen([spark_class, *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)

    master = launch("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(port), "--webui-port", str(ui))
    cluster = Cluster(f"spark://127.0.0.1:{port}", logs, master)
    try:
        wait_port(port)
        for i in range(workers):
            wui = free_port()
            cluster.workers.append(launch(f"worker{i}", "org.apache.spark.deploy.worker.Worker", cluster.master,
                                          "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                                          "--webui-port", str(wui), "--work-dir", str(logs / f"work{i}")))
            wait_port(wui)
        yield cluster
    finally:
        for p in [*cluster.workers, master]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in [*cluster.workers, master]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
