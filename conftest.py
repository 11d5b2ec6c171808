"""Shared test set-up.

Solution notebooks are executed once, by nbval (``pytest --nbval-lax
solutions/``, see pyproject's addopts): every cell runs, cells tagged
``nbval-check-output`` must reproduce their committed output (after
tests/nbval_sanitize.cfg), failed checks raise (``LAB_CHECKS_STRICT=1``), each
notebook gets a fresh ``LAB_HOME`` (so a chapter is proven to run alone), and
its summed cell time must fit the budget in its metadata, in calibration units
measured in this same session (lablib.calibration).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lablib import ports
from lablib.config import settings
from tests.homes import FIRST_RUN_MARK, notebook_home

pytest_plugins = ["tests.fixtures_services", "tests.fixtures_data", "tests.fixtures_spark", "tests.fixtures_checks",
                  "tests.browser"]

ORIGINAL_ENV = {k: os.environ.get(k) for k in ("LAB_HOME", "LAB_CHECKS_STRICT")}
#: the jars resolved by `lab setup` for the real LAB_HOME, shared by every fresh test home
SHARED_JARS = settings().jars
os.environ.setdefault("LAB_TEST_HOMES", str(settings().home / "test-homes"))


BASE_HOME = settings().home
# the suite's own home is in the machine's index of homes before any home a test makes, so where no
# other home holds them it keeps the default ports and the throw-away homes get free ones (lablib/ports.py)
ports.ports()


def pytest_configure(config):
    os.environ.setdefault("LAB_SCALE", "ci")
    os.environ["LAB_JARS_DIR"] = str(SHARED_JARS)
    config._nb_times = {}
    config._nb_cu = {}
    # a mark from an earlier session does not count: only this session's nbval runs do
    for stale in Path(os.environ["LAB_TEST_HOMES"]).glob(f"*/{FIRST_RUN_MARK}"):
        stale.unlink(missing_ok=True)


def _is_nbval(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


#: one warm Spark JVM the solution notebooks attach to, one after another (lablib/shared_jvm.py): each
#: still builds its own SparkContext from its own fresh LAB_HOME; the blank labs start JVMs of their own
_SHARED_JVM = None


def _shared_jvm_env() -> dict[str, str]:
    global _SHARED_JVM
    if _SHARED_JVM is None:
        from lablib.shared_jvm import SharedJVM

        _SHARED_JVM = SharedJVM()
    return _SHARED_JVM.env()


def _leave_notebook_home() -> None:
    """Stop services a notebook started in its home, its SparkContext in the shared JVM, and restore
    the suite's environment."""
    if not os.environ.get("_LAB_NB_CURRENT"):
        return
    import subprocess
    import sys

    if _SHARED_JVM is not None:
        _SHARED_JVM.release()
    subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True, timeout=120)
    del os.environ["_LAB_NB_CURRENT"]
    for key, value in ORIGINAL_ENV.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    _enter_notebook_home(item)
    yield
    # the kernel (started by nbval in this setup) has attached with it: no other process may
    os.environ.pop("LAB_SPARK_GATEWAY", None)


def _enter_notebook_home(item) -> None:
    # runs before nbval starts the notebook's kernel, which inherits this environment
    if not _is_nbval(item):
        _leave_notebook_home()
        return
    nb = str(item.parent.path)
    if os.environ.get("_LAB_NB_CURRENT") != nb:
        import shutil

        _leave_notebook_home()
        os.environ.update(_shared_jvm_env())  # started (once) from the suite's home, not the notebook's
        home = notebook_home(nb)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        os.environ["_LAB_NB_CURRENT"] = nb
        os.environ["LAB_HOME"] = str(home)
        os.environ["LAB_CHECKS_STRICT"] = "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    started = time.perf_counter()
    yield
    if _is_nbval(item):
        times = item.config._nb_times
        key = str(item.parent.path)
        times[key] = times.get(key, 0.0) + time.perf_counter() - started


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (_is_nbval(item) and call.when == "call" and report.passed):
        return
    siblings = [i for i in item.session.items if getattr(i, "parent", None) is item.parent]
    if siblings and item is siblings[-1]:
        from lablib import calibration
        from lablib.calibration import verdict
        from lablib.notebooks import budget

        # tells tests/test_notebooks.py that the first run happened in this home
        (notebook_home(str(item.parent.path)) / FIRST_RUN_MARK).touch()

        spent = item.config._nb_times.get(str(item.parent.path), 0.0)
        if os.environ.get("LAB_SCALE") == "ci":
            # a median of 3 before the first verdict, kept for the session: one sample moved the course's
            # total by ±15 % across three quiet CI runs (14.9, 15.8, 12.3 s per c.u.)
            judged = verdict(spent, budget(Path(item.parent.path)), calibration.current().confirmed())
            item.config._nb_cu[str(item.parent.path)] = judged.cu
            if judged.over:
                report.outcome = "failed"
                report.longrepr = (f"{Path(item.parent.path).name} {judged.text} at CI scale, over budget "
                                   f"({calibration.current().describe()})")


def _stop_leftovers(session) -> list[str]:
    """Processes still running from this session's throw-away homes (a service a test started and no
    fixture stopped): stopped, and named in the summary so the test that left them can be found."""
    import signal

    factory = getattr(session.config, "_tmp_path_factory", None)
    roots = [str(factory.getbasetemp())] if factory is not None else []
    roots.append(os.environ["LAB_TEST_HOMES"])
    roots = [root.rstrip(os.sep) + os.sep for root in roots]  # pytest-10/ is not a prefix of pytest-105/
    from lablib.services import _process

    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        pid = int(cmdline.parent.name)
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        home = next((root for root in roots if any(root in arg for arg in argv)), None)
        # services lablib started from this process are its children too: only its own Spark driver
        # (a child whose command line names the home it started in) is spared
        own_driver = "pyspark-shell" in argv and (_process._stat(pid) or [None, None])[1] == str(os.getpid())
        if pid == os.getpid() or home is None or own_driver:
            continue
        main = next((a for a in argv if a in ("kafka.Kafka", "mlflow") or a.endswith(".Main")), argv[0])
        left.append(f"pid {pid} ({main}) under {home}")
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    return left


def pytest_sessionfinish(session, exitstatus):
    _leave_notebook_home()
    if _SHARED_JVM is not None:
        _SHARED_JVM.close()
    session.config._leftovers = _stop_leftovers(session)
    times = getattr(session.config, "_nb_times", {})
    if times:
        from lablib import calibration

        units = session.config._nb_cu
        lines = [calibration.current().describe(), ""] if units else []  # measured once a notebook was judged
        lines += ["| notebook | seconds | c.u. |", "|---|---:|---:|"]
        lines += [f"| {Path(k).name} | {v:.1f} | {units[k]:.1f} |" if k in units else f"| {Path(k).name} | {v:.1f} | |"
                  for k, v in sorted(times.items())]
        session.config._nb_table = lines
        out = BASE_HOME / "runs"
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "nbval-times.md").write_text("\n".join(lines) + "\n")
        except OSError:
            pass


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    left = getattr(config, "_leftovers", [])
    if left:
        terminalreporter.section("left running by tests (stopped now)")
        for line in left:
            terminalreporter.write_line(line)
    # CI keeps only what the run printed: the per-notebook times are what the README's tables quote
    lines = getattr(config, "_nb_table", None)
    if lines:
        terminalreporter.section("solution notebooks: summed cell time at this scale")
        for line in lines:
            terminalreporter.write_line(line)
