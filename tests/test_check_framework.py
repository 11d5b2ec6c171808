"""The check API: one line, never a traceback, progress recorded, strict mode for CI.

Also the tests' own tools: ``rejects`` (tests/checking.py) and the crash net (tests/fixtures_checks.py).
"""

import json
import textwrap

import pytest
from checking import accepts, rejects

from lablib.check import CheckFailed, exercise, fail, not_run, progress

pytest_plugins = ["pytester"]


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


@exercise("98", hint="a hint the learner cannot act on here")
def needs_a_tool(answer):
    not_run("the tool is not on PATH: install it")


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


@pytest.mark.check_may_crash
def test_an_exception_in_the_answer_is_not_a_traceback(capsys):
    result = crashes([1])
    out = capsys.readouterr().out
    assert not result and out.startswith("❌ crashes: could not check your answer (IndexError")
    assert "Traceback" not in out
    assert result.crashed and repr(result) == "<check 98.crashes: crashed>"


def test_a_rejection_is_not_a_crash():
    assert not total(4).crashed and not total(3).crashed and not unanswered(None).crashed


def test_not_implemented_says_not_answered(capsys):
    rejects(unanswered(None), "not answered yet")
    assert "not answered yet" in capsys.readouterr().out


def test_accepts_and_rejects_take_the_right_and_the_wrong_answer():
    accepts(total(3))
    rejects(total(4), "got 4, expected 3")
    rejects(total(4), "Hint: add them")  # the hint is part of what the learner reads
    with pytest.raises(AssertionError, match="rejected a right answer"):
        accepts(total(4))
    with pytest.raises(AssertionError, match="accepted a wrong answer"):
        rejects(total(3), "expected 3")


@pytest.mark.check_may_crash
def test_rejects_fails_for_a_crash_although_the_result_is_falsy():
    result = crashes([1])
    assert not result  # falsy: a bare `assert not` took this crash for a rejection
    with pytest.raises(AssertionError, match="crashed instead of rejecting"):
        rejects(result, "could not check your answer")


def test_rejects_fails_for_another_reason():
    with pytest.raises(AssertionError, match="not for the reason 'duplicate'"):
        rejects(total(4), "duplicate")
    with pytest.raises(AssertionError, match="name the reason"):
        rejects(total(4), " ")
    with pytest.raises(AssertionError, match="not for the reason 'total'"):  # the name is no reason
        rejects(total(4), "total")


def test_results_of_the_test_are_observed(check_results):
    total(3)
    total(4)
    assert [r.passed for r in check_results] == [True, False]


CRASHING_TESTS = textwrap.dedent("""
    import pytest
    from lablib.check import exercise

    @exercise("97")
    def broken(answer):
        return answer["missing"]

    def test_crash_unmarked():
        assert not broken({})  # falsy, as a rejection would be

    def test_crash_then_fails():
        broken({})
        assert False, "its own failure"

    @pytest.mark.check_may_crash
    def test_crash_declared():
        assert broken({}).crashed

    def test_no_check():
        assert True
""")


@pytest.mark.check_may_crash  # the inner session's crashes pass through this test's net too
def test_the_crash_net_fails_a_test_whose_check_crashed(pytester, monkeypatch):
    monkeypatch.delenv("LAB_CHECKS_STRICT", raising=False)
    pytester.makepyfile(test_inner=CRASHING_TESTS)
    run = pytester.inline_run("-p", "tests.fixtures_checks", "-p", "no:cacheprovider")
    passed, skipped, failed = run.listoutcomes()
    assert sorted(r.head_line for r in passed) == ["test_crash_declared", "test_no_check"]
    failed = {r.head_line: r for r in failed}
    assert sorted(failed) == ["test_crash_then_fails", "test_crash_unmarked"]
    assert "1 check(s) crashed" in str(failed["test_crash_unmarked"].longrepr)
    assert "❌ broken: could not check your answer (KeyError: 'missing')" in str(failed["test_crash_unmarked"].longrepr)
    # a test that failed on its own keeps its own failure, and says which check crashed
    assert "its own failure" in str(failed["test_crash_then_fails"].longrepr)
    sections = dict(failed["test_crash_then_fails"].sections)
    assert "could not check your answer (KeyError" in sections["crashed checks"]


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


def test_not_run_is_neither_pass_nor_fail(home, monkeypatch, capsys):
    """A check whose tool is missing prints ➖ "not run" with the reason, records no progress and does
    not raise in strict mode (a machine without the tool is not a wrong answer)."""
    monkeypatch.setenv("LAB_CHECKS_STRICT", "1")
    result = needs_a_tool(None)
    assert capsys.readouterr().out.strip() == "➖ needs_a_tool: not run: the tool is not on PATH: install it"
    assert not result.passed and not result.ran and not result.crashed
    assert "needs_a_tool" not in progress.load().get("98", {})
