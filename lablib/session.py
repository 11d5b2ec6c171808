"""The one SparkSession of a notebook: Delta-enabled, local jars, sized for a laptop.

On the face as ``lablib.spark()`` and ``lablib.spark_conf()``. :func:`spark` builds it once; a second call returns the same session. By
default Spark runs ``local[*]`` with the jars that ``lab setup`` resolved;
``LAB_SPARK_MASTER`` (spark://host:7077) or ``SPARK_REMOTE`` (sc://host:15002)
point the same notebooks at a real cluster.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from lablib import jvm, ports, write_errors
from lablib.config import ensure_dir, settings, spark_gateway
from lablib.errors import LabError
from lablib.jvm import cds
from lablib.jvm.patches import LOCAL_FS_CONF, local_fs_patch

_LOG4J = Path(__file__).resolve().parent / "jvm" / "log4j2-quiet.properties"


def java_version() -> int | None:
    """Major version of the `java` Spark will use, or None when there is none."""
    java = jvm.java_path()
    if java is None:
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=20).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 else major


def require_java() -> int:
    version = java_version()
    if version is None:
        raise LabError(
            "Java not found: install a Java 17 runtime (e.g. `apt-get install openjdk-17-jdk-headless`) "
            "or set JAVA_HOME"
        )
    if version < 17:
        raise LabError(
            f"Java {version} is too old for Spark 4: install Java 17 or newer and set JAVA_HOME to it"
        )
    return version


def _free_port(start: int, tries: int = 32) -> int:
    for port in range(start, start + tries):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return start


def _reachable(url: str, default_port: int, timeout: float = 5.0) -> bool:
    """Can we open a TCP connection to any host:port of a spark:// or sc:// URL?"""
    rest = url.split("://", 1)[-1].split("/", 1)[0].split(";", 1)[0]
    for hostport in rest.split(","):
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", str(default_port))
        try:
            with socket.create_connection((host or "127.0.0.1", int(port or default_port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def _on_loopback(master: str) -> bool:
    """Spark runs on this machine only: local mode, or a standalone master on 127.0.0.1/localhost."""
    if master.startswith("local"):
        return True
    hosts = master.split("://", 1)[-1].split("/", 1)[0]
    return all((h.rpartition(":")[0] or h) in ("127.0.0.1", "localhost", "[::1]") for h in hosts.split(","))


def driver_jars() -> list[Path]:
    """The jars a local driver puts on its classpath besides pyspark's own (`lab setup` resolves them)."""
    spark_jars = jvm.jars("spark")
    if jvm.is_resolved("lineage"):
        # on the classpath only: the OpenLineage listener is registered where a chapter asks for it
        # (lablib.lineage.capture), so other sessions pay nothing and emit nothing
        # (its one-class patch first: it quotes table paths holding a space, see lablib/jvm/patches.py)
        from lablib.jvm.patches import lineage_patch

        patch = lineage_patch()
        spark_jars = [*spark_jars, *([patch] if patch else []), *jvm.jars("lineage")]
    local_fs = local_fs_patch()  # Hadoop's file: without a process per created file (lablib/jvm/patches.py)
    return [*spark_jars, *([local_fs] if local_fs else [])]


def _local_conf() -> dict[str, str]:
    cfg = settings()
    spark_jars = driver_jars()
    ensure_dir(cfg.warehouse)
    ensure_dir(cfg.checkpoints)
    ensure_dir(cfg.logs)
    classpath = os.pathsep.join(str(p) for p in spark_jars)
    # quoted: LAB_HOME may contain spaces
    # C1 only: lab jobs are short, and on 2 cores the C2 compiler's CPU costs more than it
    # gives back (a session + small Delta round trip: 42 s -> 31 s wall on this machine).
    # C1-only shrinks the code cache to 48 MB, which Spark's generated code overflows
    # ("Out of space in CodeCache"): give it the tiered default back.
    # The shared JVM (lablib/shared_jvm.py) lives for minutes, yet C2 did not pay there either: CI's
    # course came out even and 00 paid +7 s for its compiling (benchmarks/PROFILE.md, 2026-12-04).
    # The JVM's own zone is UTC, as the session's is: Delta 4.4 checks its commit checksum with a full
    # state reconstruction after every commit when the JVM's zone is not UTC (it cannot trust old
    # timestamps written there): up to two more Spark jobs per commit for a learner outside UTC.
    java_opts = (
        "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -Duser.timezone=UTC "
        f"-Dlog4j.configurationFile={_LOG4J.as_uri()} "
        f"'-Dlab.log.dir={cfg.logs}' '-Dderby.system.home={cfg.home / 'derby'}'"
    )
    conf = {
        "spark.master": cfg.spark_master,
        "spark.app.name": "mega-awesome-toys-lab",
        # Delta Lake
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # the jars lab setup resolved: on the driver's classpath (local mode) ...
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": classpath,
        # everything under LAB_HOME
        "spark.sql.warehouse.dir": str(cfg.warehouse),  # a plain path: a file: URI with %20 becomes a literal "%20" folder
        # a 2-core laptop, not a cluster
        "spark.driver.memory": cfg.driver_memory,
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.default.parallelism": str(max(2, os.cpu_count() or 2)),
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.debug.maxToStringFields": "200",
        "spark.ui.port": str(_free_port(ports.port("spark_ui"))),  # this home's, then the next free one
        "spark.ui.killEnabled": "false",  # the UI shows jobs; stopping them is the notebook's business
        "spark.port.maxRetries": "32",
        # the driver maps Spark's classes from the archive `lab setup` recorded (lablib/jvm/cds.py);
        # executors start from a worker's classpath, which the archive does not match
        "spark.driver.extraJavaOptions": f"{java_opts} {cds.java_options(spark_jars)}".strip(),
        "spark.executor.extraJavaOptions": java_opts,
        # open tables for every Delta reader: INT96 (Spark's default) is deprecated in Parquet and
        # read as nanoseconds by delta-rs/pyarrow, where 9999-12-31 (an SCD2 "forever") overflows
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # vectorised Python <-> JVM transfer for toPandas / createDataFrame(pandas)
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if local_fs_patch() in spark_jars:  # its classes serve file: paths (lablib/jvm/patches.py)
        conf.update(LOCAL_FS_CONF)
    if _on_loopback(cfg.spark_master):
        # the driver's RPC and block manager listen here; executors (if any) run on this machine too
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    if not cfg.spark_master.startswith("local"):
        # ... and shipped to a cluster's executors
        conf["spark.jars"] = ",".join(p.as_uri() for p in spark_jars)
    return conf


_session = None


def spark():
    """The notebook's SparkSession (built on the first call, reused after)."""
    global _session
    from pyspark.sql import SparkSession

    if _session is not None and _is_alive(_session):
        return _session
    cfg = settings()
    # handed on to Spark's Python workers (a write for child processes, not a setting read)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if cfg.spark_remote:
        if not _reachable(cfg.spark_remote, 15002):
            raise LabError(
                f"cannot reach Spark Connect at {cfg.spark_remote} (SPARK_REMOTE); start the server "
                "or unset SPARK_REMOTE to run Spark locally"
            )
        try:
            _session = SparkSession.builder.remote(cfg.spark_remote).getOrCreate()
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            raise LabError(
                f"cannot reach Spark Connect at {cfg.spark_remote} ({type(exc).__name__}); "
                "start the server or unset SPARK_REMOTE"
            ) from None
        return _session
    require_java()
    if _on_loopback(cfg.spark_master):
        # Spark's web UI binds every interface unless SPARK_LOCAL_IP names one (spark.driver.bindAddress
        # covers the RPC and block manager only); the JVM that PySpark starts next inherits it
        os.environ["SPARK_LOCAL_IP"] = cfg.spark_local_ip
    if cfg.spark_master.startswith("spark://") and not _reachable(cfg.spark_master, 7077):
        raise LabError(
            f"cannot reach the Spark master at {cfg.spark_master} (LAB_SPARK_MASTER); start the "
            "cluster or unset LAB_SPARK_MASTER to run Spark locally"
        )
    conf = _local_conf()
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        _launch_gateway(conf)
        _session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001
        raise LabError(_diagnose(exc, cfg)) from None
    _session.sparkContext.setLogLevel("WARN")
    write_errors.install()  # in a notebook: a write the disk refuses reads as one sentence
    return _session


#: what the JVM prints on stderr that a learner can do nothing about (Spark 4's launcher always adds
#: --add-modules=jdk.incubator.vector, and the JVM announces it in red in the first Spark cell)
_JVM_NOISE = (b"WARNING: Using incubator modules",)


def _forward_jvm_stderr(stream) -> None:
    for line in iter(stream.readline, b""):
        if not line.startswith(_JVM_NOISE):
            sys.stderr.write(line.decode(errors="replace"))
            sys.stderr.flush()


def _launch_gateway(conf: dict[str, str]) -> None:
    """Start PySpark's JVM with its stderr through a filter (the same launch the builder would make,
    with the same settings); a thread passes on everything but :data:`_JVM_NOISE`."""
    import threading

    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return
    shared = spark_gateway()
    if shared is not None:  # a warm JVM another process started (lablib/shared_jvm.py): attach to it
        os.environ["PYSPARK_GATEWAY_PORT"], os.environ["PYSPARK_GATEWAY_SECRET"] = str(shared[0]), shared[1]
        try:
            gateway = launch_gateway()
        finally:
            del os.environ["PYSPARK_GATEWAY_PORT"], os.environ["PYSPARK_GATEWAY_SECRET"]
        SparkContext._gateway = gateway
        SparkContext._jvm = gateway.jvm
        return
    gateway = launch_gateway(SparkConf(loadDefaults=False).setAll(conf.items()),
                             popen_kwargs={"stderr": subprocess.PIPE})
    threading.Thread(target=_forward_jvm_stderr, args=(gateway.proc.stderr,), name="lablib-jvm-stderr",
                     daemon=True).start()
    SparkContext._gateway = gateway
    SparkContext._jvm = gateway.jvm


def _is_alive(session) -> bool:
    try:
        if settings().spark_remote:  # a Connect session has no SparkContext
            return not session.is_stopped
        return session.sparkContext._jsc is not None and not session.sparkContext._jsc.sc().isStopped()
    except Exception:  # noqa: BLE001
        return False


def _diagnose(exc: Exception, cfg) -> str:
    text = str(exc)
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        return (
            "the Spark JVM exited while starting; check Java 17 (`lab doctor`) and the jars "
            f"(`lab setup`); master was {cfg.spark_master}"
        )
    if cfg.spark_master.startswith("spark://"):
        return f"cannot start a session on {cfg.spark_master}: {text.splitlines()[0]}; is the master up?"
    # a Py4J error's first line only names the call; the JVM's own reason is the exception line after it
    found = re.search(r"^[\s:]*([\w.$]+(?:Exception|Error): .*)$", text, re.M)
    reason = found.group(1).strip() if found else (text.splitlines()[0] if text else type(exc).__name__)
    return f"Spark failed to start: {reason}"


def stop() -> None:
    """Stop the session (a later :func:`spark` builds a new one)."""
    global _session
    from pyspark.sql import SparkSession

    active = _session or SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    _session = None


def ui_url() -> str | None:
    """Address of the Spark UI of the current session (local mode), else None."""
    if _session is None or settings().spark_remote:
        return None
    return _session.sparkContext.uiWebUrl


@contextlib.contextmanager
def spark_conf(values: dict):
    """Spark SQL settings for the length of a ``with`` block; the previous values come back after.

        with lablib.spark_conf({"spark.sql.adaptive.enabled": False}):
            ...
    """
    session = spark()
    before = {key: session.conf.get(key, None) for key in values}
    try:
        for key, value in values.items():
            session.conf.set(key, str(value))
        yield
    finally:
        for key, value in before.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)
