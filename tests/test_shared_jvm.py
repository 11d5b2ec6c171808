"""The warm JVM CI lends to the solution notebooks (lablib/shared_jvm.py): each kernel that attaches
builds its own SparkContext from its own home, a context left running is stopped before the next,
nothing a kernel starts inherits the JVM, and a JVM that died is started again."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from lablib.shared_jvm import VARIABLE, SharedJVM

#: a kernel's work: attach, write a Delta table, leave a streaming query running (as a notebook that
#: ends mid-stream does), and report which JVM it ran in and what a child process would inherit
KERNEL = r"""
import json, os, subprocess, sys
import lablib
spark = lablib.spark()
path = str(lablib.workdir("00") / "t")
spark.range(10).write.format("delta").mode("overwrite").save(path)
spark.readStream.format("rate").load().writeStream.format("memory").queryName("left_running").start()
from lablib import ci
connect = ci.spark_connect(spark)  # a Connect server in the JVM, as chapter 08a starts one
child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('LAB_SPARK_GATEWAY'))"],
                       capture_output=True, text=True).stdout.strip()
print(json.dumps({"pid": spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid(),
                  "warehouse": spark.conf.get("spark.sql.warehouse.dir"),
                  "rows": spark.read.format("delta").load(path).count(), "child": child,
                  "connect_port": int(connect.rsplit(":", 1)[1]),
                  "c1_only": "-XX:TieredStopAtLevel=1" in list(spark.sparkContext._jvm.java.lang.management
                                                               .ManagementFactory.getRuntimeMXBean().getInputArguments())}))
"""


def _kernel(env: dict[str, str], home) -> dict:
    proc = subprocess.run([sys.executable, "-c", KERNEL], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env, "LAB_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def shared(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "suite"))
    jvm = SharedJVM()
    yield jvm
    jvm.close()


def test_kernels_take_turns_in_one_jvm_each_with_its_own_home(shared, tmp_path):
    first = _kernel(shared.env(), tmp_path / "first home")
    shared.release()  # the first kernel's context and its running stream: stopped here
    second = _kernel(shared.env(), tmp_path / "second home")
    jvm_pid = shared._gateway.proc.pid
    # both ran in the shared JVM (spark-submit execs into java: the same pid), not in one of their own
    assert first["pid"] == second["pid"] == jvm_pid
    assert first["warehouse"].endswith("first home/warehouse")
    assert second["warehouse"].endswith("second home/warehouse")
    assert first["rows"] == second["rows"] == 10
    # a process the kernel started got no gateway: it would start its own JVM
    assert first["child"] == second["child"] == "None"
    assert shared.starts == 1
    # the shared JVM starts with a notebook's own launch settings, C1-only included (C2 measured a wash)
    assert first["c1_only"] is second["c1_only"] is True
    shared.release()
    released = [line for line in shared._log.read_text().splitlines() if "lablib.shared_jvm: released" in line]
    assert len(released) == 2 and all("a streaming query, a Spark Connect server, SparkContext local-" in line
                                      for line in released), released
    with socket.socket() as s:  # the server stopped with its notebook: its port is free again
        s.bind(("127.0.0.1", second["connect_port"]))


def test_without_release_the_next_kernel_is_refused(shared, tmp_path):
    """What release() is for: Spark allows one SparkContext per JVM."""
    _kernel(shared.env(), tmp_path / "first home")
    proc = subprocess.run([sys.executable, "-c", KERNEL], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **shared.env(), "LAB_HOME": str(tmp_path / "second home")})
    assert proc.returncode != 0
    assert "Spark failed to start: org.apache.spark.SparkException: Only one SparkContext should be running" in proc.stderr


def test_a_jvm_that_died_is_started_again(shared, tmp_path):
    before = shared.env()[VARIABLE]
    shared._gateway.proc.kill()
    shared._gateway.proc.wait(timeout=30)
    shared.release()  # nothing to release in a dead JVM, and no error
    after = shared.env()[VARIABLE]
    assert after != before and shared.starts == 2
    assert _kernel(shared.env(), tmp_path / "home")["rows"] == 10


def _pid_notebook(folder, number: str, leave_stream: bool):
    import nbformat

    from lablib import chapters

    nb = nbformat.v4.new_notebook()
    nb.metadata["lab"] = {"chapter": number, "title": "pid", "budget_cu": 6}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = ("import lablib, pathlib\nspark = lablib.spark()\n"
            f"pathlib.Path({str(folder / number)!r}).write_text(str("
            "spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()))\n")
    if leave_stream:
        code += "spark.readStream.format('rate').load().writeStream.format('memory').queryName('q').start()\n"
    nb.cells = [nbformat.v4.new_code_cell("SCALE = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(code)]
    path = folder / f"{number}_pid.ipynb"
    nbformat.write(nb, path)
    return chapters.Chapter(number, path, folder / f"{number}_lab.ipynb")


@pytest.mark.parametrize("share", [False, True])
def test_lab_run_of_several_notebooks_lends_them_one_jvm_unless_asked_not_to(tmp_path, monkeypatch, capsys, share):
    from lablib import notebooks
    from lablib.calibration import Calibration

    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    selected = [_pid_notebook(tmp_path, "97", leave_stream=True), _pid_notebook(tmp_path, "98", leave_stream=False)]
    results = notebooks._run_all(selected, labs=False, scale="ci", save=False, strict=False,
                                 calibration=Calibration([15.0], fixed=True), share_jvm=share)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    pids = {(tmp_path / n).read_text() for n in ("97", "98")}
    assert len(pids) == (1 if share else 2)
    assert ("take turns in one warm Spark JVM" in capsys.readouterr().out) == share

