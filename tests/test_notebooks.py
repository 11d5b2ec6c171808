"""Every chapter runs a second time in a row, through `lab run`'s own machinery.

The first run of each solution is nbval's (collected from solutions/ before
this file; see conftest.py), in a fresh LAB_HOME per notebook. Here the same
notebook runs again in that home with papermill, as `lab run --strict` does: it
must pass again, within its budget in calibration units, and print the same check lines as the committed
solution. Run alone (`pytest tests/test_notebooks.py`), it makes the first
run itself.
"""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest
from homes import FIRST_RUN_MARK, notebook_home

from lablib import calibration, chapters, notebooks

CHECK_LINE = re.compile(r"^[✅❌] .*$", re.M)


def _check_lines(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            lines += CHECK_LINE.findall(out.get("text", ""))
    return lines


def _leave(home) -> None:
    # stop any service the notebook started in this home
    subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True, timeout=120,
                   env={**__import__("os").environ, "LAB_HOME": str(home)})


@pytest.mark.notebook
@pytest.mark.parametrize("chapter", [ch.name for ch in chapters.all_chapters()])
def test_second_run_in_a_row_gives_the_same_result(chapter, monkeypatch):
    ch = chapters.get(chapter)
    home = notebook_home(str(ch.solution))
    first_needed = not (home / FIRST_RUN_MARK).exists()
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("LAB_HOME", str(home))
    try:
        runs = [notebooks.execute(ch, scale="ci", progress=False, strict=True, calibration=calibration.current())
                for _ in range(2 if first_needed else 1)]
    finally:
        _leave(home)
    last = runs[-1]
    assert last.ok, f"{ch.name}: {last.status}: {last.error} (see {last.output})"
    expected = _check_lines(ch.solution)
    assert expected, f"{ch.name} has no check output committed"
    assert _check_lines(last.output) == expected


@pytest.mark.notebook
@pytest.mark.parametrize("chapter", [ch.name for ch in chapters.all_chapters()])
def test_every_delta_table_opens_in_delta_rs(chapter, monkeypatch):
    """After the chapter's runs, each table it left reads whole in delta-rs, with Spark's row count."""
    from delta_readers import UNREADABLE, delta_tables, read_with_delta_rs

    import lablib

    ch = chapters.get(chapter)
    home = notebook_home(str(ch.solution))
    if not (home / FIRST_RUN_MARK).exists():  # run alone: make the chapter's tables first
        home.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv("LAB_HOME", str(home))
        try:
            assert notebooks.execute(ch, scale="ci", progress=False).ok
        finally:
            _leave(home)
    tables = delta_tables(home)
    assert tables or chapter.startswith("03a"), f"{ch.name} left no Delta table under {home}"
    seen = read_with_delta_rs(tables)
    spark = lablib.spark()
    unreadable, wrong = {}, []
    for table, got in seen.items():
        key = table.relative_to(home).as_posix()
        if "error" in got:
            unreadable[key] = got["error"]
            continue
        expected = spark.read.format("delta").option("versionAsOf", got["version"]).load(str(table)).count()
        if got["rows"] != expected:
            wrong.append(f"{key} v{got['version']}: delta-rs {got['rows']} rows, Spark {expected}")
    assert not wrong, wrong
    meant = {path: reason for (notebook, path), reason in UNREADABLE.items() if notebook == ch.name}
    assert set(unreadable) == set(meant), (
        f"tables delta-rs cannot open: {unreadable}; listed as meant to be unreadable: {meant}")
    for key, reason in meant.items():
        assert reason in unreadable[key], f"{key} refused for another reason: {unreadable[key]}"


def test_lab_run_prints_its_table(tmp_path):
    # a wrong scale is refused before anything runs; the table itself is printed by every `lab run`
    proc = subprocess.run([sys.executable, "-m", "lablib.cli", "run", "00", "--labs", "--scale", "ci"],
                          capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "LAB_HOME": str(tmp_path / "h")})
    assert "| chapter | notebook | status | seconds | c.u. | budget (c.u.) |" in proc.stdout
    assert "time is reported, not enforced" in proc.stdout  # a learner's copy has no budget to keep
    assert "| 00 | 00_setup.ipynb |" in proc.stdout
    # the learner's copy has blanks: its checks print ❌ (no traceback) until a demo cell needs the
    # missing table, and the run then fails naming the notebook and the cell
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"error: 00_setup.ipynb failed: cell \d+ \(execution \d+\)", proc.stderr), proc.stderr
    executed = nbformat.read(tmp_path / "h" / "runs" / "labs" / "00_setup.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "❌ puzzles: puzzles is still None" in text


def test_a_learners_lab_run_reports_time_but_never_fails_on_it(tmp_path):
    # 1 c.u. = 0.01 s makes chapter 00 thousands of c.u. over its budget: a learner's run still passes
    env = {**__import__("os").environ, "LAB_HOME": str(tmp_path / "h"), "LAB_CALIBRATION_SECONDS": "0.01"}
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, "-m", "lablib.cli", "run", "00", "--scale", "ci"],
                          capture_output=True, text=True, timeout=900, env=env)
    subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "time is reported, not enforced" in proc.stdout
    row = re.search(r"^\| 00 \| 00_setup.ipynb \| ok \| [\d.]+ \| (\d+\.\d) \| [\d.]+ \|$", proc.stdout, re.M)
    assert row and float(row.group(1)) > 4, proc.stdout
