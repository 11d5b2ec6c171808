"""`lab progress --merge`: a class's progress files as one table, the same table as `lab grade`.

Each learner runs ``lab progress --json > alice.json`` (or hands in ``$LAB_HOME/progress.json``);
the instructor merges the files, or folders of them, without running anything.

**Who the learner is:** a file inside a sub-folder of a folder you name belongs to that sub-folder
(``class/alice/progress.json`` is alice's); otherwise the file's name (``alice.json``), except a
raw ``progress.json``, which belongs to the folder it is in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lablib import chapters, exercises
from lablib.gradebook import Row, marks

#: what a merged row's status says
FROM_FILE = "progress file"
NOT_PROGRESS = "not a progress file"


def default_out() -> Path:
    from lablib.config import settings

    return settings().runs / "class-progress"


def find(paths: list[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, learner) for every .json under ``paths``; and one sentence per path that gave none."""
    found, nothing = [], []
    for given in map(Path, paths):
        if given.is_dir():
            files = sorted(p for p in given.rglob("*.json") if not p.name.startswith("."))
            if not files:
                nothing.append(f"{given} holds no progress file (.json): nothing to merge there")
            found += [(p, _learner(p, given)) for p in files]
        elif given.is_file():
            found.append((given, _learner(given, None)))
        else:
            nothing.append(f"{given} does not exist: check the path")
    return found, nothing


def _learner(path: Path, root: Path | None) -> str:
    if root is not None and len(path.relative_to(root).parts) > 1:
        return path.relative_to(root).parts[0]
    if path.stem == "progress":
        return path.resolve().parent.name
    return path.stem


def read(path: Path) -> dict:
    """A progress file's content ({chapter: {exercise: {"passed", "message", …}}}), or ValueError
    saying in one sentence why it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path.name} is not JSON ({str(exc).splitlines()[0][:100]}); "
                         "ask the learner to run `lab progress --json > NAME.json` again") from None
    shape = isinstance(data, dict) and all(
        isinstance(entries, dict) and all(isinstance(e, dict) and "passed" in e for e in entries.values())
        for entries in data.values())
    if not shape:
        raise ValueError(f"{path.name} is JSON but not the output of `lab progress --json`")
    return data


def rows_of(path: Path, learner: str, progress: dict) -> tuple[list[Row], list[str]]:
    """One row per course notebook the learner has any result for; and sentences about results
    for exercises the course does not have (a renamed exercise, another course)."""
    rows, known = [], set()
    for ch in chapters.all_chapters():
        exs = exercises.of_notebook(ch)
        known |= {(ex.chapter, ex.name) for ex in exs}
        if any(ex.name in progress.get(ex.chapter, {}) for ex in exs):
            rows.append(Row(learner, ch.name, str(path), FROM_FILE, True, marks=marks(progress, exs)))
    unknown = sorted(f"ch{c}.{n}" for c, entries in progress.items() for n in entries if (c, n) not in known)
    lines = [f"{path}: results for exercises this course does not have, left out: {', '.join(unknown)}"] if unknown else []
    if not rows and not unknown:
        rows.append(Row(learner, "", str(path), "no results", False, "no check has run yet in this learner's labs"))
    return rows, lines


def merge(paths: list[str], log=print) -> list[Row]:
    found, nothing = find(paths)
    for line in nothing:
        log(f"error: {line}")
    rows: list[Row] = []
    for path, learner in found:
        try:
            progress = read(path)
        except ValueError as bad:
            log(f"error: {path}: {bad}")
            rows.append(Row(learner, "", str(path), NOT_PROGRESS, False, str(bad)))
            continue
        more, lines = rows_of(path, learner, progress)
        for line in lines:
            log(f"note: {line}")
        rows += more
    return rows


def run_cli(paths: list[str], out: str | None = None) -> int:
    """`lab progress --merge`: the table (CSV, JSON, Markdown) of every file; 1 when none could be read."""
    from lablib import gradebook

    rows = merge(paths, log=lambda line: print(line, file=sys.stderr, flush=True))
    if not rows:
        print("error: nothing to merge: name progress files (.json) or folders that hold them", file=sys.stderr)
        return 1
    folder = Path(out) if out else default_out()
    written = gradebook.write(rows, folder, "class-progress", f"lab progress --merge: {len(rows)} row(s)")
    print(gradebook.markdown(rows, "lab progress --merge").split("\n", 2)[2])
    print("written: " + ", ".join(str(p) for p in written))
    if not any(r.graded or r.status == "no results" for r in rows):
        print("error: no progress file could be read (see the lines above)", file=sys.stderr)
        return 1
    return 0
