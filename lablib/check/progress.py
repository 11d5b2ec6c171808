"""A learner's progress: every check result, kept in $LAB_HOME/progress.json."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from lablib.config import settings


def _path() -> Path:
    return settings().progress_file


def load() -> dict:
    """{chapter: {exercise: {"passed", "message", "at", "attempts"}}}."""
    try:
        return json.loads(_path().read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        return {}  # a damaged file is replaced by the next record


def record(result) -> None:
    data = load()
    entry = data.setdefault(result.chapter, {}).get(result.exercise, {})
    data[result.chapter][result.exercise] = {
        "passed": bool(result.passed) or bool(entry.get("passed")),  # once passed, stays passed
        "last": "passed" if result.passed else "failed",
        "message": result.message,
        "attempts": int(entry.get("attempts", 0)) + 1,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write(data)


def _write(data: dict) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)  # atomic: a crash never leaves half a file


def checklist(exercises: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """Rows (chapter, exercise, mark) for every known exercise; mark ✅, ❌ or ·."""
    data = load()
    rows = []
    for chapter in sorted(set(exercises) | set(data)):
        names = list(exercises.get(chapter, []))
        names += [n for n in data.get(chapter, {}) if n not in names]
        for name in names:
            entry = data.get(chapter, {}).get(name)
            mark = "·" if entry is None else ("✅" if entry["passed"] else "❌")
            rows.append((chapter, name, mark))
    return rows
