"""`lab compare`: a learner's answers against the solution's, nothing about outputs or metadata."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat

from lablib import chapters, comparing, notebooks

LAB = chapters.get("00").lab
SOLUTION = chapters.get("00").solution


def lab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def learner_copy(path, answer: str, keep_ids: bool = True):
    """The lab as a learner hands it in: exercise 1 answered their way, outputs and metadata everywhere."""
    nb = nbformat.read(LAB, as_version=4)
    for n, cell in enumerate(nb.cells):
        if cell.get("id") == "c10":
            cell.source = f"# TODO: your turn\n{answer}"
        if cell.cell_type == "code":
            cell.execution_count = n
            cell.outputs = [nbformat.v4.new_output("stream", text=f"an output of cell {n}\n")]
            cell.metadata["collapsed"] = True
        if not keep_ids:
            cell["id"] = f"renamed-{n}"
    if not keep_ids:  # and a cell of their own, to try things
        nb.cells.insert(9, nbformat.v4.new_code_cell("toys.show()"))
    nb.metadata["widgets"] = {"state": {}}
    nbformat.write(nb, path)
    return path


ANSWER = "puzzles = toys.where(\"category = 'Puzzles'\")"


def test_an_edited_answer_shows_its_diff_and_nothing_about_outputs(tmp_path):
    proc = lab("compare", str(learner_copy(tmp_path / "alice_00_setup.ipynb", ANSWER)))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "against" in out and "00_setup.ipynb" in out  # the default solution: solutions/00_setup
    assert "== ch00.puzzles · Exercise 1 — the puzzles (cell c10): differs" in out
    assert '-  puzzles = toys.filter(toys.category == "Puzzles")' in out
    assert f"+  {ANSWER}" in out
    for other in ("ch00.delta_table", "ch00.plush_price_rise", "ch00.time_travel"):
        assert f"== {other} " in out and out.split(f"== {other} ")[1].split("\n")[0].endswith(": not answered")
    assert "4 answer(s): 1 differs, 3 not answered" in out
    for noise in ("an output of cell", "outputs/", "execution_count", "collapsed", "widgets", "metadata/"):
        assert noise not in out, noise


def test_the_solution_against_itself_is_all_the_same():
    found, _ = comparing.compare(SOLUTION, SOLUTION)
    assert [a.state for a in found] == ["same as the solution"] * 4


def test_answers_are_found_without_cell_ids(tmp_path):
    # ids lost (another editor) and a cell added: nbdime's alignment finds the answer cell anyway
    found, _ = comparing.compare(learner_copy(tmp_path / "bob.ipynb", ANSWER, keep_ids=False), SOLUTION)
    assert [(a.cell_id, a.state) for a in found] == [
        ("c10", "differs"), ("c13", "not answered"), ("c18", "not answered"), ("c23", "not answered")]
    assert found[0].learner == ANSWER


def test_an_answer_inside_kept_context_is_cut_at_the_context():
    stub = ["x = 1", "# TODO: your turn", "pass", "print(x)"]
    mine = ["x = 1", "# TODO: your turn", "y = x + 1", "z = y * 2", "print(x)"]
    assert comparing._between(stub, [(1, 3)], mine, (1, 3)) == ["# TODO: your turn", "y = x + 1", "z = y * 2"]


def test_a_notebook_of_another_course_is_one_sentence(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    nbformat.write(nb, tmp_path / "homework.ipynb")
    proc = lab("compare", str(tmp_path / "homework.ipynb"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: homework.ipynb is not a notebook of this course (no metadata.lab.chapter): "
                                   "hand out and collect the notebooks of labs/; or name the solution: "
                                   "lab compare LAB SOLUTION")


def test_html_writes_nbdimes_web_diff_as_one_offline_file(tmp_path):
    page = tmp_path / "diff" / "alice.html"
    proc = lab("compare", str(learner_copy(tmp_path / "alice_00_setup.ipynb", ANSWER)), str(SOLUTION),
               "--html", str(page))
    assert proc.returncode == 0, proc.stderr
    assert f"web diff written to {page}" in proc.stdout
    html = page.read_text()
    text = re.sub(r"<[^>]+>", "", html)  # the code as drawn (CodeMirror cuts it into spans)
    assert "nbdime" in html and "toys.where" in text and "toys.filter" in text
    assert "an output of cell" not in text
    assert "127.0.0.1" not in html and "<script src" not in html and "<link " not in html  # opens offline


def test_every_blank_lab_of_the_course_is_not_answered_everywhere():
    for ch in chapters.all_chapters():
        found, _ = comparing.compare(ch.lab, ch.solution)
        assert found and {a.state for a in found} == {"not answered"}, (ch.name, [(a.label, a.state) for a in found])


def test_a_markdown_answer_is_compared_too():
    solution = nbformat.v4.new_notebook()
    solution.cells += [
        nbformat.v4.new_markdown_cell("### Why a log?\n\n<!-- BEGIN SOLUTION -->\nReaders see whole versions.\n"
                                      "<!-- END SOLUTION -->\n\nThen the next step."),
        nbformat.v4.new_code_cell("x = 1\n# BEGIN SOLUTION\n# STUB: y = None\ny = x + 1\n# END SOLUTION\nprint(y)"),
    ]
    for n, cell in enumerate(solution.cells):
        cell["id"] = f"s{n}"
    learner = notebooks.to_lab(solution)  # as handed out, then answered
    learner.cells[0].source = learner.cells[0].source.replace("*Your answer here.*", "Because writes are atomic.")
    found = comparing.answers(solution, learner)
    assert [(a.kind, a.label, a.state) for a in found] == [
        ("markdown", "Why a log?", "differs"), ("code", "Why a log?", "not answered")]
    assert (found[0].solution, found[0].learner) == ("Readers see whole versions.", "Because writes are atomic.")
    assert found[1].learner == "y = None"
