"""The whole course at CI scale: every notebook's seconds and calibration units, on this machine.

    .venv/bin/python benchmarks/course.py [NN ...] [--out FILE]

Measures the calibration unit first (median of 3 fresh processes: Spark session + first job +
first Delta write, see lablib/calibration.py), then runs each solution notebook as `lab run`
does, each in a fresh LAB_HOME of its own (kernel start included), and prints a Markdown table
for the README: seconds, c.u., the notebook's budget, and the course's total against its goal
(TARGET_CU per notebook, COURSE_GOAL_CU for the whole course). Nothing is asserted here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

#: the whole course at CI scale, 06-12 included, should fit in this many c.u. (issue 12)
COURSE_GOAL_CU = 32


def main() -> None:
    from startup import machine

    from lablib import calibration, chapters, notebooks

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("chapters", nargs="*", default=["all"])
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args()

    os.environ["LAB_SCALE"] = "ci"
    os.environ.setdefault("LAB_JARS_DIR", str(calibration.settings().jars))
    cal = calibration.measure().confirmed()
    print(cal.describe(), file=sys.stderr, flush=True)
    base = Path(tempfile.mkdtemp(prefix="lab-course-"))
    results = []
    try:
        for chapter in chapters.select(args.chapters):
            home = base / f"home {chapter.name}"
            os.environ["LAB_HOME"] = str(home)
            result = notebooks.execute(chapter, scale="ci", progress=False, strict=False, calibration=cal)
            subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True, timeout=120)
            print(f"{chapter.name}: {result.status} in {result.seconds:.1f} s = {result.cu:.1f} c.u.",
                  file=sys.stderr, flush=True)
            results.append(result)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    total_s = sum(r.seconds for r in results)
    total_cu = sum(r.cu for r in results)
    lines = [f"{time.strftime('%Y-%m-%d')}, {machine()}; {cal.describe()} "
             f"(samples {', '.join(f'{s:.1f}' for s in cal.samples)} s)", "",
             "| notebook | status | seconds | c.u. | budget (c.u.) |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r.name} | {r.status}{' (over the target)' if r.cu > calibration.TARGET_CU else ''} | "
              f"{r.seconds:.1f} | {r.cu:.1f} | {r.budget:g} |" for r in results]
    lines.append(f"| **course** ({len(results)} notebooks) | | **{total_s:.0f}** | **{total_cu:.1f}** "
                 f"| goal ≤ {COURSE_GOAL_CU} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
