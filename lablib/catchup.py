"""Catch-up: after a ❌, the rest of a lab runs on the reference answer.

A learner who leaves an exercise blank (or gets it wrong) should still see the
rest of the lab run. When a check fails inside a notebook, :func:`after_failure`
runs, in the learner's kernel, the *solution notebook's own* cells that produce
the answer: from the first code cell holding a ``# BEGIN SOLUTION`` region after
the previous check cell, up to (not including) the failing check's cell. Those
cells define the names the check looked at and everything after it uses, so the
cells below continue on the reference result. One line says so. There is no
third copy of an answer: the reference is read from ``solutions/`` each time.

Nothing happens outside IPython (scripts, tests of checks), in strict runs of
solutions (``LAB_CHECKS_STRICT=1``, where a failure must stop the run), or when
``LAB_CATCH_UP=0``. The learner's own cell is not changed; running it again
after a fix replaces the reference names with the learner's.

With ``LAB_CATCH_UP_VERIFY=1`` (the course's tests), the solution's check cell
then runs too, its checks silent, and a second line gives the check's verdict
on the reference answer *in this kernel*: a blank lab run after its solution
in the same LAB_HOME thereby proves each reference answer passes its check on
a second run in a row.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lablib import chapters
from lablib.config import settings

if TYPE_CHECKING:
    import nbformat

_REGION = re.compile(r"^\s*# BEGIN SOLUTION\b", re.M)
_ANY_CHECK = re.compile(r"\bcheck\.ch\d\d\.[A-Za-z_]\w*\s*\(")

#: True while reference cells run: checks they call stay silent and never catch up themselves
_running = False
#: while the solution's check cell runs in verify mode: the exercise whose verdict is wanted, and the verdict
_wanted: tuple[str, str] | None = None
_verdict = None


@dataclass(frozen=True)
class Reference:
    notebook: Path  # the solution notebook
    cells: tuple[str, ...]  # the code cells to run, in order
    check_cell: str = ""  # the solution's cell that calls the exercise's check

    @property
    def rel(self) -> str:
        return f"{self.notebook.parent.name}/{self.notebook.name}"


def _check_call(chapter: str, exercise: str) -> re.Pattern:
    return re.compile(rf"\bcheck\.ch{chapter}\.{re.escape(exercise)}\s*\(")


def reference_in(nb: nbformat.NotebookNode, chapter: str, exercise: str) -> tuple[str, ...] | None:
    """The code cells of a solution notebook that produce one exercise's answer, or None when the
    notebook does not check that exercise."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    call = _check_call(chapter, exercise)
    at = next((i for i, src in enumerate(code) if call.search(src)), None)
    if at is None:
        return None
    start = 0
    for i in range(at - 1, -1, -1):  # after the previous cell that calls a check
        if _ANY_CHECK.search(code[i]) and not _REGION.search(code[i]):
            start = i + 1
            break
    first = next((i for i in range(start, at) if _REGION.search(code[i])), None)
    if first is None:
        return ()
    return tuple(code[first:at])


def check_cell_in(nb: nbformat.NotebookNode, chapter: str, exercise: str) -> str:
    """The source of the solution's first code cell that calls ``check.chNN.exercise(...)``."""
    call = _check_call(chapter, exercise)
    return next((c.source for c in nb.cells if c.cell_type == "code" and call.search(c.source)), "")


@functools.lru_cache(maxsize=32)
def _reference(chapter: str, exercise: str, stamp: tuple) -> Reference | None:
    # imported here, not at the top: nbformat validates with jsonschema, whose import costs about
    # a second (it builds an IRI grammar), and every kernel that calls a check imports this module
    import nbformat

    for ch in chapters.all_chapters():
        if ch.number != chapter:
            continue
        nb = nbformat.read(ch.solution, as_version=4)
        cells = reference_in(nb, chapter, exercise)
        if cells is not None:
            return Reference(ch.solution, cells, check_cell_in(nb, chapter, exercise))
    return None


def reference(chapter: str, exercise: str) -> Reference | None:
    """Where the reference answer of ``chNN.exercise`` lives, and the cells that produce it."""
    stamp = tuple((str(ch.solution), ch.solution.stat().st_mtime) for ch in chapters.all_chapters()
                  if ch.number == chapter)
    return _reference(chapter, exercise, stamp)


def running() -> bool:
    """True while reference cells run (a check they call stays silent)."""
    return _running


def judging(chapter: str, exercise: str) -> bool:
    """True when this check, called from the solution's check cell in verify mode, should hand its
    verdict to :func:`verdict` (silently) instead of printing it."""
    return _running and _wanted == (chapter, exercise)


def verdict(result) -> None:
    """Keep the verdict of the check being judged (see :func:`judging`)."""
    global _verdict
    _verdict = result


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def enabled() -> bool:
    cfg = settings()
    return cfg.catch_up and not cfg.checks_strict


def _run(shell, sources, rel: str) -> None:
    from IPython.utils.capture import capture_output

    with capture_output(display=True), contextlib.redirect_stderr(io.StringIO()):
        for source in sources:
            # dont_inherit: this module's `from __future__ import annotations` must not turn the
            # cell's annotations into strings (Dagster, pydantic read them as types)
            code = compile(shell.transform_cell(source), f"<reference: {rel}>", "exec", dont_inherit=True)
            exec(code, shell.user_ns)  # noqa: S102 - the course's own solution cells


def _first(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]}"


def _judge(shell, ref: Reference, chapter: str, exercise: str) -> str:
    """Run the solution's check cell with its checks silent; the verdict line on the reference answer."""
    global _wanted, _verdict
    _wanted, _verdict = (chapter, exercise), None
    try:
        _run(shell, [ref.check_cell], ref.rel)
    except BaseException as exc:  # noqa: BLE001 - reported as the verdict, never as a traceback
        return f"↪ the reference's check cell raised ({_first(exc)})"
    finally:
        _wanted = None
    if _verdict is None:
        return f"↪ the reference's check cell did not call check.ch{chapter}.{exercise}"
    if _verdict.passed:
        return f"↪ the reference passes its check here: {_verdict.line}"
    return f"↪ the reference fails its check here: {_verdict.line}"


def after_failure(chapter: str, exercise: str) -> str | None:
    """Run the reference cells of a failed exercise in the learner's kernel; the line printed, or
    None when catch-up does not apply here."""
    global _running
    shell = _shell()
    if shell is None or _running or not enabled():
        return None
    ref = reference(chapter, exercise)
    if ref is None or not ref.cells:
        return None
    _running = True
    judged = None
    try:
        _run(shell, ref.cells, ref.rel)
        line = (f"↪ catch-up: the reference answer ({ref.rel}) ran in its place, so the lab goes on; "
                "your cell is unchanged")
        if settings().catch_up_verify:
            judged = _judge(shell, ref, chapter, exercise)
    except BaseException as exc:  # noqa: BLE001 - a catch-up must never become the learner's traceback
        line = f"↪ catch-up could not run the reference answer from {ref.rel} ({_first(exc)})"
    finally:
        _running = False
    print(line)
    if judged:
        print(judged)
    return line
