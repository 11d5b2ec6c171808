"""`lab doctor`: is this machine ready for the labs? Every problem comes with its fix."""

from __future__ import annotations

import os
import shutil
import sys

from lablib import browser, jvm
from lablib.config import settings
from lablib.errors import LabError
from lablib.session import java_version

MIN_MEMORY_GB = 4
MIN_DISK_GB = 5


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return None


def _optional_tools() -> list[tuple[str, bool | None, str]]:
    """Chapter 08's tools: used where present, so a missing one is reported (➖), not a problem."""
    from lablib import ci, iac

    rows: list[tuple[str, bool | None, str]] = []
    found = iac.version()
    rows.append(("terraform/tofu", True if found else None,
                 f"{found} at {iac.binary()} (chapter 08c)" if found else
                 "not found (optional): chapter 08c's Terraform section reports 'not run'; install OpenTofu "
                 "(https://opentofu.org/docs/intro/install/) or Terraform "
                 "(https://developer.hashicorp.com/terraform/install)"))
    lint = shutil.which("actionlint")
    rows.append(("actionlint", True if lint else None,
                 f"{lint} (chapter 08b)" if lint else
                 f"not found (optional): chapter 08b skips it; `{ci.ACTIONLINT_INSTALL}` or its release binary"))
    return rows


def _class_data_archive() -> tuple[str, bool | None, str]:
    """Optional: Spark starts without it, only slower (lablib/jvm/cds.py)."""
    from lablib.jvm import cds
    from lablib.session import driver_jars

    what = "class-data archive"
    try:
        path = cds.archive(driver_jars())
    except LabError:
        return what, None, "needs the jars first: run `lab setup`"
    if path is None or not path.is_file():
        return what, None, "not recorded for these jars: `lab setup` records it (Spark starts faster with it)"
    return what, True, f"{path.name} ({path.stat().st_size / 1e6:.0f} MB)"


def _service_class_data(name: str) -> tuple[str, bool | None, str]:
    """Optional: the service starts without it, only slower (lablib/services/class_data.py)."""
    from lablib import services

    what = f"{name} class-data cache"
    path = services.class_data_cache(name)
    if path is None:
        return what, None, "needs Java and the jars first: run `lab setup`"
    if not path.is_file():
        return what, None, f"not recorded for these jars: `lab setup` records it ({name} starts faster with it)"
    return what, True, f"{path.name} ({path.stat().st_size / 1e6:.0f} MB)"


def _mlflow_store() -> tuple[str, bool | None, str]:
    """Optional: a fresh home's MLflow migrates its own store without it, only slower
    (lablib/services/mlflow_store.py)."""
    from lablib.services import mlflow_store

    what = "MLflow empty store"
    path = mlflow_store.template()
    if not path.is_file():
        return what, None, "not recorded for this MLflow: `lab setup` records it (a fresh home's MLflow starts faster)"
    return what, True, path.name


def checks() -> list[tuple[str, bool | None, str]]:
    """(what, ok, detail-or-fix) for every requirement; ok None: an optional tool is missing."""
    cfg = settings()
    rows: list[tuple[str, bool, str]] = []
    py = sys.version_info
    rows.append((
        "Python", py >= (3, 11),
        f"{py.major}.{py.minor}.{py.micro}" if py >= (3, 11) else
        f"{py.major}.{py.minor} is too old: install Python 3.11 and run `make setup`",
    ))
    jv = java_version()
    if jv is None:
        rows.append(("Java", False, "not found: install Java 17 (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"))
    else:
        rows.append(("Java", jv >= 17, f"{jv}" if jv >= 17 else f"{jv} is too old: install Java 17 or newer"))
    rows.append((
        "Maven", shutil.which("mvn") is not None,
        "found" if shutil.which("mvn") else "not found: `lab setup` falls back to Spark's Ivy; apt-get install maven is faster",
    ))
    home = cfg.home
    probe = home if home.exists() else next((p for p in home.parents if p.exists()), home)
    if not probe.is_dir():
        rows.append(("LAB_HOME", False, f"{probe} is a file, not a folder: set LAB_HOME to a folder you own"))
        probe = next(p for p in probe.parents if p.is_dir())
    else:
        writable = os.access(probe, os.W_OK)
        rows.append(("LAB_HOME", writable, str(home) if writable else f"{probe} is not writable: set LAB_HOME to a folder you own"))
    for name in jvm.jar_sets():
        ok = jvm.is_resolved(name)
        rows.append((f"jars: {name}", ok, f"{len(jvm._artifacts(jvm.jars_dir(name)))} files" if ok else "missing or out of date: run `lab setup`"))
    rows.append(_class_data_archive())
    from lablib.services import CLASS_DATA

    rows += [_service_class_data(name) for name in CLASS_DATA]
    rows.append(_mlflow_store())
    try:
        rows.append(("Chromium", True, f"{browser.chromium()} (browser tests)"))
    except LabError as exc:
        rows.append(("Chromium", False, exc.message))
    mem = _memory_gb()
    if mem is not None:
        rows.append(("memory", mem >= MIN_MEMORY_GB, f"{mem:.1f} GB available" + ("" if mem >= MIN_MEMORY_GB else f": close programs; the labs need {MIN_MEMORY_GB} GB")))
    disk = shutil.disk_usage(probe).free / 1024**3
    rows.append(("disk", disk >= MIN_DISK_GB, f"{disk:.0f} GB free" + ("" if disk >= MIN_DISK_GB else f" under {probe}: free {MIN_DISK_GB} GB")))
    rows += _optional_tools()
    try:
        from lablib import services

        rows += [(f"service: {name}", ok, detail) for name, ok, detail in services.health()]
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
        rows.append(("services", False, f"could not check: {exc}"))
    return rows


def main() -> int:
    rows = checks()
    width = max(len(r[0]) for r in rows)
    for what, ok, detail in rows:
        print(f"{'✅' if ok else '➖' if ok is None else '❌'} {what.ljust(width)}  {detail}")
    bad = [r for r in rows if r[1] is False]
    print("all good" if not bad else f"{len(bad)} problem(s): fix them and run `lab doctor` again")
    return 0 if not bad else 1
