"""The fixed cost of a notebook's Spark in a fresh JVM and in a shared warm one (lablib/shared_jvm.py).

    .venv/bin/python benchmarks/shared_jvm.py [--repeat 3]

Runs the calibration unit's work (lablib.calibration.SCRIPT: session, first job, first Delta write),
each time in a fresh Python process and a throw-away LAB_HOME: ``--repeat`` times with a JVM of its
own, then as many times attached to one SharedJVM (released between runs, as CI does between
notebooks). The first attach pays the JVM's warm-up and is shown apart. Nothing is asserted: the
numbers describe this machine on this day.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from lablib import calibration
from lablib.config import ensure_dir, settings
from lablib.shared_jvm import SharedJVM


def _once(env: dict[str, str]) -> dict[str, float]:
    cfg = settings()
    scratch = tempfile.mkdtemp(prefix="shared-jvm-", dir=ensure_dir(cfg.home / "tmp"))
    try:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", calibration.SCRIPT], capture_output=True, text=True,
                              timeout=600, env={**os.environ, **env, "LAB_HOME": scratch,
                                                "LAB_JARS_DIR": str(cfg.jars)})
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.strip().splitlines()[-1])
    parts = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**parts, "process wall": wall}


def _row(name: str, runs: list[dict[str, float]]) -> str:
    keys = ("session", "first_job", "first_delta_write", "process wall")
    cells = " | ".join(f"{statistics.median(r[k] for r in runs):.1f}" for k in keys)
    return f"| {name} | {cells} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fresh = [_once({}) for _ in range(args.repeat)]
    shared = SharedJVM()
    try:
        warm = []
        for _ in range(args.repeat + 1):
            warm.append(_once(shared.env()))
            shared.release()
    finally:
        shared.close()
    print(f"median of {args.repeat}, seconds")
    print("| JVM | session | first job | first Delta write | process wall |")
    print("|---|---:|---:|---:|---:|")
    print(_row("its own (a learner's kernel)", fresh))
    print(_row("shared, first attach", warm[:1]))
    print(_row("shared, warm (CI's solutions)", warm[1:]))


if __name__ == "__main__":
    main()
