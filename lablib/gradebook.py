"""A class's results as one table (learner × exercise), written as CSV, JSON and Markdown.

`lab grade` (executed notebooks) and `lab progress --merge` (collected progress files) both
build :class:`Row` objects and hand them to :func:`write`, so their tables have the same shape.
A row is one learner's copy of one course notebook; its cells are that notebook's exercises,
each ✅ (passed), ❌ (tried and rejected, with the check's message) or "not tried" (the
exercise's check never ran). A file that could not be graded still gets a row, with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lablib.config import ensure_dir
from lablib.exercises import Exercise

PASSED, FAILED, NOT_TRIED = "passed", "failed", "not tried"
_SYMBOL = {PASSED: "✅", FAILED: "❌"}


@dataclass(frozen=True)
class Mark:
    state: str  # passed | failed | not tried
    message: str = ""
    attempts: int = 0

    @property
    def text(self) -> str:
        if self.state == NOT_TRIED:
            return NOT_TRIED
        return f"{_SYMBOL[self.state]} {self.message}".rstrip()


@dataclass
class Row:
    learner: str
    notebook: str  # the course notebook ("00_setup"); "" when the file is not one
    file: str  # where the row came from, as given
    status: str  # what happened to the file (ran, cell errors, time limit, crashed, not a notebook, …)
    graded: bool  # True when its exercises could be marked
    note: str = ""  # one sentence: the first error, or why it could not be graded
    seconds: float | None = None
    cu: float | None = None
    marks: dict[str, Mark] = field(default_factory=dict)  # exercise key ("ch00.puzzles") -> mark


def marks(progress: dict, exercises: list[Exercise]) -> dict[str, Mark]:
    """Each exercise's mark from progress.json's content ({chapter: {exercise: entry}})."""
    out = {}
    for ex in exercises:
        entry = progress.get(ex.chapter, {}).get(ex.name)
        if not isinstance(entry, dict):
            out[ex.key] = Mark(NOT_TRIED)
            continue
        message = str(entry.get("message", ""))
        passed = bool(entry.get("passed"))
        if passed and entry.get("last") == "failed":  # progress keeps a pass: say what came after it
            message = f"passed earlier; last try: {message}"
        out[ex.key] = Mark(PASSED if passed else FAILED, message, int(entry.get("attempts", 0) or 0))
    return out


@dataclass(frozen=True)
class PassRate:
    notebook: str
    exercise: str  # key
    passed: int
    of: int  # graded rows of that notebook

    @property
    def text(self) -> str:
        return f"{self.passed}/{self.of} ({100 * self.passed / self.of:.0f} %)" if self.of else "—"


def pass_rates(rows: list[Row]) -> list[PassRate]:
    """Per exercise: how many of the graded learners' copies of its notebook passed it."""
    rates = []
    for notebook, keys in _columns(rows).items():
        graded = [r for r in rows if r.graded and r.notebook == notebook]
        for key in keys:
            passed = sum(1 for r in graded if key in r.marks and r.marks[key].state == PASSED)
            rates.append(PassRate(notebook, key, passed, len(graded)))
    return rates


def _columns(rows: list[Row]) -> dict[str, list[str]]:
    """notebook -> its exercise keys, in the order rows first show them (course order)."""
    cols: dict[str, list[str]] = {}
    for r in rows:
        if not r.graded:
            continue
        keys = cols.setdefault(r.notebook, [])
        keys += [k for k in r.marks if k not in keys]
    return cols


# --------------------------------------------------------------------------- formats
def _time(row: Row) -> str:
    if row.seconds is None:
        return ""
    return f"{row.seconds:.0f} s" + ("" if row.cu is None else f" = {row.cu:.1f} c.u.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row], title: str) -> str:
    """One table per course notebook (rows: learners; columns: its exercises), a pass-rate line
    under each, the notes (first errors) after it, and the files that could not be graded."""
    lines = [f"# {title}", ""]
    rates = {(p.notebook, p.exercise): p for p in pass_rates(rows)}
    for notebook, keys in _columns(rows).items():
        graded = [r for r in rows if r.graded and r.notebook == notebook]
        names = [k.split(".", 1)[1] for k in keys]
        lines += [f"## {notebook}", "",
                  "| learner | status | time | " + " | ".join(names) + " |",
                  "|---|---|---:|" + "---|" * len(keys)]
        for r in graded:
            cells = [_cell(r.marks[k].text) if k in r.marks else "" for k in keys]
            lines.append(f"| {_cell(r.learner)} | {r.status} | {_time(r)} | " + " | ".join(cells) + " |")
        lines.append("| **pass rate** | | | " + " | ".join(rates[(notebook, k)].text for k in keys) + " |")
        notes = [r for r in graded if r.note]
        if notes:
            lines.append("")
            lines += [f"- {_cell(r.learner)} (`{r.file}`): {r.status}: {r.note}" for r in notes]
        lines.append("")
    ungraded = [r for r in rows if not r.graded]
    if ungraded:
        lines += ["## Not graded", "", "| learner | file | problem |", "|---|---|---|"]
        lines += [f"| {_cell(r.learner)} | `{r.file}` | {r.status}: {_cell(r.note)} |" for r in ungraded]
        lines.append("")
    return "\n".join(lines)


def as_json(rows: list[Row], title: str) -> str:
    data = {
        "title": title,
        "rows": [{
            "learner": r.learner, "notebook": r.notebook, "file": r.file, "status": r.status,
            "graded": r.graded, "note": r.note, "seconds": r.seconds, "cu": r.cu,
            "results": {k: {"result": m.state, "message": m.message, "attempts": m.attempts}
                        for k, m in r.marks.items()},
        } for r in rows],
        "pass_rates": [{"notebook": p.notebook, "exercise": p.exercise, "passed": p.passed, "of": p.of}
                       for p in pass_rates(rows)],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def as_csv(rows: list[Row]) -> str:
    """Wide: one line per row, one column per exercise of every notebook shown (course order)."""
    keys = [k for ks in _columns(rows).values() for k in ks]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["learner", "notebook", "file", "status", "note", "seconds", "cu", *keys])
    for r in rows:
        w.writerow([r.learner, r.notebook, r.file, r.status, r.note,
                    "" if r.seconds is None else f"{r.seconds:.1f}", "" if r.cu is None else f"{r.cu:.2f}",
                    *[r.marks[k].text if k in r.marks else "" for k in keys]])
    return buf.getvalue()


def rates_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["notebook", "exercise", "passed", "of", "rate"])
    for p in pass_rates(rows):
        w.writerow([p.notebook, p.exercise, p.passed, p.of, f"{p.passed / p.of:.2f}" if p.of else ""])
    return buf.getvalue()


def write(rows: list[Row], folder: Path, stem: str, title: str) -> list[Path]:
    """``stem``.csv/.json/.md and ``stem``-pass-rates.csv in ``folder`` (each written whole, then renamed)."""
    ensure_dir(folder)
    title = f"{title} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
    files = {f"{stem}.csv": as_csv(rows), f"{stem}.json": as_json(rows, title),
             f"{stem}.md": markdown(rows, title), f"{stem}-pass-rates.csv": rates_csv(rows)}
    written = []
    for name, text in files.items():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, folder / name)
        written.append(folder / name)
    return written
