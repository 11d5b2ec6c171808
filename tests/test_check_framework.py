"""The check API: one line, never a traceback, progress recorded, strict mode for CI."""

import json

import pytest

from lablib.check import CheckFailed, exercise, fail, progress


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.delenv("LAB_CHECKS_STRICT", raising=False)
    return tmp_path


@exercise("98", hint="add them")
def total(answer):
    if answer != 3:
        fail(f"got {answer}, expected 3")
    return "1 + 2 = 3"


@exercise("98", hint="return a list")
def crashes(answer):
    return answer[5]


@exercise("98")
def unanswered(answer):
    raise NotImplementedError("your turn")


def test_pass_prints_one_line(capsys):
    result = total(3)
    assert result and result.passed
    assert capsys.readouterr().out == "✅ total: 1 + 2 = 3\n"


def test_fail_prints_what_differs_and_the_hint(capsys):
    result = total(4)
    assert not result
    assert capsys.readouterr().out == "❌ total: got 4, expected 3 Hint: add them\n"


def test_an_exception_in_the_answer_is_not_a_traceback(capsys):
    result = crashes([1])
    out = capsys.readouterr().out
    assert not result and out.startswith("❌ crashes: could not check your answer (IndexError")
    assert "Traceback" not in out


def test_not_implemented_says_not_answered(capsys):
    assert not unanswered(None)
    assert "not answered yet" in capsys.readouterr().out


def test_strict_mode_raises_after_printing(monkeypatch, capsys):
    monkeypatch.setenv("LAB_CHECKS_STRICT", "1")
    with pytest.raises(CheckFailed, match="got 5"):
        total(5)
    assert "❌ total" in capsys.readouterr().out
    assert total(3)  # a pass never raises


def test_progress_is_recorded_and_stays_passed(home):
    total(4)
    data = json.loads((home / "progress.json").read_text())
    assert data["98"]["total"]["passed"] is False and data["98"]["total"]["attempts"] == 1
    total(3)
    total(4)  # a later slip does not undo a pass
    entry = progress.load()["98"]["total"]
    assert entry["passed"] is True and entry["last"] == "failed" and entry["attempts"] == 3


def test_checklist_lists_unattempted_exercises(home):
    total(3)
    rows = progress.checklist({"98": ["total", "crashes"]})
    assert ("98", "total", "✅") in rows and ("98", "crashes", "·") in rows


def test_damaged_progress_file_is_replaced(home):
    (home / "progress.json").write_text("{not json")
    total(3)
    assert progress.load()["98"]["total"]["passed"]
