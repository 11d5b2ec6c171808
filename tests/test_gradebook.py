"""The class table's pure logic: marks from progress, pass rates, formats; who a learner is."""

from __future__ import annotations

from pathlib import Path

from lablib import chapters, exercises, gradebook, submissions
from lablib.gradebook import FAILED, NOT_TRIED, PASSED, Row

CH00 = exercises.of_notebook(chapters.get("00"))


def test_chapter_00_exercises_come_from_its_solution_in_order():
    assert [ex.key for ex in CH00] == ["ch00.puzzles", "ch00.delta_table", "ch00.plush_price_rise", "ch00.time_travel"]
    assert {ex.notebook for ex in CH00} == {"00_setup"}


def test_marks_tell_not_tried_from_failed_and_keep_a_pass():
    progress = {"00": {
        "puzzles": {"passed": False, "last": "failed", "message": "puzzles is still None", "attempts": 1},
        "delta_table": {"passed": True, "last": "failed", "message": "the Delta table has 3 rows", "attempts": 2},
        "time_travel": {"passed": True, "last": "passed", "message": "version 0 read back", "attempts": 1},
    }}
    marks = gradebook.marks(progress, CH00)
    assert marks["ch00.puzzles"] == gradebook.Mark(FAILED, "puzzles is still None", 1)
    assert marks["ch00.delta_table"].state == PASSED
    assert marks["ch00.delta_table"].message == "passed earlier; last try: the Delta table has 3 rows"
    assert marks["ch00.plush_price_rise"] == gradebook.Mark(NOT_TRIED)
    assert [m.text for m in marks.values()] == [
        "❌ puzzles is still None", "✅ passed earlier; last try: the Delta table has 3 rows", "not tried",
        "✅ version 0 read back"]


def test_pass_rates_count_every_graded_copy_of_the_notebook():
    keys = [ex.key for ex in CH00]
    rows = [
        Row("ann", "00_setup", "a.ipynb", "ran", True, marks={k: gradebook.Mark(PASSED, "ok") for k in keys}),
        Row("ben", "00_setup", "b.ipynb", "time limit", True,
            marks={k: gradebook.Mark(PASSED if k == keys[0] else NOT_TRIED) for k in keys}),
        Row("cy", "", "c.ipynb", "not a notebook", False, "c.ipynb is not a readable notebook"),
    ]
    rates = {p.exercise: (p.passed, p.of) for p in gradebook.pass_rates(rows)}
    assert rates == {keys[0]: (2, 2), keys[1]: (1, 2), keys[2]: (1, 2), keys[3]: (1, 2)}
    md = gradebook.markdown(rows, "t")
    assert "| ben | time limit |  | ✅ ok | not tried |" not in md  # ben passed puzzles without a message
    assert "| ben | time limit |  | ✅ | not tried | not tried | not tried |" in md
    assert "| **pass rate** | | | 2/2 (100 %) | 1/2 (50 %) | 1/2 (50 %) | 1/2 (50 %) |" in md
    assert "| cy | `c.ipynb` | not a notebook: c.ipynb is not a readable notebook |" in md
    csv_lines = gradebook.as_csv(rows).splitlines()
    assert csv_lines[3] == "cy,,c.ipynb,not a notebook,c.ipynb is not a readable notebook,,,,,,"


def test_a_pipe_in_a_message_does_not_break_the_markdown_table():
    row = Row("ann", "00_setup", "a.ipynb", "ran", True,
              marks={ex.key: gradebook.Mark(FAILED, "a | b") for ex in CH00})
    assert "❌ a \\| b" in gradebook.markdown([row], "t")


def test_who_the_learner_is():
    ch = chapters.get("00")
    assert submissions.learner(Path("class/alice/00_setup.ipynb"), ch, Path("class")) == "alice"
    assert submissions.learner(Path("class/alice/week1/copy.ipynb"), None, Path("class")) == "alice"
    assert submissions.learner(Path("in/alice_00_setup.ipynb"), ch) == "alice"
    assert submissions.learner(Path("in/00_setup-Bob Smith.ipynb"), ch) == "Bob Smith"
    assert submissions.learner(Path("labs/00_setup.ipynb"), ch) == "labs"
    assert submissions.learner(Path("in/erin_99_future.ipynb"), None) == "erin"
    assert submissions.learner(Path("in/dave_homework.ipynb"), None) == "dave_homework"


def test_a_chapter_in_parts_is_told_by_title_or_file_name(tmp_path):
    import nbformat

    parts = chapters.parts("03")
    nb = nbformat.read(parts[1].lab, as_version=4)
    assert submissions.course_notebook(nb, tmp_path / "whatever.ipynb") == parts[1]  # by title
    nb.metadata["lab"]["title"] = "renamed by the learner"
    assert submissions.course_notebook(nb, tmp_path / f"alice_{parts[1].name}.ipynb") == parts[1]  # by name
    try:
        submissions.course_notebook(nb, tmp_path / "alice.ipynb")
    except submissions.Unusable as bad:
        assert bad.kind == submissions.UNKNOWN_CHAPTER and "comes in parts" in bad.message
    else:
        raise AssertionError("a part that cannot be told was accepted")
