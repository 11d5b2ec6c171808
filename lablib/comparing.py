"""`lab compare`: a learner's answers against the solution's, and nothing else.

A learner's notebook differs from the solution in many places that say nothing about the answers:
outputs, execution counts, metadata, cells added to try things. So the comparison is made between
two small notebooks built for it, one cell per answer region:

* the solution's side: the code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (``# STUB:``
  lines left out), and the text between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``;
* the learner's side: what the learner wrote where the lab had its stub. The lab is rebuilt from
  the solution (``lab build``'s own code), the learner's cell is found by its cell id (JupyterLab
  keeps ids; nbdime's cell alignment finds it otherwise), and the lines around the stub, which
  the learner left as they were, bound the answer.

nbdime diffs the two (``nbdime.diff_notebooks``); the terminal shows each answer's diff, and
``--html`` writes nbdime's own web diff as one self-contained file (see :func:`write_html`).
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lablib import chapters, notebooks, submissions
from lablib.errors import LabError
from lablib.exercises import CHECK_CALL

_MD_BEGIN = "<!-- BEGIN SOLUTION -->"
_MD_END = "<!-- END SOLUTION -->"
_PLACEHOLDER = "*Your answer here.*"
_HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*$", re.M)


@dataclass
class Answer:
    """One answer region: the solution's text and the learner's."""

    cell_id: str
    kind: str  # code | markdown
    label: str  # the exercise's check (ch00.puzzles) and heading, to find it in the notebook
    solution: str
    stub: str  # what the lab had there
    learner: str | None  # None: the learner's notebook has no such cell

    @property
    def state(self) -> str:
        if self.learner is None:
            return "missing"
        if _same(self.learner, self.solution):
            return "same as the solution"
        if _same(self.learner, self.stub) or not self.learner.strip():
            return "not answered"
        return "differs"


def _same(a: str, b: str) -> bool:
    return [line.rstrip() for line in a.strip().splitlines()] == [line.rstrip() for line in b.strip().splitlines()]


# --------------------------------------------------------------------------- pairing
def solution_for(lab_path: Path, lab: nbformat.NotebookNode) -> Path:
    """The solution a learner's notebook is compared with: by metadata.lab, else by file name."""
    try:
        return submissions.course_notebook(lab, lab_path).solution
    except submissions.Unusable as not_by_metadata:
        by_name = [ch for ch in chapters.all_chapters() if ch.name in lab_path.stem]
        if len(by_name) == 1:
            return by_name[0].solution
        raise LabError(f"{not_by_metadata.message}; or name the solution: lab compare LAB SOLUTION") from None


def answers(solution: nbformat.NotebookNode, learner: nbformat.NotebookNode) -> list[Answer]:
    """Every answer region of ``solution`` with what ``learner`` wrote there, in notebook order."""
    lab = notebooks.to_lab(solution)
    where = _cell_map(lab, learner)
    found: list[Answer] = []
    for i, cell in enumerate(solution.cells):
        mine = learner.cells[where[i]] if i in where else None
        label = _label(solution, i)
        cell_id = str(cell.get("id") or f"cell-{i}")
        if cell.cell_type == "code" and notebooks.code_regions(cell.source):
            found += _code_answers(cell.source, lab.cells[i].source, mine, cell_id, label)
        elif cell.cell_type == "markdown" and _MD_BEGIN in cell.source:
            found += _markdown_answers(cell.source, lab.cells[i].source, mine, cell_id, label)
    return found


def _cell_map(lab: nbformat.NotebookNode, learner: nbformat.NotebookNode) -> dict[int, int]:
    """Lab cell index -> learner cell index: by cell id, else by nbdime's alignment of the cells."""
    ids = [c.get("id") for c in learner.cells]
    by_id = {cid: j for j, cid in enumerate(ids) if cid and ids.count(cid) == 1}
    mapping = {i: by_id[c.get("id")] for i, c in enumerate(lab.cells) if c.get("id") in by_id}
    if len(mapping) == len(lab.cells):
        return mapping
    import nbdime

    aligned = _align(len(lab.cells), _cells_diff(nbdime.diff_notebooks(_sources(lab), _sources(learner))))
    taken = set(mapping.values())
    for i, j in aligned.items():
        if i not in mapping and j not in taken:
            mapping[i] = j
    return mapping


