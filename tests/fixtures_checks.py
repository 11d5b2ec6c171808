"""What every test that runs a check gets (a pytest plugin, see conftest.py).

**A home of their own.** Every test of lablib runs with LAB_HOME at
``$LAB_TEST_HOMES/home tests``, set before the test's fixtures (so before the
Spark session is built: its warehouse and metastore live there too). The attempts
the check tests make are recorded in that home's progress.json, never in the
learner's. It is set again before each test because conftest.py puts the
suite's original LAB_HOME back after each solution notebook. A check that still
tries to record into the learner's home fails its test.

**The crash net.** A check that raises unexpectedly prints "could not check
your answer (…)" and returns a falsy Result, which a bare ``assert not`` on the
result would take for a rejection. Every result a check returns during a test
is observed (by wrapping ``lablib.check.progress.record``); a test in which one
crashed fails, unless it is marked ``@pytest.mark.check_may_crash`` (tests of
the check framework that crash a check on purpose). Checks called by module- or
session-scoped fixtures are not observed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lablib.check import progress
from lablib.config import settings

CRASH_MARK = "check_may_crash"
#: the home the suite was started with: a learner's (default: .lab/ in the repo)
LEARNER_HOME = settings().home
_RESULTS = pytest.StashKey[list]()
_ORIGINAL_HOME = pytest.StashKey[str | None]()


def suite_home() -> Path:
    """The LAB_HOME of the tests of lablib (the notebooks run in homes of their own, see homes.py)."""
    return Path(os.environ["LAB_TEST_HOMES"]) / "home tests"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{CRASH_MARK}: a check in this test may crash on purpose (the crash net lets it pass)")
    config.stash[_ORIGINAL_HOME] = os.environ.get("LAB_HOME")


def pytest_unconfigure(config):
    original = config.stash.get(_ORIGINAL_HOME, None)
    if original is None:
        os.environ.pop("LAB_HOME", None)
    else:
        os.environ["LAB_HOME"] = original


@pytest.hookimpl
def pytest_runtest_setup(item):
    # after conftest's (tryfirst) hook, which may just have restored the suite's original LAB_HOME,
    # and before the test's fixtures are set up
    if isinstance(item, pytest.Function):
        home = suite_home()
        home.mkdir(parents=True, exist_ok=True)
        os.environ["LAB_HOME"] = str(home)


@pytest.fixture
def lab_test_home() -> Path:
    """Where the tests' LAB_HOME is."""
    return suite_home()


@pytest.fixture
def learner_home() -> Path:
    """The LAB_HOME the test suite was started with, which tests must leave alone."""
    return LEARNER_HOME


@pytest.fixture(autouse=True)
def check_results(request):
    """Every Result a check returned during this test, in order (the crash net reads it after the test)."""
    seen: list = []
    request.node.stash[_RESULTS] = seen
    original = progress.record
    learner_file = LEARNER_HOME / "progress.json"

    def record(result):
        seen.append(result)
        if settings().progress_file == learner_file and LEARNER_HOME != suite_home():
            pytest.fail(f"a check recorded progress into the learner's home ({learner_file}); "
                        "tests record into $LAB_TEST_HOMES/home tests")
        original(result)

    progress.record = record
    try:
        yield seen
    finally:
        progress.record = original


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or item.get_closest_marker(CRASH_MARK):
        return
    crashed = [r for r in item.stash.get(_RESULTS, []) if getattr(r, "crashed", False)]
    if not crashed:
        return
    text = (f"{len(crashed)} check(s) crashed instead of passing or rejecting the answer for a reason "
            f"(mark the test @pytest.mark.{CRASH_MARK} if that is what it tests):\n"
            + "\n".join(r.line for r in crashed))
    if report.passed:
        report.outcome = "failed"
        report.longrepr = text
    else:
        report.sections.append(("crashed checks", text))
