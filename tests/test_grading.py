"""`lab grade` and `lab progress --merge` on real executions (no mock of papermill, Spark or the checks).

One chapter-00 pair is executed, once for the module: the blank lab and its solution, beside bad
input (a corrupt .ipynb, a notebook of another course, one for a chapter that does not exist, an
empty folder) that must each get one line and a row while the two are graded. The looping
notebook is pure Python and gets a limit of 1 c.u.: it never ends, so the verdict cannot depend on
the limit's length; 1 c.u. is ample on any machine (both scale with it) for a kernel to start and
one check to run before the loop, and keeps the test short. `lab grade` runs in this process
(lablib.cli.main) so it shares the session's calibration instead of measuring one more.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lablib import calibration, chapters, cli

CHECK_LINE = re.compile(r"^([✅❌]) (\w+): (.*)$", re.M)
EXERCISES = ["ch00.puzzles", "ch00.delta_table", "ch00.plush_price_rise", "ch00.time_travel"]


def _check_lines(path) -> dict[str, tuple[str, str]]:
    """exercise -> (mark, message) as the notebook's outputs show them to the learner."""
    seen = {}
    for cell in nbformat.read(path, as_version=4).cells:
        for out in cell.get("outputs", []):
            for mark, name, message in CHECK_LINE.findall(out.get("text", "")):
                seen[f"ch00.{name}"] = (mark, message.split(" Hint: ")[0])
    return seen


def _lab(args, capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grade")
    klass = base / "class"
    (klass / "carol").mkdir(parents=True)
    (klass / "carol" / "00_setup.ipynb").write_text('{"cells": [{"cell_type": "code", "sour')  # cut short
    other = nbformat.v4.new_notebook()
    other.cells.append(nbformat.v4.new_code_cell("print('another course')"))
    nbformat.write(other, klass / "dave_homework.ipynb")
    future = nbformat.read(chapters.get("00").lab, as_version=4)
    future.metadata["lab"]["chapter"] = "99"
    nbformat.write(future, klass / "erin_99_future.ipynb")
    (base / "empty").mkdir()
    out = base / "out"
    stdout, stderr = io.StringIO(), io.StringIO()  # capsys is per test; this runs once per module
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(base / "home"))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(["grade", str(chapters.get("00").lab), str(chapters.get("00").solution),
                             str(klass), str(base / "empty"), "--out", str(out)])
    table = json.loads((out / "grades.json").read_text())
    return {"code": code, "out": stdout.getvalue(), "err": stderr.getvalue(), "dir": out, "base": base,
            "table": table, "rows": {(r["learner"], r["notebook"] or r["file"]): r for r in table["rows"]}}


def test_blank_lab_is_all_not_passed_with_the_messages_the_learner_read(graded):
    row = graded["rows"][("labs", "00_setup")]
    assert row["graded"] and row["status"] in ("ran", "cell errors"), row
    assert list(row["results"]) == EXERCISES
    results = row["results"]
    assert all(r["result"] == "failed" for r in results.values()), results
    assert results["ch00.puzzles"]["message"] == "puzzles is still None"
    assert results["ch00.delta_table"]["message"].startswith("no Delta table at $LAB_HOME/scratch/ch00/toys")
    assert results["ch00.time_travel"]["message"] == "original_toys is still None"
    # what the table says is what the learner's notebook printed, check by check
    shown = _check_lines(graded["dir"] / "executed" / "labs" / "00_setup.ipynb")
    assert {k: ("❌", r["message"]) for k, r in results.items()} == shown


def test_solution_is_all_passed_with_the_committed_messages(graded):
    row = graded["rows"][("solutions", "00_setup")]
    assert row["graded"] and row["status"] == "ran" and row["note"] == "", row
    committed = _check_lines(chapters.get("00").solution)
    assert {k: ("✅", r["message"]) for k, r in row["results"].items()} == committed
    assert set(committed) == set(EXERCISES)
    assert row["seconds"] > 0 and row["cu"] > 0


def test_bad_input_gets_one_line_and_a_row_each_and_the_rest_is_graded(graded):
    assert graded["code"] == 0, graded["err"]
    err = graded["err"]
    assert "Traceback" not in err + graded["out"]
    expected = {
        ("carol", "not a notebook"): "00_setup.ipynb is not a readable notebook (",
        ("dave_homework", "not from this course"): "dave_homework.ipynb is not a notebook of this course (no metadata.lab.chapter)",
        ("erin", "unknown chapter"): "erin_99_future.ipynb is for chapter 99, which this course does not have (chapters are 00",
    }
    bad = [r for r in graded["table"]["rows"] if not r["graded"]]
    assert {(r["learner"], r["status"]) for r in bad} == set(expected)
    for r in bad:
        reason = expected[(r["learner"], r["status"])]
        assert r["note"].startswith(reason), r
        assert len([line for line in err.splitlines() if reason in line]) == 1, err
    empty_lines = [line for line in err.splitlines() if "holds no notebook (.ipynb)" in line]
    assert len(empty_lines) == 1 and str(graded["base"] / "empty") in empty_lines[0], err


