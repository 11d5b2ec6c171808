"""Hadoop's file: without a process per call (lablib/jvm/patches.py, lablib/jvm/localfs/).

Without Hadoop's native library, Hadoop runs `chmod` after creating every local file and `readlink`
for every link status a FileContext rename asks (each Delta commit). The forkless classes answer both
through java.nio. These tests prove that a session uses them, that a Delta round trip then starts no
such process (and that Hadoop's own classes do, so the test can tell), and that the forkless classes
answer as Hadoop's do.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError

from lablib.jvm.patches import LOCAL_FS_CONF, local_fs_patch
from tests.homes import fresh_process_env


def test_the_patch_builds_and_the_session_serves_file_paths_with_it(spark):
    assert local_fs_patch() is not None, "the forkless file system did not compile (see stderr)"
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    for key, cls in LOCAL_FS_CONF.items():
        assert conf.get(key.removeprefix("spark.hadoop.")) == cls
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf)
    assert fs.getClass().getName() == "lab.hadoop.ForklessLocalFileSystem"
    assert fs.getRaw().getClass().getName() == "lab.hadoop.ForklessRawLocalFileSystem"
    context = jvm.org.apache.hadoop.fs.FileContext.getLocalFSFileContext(conf)
    assert context.getDefaultFileSystem().getClass().getName() == "lab.hadoop.ForklessLocalFs"


# a Delta round trip in a fresh process whose PATH logs every chmod and readlink Hadoop starts
_ROUND_TRIP = textwrap.dedent("""
    import sys
    import lablib, lablib.session
    if sys.argv[1] == "hadoop":  # the control: Hadoop's own classes, as without the patch
        lablib.session.local_fs_patch = lambda: None
    spark = lablib.spark()
    path = sys.argv[2]
    spark.range(10).write.format("delta").save(path)
    spark.range(10, 20).write.format("delta").mode("append").save(path)
    spark.sql(f"UPDATE delta.`{path}` SET id = id + 100 WHERE id < 5")
    assert spark.read.format("delta").load(path).count() == 20
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == 3
    jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()
    print(jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf).getClass().getName())
""")


def _round_trip(tmp_path: Path, which: str) -> tuple[list[str], dict[str, int]]:
    spy = tmp_path / f"bin-{which}"
    spy.mkdir()
    calls = tmp_path / f"calls-{which}.log"
    for command in ("chmod", "readlink"):
        real = shutil.which(command)
        script = spy / command
        script.write_text(f'#!/bin/sh\necho "{command} $*" >> "{calls}"\nexec {real} "$@"\n')
        script.chmod(0o755)
    home = tmp_path / f"home-{which}"
    table = home / "t"
    env = fresh_process_env(home, PATH=f"{spy}{os.pathsep}{os.environ['PATH']}")  # a JVM of its own, with this PATH
    done = subprocess.run([sys.executable, "-c", _ROUND_TRIP, which, str(table)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = calls.read_text().splitlines() if calls.exists() else []
    modes = {str(p.relative_to(table)): stat.S_IMODE(p.stat().st_mode)
             for p in table.rglob("*") if p.is_file() and ".tmp" not in p.name}
    return lines, {"impl": done.stdout.strip().splitlines()[-1], **modes}


def test_a_delta_round_trip_starts_no_chmod_or_readlink_and_leaves_the_same_file_modes(tmp_path):
    hadoop_calls, hadoop = _round_trip(tmp_path, "hadoop")
    forkless_calls, forkless = _round_trip(tmp_path, "forkless")
    # the control proves the spy sees Hadoop's processes: one chmod per created file, readlinks per commit
    # (without the patch, file: goes to whatever the classpath registers: Hive's ProxyLocalFileSystem
    # over Hadoop's LocalFileSystem, in pyspark 4.2)
    assert not hadoop["impl"].startswith("lab.hadoop."), hadoop["impl"]
    assert sum(c.startswith("chmod ") for c in hadoop_calls) >= 10, hadoop_calls
    assert sum(c.startswith("readlink ") for c in hadoop_calls) >= 3, hadoop_calls
    assert forkless["impl"] == "lab.hadoop.ForklessLocalFileSystem"
    assert forkless_calls == []
    # every Delta log file and checksum is where it was, with the mode Hadoop's chmod gave it
    log = {k: v for k, v in hadoop.items() if k.startswith("_delta_log")}
    assert log and {k: forkless.get(k) for k in log} == log
    data_modes = {v for k, v in forkless.items() if k.endswith(".parquet")}
    assert data_modes == {v for k, v in hadoop.items() if k.endswith(".parquet")} == {0o644}


def _status(fs, path) -> tuple:
    try:
        s = fs.getFileLinkStatus(path)
    except Py4JJavaError as exc:  # both must fail the same way
        return ("error", exc.java_exception.getClass().getName())
    return (s.isSymlink(), s.isDirectory(), s.getLen(), str(s.getSymlink()) if s.isSymlink() else None)


@pytest.mark.parametrize("qualified", [True, False], ids=["file: URI", "plain path"])
def test_link_status_and_permissions_match_hadoops_own(spark, tmp_path, qualified):
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    uri = jvm.java.net.URI("file:///")
    hadoop = jvm.org.apache.hadoop.fs.RawLocalFileSystem()
    forkless = jvm.lab.hadoop.ForklessRawLocalFileSystem()
    for fs in (hadoop, forkless):
        fs.initialize(uri, conf)
    (tmp_path / "file").write_text("x" * 7)
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "file")
    for name in ("file", "dir", "link", "missing"):
        target = f"file:{tmp_path / name}" if qualified else str(tmp_path / name)
        path = jvm.org.apache.hadoop.fs.Path(target)
        assert _status(forkless, path) == _status(hadoop, path), name
    permission = jvm.org.apache.hadoop.fs.permission.FsPermission
    for mode in (0o640, 0o600, 0o755, 0o1777):
        for who, fs in (("hadoop", hadoop), ("forkless", forkless)):
            target = tmp_path / f"{who}-{mode:o}"
            target.mkdir()
            fs.setPermission(jvm.org.apache.hadoop.fs.Path(str(target)), permission(f"{mode:o}"))
        modes = {who: stat.S_IMODE((tmp_path / f"{who}-{mode:o}").stat().st_mode) for who in ("hadoop", "forkless")}
        assert modes["forkless"] == modes["hadoop"] == mode, modes
