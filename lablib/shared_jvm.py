"""One warm Spark JVM for notebooks that run one after another (CI's solution notebooks).

A notebook's first Spark cells pay for a JVM of its own: the process starts, loads Spark's and
Delta's classes, and compiles the code of a first job and a first Delta commit. That is most of a
calibration unit (about 11 s of it here), paid again by every notebook. Notebooks run one after
another can share one JVM instead: :class:`SharedJVM` starts it with the lab's settings, a kernel
given :meth:`SharedJVM.env` attaches to it (``lablib.session``, through LAB_SPARK_GATEWAY) and builds
its *own* SparkContext there, from its own LAB_HOME's settings (warehouse, UI port, checkpoints),
and :meth:`SharedJVM.release` stops that context (and its streaming queries) before the next
notebook attaches. Measured here (benchmarks/shared_jvm.py, median of 3): session + first job +
first Delta write 11.8 s of process wall in a JVM of its own, 1.4 s attached to a warm one.

A learner's kernel is unchanged: without LAB_SPARK_GATEWAY it starts its own JVM, as the blank labs
do in CI. Only one kernel at a time may use a shared JVM (Spark allows one SparkContext per JVM).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lablib.config import ensure_dir, settings
from lablib.session import _local_conf, _on_loopback

VARIABLE = "LAB_SPARK_GATEWAY"


class SharedJVM:
    """A Spark JVM started once and lent to one kernel at a time; ``close()`` (or this process's exit,
    which closes the JVM's stdin) ends it."""

    def __init__(self, log: Path | None = None):
        self._gateway = None
        self._log = log or ensure_dir(settings().logs) / "shared-jvm.log"
        self.starts = 0  # how many JVMs it took (a second one only after the first died)

    def _alive(self) -> bool:
        return self._gateway is not None and self._gateway.proc.poll() is None

    def _start(self) -> None:
        from pyspark import SparkConf
        from pyspark.java_gateway import launch_gateway

        self.close()
        cfg = settings()
        if _on_loopback(cfg.spark_master):  # the same launch lablib.spark() makes, on loopback as it binds
            os.environ["SPARK_LOCAL_IP"] = cfg.spark_local_ip
        with open(self._log, "ab") as log:
            self._gateway = launch_gateway(SparkConf(loadDefaults=False).setAll(_local_conf().items()),
                                           popen_kwargs={"stdout": log, "stderr": log})
        self.starts += 1

    def env(self) -> dict[str, str]:
        """The variable a kernel needs to attach (the JVM is started, or started again, first)."""
        if not self._alive():
            self._start()
        # PySpark connects as a ClientServer (pinned threads, its default) or a JavaGateway
        params = getattr(self._gateway, "java_parameters", None) or self._gateway.gateway_parameters
        return {VARIABLE: f"{params.port}:{params.auth_token}"}

    def release(self) -> None:
        """Stop whatever a kernel left in the JVM: its streaming queries, a Spark Connect server it
        started (lablib.ci.spark_connect), its SparkContext; the next kernel starts from a JVM with
        no SparkContext (Spark allows one per JVM). Each step is written to the JVM's log."""
        if not self._alive():
            return
        try:
            self._note(f"released: {self._stop_context() or 'nothing was running'}")
        except Exception as exc:  # noqa: BLE001 - a JVM that cannot be cleaned is replaced: env() starts one
            self._note(f"could not release ({type(exc).__name__}: {str(exc).splitlines()[0][:300]}); "
                       "replaced by a new JVM")
            self.close()

    def _note(self, line: str) -> None:
        with open(self._log, "a") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} lablib.shared_jvm: {line}\n")

    def _stop_context(self) -> str:
        jvm = self._gateway.jvm
        stopped = []
        default = jvm.org.apache.spark.sql.classic.SparkSession.getDefaultSession()
        if default.isDefined():
            for query in default.get().streams().active():
                query.stop()
                stopped.append("a streaming query")
        # a Connect server outlives its SparkContext (its periodic checks then fail on every tick)
        connect = getattr(getattr(jvm.org.apache.spark.sql.connect.service, "SparkConnectService$"), "MODULE$")
        if connect.started():
            connect.stop(getattr(connect, "stop$default$1")(), getattr(connect, "stop$default$2")())
            stopped.append("a Spark Connect server")
        # SparkContext.getActive is private[spark]: public in bytecode, on the companion object only
        active = getattr(getattr(jvm.org.apache.spark, "SparkContext$"), "MODULE$").getActive()
        if active.isDefined():
            stopped.append(f"SparkContext {active.get().applicationId()}")
            active.get().stop()
        jvm.org.apache.spark.sql.classic.SparkSession.clearDefaultSession()
        jvm.org.apache.spark.sql.classic.SparkSession.clearActiveSession()
        return ", ".join(stopped)

    def close(self) -> None:
        if self._gateway is None:
            return
        proc = self._gateway.proc
        try:
            self._gateway.shutdown()
        except Exception:  # noqa: BLE001 - a JVM that already died has nothing to shut down
            pass
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        self._gateway = None
