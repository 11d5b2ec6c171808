"""The Spark JVM and the kernel run in UTC, as the session does, wherever the learner is.

Delta 4.4 checks the checksum it writes with every commit by a full state reconstruction (more
Spark jobs) whenever the JVM's default zone is not UTC: it cannot trust old timestamps serialized in
another zone. ``lablib.session`` starts the JVM with ``-Duser.timezone=UTC``, so a learner in Berlin
commits as fast as CI does. These tests prove the launch (a fresh process with TZ=Europe/Berlin) and
the cost it avoids (the same commits with the JVM's zone set to Berlin, which the test can tell).

The kernel's Python needs UTC too: PySpark hands collected timestamps to Python in the process's
zone, so in Berlin a collected 10:00 read 11:00 and the solutions of 02, 06a, 06c and 08a failed.
Importing lablib sets the process's zone (lablib/clock.py); the last test proves it in a fresh
process started in Berlin.
"""

from __future__ import annotations

import subprocess
import sys

import lablib
from tests.homes import fresh_process_env

COMMITS = 4


def _commit_jobs(spark, path: str) -> int:
    """Spark jobs that COMMITS appends to the Delta table at ``path`` start."""
    with lablib.measure("commits") as m:
        for i in range(COMMITS):
            spark.range(i, i + 1).write.format("delta").mode("append").save(path)
    return m.jobs


def test_delta_commits_start_no_extra_jobs_because_the_jvm_zone_is_utc(spark, tmp_path):
    jvm = spark._jvm
    zone = jvm.java.util.TimeZone
    assert zone.getDefault().getID() == "UTC"
    path = str(tmp_path / "t")
    spark.range(1).write.format("delta").save(path)
    in_utc = _commit_jobs(spark, path)
    # the control: this JVM's zone set to Berlin, as a learner's would be without the launch option
    zone.setDefault(zone.getTimeZone("Europe/Berlin"))
    try:
        in_berlin = _commit_jobs(spark, path)
    finally:
        zone.setDefault(zone.getTimeZone("UTC"))
    assert in_berlin >= in_utc + COMMITS, (
        f"{COMMITS} commits started {in_utc} Spark jobs in UTC and {in_berlin} with the JVM in Berlin: "
        "Delta's per-commit checksum verification outside UTC no longer shows, so this test can no "
        "longer tell whether the launch option matters")
    assert spark.read.format("delta").load(path).count() == 1 + 2 * COMMITS


LAUNCH = """
import os
import lablib
os.environ["TZ"] = "Europe/Berlin"  # undo lablib's zone for the processes started from here on, so
# that only the launch option can put the JVM in UTC (as for a cluster's executors, which have their own)
jvm = lablib.spark()._jvm
print(jvm.java.util.TimeZone.getDefault().getID(), jvm.java.lang.System.getProperty("user.timezone"))
"""


def test_a_session_started_outside_utc_runs_its_jvm_in_utc(tmp_path):
    env = fresh_process_env(tmp_path / "home", TZ="Europe/Berlin")
    out = subprocess.run([sys.executable, "-c", LAUNCH], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["UTC", "UTC"], out.stdout


KERNEL = """
import datetime, subprocess
before = datetime.datetime.fromtimestamp(0).hour  # the control: 1 in Berlin (CET), 0 in UTC
import lablib
after = datetime.datetime.fromtimestamp(0).hour
ts = lablib.spark().sql("SELECT TIMESTAMP '2024-03-01 10:00:00' AS ts").collect()[0].ts
child = subprocess.run(["date", "+%Z"], capture_output=True, text=True, check=True).stdout.strip()
print(before, after, ts.isoformat(), child)
"""


def test_a_kernel_started_outside_utc_collects_timestamps_as_spark_shows_them(tmp_path):
    env = fresh_process_env(tmp_path / "home", TZ="Europe/Berlin")
    out = subprocess.run([sys.executable, "-c", KERNEL], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, collected, child = out.stdout.split()[-4:]
    assert before == "1", f"the process did not start in Berlin, so this test proves nothing: {out.stdout}"
    assert (after, collected, child) == ("0", "2024-03-01T10:00:00", "UTC"), (
        "after `import lablib` the kernel (and a process it starts) should be in UTC, and Spark's "
        f"10:00 should collect as 10:00: {out.stdout}")
