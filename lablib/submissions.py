"""Learners' notebooks handed in: where they are, whose they are, which course notebook each is.

``lab grade`` and ``lab compare`` take files and folders. A folder is searched (recursively) for
``.ipynb`` files; JupyterLab's ``.ipynb_checkpoints`` copies are skipped.

**Who the learner is** (the first rule that gives a name):

1. a notebook inside a sub-folder of a folder you name belongs to that sub-folder:
   ``lab grade class/`` reads ``class/alice/00_setup.ipynb`` as alice's;
2. otherwise the file name, less the course notebook's name: ``alice_00_setup.ipynb`` and
   ``00_setup-alice.ipynb`` are alice's;
3. when nothing is left (``labs/00_setup.ipynb``), the folder the file is in: ``labs``.

**Which course notebook it is:** ``metadata.lab.chapter`` (every lab carries it) names the chapter;
for a chapter in parts, the notebook's ``metadata.lab.title``, else its file name, picks the part.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lablib import chapters
from lablib.errors import LabError

#: kinds of notebooks that cannot be graded; each gets one sentence and a row of its own
NOT_A_NOTEBOOK = "not a notebook"
NOT_THIS_COURSE = "not from this course"
UNKNOWN_CHAPTER = "unknown chapter"

_SEPARATORS = " -_.()[]"
_COURSE_NAME = re.compile(r"\d\d[a-z]?_[a-z0-9_]+")


class Unusable(LabError):
    """A file that cannot be graded or compared, with the kind of problem (one of the kinds above)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Submission:
    path: Path
    learner: str
    chapter: chapters.Chapter | None = None  # the course notebook, when it could be told
    kind: str = ""  # why it cannot be graded ("" when it can)
    problem: str = ""  # that, in one sentence

    @property
    def usable(self) -> bool:
        return self.chapter is not None


def find(paths: list[str | Path]) -> tuple[list[Submission], list[str]]:
    """The notebooks under ``paths``, each identified; and one sentence per path that gave none."""
    found: list[Submission] = []
    empty: list[str] = []
    for given in map(Path, paths):
        if given.is_dir():
            notebooks = sorted(p for p in given.rglob("*.ipynb")
                               if ".ipynb_checkpoints" not in p.parts and p.is_file())
            if not notebooks:
                empty.append(f"{given} holds no notebook (.ipynb): nothing to grade there")
            found += [identify(p, root=given) for p in notebooks]
        elif given.is_file():
            found.append(identify(given))
        else:
            empty.append(f"{given} does not exist: check the path")
    return found, empty


def identify(path: Path, root: Path | None = None) -> Submission:
    """Whose notebook ``path`` is and which course notebook it is (or why it cannot be told)."""
    try:
        chapter = course_notebook(read(path), path)
    except Unusable as bad:
        return Submission(path, learner(path, None, root), None, bad.kind, bad.message)
    return Submission(path, learner(path, chapter, root), chapter)


def read(path: Path) -> nbformat.NotebookNode:
    """A notebook, or :class:`Unusable` saying in one sentence why the file is not one."""
    if path.suffix != ".ipynb":
        raise Unusable(NOT_A_NOTEBOOK, f"{path.name} is not a notebook (.ipynb)")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - bad JSON, not a notebook's shape, unreadable bytes
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise Unusable(NOT_A_NOTEBOOK, f"{path.name} is not a readable notebook ({reason}); "
                                       "ask for the .ipynb file again") from None
    if not isinstance(nb.get("cells"), list):
        raise Unusable(NOT_A_NOTEBOOK, f"{path.name} has no cells: it is not a notebook")
    return nb


def course_notebook(nb: nbformat.NotebookNode, path: Path) -> chapters.Chapter:
    """The course notebook ``nb`` was handed out as (see the module's docstring)."""
    meta = nb.metadata.get("lab") if isinstance(nb.metadata.get("lab"), dict) else {}
    number = str(meta.get("chapter") or "").strip()
    if not number:
        raise Unusable(NOT_THIS_COURSE, f"{path.name} is not a notebook of this course "
                                        "(no metadata.lab.chapter): hand out and collect the notebooks of labs/")
    try:
        parts = chapters.parts(number)
    except LabError:
        raise Unusable(UNKNOWN_CHAPTER, f"{path.name} is for chapter {number}, which this course does not have "
                                        f"(chapters are {', '.join(sorted({c.number for c in chapters.all_chapters()}))})"
                       ) from None
    if len(parts) == 1:
        return parts[0]
    title = str(meta.get("title") or "")
    by_title = [ch for ch in parts if title and _title(ch.solution) == title]
    by_name = [ch for ch in parts if ch.name in path.stem]
    for candidates in (by_title, by_name):
        if len(candidates) == 1:
            return candidates[0]
    names = ", ".join(ch.name for ch in parts)
    raise Unusable(UNKNOWN_CHAPTER, f"{path.name} is for chapter {parts[0].number}, which comes in parts ({names}), "
                                    "and neither its title nor its file name says which: keep the lab's file name")


@functools.lru_cache(maxsize=64)
def _title(solution: Path) -> str:
    return str(nbformat.read(solution, as_version=4).metadata.get("lab", {}).get("title", ""))


def learner(path: Path, chapter: chapters.Chapter | None, root: Path | None = None) -> str:
    """Whose notebook this is (the three rules of the module's docstring)."""
    if root is not None:
        inner = path.relative_to(root).parts
        if len(inner) > 1:
            return inner[0]
    stem = path.stem
    if chapter is not None and chapter.name in stem:
        rest = stem.replace(chapter.name, " ")
    else:
        rest = _COURSE_NAME.sub(" ", stem, count=1)
    rest = rest.strip(_SEPARATORS)
    if rest:
        return rest
    return path.resolve().parent.name or str(path.parent)
