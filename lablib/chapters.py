"""The chapters of the course: discovered from solutions/NN_topic.ipynb."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lablib.config import REPO
from lablib.errors import LabError

SOLUTIONS = REPO / "solutions"
LABS = REPO / "labs"
_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


@dataclass(frozen=True)
class Chapter:
    number: str  # "03"
    solution: Path
    lab: Path

    @property
    def name(self) -> str:
        return self.solution.stem  # "03_spark_delta"


def all_chapters() -> list[Chapter]:
    found = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        m = _NAME.match(path.name)
        if m:
            found.append(Chapter(m.group(1), path, LABS / path.name))
    return found


def normalise(chapter: str | int) -> str:
    """'3', 3, 'ch03', '03_spark_delta' -> '03' (no check that it exists)."""
    text = str(chapter).strip().lower().removeprefix("ch")
    m = re.match(r"^(\d{1,2})(?:_.*)?$", text)
    if not m:
        raise LabError(f"'{chapter}' is not a chapter number; chapters are {_listing()}")
    return f"{int(m.group(1)):02d}"


def get(chapter: str | int) -> Chapter:
    number = normalise(chapter)
    for ch in all_chapters():
        if ch.number == number:
            return ch
    raise LabError(f"no chapter {number}; chapters are {_listing()}")


def select(names: list[str]) -> list[Chapter]:
    """`lab run 00 03` / `all` -> chapters, in course order."""
    if not names or names == ["all"]:
        return all_chapters()
    picked = {get(n).number: get(n) for n in names}
    return [picked[k] for k in sorted(picked)]


def _listing() -> str:
    return ", ".join(ch.number for ch in all_chapters()) or "(none yet)"
