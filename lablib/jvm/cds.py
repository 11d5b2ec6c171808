"""A class-data archive for the Spark driver: Spark's classes mapped from one file, not parsed from jars.

Before a notebook's first Delta write, a fresh driver JVM loads and verifies many thousands of
classes from about three hundred jars: much of the first fifteen seconds of every notebook. The
JDK can record the classes a JVM loaded into an archive when it exits (AppCDS, JEP 350:
``-XX:ArchiveClassesAtExit``); a later JVM on the same classpath maps that file instead
(``-XX:SharedArchiveFile``). ``lab setup`` records one archive by running a short, broad Spark
workload (:data:`WORKLOAD`), and :func:`java_options` hands it to every local driver.

The archive is only valid for the JVM and the jars it was recorded with, so its name carries a
digest of both (paths, sizes, modification times): a new JDK, a re-installed pyspark or another jar
on the classpath is a different name, found missing, and the driver simply starts without one until
`lab setup` records it again. ``LAB_CDS=off`` starts without it too: the calibration unit measures a
plain JVM, so a c.u. keeps meaning the same machine work (lablib/calibration.py).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lablib.config import ensure_dir, settings

#: set (to a path) by :func:`record` for the one JVM that writes the archive at its exit (config.py reads it)
RECORD_VAR = "LAB_CDS_RECORD"

# The JVM reports an archive it cannot use (another JDK build, a changed jar) on stdout, into the
# learner's terminal; the digest in the name makes that rare, and these keep it quiet when it happens.
_QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"

#: what the recording JVM runs: the kinds of work the chapters do, so their classes are in the archive
WORKLOAD = r"""
import os, tempfile
import pandas as pd
import lablib
from pyspark.sql import Window, functions as F

spark = lablib.spark()
root = tempfile.mkdtemp(dir=os.environ["LAB_HOME"])
df = spark.range(20_000).withColumn("k", F.col("id") % 7).withColumn("at", F.current_timestamp())
df.groupBy("k").agg(F.sum("id"), F.avg("id"), F.countDistinct("id")).collect()
df.withColumn("n", F.row_number().over(Window.partitionBy("k").orderBy("id"))).filter("n < 3").count()
df.join(df.groupBy("k").count(), "k").count()
path = f"{root}/delta"
df.write.format("delta").partitionBy("k").save(path)
spark.read.format("delta").load(path).count()
from delta.tables import DeltaTable

