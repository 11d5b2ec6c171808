"""The class-data archive (lablib/jvm/cds.py): recorded by `lab setup`, mapped by every local driver,
named after the JVM and jars it belongs to, never a half-written file, never noise in a notebook."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from lablib import calibration, jvm
from lablib.jvm import cds
from lablib.session import driver_jars

# a fresh process starts a session and reports the archive its driver JVM has mapped, if any
MAPPED = r"""
import json, lablib
from pyspark import SparkContext
lablib.spark().range(3).count()
pid = SparkContext._gateway.proc.pid
maps = open(f"/proc/{pid}/maps").read()
print(json.dumps(sorted({line.split()[-1] for line in maps.splitlines() if line.endswith(".jsa")})))
"""


@pytest.fixture(scope="module")
def recorded():
    """The archive for the course's jars; `make setup` (`lab setup`) records it, and this records it
    if that has not run here."""
    path = cds.record(driver_jars(), log=lambda line: None)
    assert path is not None and path.is_file(), "the class-data archive could not be recorded: see `lab setup`"
    return path


def _mapped(tmp_path, **env) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", MAPPED], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "LAB_HOME": str(tmp_path), **env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    *said, mapped = proc.stdout.strip().splitlines()
    assert not said, said  # the JVM said nothing about its archive
    # the JDK's own archive of its base classes is mapped either way: the course's is the one that differs
    return [path for path in json.loads(mapped) if not path.startswith(str(jvm.java_path().resolve().parents[1]))]


def test_a_fresh_driver_maps_the_archive_and_lab_cds_off_does_not(recorded, tmp_path):
    assert _mapped(tmp_path / "on") == [str(recorded)]
    assert _mapped(tmp_path / "off", LAB_CDS="off") == []


def test_record_is_idempotent(recorded):
    said = []
    assert cds.record(driver_jars(), log=said.append) == recorded
    assert said == [f"class-data archive: {recorded.name} is up to date"]


def test_the_archive_is_named_after_the_jvm_and_every_jar(tmp_path):
    jars = [tmp_path / "a.jar", tmp_path / "b.jar"]
    for jar in jars:
        jar.write_bytes(b"PK")
    first = cds.digest(jars)
    assert first and cds.digest(list(jars)) == first  # the same jars, the same archive
    assert cds.digest(jars[:1]) != first  # a jar fewer
    jars[1].write_bytes(b"PK rebuilt")  # the same name, another jar: the old archive would be refused
    assert cds.digest(jars) != first
    before = cds.digest(jars)
    os.utime(jars[0], ns=(0, 0))
    assert cds.digest(jars) != before  # the JVM checks modification times too


def test_options_record_use_or_leave_out(recorded, monkeypatch, tmp_path):
    jars = driver_jars()
    monkeypatch.delenv("LAB_CDS", raising=False)
    assert f"-XX:SharedArchiveFile={recorded}" in shlex.split(cds.java_options(jars))
    monkeypatch.setenv("LAB_CDS", "off")
    assert cds.java_options(jars) == ""
    monkeypatch.delenv("LAB_CDS")
    monkeypatch.setenv(cds.RECORD_VAR, str(tmp_path / "x.jsa"))
    assert f"-XX:ArchiveClassesAtExit={tmp_path / 'x.jsa'}" in shlex.split(cds.java_options(jars))
    monkeypatch.delenv(cds.RECORD_VAR)
    monkeypatch.setenv("LAB_JARS_DIR", str(tmp_path / "elsewhere"))  # no archive recorded there
    assert cds.java_options(jars) == ""


def test_an_archive_the_jvm_refuses_says_nothing(recorded, monkeypatch, tmp_path):
    # the archive on another classpath (as after a jar changed under the same name) is refused
    monkeypatch.delenv("LAB_CDS", raising=False)
    java = str(jvm.java_path())
    loud = subprocess.run([java, f"-XX:SharedArchiveFile={recorded}", "-cp", str(tmp_path), "-version"],
                          capture_output=True, text=True)
    assert "unable to use shared archive" in loud.stdout.lower()  # what a learner would read without them
    quiet = shlex.split(cds.java_options(driver_jars()))
    said = subprocess.run([java, *quiet, "-cp", str(tmp_path), "-version"], capture_output=True, text=True)
    assert said.returncode == 0 and "archive" not in (said.stdout + said.stderr).lower()


def test_a_failed_recording_leaves_nothing_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_JARS_DIR", str(tmp_path / "jars"))
    monkeypatch.setattr(cds, "WORKLOAD", "raise SystemExit('no Spark in this test')")
    said = []
    assert cds.record([], log=said.append) is None
    assert said[-1] == "class-data archive: not recorded (no Spark in this test); Spark starts without it"
    assert list((tmp_path / "jars" / "cds").iterdir()) == []  # no partial file, no archive


def test_the_calibration_unit_measures_a_plain_jvm(monkeypatch):
    seen = {}

    def run(cmd, **kwargs):
        seen.update(kwargs["env"])
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps({"session": 1.0}), stderr="")

    monkeypatch.setattr(calibration.subprocess, "run", run)
    calibration.sample()
    assert seen["LAB_CDS"] == "off"  # a c.u. stays the same machine work with or without the archive


def test_doctor_names_the_archive_or_says_how_to_record_it(recorded, monkeypatch, tmp_path):
    from lablib import doctor

    assert doctor._class_data_archive() == ("class-data archive", True,
                                            f"{recorded.name} ({recorded.stat().st_size / 1e6:.0f} MB)")
    monkeypatch.setenv("LAB_JARS_DIR", str(tmp_path))  # no jars there: setup first
    assert doctor._class_data_archive() == ("class-data archive", None, "needs the jars first: run `lab setup`")
