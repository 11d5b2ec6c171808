"""`lab grade`: run learners' notebooks headlessly and mark every exercise.

Each notebook runs, one after the other, in a fresh LAB_HOME of its own (the jars are shared
through LAB_JARS_DIR; nothing else carries over from one learner to the next), with papermill as
`lab run` does (:func:`lablib.notebooks.run_papermill`), at CI scale by default. Every cell runs,
even after one raises, as graders do, so a slip early on does not cost the later exercises; the
first error is reported on the learner's row. The checks record their results in the home's
progress.json, which is all the grade reads: an exercise whose check never ran is "not tried".

A notebook gets at most ``--time-limit`` calibration units (default: GRACE times its budget), so a
notebook that loops is stopped and reported, and the others are graded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lablib import calibration, exercises, notebooks, submissions
from lablib.config import ensure_dir, settings
from lablib.gradebook import Row, marks

#: default time limit of a notebook: this many times its budget (metadata.lab.budget_cu), in c.u.
GRACE = 5.0

#: what `lab grade` says happened to a notebook it ran
_STATUS = {"ok": "ran", "failed": "cell errors", "crashed": "crashed", "time limit": "time limit"}


def default_out() -> Path:
    return settings().runs / "grade"


def limit_cu(chapter, time_limit_cu: float | None) -> float:
    """A notebook's time limit in c.u.: the one asked for, else GRACE × the solution's budget."""
    return time_limit_cu if time_limit_cu is not None else GRACE * notebooks.budget(chapter.solution)


def grade(paths: list[str], out: Path, time_limit_cu: float | None = None, scale: str = "ci",
          log=print) -> list[Row]:
    """A row for every notebook under ``paths`` (graded or not); executed copies go to ``out``/executed."""
    found, nothing = submissions.find(paths)
    for line in nothing:
        log(f"error: {line}")
    rows: list[Row] = []
    usable = [s for s in found if s.usable]
    cal = calibration.current() if usable else None
    if cal is not None:
        log(cal.describe())
    for earlier in ("executed", "progress"):  # what an earlier grade left there must not linger
        shutil.rmtree(out / earlier, ignore_errors=True)
    for i, sub in enumerate(found, 1):
        if not sub.usable:
            log(f"error: {sub.path}: {sub.problem}")
            rows.append(Row(sub.learner, "", str(sub.path), sub.kind, False, sub.problem))
            continue
        limit = limit_cu(sub.chapter, time_limit_cu)
        log(f"[{i}/{len(found)}] {sub.learner}: {sub.path} ({sub.chapter.name}, limit {limit:g} c.u.)")
        row = grade_one(sub, out, limit * cal.judging_seconds, scale)
        row.cu = cal.cu(row.seconds)
        log(f"      {row.status} in {row.seconds:.1f} s = {row.cu:.1f} c.u." + (f" — {row.note}" if row.note else ""))
        rows.append(row)
    return rows


def grade_one(sub: submissions.Submission, out: Path, limit_seconds: float, scale: str) -> Row:
    """Run one learner's notebook in a fresh LAB_HOME and read its check results.

    Kept in ``out``: the executed copy (executed/LEARNER/FILE) and the home's progress.json
    (progress/LEARNER/NOTEBOOK.json, which `lab progress --merge` reads too)."""
    cfg = settings()
    home = Path(tempfile.mkdtemp(prefix="grade-", dir=ensure_dir(cfg.home / "tmp")))
    output = ensure_dir(out / "executed" / sub.learner) / sub.path.name
    env = {"LAB_HOME": str(home), "LAB_JARS_DIR": str(cfg.jars), "LAB_SCALE": scale,
           "LAB_CHECKS_STRICT": None}  # a learner's run: a ❌ is a result, not an exception
    started = time.perf_counter()
    try:
        status, error = notebooks.run_papermill(sub.path, output, parameters={"SCALE": scale}, env=env,
                                                progress=False, keep_going=True, time_limit=limit_seconds)
        seconds = time.perf_counter() - started
        progress = _read_progress(home / "progress.json")
        if progress:
            kept = ensure_dir(out / "progress" / sub.learner) / f"{sub.chapter.name}.json"
            shutil.copyfile(home / "progress.json", kept)
        error = error.replace(str(home), "$LAB_HOME")  # the home is gone after this
    finally:
        _stop_services(home)
        shutil.rmtree(home, ignore_errors=True)
    return Row(sub.learner, sub.chapter.name, str(sub.path), _STATUS.get(status, status), True, error,
               seconds, None, marks(progress, exercises.of_notebook(sub.chapter)))


def _read_progress(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # no check ran (or none could write): every exercise is "not tried"
    return data if isinstance(data, dict) else {}


def _stop_services(home: Path) -> None:
    """Stop whatever the notebook started in its home (Kafka, MLflow, registry)."""
    subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True, timeout=180,
                   env={**os.environ, "LAB_HOME": str(home)})


def run_cli(paths: list[str], out: str | None = None, time_limit_cu: float | None = None,
            scale: str = "ci") -> int:
    """`lab grade`: grade, write the table (CSV, JSON, Markdown), print it; 1 when nothing was graded."""
    from lablib import gradebook
    from lablib.config import validate_scale
    from lablib.errors import LabError

    if time_limit_cu is not None and not time_limit_cu > 0:
        raise LabError(f"--time-limit {time_limit_cu:g} is not a positive number of calibration units")
    folder = Path(out) if out else default_out()
    rows = grade(paths, folder, time_limit_cu, validate_scale(scale),
                 log=lambda line: print(line, file=sys.stderr if line.startswith("error:") else sys.stdout,
                                        flush=True))
    if not rows:
        print("error: nothing to grade: name notebooks (.ipynb) or folders that hold them", file=sys.stderr)
        return 1
    written = gradebook.write(rows, folder, "grades", f"lab grade: {len(rows)} notebook(s)")
    print()
    print(gradebook.markdown(rows, "lab grade").split("\n", 2)[2])  # the tables, without the title
    print("written: " + ", ".join(str(p) for p in written))
    if not any(r.graded for r in rows):
        print("error: no notebook could be graded (see the lines above)", file=sys.stderr)
        return 1
    return 0
