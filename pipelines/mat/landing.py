"""The landing folder the pipeline reads, and how files arrive in it.

Telemetry lands as one file per day (``landing/telemetry/YYYY-MM-DD.csv``), copied from the
course's dataset (lablib.data) under a hidden name and then renamed, so a reader never sees half
a file. Orders land as their export files (``landing/orders.csv``, ``landing/order_lines.parquet``).
"""

from __future__ import annotations

import shutil
from pathlib import Path


class NotLanded(Exception):
    """A file the pipeline needs has not arrived (yet): a transient failure worth a retry."""


def root() -> Path:
    from lablib.paths import workdir

    return workdir("09")


def folder() -> Path:
    return root() / "landing"


def lake() -> Path:
    return root() / "lake"


def day_file(day: str) -> Path:
    return folder() / "telemetry" / f"{day}.csv"


def export_file(name: str) -> Path:
    return folder() / {"orders": "orders.csv", "order_lines": "order_lines.parquet"}[name]


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def dataset_days() -> list[str]:
    """The days of the dataset's telemetry files (at this kernel's scale)."""
    from lablib import data

    return sorted(p.stem for p in data.path("telemetry").glob("*.csv"))


def land_day(day: str) -> Path:
    """The dataset's telemetry file of ``day`` arrives in the landing folder."""
    from lablib import data

    source = data.path("telemetry") / f"{day}.csv"
    if not source.exists():
        raise FileNotFoundError(f"the dataset has no telemetry for {day}")
    return _copy(source, day_file(day))


def land_orders(*names: str) -> list[Path]:
    """The orders and/or order_lines exports arrive (both by default)."""
    from lablib import data

    return [_copy(data.path(n), export_file(n)) for n in names or ("orders", "order_lines")]


def landed_days() -> list[str]:
    return sorted(p.stem for p in (folder() / "telemetry").glob("*.csv"))


def data_lines(path: Path) -> int:
    """Data lines of a CSV file (the header not counted)."""
    with open(path, "rb") as f:
        return max(sum(1 for line in f if line.strip()) - 1, 0)


def _plant(day: str, column: int, value: str, rows: int) -> Path:
    from lablib import data

    lines = (data.path("telemetry") / f"{day}.csv").read_text().splitlines(keepends=True)
    for i in range(1, min(rows + 1, len(lines))):
        fields = lines[i].rstrip("\n").split(",")
        fields[column] = value
        lines[i] = ",".join(fields) + "\n"
    target = day_file(day)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text("".join(lines))
    tmp.replace(target)
    return target


def land_bad_day(day: str, machine_id: str = "M-99999", rows: int = 25) -> Path:
    """``day``'s file arrives with planted bad data: the first ``rows`` readings name a machine that
    does not exist (a misconfigured gateway). The known_machines check stops it."""
    return _plant(day, 1, machine_id, rows)


def land_negative_vibration(day: str, rows: int = 25) -> Path:
    """``day``'s file arrives with a sensor fault planted: the first ``rows`` readings report a
    negative vibration (-1.0 mm/s), which no check of the pipeline looks for (chapter 09's exercise)."""
    return _plant(day, 3, "-1.0", rows)


def land_after_a_failed_attempt(day: str, instance, timeout: float = 120.0):
    """A late file: ``day`` lands only once a step of a run in ``instance`` has failed and waits
    for its retry (the demo and test of the retry policy). Returns the started thread."""
    import threading
    import time

    import dagster as dg

    def retries() -> int:
        return len(instance.get_event_records(dg.EventRecordsFilter(dg.DagsterEventType.STEP_UP_FOR_RETRY)))

    before = retries()

    def wait_then_land():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and retries() == before:
            time.sleep(0.1)
        land_day(day)

    thread = threading.Thread(target=wait_then_land, daemon=True)
    thread.start()
    return thread