def test_the_table_comes_in_three_formats_with_pass_rates(graded):
    folder = graded["dir"]
    rates = {p["exercise"]: (p["passed"], p["of"]) for p in graded["table"]["pass_rates"]}
    assert rates == {key: (1, 2) for key in EXERCISES}
    header = (folder / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["learner", "notebook", "file", "status", "note", "seconds", "cu"]
    assert header[7:] == EXERCISES
    md = (folder / "grades.md").read_text()
    assert "| learner | status | time | puzzles | delta_table | plush_price_rise | time_travel |" in md
    assert "| **pass rate** | | | 1/2 (50 %) | 1/2 (50 %) | 1/2 (50 %) | 1/2 (50 %) |" in md
    assert "## Not graded" in md and "not from this course" in md
    assert (folder / "grades-pass-rates.csv").read_text().splitlines()[1] == "00_setup,ch00.puzzles,1,2,0.50"
    assert "| **pass rate** |" in graded["out"]  # and it is printed


def test_a_looping_notebook_is_stopped_at_its_limit_and_keeps_what_ran(tmp_path, monkeypatch, capsys):
    nb = nbformat.v4.new_notebook()
    nb.metadata["lab"] = {"chapter": "00", "title": "Set-up tour", "budget_cu": 3}
    nb.cells += [nbformat.v4.new_code_cell("import lablib\nlablib.check.ch00.puzzles(None, None)"),
                 nbformat.v4.new_code_cell("while True:\n    pass"),
                 nbformat.v4.new_code_cell("lablib.check.ch00.time_travel(None, None)")]
    nbformat.write(nb, tmp_path / "frank_00_setup.ipynb")
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    code, out, err = _lab(["grade", str(tmp_path / "frank_00_setup.ipynb"), "--time-limit", "1",
                           "--out", str(tmp_path / "out")], capsys)
    assert code == 0, out + err  # a notebook stopped at its limit was graded: its row says so
    row = json.loads((tmp_path / "out" / "grades.json").read_text())["rows"][0]
    assert row["learner"] == "frank" and row["status"] == "time limit", (row, out, err)
    assert "stopped at its time limit" in row["note"]
    results = row["results"]
    assert results["ch00.puzzles"] == {"result": "failed", "message": "puzzles is still None", "attempts": 1}
    assert [results[k]["result"] for k in EXERCISES[1:]] == ["not tried"] * 3
    # stopped at the limit (1 c.u. at the judging rate: this machine's, or the reference's if faster), not long after
    assert 1 <= row["seconds"] / calibration.current().judging_seconds < 2, row
    assert not _running_in(tmp_path / "home" / "tmp" / "grade-"), "the stopped kernel is still running"


def _running_in(home_prefix) -> list[int]:
    """Processes whose LAB_HOME starts with ``home_prefix`` (the graded notebook's kernel and children)."""
    wanted = f"LAB_HOME={home_prefix}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if wanted in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass  # gone meanwhile, or not ours to read
    return found


def test_nothing_gradable_exits_non_zero_with_one_line_each(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a notebook")
    proc = subprocess.run([sys.executable, "-m", "lablib.cli", "grade", str(tmp_path / "empty"),
                           str(tmp_path / "notes.txt"), str(tmp_path / "missing.ipynb"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert any("empty holds no notebook (.ipynb)" in line for line in lines), proc.stderr
    assert any("notes.txt is not a notebook (.ipynb)" in line for line in lines), proc.stderr
    assert any("missing.ipynb does not exist" in line for line in lines), proc.stderr
    assert lines[-1] == "error: no notebook could be graded (see the lines above)"
    assert "Traceback" not in proc.stderr


def test_merged_progress_files_give_the_grade_table(graded, tmp_path, capsys, monkeypatch):
    """Each learner's `lab progress --json` (from the graded homes' progress) merged = grade's table."""
    collected = tmp_path / "collected"
    collected.mkdir()
    for learner in ("labs", "solutions"):
        home = tmp_path / f"home-{learner}"
        home.mkdir()
        shutil.copy(graded["dir"] / "progress" / learner / "00_setup.json", home / "progress.json")
        proc = subprocess.run([sys.executable, "-m", "lablib.cli", "progress", "--json"], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "LAB_HOME": str(home)})
        assert proc.returncode == 0, proc.stderr
        (collected / f"{learner}.json").write_text(proc.stdout)
    (collected / "broken.json").write_text("{not json")
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "instructor"))
    code, out, err = _lab(["progress", "--merge", str(collected), "--out", str(tmp_path / "merged")], capsys)
    assert code == 0, err
    assert len([line for line in err.splitlines() if "broken.json is not JSON" in line]) == 1, err
    merged = json.loads((tmp_path / "merged" / "class-progress.json").read_text())

    def shape(table):
        rows = {(r["learner"], r["notebook"]): {k: (v["result"], v["message"]) for k, v in r["results"].items()}
                for r in table["rows"] if r["graded"]}
        return rows, table["pass_rates"]

    assert shape(merged) == shape(graded["table"])
    assert {r["status"] for r in merged["rows"] if r["graded"]} == {"progress file"}
    csv_header = (tmp_path / "merged" / "class-progress.csv").read_text().splitlines()[0]
    assert csv_header == (graded["dir"] / "grades.csv").read_text().splitlines()[0]
    assert "| **pass rate** | | | 1/2 (50 %) |" in (tmp_path / "merged" / "class-progress.md").read_text()
