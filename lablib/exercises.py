"""The exercises of each course notebook, read from its solution (the single source).

An exercise is an answer region (``# BEGIN SOLUTION`` … ``# END SOLUTION``) followed by a check
cell calling ``lablib.check.chNN.<name>(…)``. The checks a solution calls, in the order it calls
them, are the exercises a learner of that notebook is graded on: one that never ran in the
learner's notebook is "not tried", which is not the same as ❌ (tried and rejected).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lablib import chapters

#: a check call in a code cell: ``lablib.check.ch00.puzzles(puzzles, toys)``
CHECK_CALL = re.compile(r"\bcheck\.ch(\d\d)\.([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True)
class Exercise:
    chapter: str  # "00"
    name: str  # "puzzles"
    notebook: str  # the course notebook it belongs to: "00_setup"

    @property
    def key(self) -> str:
        """How tables name it, as the learner's check cell does: ``ch00.puzzles``."""
        return f"ch{self.chapter}.{self.name}"


def checks_in(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(chapter, exercise) of every check a notebook calls, in order, each once."""
    found: list[tuple[str, str]] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for chapter, name in CHECK_CALL.findall(cell.source):
            if (chapter, name) not in found:
                found.append((chapter, name))
    return found


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime: float) -> tuple[tuple[str, str], ...]:
    return tuple(checks_in(nbformat.read(path, as_version=4)))


def of_notebook(chapter: chapters.Chapter) -> list[Exercise]:
    """The exercises of one course notebook, in the order its solution checks them."""
    path: Path = chapter.solution
    return [Exercise(number, name, chapter.name) for number, name in _read(str(path), path.stat().st_mtime)]


def course() -> list[Exercise]:
    """Every exercise of the course, in course order."""
    return [ex for ch in chapters.all_chapters() for ex in of_notebook(ch)]
