"""Measure the workbench's start-up and each notebook's run time (median of 3).

    .venv/bin/python benchmarks/startup.py [--repeat 3] [--chapters 00 01 ...]

Prints a markdown table for the README's performance table. Each measurement
runs in a fresh Python process, so the JVM start is counted every time. The
first three rows add up to the calibration unit (lablib/calibration.py).
Nothing here is asserted: the numbers describe this machine on this day.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent



def _session_once() -> dict:
    from lablib import calibration

    return calibration.sample()  # the calibration unit's three parts, each in a fresh process


def _notebook_once(chapter: str) -> float:
    from lablib import chapters, notebooks

    result = notebooks.execute(chapters.get(chapter), scale="ci", progress=False)
    if not result.ok:
        raise SystemExit(f"chapter {chapter} {result.status}: {result.error}")
    return result.seconds


def machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {java}")


def main() -> None:
    from lablib import chapters

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chapters", nargs="*", default=[c.name for c in chapters.all_chapters()])
    args = ap.parse_args()
    os.environ.setdefault("LAB_SCALE", "ci")

    print(f"machine: {machine()}", flush=True)
    sessions = [_session_once() for _ in range(args.repeat)]
    rows = [(name, statistics.median(s[key] for s in sessions)) for name, key in (
        ("Spark session start (lablib.spark(), JVM included)", "session"),
        ("first job (range + sum)", "first_job"),
        ("first Delta write (1,000 rows)", "first_delta_write"),
    )]
    for ch in args.chapters:
        times = []
        for _ in range(args.repeat):
            times.append(_notebook_once(ch))
        rows.append((f"notebook {chapters.get(ch).name} (CI scale, kernel start included)", statistics.median(times)))
    print()
    print(f"Median of {args.repeat}, {time.strftime('%Y-%m-%d')}, {machine()}")
    print()
    print("| what | seconds |")
    print("|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
