"""The `lab` command: clear one-line errors, idempotent set-up, a run table."""

import os
import subprocess
import sys

import pytest

from lablib import jvm


def lab(*args, env=None, timeout=600):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def test_run_unknown_chapter_is_one_sentence():
    proc = lab("run", "99")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: no chapter 99; chapters are 00")
    assert "Traceback" not in proc.stderr


def test_unknown_scale_is_one_sentence():
    proc = lab("run", "00", "--scale", "huge")
    assert proc.returncode == 1 and "unknown dataset scale 'huge'" in proc.stderr and "Traceback" not in proc.stderr


def test_setup_is_idempotent_and_fast():
    proc = lab("setup")
    assert proc.returncode == 0, proc.stderr
    for name in jvm.jar_sets():
        assert f"{name}: up to date" in proc.stdout


def test_build_check_passes_on_committed_labs():
    proc = lab("build", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_doctor_exits_zero_when_all_is_well():
    proc = lab("doctor")
    assert proc.returncode == 0, proc.stdout
    assert "all good" in proc.stdout


def test_doctor_names_missing_jars(tmp_path):
    proc = lab("doctor", env={"LAB_HOME": str(tmp_path), "LAB_JARS_DIR": ""})
    assert proc.returncode == 1
    assert "run `lab setup`" in proc.stdout


def test_doctor_names_an_unwritable_home(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    proc = lab("doctor", env={"LAB_HOME": str(blocker / "home")})
    assert proc.returncode == 1 and "LAB_HOME" in proc.stdout


def test_notebook_before_setup_names_lab_setup(tmp_path):
    code = "import lablib\ntry:\n    lablib.spark()\nexcept lablib.LabError as e:\n    print(e)\n"
    env = {**os.environ, "LAB_HOME": str(tmp_path / "fresh home"), "LAB_JARS_DIR": ""}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "JVM dependencies missing" in proc.stdout and "run `lab setup`" in proc.stdout
    assert "JAVA_GATEWAY_EXITED" not in proc.stdout + proc.stderr


def test_java_missing_names_what_to_install(tmp_path):
    code = "import lablib\ntry:\n    lablib.spark()\nexcept lablib.LabError as e:\n    print(e)\n"
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java"), "PATH": "/nonexistent"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "Java not found: install a Java 17 runtime" in proc.stdout


def test_progress_lists_chapter_00(tmp_path):
    proc = lab("progress", env={"LAB_HOME": str(tmp_path)})
    assert proc.returncode == 0 and "chapter 00" in proc.stdout and "· puzzles" in proc.stdout


@pytest.mark.parametrize("cmd", [["--help"], ["run", "--help"], ["build", "--help"]])
def test_help(cmd):
    assert lab(*cmd).returncode == 0


def test_doctor_reports_chapter_08_tools_as_optional():
    """terraform/tofu and actionlint get a row each; missing, they are named with how to install them,
    and doctor still exits 0 (chapter 08 reports 'not run' or skips without them)."""
    proc = lab("doctor", env={"PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
                              "LAB_TERRAFORM": "no-such-terraform"})
    assert proc.returncode == 0, proc.stdout
    assert "➖ terraform/tofu" in proc.stdout and "install OpenTofu" in proc.stdout
    assert "actionlint" in proc.stdout
