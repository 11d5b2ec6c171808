"""What the class-data archive saves: a Spark driver's start, and whole notebooks, with and without it.

    .venv/bin/python benchmarks/cds.py [--repeat 3] [--chapters 00 03a 08b]

`lab setup` records the archive (lablib/jvm/cds.py); this records it first if needed. Each round
runs every measurement twice, ``LAB_CDS=off`` then on, so both see the same load: the calibration
unit's three parts (session, first job, first Delta write) in a fresh process, then each chapter's
solution at CI scale in a throw-away LAB_HOME (kernel start included). Prints the medians and the
difference as a markdown table; nothing is asserted: the numbers describe this machine on this day.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _notebook(chapter: str, cds: str) -> float:
    from _bench import scratch_home

    from lablib import chapters, notebooks

    os.environ["LAB_CDS"] = cds
    try:
        with scratch_home(f"cds-{chapter}", "ci"):
            result = notebooks.execute(chapters.get(chapter), scale="ci", progress=False)
    finally:
        os.environ.pop("LAB_CDS", None)
    if not result.ok:
        raise SystemExit(f"chapter {chapter} {result.status}: {result.error}")
    return result.seconds


def main() -> None:
    from lablib import calibration
    from lablib.jvm import cds
    from lablib.session import driver_jars

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chapters", nargs="*", default=["00", "03a", "08b"])
    args = ap.parse_args()
    archive = cds.record(driver_jars())
    if archive is None:
        raise SystemExit("no class-data archive could be recorded: see the line above")

    seen: dict[str, dict[str, list[float]]] = {}
    for i in range(args.repeat):
        for mode in ("off", "on"):
            parts = calibration.sample(class_data=mode == "on")
            for key, value in [*parts.items(), ("one c.u. (the three)", sum(parts.values()))]:
                seen.setdefault(key, {}).setdefault(mode, []).append(value)
            for chapter in args.chapters:
                seen.setdefault(f"notebook {chapter} (CI scale)", {}).setdefault(mode, []).append(
                    _notebook(chapter, mode))
        print(f"round {i + 1}/{args.repeat} done, load average {os.getloadavg()[0]:.1f}", flush=True)

    print(f"\narchive {archive.name}, {archive.stat().st_size / 1e6:.0f} MB; median of {args.repeat}, "
          f"{os.cpu_count()} cores, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    print("| what | without s | with s | saved |")
    print("|---|---:|---:|---:|")
    for name, modes in seen.items():
        off, on = statistics.median(modes["off"]), statistics.median(modes["on"])
        print(f"| {name.replace('_', ' ')} | {off:.1f} | {on:.1f} | {off - on:.1f} s ({(off - on) / off:.0%}) |")


if __name__ == "__main__":
    main()
