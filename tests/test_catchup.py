"""Catch-up: after a ❌ in a notebook, the solution's own cells for that exercise run in its place.

The mechanism runs in a real IPython shell with a planted check and planted reference cells; which
cells are the reference is read from real solution notebooks. That every blank lab of the course
runs to the end on it, each reference passing its check again, is
tests/test_notebooks.py::test_second_run_in_a_row_is_the_blank_lab_and_every_reference_passes_again.
"""

from __future__ import annotations

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from lablib import catchup, chapters, exercises
from lablib.check import CheckFailed, exercise, fail


@exercise("97", hint="say 42")
def answer(value):
    if value != 42:
        fail(f"got {value!r}")
    return "42"


def _nb(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_the_reference_is_the_answer_cells_between_the_previous_check_and_this_one():
    nb = _nb(
        "import lablib",
        "x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION",
        "lablib.check.ch97.first(y)",
        "demo = 3",  # a demo cell after a check, before the next answer: the learner ran it already
        "pre = 4\n# BEGIN SOLUTION\n# STUB: z = None\nz = pre + 1\n# END SOLUTION",
        "helper = z * 2",  # between the answer and its check: part of the reference
        "lablib.check.ch97.second(z, helper)",
    )
    assert catchup.reference_in(nb, "97", "first") == (nb.cells[1].source,)
    assert catchup.reference_in(nb, "97", "second") == (nb.cells[4].source, nb.cells[5].source)
    assert catchup.reference_in(nb, "97", "third") is None


def test_a_check_with_no_answer_region_before_it_has_nothing_to_run():
    nb = _nb("lablib.check.ch97.first(1)", "v = 1", "lablib.check.ch97.second(v)")
    assert catchup.reference_in(nb, "97", "second") == ()


@pytest.mark.parametrize("ex", exercises.course(), ids=lambda e: e.key)
def test_every_exercise_of_the_course_has_reference_cells(ex):
    ref = catchup.reference(ex.chapter, ex.name)
    assert ref is not None and ref.notebook == chapters.get(ex.notebook).solution
    assert ref.cells, f"{ex.key}: no '# BEGIN SOLUTION' cell between the previous check and this one"
    assert "# BEGIN SOLUTION" in ref.cells[0]
    assert f"check.ch{ex.chapter}.{ex.name}(" in ref.check_cell


@pytest.fixture
def shell(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.delenv("LAB_CHECKS_STRICT", raising=False)
    monkeypatch.delenv("LAB_CATCH_UP", raising=False)
    monkeypatch.delenv("LAB_CATCH_UP_VERIFY", raising=False)
    sh = InteractiveShell.instance()
    sh.user_ns["answer"] = answer
    yield sh
    for name in ("value", "double", "answer"):
        sh.user_ns.pop(name, None)


def _plant(monkeypatch, *cells: str, check_cell: str = "answer(value)") -> None:
    ref = catchup.Reference(chapters.SOLUTIONS / "97_planted.ipynb", cells, check_cell)
    monkeypatch.setattr(catchup, "reference", lambda chapter, name: ref if (chapter, name) == ("97", "answer") else None)


def test_after_a_failed_check_the_reference_cells_define_the_names(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 40 + 2\nprint('not shown')", "double = value * 2")
    shell.user_ns["value"] = None
    result = shell.run_cell("answer(value)")
    out = capsys.readouterr().out
    assert result.success
    assert "❌ answer: got None Hint: say 42" in out
    assert "↪ catch-up: the reference answer (solutions/97_planted.ipynb) ran in its place" in out
    assert "not shown" not in out  # the reference cells' own output stays out of the learner's cell
    assert shell.user_ns["value"] == 42 and shell.user_ns["double"] == 84


def test_a_passing_check_changes_nothing(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 'reference'")
    shell.user_ns["value"] = 42
    shell.run_cell("answer(value)")
    out = capsys.readouterr().out
    assert "✅ answer: 42" in out and "catch-up" not in out
    assert shell.user_ns["value"] == 42


def test_a_reference_cell_that_raises_is_one_line_not_a_traceback(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 1 / 0")
    shell.user_ns["value"] = None
    result = shell.run_cell("answer(value)")
    out = capsys.readouterr().out
    assert result.success
    assert ("↪ catch-up could not run the reference answer from solutions/97_planted.ipynb "
            "(ZeroDivisionError: division by zero)") in out
    assert "Traceback" not in out


def test_strict_runs_stop_at_the_failure_instead(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 42")
    monkeypatch.setenv("LAB_CHECKS_STRICT", "1")
    shell.user_ns["value"] = None
    result = shell.run_cell("answer(value)")
    assert isinstance(result.error_in_exec, CheckFailed)
    assert shell.user_ns["value"] is None
    assert "catch-up" not in capsys.readouterr().out


def test_lab_catch_up_0_turns_it_off(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 42")
    monkeypatch.setenv("LAB_CATCH_UP", "0")
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    assert "catch-up" not in capsys.readouterr().out
    assert shell.user_ns["value"] is None


def test_outside_a_notebook_a_failed_check_only_prints(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.delenv("LAB_CHECKS_STRICT", raising=False)
    monkeypatch.setattr(catchup, "_shell", lambda: None)
    _plant(monkeypatch, "raise AssertionError('must not run')")
    assert not answer(None)
    out = capsys.readouterr().out
    assert out.startswith("❌ answer: got None") and "catch-up" not in out


def test_checks_called_by_reference_cells_stay_silent(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 42\nanswer(0)")  # a reference cell that itself calls a check
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    out = capsys.readouterr().out
    assert out.count("❌") == 1 and "got 0" not in out
    assert shell.user_ns["value"] == 42


def test_reference_cells_run_as_the_kernel_runs_them_not_with_this_modules_future_imports(shell, monkeypatch):
    # lablib/catchup.py has `from __future__ import annotations`; a reference cell must still see its
    # annotations as objects, as it does in the solution's own kernel (Dagster reads them as types)
    _plant(monkeypatch, "def f(x: int) -> int:\n    return x\nvalue = 42 if f.__annotations__['x'] is int else 0")
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    assert shell.user_ns["value"] == 42


def test_verify_mode_runs_the_check_cell_again_and_prints_its_verdict_on_the_reference(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 40 + 2")
    monkeypatch.setenv("LAB_CATCH_UP_VERIFY", "1")
    shell.user_ns["value"] = None
    result = shell.run_cell("answer(value)")
    lines = capsys.readouterr().out.splitlines()
    assert result.success
    assert lines[0] == "❌ answer: got None Hint: say 42"
    assert lines[1].startswith("↪ catch-up: the reference answer (solutions/97_planted.ipynb) ran in its place")
    assert lines[2] == "↪ the reference passes its check here: ✅ answer: 42"


def test_without_verify_mode_there_is_no_verdict_line(shell, monkeypatch, capsys):
    _plant(monkeypatch, "value = 42")
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    out = capsys.readouterr().out
    assert "catch-up" in out and "the reference passes" not in out


def test_verify_mode_says_when_the_reference_fails_its_check_in_this_kernel(shell, monkeypatch, capsys):
    # e.g. a second run in a row where the reference appended instead of overwriting
    _plant(monkeypatch, "value = 41")
    monkeypatch.setenv("LAB_CATCH_UP_VERIFY", "1")
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    out = capsys.readouterr().out
    assert "↪ the reference fails its check here: ❌ answer: got 41 Hint: say 42" in out
    assert out.count("❌ answer") == 2  # the learner's line, and the verdict quoting the reference's


def test_verify_mode_names_a_check_cell_that_raises_or_never_calls_the_check(shell, monkeypatch, capsys):
    monkeypatch.setenv("LAB_CATCH_UP_VERIFY", "1")
    _plant(monkeypatch, "value = 42", check_cell="missing_name + 1")
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    assert "↪ the reference's check cell raised (NameError: name 'missing_name' is not defined)" in capsys.readouterr().out
    _plant(monkeypatch, "value = 42", check_cell="print(value)")
    shell.user_ns["value"] = None
    shell.run_cell("answer(value)")
    assert "↪ the reference's check cell did not call check.ch97.answer" in capsys.readouterr().out


def test_a_kernel_that_calls_a_check_does_not_import_jsonschema():
    # nbformat validates with jsonschema, whose import costs about a second here (it builds an IRI
    # grammar); every notebook calls a check, and only a catch-up reads a notebook
    import subprocess
    import sys

    code = "import sys, lablib.check, lablib.catchup; print(sorted({'nbformat', 'jsonschema'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing the checks loaded {out.stdout.strip()}"
