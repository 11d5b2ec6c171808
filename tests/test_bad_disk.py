"""Bad-disk drills: LAB_HOME on a real full filesystem and on a real read-only one.

The machine runs as root, so chmod stops nothing: each drill mounts a small tmpfs
(full when it is full, read-only after ``mount -o remount,ro``). Generating the
datasets and writing Delta tables there must end in one sentence naming the folder
and the fix, and leave nothing half-written in sight: no dataset folder that is not
complete, no Delta version that was not committed. A drill that cannot mount fails
and says why, unless the test shows the platform forbids it (then xfail).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lablib
from lablib.data import build
from tests.drills import free_ports, lab, report


def _mount(where: Path, *options: str) -> None:
    out = subprocess.run(["mount", *options, str(where)], capture_output=True, text=True)
    if out.returncode == 0:
        return
    why = (out.stderr or out.stdout).strip()
    if os.geteuid() != 0 and ("root" in why.lower() or "permission denied" in why.lower()):
        # the platform forbids it: not root, and mount says so
        pytest.xfail(f"mount {' '.join(options)} refused for euid {os.geteuid()}: {why}; the bad-disk "
                     "drills need root (CI runs as root)")
    pytest.fail(f"could not set up the drill: mount {' '.join(options)} {where} failed: {why}")


@contextlib.contextmanager
def small_disk(where: Path, size: str):
    """A real tmpfs of ``size`` mounted at ``where`` for the block (lazily unmounted after it)."""
    where.mkdir(parents=True, exist_ok=True)
    _mount(where, "-t", "tmpfs", "-o", f"size={size},mode=0755", "lab-drill")
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], capture_output=True)


def read_only(where: Path) -> None:
    _mount(where, "-o", "remount,ro")
    assert os.statvfs(where).f_flag & os.ST_RDONLY


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- datasets ---------------------------------------------------------------------------------

def test_dataset_generation_on_a_full_disk_says_so_and_keeps_the_last_complete_dataset(tmp_path, monkeypatch):
    began = time.monotonic()
    with small_disk(tmp_path / "full home", "10m") as home:
        monkeypatch.setenv("LAB_HOME", str(home))
        first = lablib.data.generate("ci")  # 6 MB: fits once, not twice
        assert build.is_complete(first)
        before = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}

        with pytest.raises(lablib.LabError) as err:
            lablib.data.generate("ci", force=True)  # built beside the old one, then swapped in
        assert err.value.message == (f"disk full: cannot write {first}; free some space on that disk, "
                                     "or set LAB_HOME to a folder on a disk with room")
        # the old dataset stays, whole; the half-built one is gone, hidden temp folder included
        assert _visible(home / "data") == [first.name]
        assert {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()} == before

        # the command says the same in one line (another seed: another dataset folder)
        cli = lab("data", "--scale", "ci", "--seed", "7")
        other = home / "data" / "ci-seed7"
        assert cli.returncode == 1
        assert cli.stderr.strip() == f"error: {err.value.message.replace(str(first), str(other))}", cli.stderr
        assert _visible(home / "data") == [first.name]
    report(f"dataset generation on a full 10 MB disk: one sentence, no half-built dataset; "
           f"drill {time.monotonic() - began:.0f} s")


def test_dataset_generation_on_a_read_only_home_says_so(tmp_path, monkeypatch):
    with small_disk(tmp_path / "read-only home", "4m") as home:
        (home / "data").mkdir()
        read_only(home)
        monkeypatch.setenv("LAB_HOME", str(home))
        want = f"cannot write {home / 'data'}: the filesystem is read-only; set LAB_HOME to a folder you can write"
        with pytest.raises(lablib.LabError) as err:
            lablib.data.generate("ci")
        assert err.value.message == want
        cli = lab("data", "--scale", "ci")
        assert cli.returncode == 1 and cli.stderr.strip() == f"error: {want}", cli.stderr
        # and Spark refuses to start there, before any JVM, in the same words
        spark = subprocess.run([sys.executable, "-c", "import lablib\ntry:\n    lablib.spark()\n"
                                "except lablib.LabError as e:\n    print(e.message)"],
                               capture_output=True, text=True, timeout=120)
        assert spark.stdout.strip() == (f"cannot create {home / 'warehouse'}: the filesystem is read-only; "
                                        "set LAB_HOME to a folder you can write"), spark.stdout + spark.stderr
        assert _visible(home / "data") == []


# -- Delta writes, in a real notebook kernel ----------------------------------------------------

_SETUP = """
import lablib
spark = lablib.spark()
spark.sql("CREATE DATABASE drill")
spark.range(100).selectExpr("id", "'first' AS a").write.format("delta").saveAsTable("drill.t")
big = spark.range(150000).selectExpr("id", "sha2(CAST(id AS STRING), 512) AS a")  # about 20 MB: more than the disk
"""
_FULL_APPEND = 'big.write.format("delta").mode("append").saveAsTable("drill.t")'
_FULL_NEW = 'big.write.format("delta").saveAsTable("drill.big")'
_FULL_AFTER = 'print(spark.catalog.tableExists("drill.big"), spark.table("drill.t").count())'
_RO_SETUP = """
spark.sql("CREATE DATABASE drill_ro LOCATION '{ro}/db'")
spark.range(100).write.format("delta").saveAsTable("drill_ro.t")
spark.range(100).write.format("delta").save("{ro}/by-path")
"""
_RO_APPEND = 'spark.range(10).write.format("delta").mode("append").saveAsTable("drill_ro.t")'
_RO_PATH = 'spark.range(10).write.format("delta").mode("append").save("{ro}/by-path")'
_RO_NEW = 'spark.range(10).write.format("delta").saveAsTable("drill_ro.new")'
_RO_AFTER = 'print(spark.catalog.tableExists("drill_ro.new"), spark.table("drill_ro.t").count())'
_OTHER_ERROR = 'spark.table("drill.no_such_table")'  # not a disk problem: shown as Spark shows it


def _error(cell) -> tuple[str, str]:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, f"expected one error from {cell.source!r}, got {cell.outputs}"
    return errors[0].ename, errors[0].evalue


def _stdout(cell) -> str:
    assert not [o for o in cell.outputs if o.output_type == "error"], cell.outputs
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout").strip()


def _delta_version(table: Path) -> tuple[int, int, int]:
    """(version, rows, bytes of files no version references) read with delta-rs, outside Spark."""
    from deltalake import DeltaTable

    dt = DeltaTable(str(table))
    referenced = {table / f for f in dt.file_uris()} | {Path(f) for f in dt.file_uris()}
    stray = sum(p.stat().st_size for p in table.glob("*.parquet") if p not in referenced)
    return dt.version(), dt.to_pyarrow_table().num_rows, stray


def test_delta_writes_on_a_full_and_a_read_only_disk_commit_nothing_and_say_so(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    began = time.monotonic()
    with small_disk(tmp_path / "full home", "12m") as home, small_disk(home / "scratch" / "ro", "8m") as ro:
        monkeypatch.setenv("LAB_HOME", str(home))
        monkeypatch.setenv("LAB_SPARK_UI_PORT", str(free_ports(1)[0]))
        sources = [_SETUP, _FULL_APPEND, _FULL_NEW, _FULL_AFTER, _RO_SETUP.format(ro=ro),
                   _RO_APPEND, _RO_PATH.format(ro=ro), _RO_NEW, _RO_AFTER, _OTHER_ERROR]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(tmp_path)}})
        cells = nb.cells
        with client.setup_kernel():
            for index in range(4):
                client.execute_cell(cells[index], index)
            full_done = time.monotonic()
            client.execute_cell(cells[4], 4)
            read_only(ro)  # the tables' disk turns read-only under the running session
            for index in range(5, len(cells)):
                client.execute_cell(cells[index], index)
        assert _stdout(cells[0]) == ""

        warehouse = home / "warehouse"
        for index, folder in ((1, warehouse / "drill.db" / "t"), (2, warehouse / "drill.db" / "big")):
            assert _error(cells[index]) == ("LabError", (
                f"disk full: cannot write {folder}; free some space on that disk, or set LAB_HOME to a folder "
                "on a disk with room; nothing of this write was committed to the Delta table"))
        assert _stdout(cells[3]) == "False 100"
        for index, folder in ((5, ro / "db" / "t"), (6, ro / "by-path"), (7, ro / "db" / "new")):
            assert _error(cells[index]) == ("LabError", (
                f"cannot write {folder}: the filesystem is read-only; set LAB_HOME to a folder you can write; "
                "nothing of this write was committed to the Delta table"))
        assert _stdout(cells[8]) == "False 100"
        assert _error(cells[9])[0] == "AnalysisException"  # any other error is left as it was

        # read outside Spark: only version 0 of each table, as committed before the failures
        version, rows, stray = _delta_version(warehouse / "drill.db" / "t")
        assert (version, rows) == (0, 100)
        assert not list((warehouse / "drill.db" / "big").glob("_delta_log/*.json"))
        assert _delta_version(ro / "db" / "t")[:2] == (0, 100)
        assert _delta_version(ro / "by-path")[:2] == (0, 100)
    report(f"Delta on a full 12 MB disk and a read-only one: 5 refused writes, each one LabError, no version "
           f"committed; the failed append left {stray / 1e6:.1f} MB of unreferenced files; "
           f"full part {full_done - began:.0f} s, drill {time.monotonic() - began:.0f} s")
