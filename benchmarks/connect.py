"""A fresh process attached to a running Spark Connect server against a fresh process with its own JVM.

    .venv/bin/python -m benchmarks.connect [--repeat 3]   # -m: benchmarks/profile.py shadows the stdlib module

Times the calibration unit's three parts (lablib/calibration.py: session, first job, first Delta
write), each sample in a fresh Python process and a throw-away LAB_HOME, alternating local and
Connect so both see the same load. Starts this home's server (`lab up connect`, timed) unless it
runs, and stops it after if it started it. Nothing here is asserted: the numbers describe this
machine on this day (README "Spark Connect").
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _sample(remote: str | None) -> dict[str, float]:
    from lablib import calibration

    before = os.environ.pop("SPARK_REMOTE", None)
    if remote:
        os.environ["SPARK_REMOTE"] = remote
    try:
        return calibration.sample()
    finally:
        os.environ.pop("SPARK_REMOTE", None)
        if before is not None:
            os.environ["SPARK_REMOTE"] = before


def main() -> None:
    from lablib.services import SERVED, _service

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    svc = SERVED["connect"]
    started = None
    if _service.status(svc).state != "running":
        began = time.monotonic()
        _service.up([svc])
        started = time.monotonic() - began
    try:
        runs: dict[str, list[dict[str, float]]] = {"local JVM": [], "Spark Connect": []}
        for _ in range(args.repeat):
            runs["local JVM"].append(_sample(None))
            runs["Spark Connect"].append(_sample(svc.address()))
        load = os.getloadavg()[0]
    finally:
        if started is not None:
            _service.down([svc])
    if started is not None:
        print(f"server start (`lab up connect`): {started:.1f} s")
    print(f"median of {args.repeat}, load average {load:.1f}\n")
    print("| session kind | session | first job | first Delta write | total (1 c.u.) |")
    print("|---|---|---|---|---|")
    for kind, samples in runs.items():
        med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
        total = statistics.median(sum(s.values()) for s in samples)
        print(f"| {kind} | {med['session']:.1f} s | {med['first_job']:.1f} s | "
              f"{med['first_delta_write']:.1f} s | {total:.1f} s |")


if __name__ == "__main__":
    main()
