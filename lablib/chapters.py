"""The chapters of the course: discovered from solutions/NN_topic.ipynb.

A chapter is usually one notebook. A chapter too long for one notebook's time
budget comes in parts, lettered in course order: ``03a_spark_deep_dive.ipynb``,
``03b_delta_lake.ipynb``. The parts share the chapter's number, so they share
its database, folders and checks (``ch03``), and each part still runs alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lablib.config import REPO
from lablib.errors import LabError

SOLUTIONS = REPO / "solutions"
LABS = REPO / "labs"
_NAME = re.compile(r"^(\d\d)([a-z]?)_[a-z0-9_]+\.ipynb$")
_SELECTOR = re.compile(r"^(\d{1,2})([a-z]?)(?:_.*)?$")


@dataclass(frozen=True)
class Chapter:
    """One notebook of the course: a whole chapter, or one part of it."""

    number: str  # "03"
    solution: Path
    lab: Path
    part: str = ""  # "", or "a", "b", ... when the chapter comes in parts

    @property
    def name(self) -> str:
        return self.solution.stem  # "03b_delta_lake"


def all_chapters() -> list[Chapter]:
    """Every notebook, in course order."""
    found = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        m = _NAME.match(path.name)
        if m:
            found.append(Chapter(m.group(1), path, LABS / path.name, m.group(2)))
    return found


def _parse(chapter: str | int) -> tuple[str, str]:
    text = str(chapter).strip().lower().removeprefix("ch")
    m = _SELECTOR.match(text)
    if not m:
        raise LabError(f"'{chapter}' is not a chapter number; chapters are {_listing()}")
    return f"{int(m.group(1)):02d}", m.group(2)


def normalise(chapter: str | int) -> str:
    """'3', 3, 'ch03', '03b', '03_spark_delta' -> '03' (no check that it exists)."""
    return _parse(chapter)[0]


def parts(chapter: str | int) -> list[Chapter]:
    """The notebooks a name selects: '03' -> every part of chapter 03, '03b' -> that part only."""
    number, part = _parse(chapter)
    found = [ch for ch in all_chapters() if ch.number == number and (not part or ch.part == part)]
    if not found:
        label = number + part
        raise LabError(f"no chapter {label}; chapters are {_listing()}")
    return found


def get(chapter: str | int) -> Chapter:
    """The one notebook a name selects (a chapter in parts needs its letter: '03b')."""
    found = parts(chapter)
    if len(found) > 1:
        names = ", ".join(ch.name for ch in found)
        raise LabError(f"chapter {found[0].number} comes in parts ({names}); name one, e.g. '{found[0].number}{found[0].part}'")
    return found[0]


def services(chapter: str | int) -> tuple[str, ...]:
    """The embedded services a chapter's notebooks declare they use (``metadata.lab.services``),
    in the order first named; the chapter's reset starts them early. A part ('08c') names its own
    only, so a notebook that resets with its part's name starts no other part's services."""
    import json

    found: list[str] = []
    for ch in parts(chapter):
        try:
            meta = json.loads(ch.solution.read_text()).get("metadata", {}).get("lab", {})
        except (OSError, ValueError):
            continue
        found += [name for name in meta.get("services", []) if name not in found]
    return tuple(found)


def select(names: list[str]) -> list[Chapter]:
    """`lab run 00 03` / `lab run 03b` / `all` -> notebooks, in course order."""
    if not names or names == ["all"]:
        return all_chapters()
    picked = {ch.name: ch for name in names for ch in parts(name)}
    return [picked[k] for k in sorted(picked)]


def _listing() -> str:
    labels = []
    for ch in all_chapters():
        if ch.number not in labels:
            labels.append(ch.number)
    return ", ".join(labels) or "(none yet)"