table = DeltaTable.forPath(spark, path)
(table.alias("t").merge(df.limit(50).withColumn("id", F.col("id") + 19_990).alias("s"), "t.id = s.id")
 .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
table.history().collect()
table.optimize().executeCompaction()
spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()
spark.sql(f"SELECT k, count(*) FROM delta.`{path}` VERSION AS OF 0 GROUP BY k").collect()
spark.sql("CREATE TABLE IF NOT EXISTS lablib_cds USING delta AS SELECT * FROM range(10)")
spark.sql("ALTER TABLE lablib_cds ADD CONSTRAINT positive CHECK (id >= 0)")
spark.table("lablib_cds").count()
for fmt in ("parquet", "json", "csv"):
    df.limit(100).write.mode("overwrite").option("header", True).format(fmt).save(f"{root}/{fmt}")
    spark.read.option("header", True).format(fmt).load(f"{root}/{fmt}").count()
spark.createDataFrame(pd.DataFrame({"a": [1.0, 2.0]})).toPandas()


@F.pandas_udf("double")
def plus_one(s: pd.Series) -> pd.Series:
    return s + 1


df.select(plus_one(F.col("id").cast("double")), F.udf(lambda v: v * 2, "long")("id")).count()
stream = (spark.readStream.format("delta").load(path)
          .withWatermark("at", "1 minute").groupBy(F.window("at", "1 minute"), "k").count())
(stream.writeStream.format("delta").outputMode("append").option("checkpointLocation", f"{root}/cp1")
 .trigger(availableNow=True).start(f"{root}/windows").awaitTermination())
(spark.readStream.format("delta").load(path).writeStream.option("checkpointLocation", f"{root}/cp2")
 .foreachBatch(lambda batch, _: batch.count()).trigger(availableNow=True).start().awaitTermination())
try:  # the connector's classes; no broker is needed to plan a read
    spark.read.format("kafka").option("kafka.bootstrap.servers", "127.0.0.1:9").option("subscribe", "t").load()
except Exception:
    pass
spark.stop()
from pyspark import SparkContext

gateway = SparkContext._gateway
if gateway is not None:  # the JVM writes the archive as it exits, which it does when its stdin closes
    gateway.proc.stdin.close()
    gateway.proc.wait(timeout=900)
"""


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def digest(classpath: list[Path]) -> str | None:
    """What the archive depends on: the JVM, pyspark's jars and the course's, each by path, size and
    modification time. None when there is no `java`."""
    from lablib import jvm

    java = jvm.java_path()
    if java is None:
        return None
    h = hashlib.sha256(_stamp(java.resolve()).encode())  # the binary itself, not a symlink to it
    for jar in sorted((jvm.pyspark_home() / "jars").glob("*.jar")):
        h.update(_stamp(jar).encode())
    for entry in classpath:
        h.update(_stamp(entry).encode())
    return h.hexdigest()[:16]


def folder() -> Path:
    """Where archives live: beside the jars they were recorded from (shared between homes)."""
    return settings().jars / "cds"


def archive(classpath: list[Path]) -> Path | None:
    """The archive for this JVM and classpath (it may not exist yet), or None without `java`."""
    key = digest(classpath)
    return folder() / f"spark-{key}.jsa" if key else None


def java_options(classpath: list[Path]) -> str:
    """The driver's JVM options for the archive: record it (for :func:`record`'s JVM), use it when
    it exists, or nothing (LAB_CDS=off, no archive yet, no `java`)."""
    cfg = settings()
    if cfg.cds_record:
        return f"{shlex.quote(f'-XX:ArchiveClassesAtExit={cfg.cds_record}')} {_QUIET}"
    if not cfg.cds:
        return ""
    path = archive(classpath)
    if path is None or not path.is_file():
        return ""
    return f"{shlex.quote(f'-XX:SharedArchiveFile={path}')} {_QUIET}"


def record(classpath: list[Path], log=print) -> Path | None:
    """Record the archive for ``classpath`` unless it exists (`lab setup`): the workload runs in a
    fresh process and a throw-away home, the JVM writes a temporary file at its exit, renamed into
    place only when complete; older archives are removed. Returns the archive, or None (with one
    line) when it could not be recorded: the course then runs as before, only slower to start."""
    target = archive(classpath)
    if target is None:
        log("class-data archive: no `java` found; skipped")
        return None
    if target.is_file():
        log(f"class-data archive: {target.name} is up to date")
        return target
    log("class-data archive: recording Spark's classes (a short Spark run, about a minute) ...")
    return record_at_exit(target, [WORKLOAD], lambda partial: str(partial), var=RECORD_VAR,
                          unset=("SPARK_REMOTE", "LAB_SPARK_MASTER", "LAB_CDS"),  # the notebooks' local driver
                          what="class-data archive", without="Spark starts without it", minutes=30, log=log)


def record_at_exit(target: Path, argv: list[str], mark, *, var: str, unset: tuple[str, ...], what: str,
                   without: str, minutes: int, log=print) -> Path | None:
    """Run ``python -c argv...`` in a fresh process and a throw-away home (sharing the jars), with
    ``var`` set to ``mark(partial)`` so that the one JVM it starts writes ``partial`` as it exits.
    That file is renamed to ``target`` only when complete, and the older files of the same kind beside
    it are removed. ``unset``: variables the process must not inherit. Returns ``target``, or None
    after one line (``what``: not recorded (why); ``without``)."""
    ensure_dir(target.parent)
    kind = target.name.split("-")[0]  # spark, kafka, registry: files are named <kind>-<digest>.<suffix>
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    scratch = tempfile.mkdtemp(prefix=f"cds-{kind}-", dir=ensure_dir(settings().home / "tmp"))
    env = {**os.environ, "LAB_HOME": scratch, "LAB_JARS_DIR": str(settings().jars), var: mark(partial)}
    for name in unset:
        env.pop(name, None)
    began = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", *argv], env=env, capture_output=True, text=True,
                              timeout=minutes * 60)
        if proc.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            tail = (proc.stderr.strip().splitlines() or ["nothing written"])[-1]
            log(f"{what}: not recorded ({tail}); {without}")
            return None
        partial.replace(target)
    except subprocess.TimeoutExpired:
        log(f"{what}: the recording run took over {minutes} minutes; {without}")
        return None
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    for old in target.parent.glob(f"{kind}-*{target.suffix}"):
        if old != target:
            old.unlink(missing_ok=True)
    log(f"{what}: {target.name} ({target.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - began:.0f} s")
    return target