def _sources(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with sources only: alignment must not depend on outputs or metadata."""
    plain = nbformat.v4.new_notebook()
    for cell in nb.cells:
        plain.cells.append({"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
                           .get(cell.cell_type, nbformat.v4.new_raw_cell)(cell.source))
    for cell in plain.cells:
        cell.pop("id", None)
    return plain


def _cells_diff(diff: list) -> list:
    return next((e.diff for e in diff if e.op == "patch" and e.key == "cells"), [])


def _align(count: int, ops: list) -> dict[int, int]:
    """Map base cell indices to remote ones from nbdime's diff of the cell list."""
    mapping: dict[int, int] = {}
    i = j = 0
    by_key: dict[int, list] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    for key in sorted(by_key):
        while i < key:
            mapping[i] = j
            i, j = i + 1, j + 1
        added = sum(len(op.valuelist) for op in by_key[key] if op.op == "addrange")
        removed = sum(op.length for op in by_key[key] if op.op == "removerange")
        # cells removed and added at one place were rewritten (an answer replacing its stub
        # shares too little text for nbdime to call it a change): pair them in order
        for k in range(min(added, removed)):
            mapping[i + k] = j + k
        i, j = i + removed, j + added
        if any(op.op == "patch" for op in by_key[key]):
            mapping[i] = j
            i, j = i + 1, j + 1
    while i < count:
        mapping[i] = j
        i, j = i + 1, j + 1
    return mapping


def _between(stub: list[str], spans: list[tuple[int, int]], mine: list[str], span: tuple[int, int]) -> list[str]:
    """The learner's lines where the stub had ``span``: bounded by the nearest stub lines outside
    every region that the learner kept as they were."""
    inside = {k for a, b in spans for k in range(a, b)}
    anchors: list[tuple[int, int]] = []
    matcher = difflib.SequenceMatcher(None, [s.rstrip() for s in stub], [m.rstrip() for m in mine], autojunk=False)
    for block in matcher.get_matching_blocks():
        anchors += [(block.a + k, block.b + k) for k in range(block.size) if block.a + k not in inside]
    lo = max((j for i, j in anchors if i < span[0]), default=-1) + 1
    hi = min((j for i, j in anchors if i >= span[1]), default=len(mine))
    return mine[lo:max(lo, hi)]


def _code_answers(solution: str, stub: str, mine, cell_id: str, label: str) -> list[Answer]:
    regions = notebooks.code_regions(solution)
    spans, shift = [], 0
    for r in regions:  # where each region's stub sits in the lab's cell
        start = r.begin - shift
        spans.append((start, start + len(r.stub)))
        shift += (r.end - r.begin + 1) - len(r.stub)
    stub_lines, out = stub.split("\n"), []
    for n, (r, span) in enumerate(zip(regions, spans, strict=True)):
        learner = None
        if mine is not None:
            lines = _between(stub_lines, spans, mine.source.split("\n"), span)
            if lines and lines[0].strip() == "# TODO: your turn":
                lines = lines[1:]
            if any("# BEGIN SOLUTION" in line for line in lines):  # a solution compared: its answer only
                lines = [kept for region in notebooks.code_regions("\n".join(lines)) for kept in region.answer]
            learner = "\n".join(lines)
        name = label if len(regions) == 1 else f"{label}, part {n + 1}"
        out.append(Answer(cell_id, "code", name, "\n".join(r.answer), "\n".join(r.stub[1:]), learner))
    return out


def _markdown_answers(solution: str, stub: str, mine, cell_id: str, label: str) -> list[Answer]:
    sol_lines, stub_lines = solution.split("\n"), stub.split("\n")
    blocks, i = [], 0  # (first line, last line) of each hidden block in the solution
    while i < len(sol_lines):
        if _MD_BEGIN in sol_lines[i]:
            j = i
            while j < len(sol_lines) and _MD_END not in sol_lines[j]:
                j += 1
            blocks.append((i, min(j, len(sol_lines) - 1)))
            i = j
        i += 1
    holes = [k for k, line in enumerate(stub_lines) if _PLACEHOLDER in line]
    spans = [(k, k + 1) for k in holes]
    out = []
    for n, (a, b) in enumerate(blocks):
        text = "\n".join(sol_lines[a:b + 1]).replace(_MD_BEGIN, "").replace(_MD_END, "").strip()
        learner = None
        if mine is not None and n < len(spans):
            learner = "\n".join(_between(stub_lines, spans, mine.source.split("\n"), spans[n]))
            learner = learner.replace(_MD_BEGIN, "").replace(_MD_END, "").strip()
        name = label if len(blocks) == 1 else f"{label}, part {n + 1}"
        hole = stub_lines[spans[n][0]].strip() if n < len(spans) else _PLACEHOLDER
        out.append(Answer(cell_id, "markdown", name, text, hole, learner))
    return out


def _label(solution: nbformat.NotebookNode, index: int) -> str:
    """The exercise's check (the next check call) and the heading above the cell."""
    check = ""
    for cell in solution.cells[index:]:
        if cell.cell_type == "code":
            m = CHECK_CALL.search(cell.source)
            if m:
                check = f"ch{m.group(1)}.{m.group(2)}"
                break
    heading = ""
    for cell in reversed(solution.cells[:index + 1]):
        if cell.cell_type == "markdown":
            found = _HEADING.findall(cell.source)
            if found:
                heading = found[-1]
                break
    return " · ".join(part for part in (check, heading) if part) or f"cell {index}"


# --------------------------------------------------------------------------- diff and show
def answer_notebooks(found: list[Answer]) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(solution side, learner side): a heading cell and an answer cell per region; no outputs."""
    sides = []
    for side in ("solution", "learner"):
        nb = nbformat.v4.new_notebook()
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "language_info": {"name": "python"}}
        top = nbformat.v4.new_markdown_cell("left: the solution's answers; right: the learner's")
        top["id"] = "sides"
        nb.cells.append(top)
        for n, a in enumerate(found):
            head = nbformat.v4.new_markdown_cell(f"{a.label} (cell {a.cell_id})")
            head["id"] = f"label-{n}"
            text = a.solution if side == "solution" else (a.learner if a.learner is not None else "")
            cell = (nbformat.v4.new_code_cell if a.kind == "code" else nbformat.v4.new_markdown_cell)(text)
            cell["id"] = f"answer-{n}"
            nb.cells += [head, cell]
        sides.append(nb)
    return sides[0], sides[1]


def report(found: list[Answer], learner_name: str, solution_name: str, color: bool = False) -> str:
    """Each answer's state, and nbdime's diff of the ones that differ (solution → learner)."""
    import nbdime
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    base, remote = answer_notebooks(found)
    cells = {e.key: e.diff for e in _cells_diff(nbdime.diff_notebooks(base, remote)) if e.op == "patch"}
    out = io.StringIO()
    out.write(f"{learner_name} against {solution_name}: the answers only (outputs and metadata are not compared)\n"
              "--- solution\n+++ learner\n\n")
    for n, a in enumerate(found):
        out.write(f"== {a.label} (cell {a.cell_id}): {a.state}\n")
        if a.state != "differs":
            continue
        source_diff = next((e.diff for e in cells.get(2 * n + 2, []) if e.key == "source"), None)
        if source_diff:
            config = PrettyPrintConfig(out=out, use_git=False, use_diff=False, use_color=color)
            pretty_print_diff(base.cells[2 * n + 2].source, source_diff, f"/cells/{a.cell_id}/source", config)
    counts = {}
    for a in found:
        counts[a.state] = counts.get(a.state, 0) + 1
    out.write("\n" + f"{len(found)} answer(s): " + ", ".join(f"{v} {k}" for k, v in counts.items()) + "\n")
    return out.getvalue()


def compare(lab_path: Path, solution_path: Path | None = None) -> tuple[list[Answer], Path]:
    lab = submissions.read(lab_path)
    solution_path = solution_path or solution_for(lab_path, lab)
    solution = submissions.read(solution_path)
    found = answers(solution, lab)
    if not found:
        raise LabError(f"{solution_path.name} has no answer region (# BEGIN SOLUTION): nothing to compare")
    return found, solution_path


def _shown(path: Path) -> str:
    """A path as the person typed it, or relative to where they are when it is below."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except ValueError:
        return str(path)


def run_cli(lab: str, solution: str | None = None, html: str | None = None) -> int:
    import sys

    lab_path = Path(lab)
    if not lab_path.is_file():
        raise LabError(f"{lab} does not exist: name the learner's notebook")
    if solution is not None and not Path(solution).is_file():
        raise LabError(f"{solution} does not exist: name a solution notebook, or leave it out to use solutions/")
    found, solution_path = compare(lab_path, Path(solution) if solution else None)
    print(report(found, _shown(lab_path), _shown(solution_path), color=sys.stdout.isatty()), end="")
    if html:
        from lablib import webdiff

        base, remote = answer_notebooks(found)
        written = webdiff.write_html(base, remote, Path(html), title=f"{lab_path.name} against {solution_path.name}")
        print(f"web diff written to {written}")
    return 0
