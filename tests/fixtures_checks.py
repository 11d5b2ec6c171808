"""What every test that runs a check gets (a pytest plugin, see conftest.py).

**The crash net.** A check that raises unexpectedly prints "could not check
your answer (…)" and returns a falsy Result, which a bare ``assert not`` on the
result would take for a rejection. Every result a check returns during a test
is observed (by wrapping ``lablib.check.progress.record``); a test in which one
crashed fails, unless it is marked ``@pytest.mark.check_may_crash`` (tests of
the check framework that crash a check on purpose). Checks called by module- or
session-scoped fixtures are not observed.
"""

from __future__ import annotations

import pytest

from lablib.check import progress

CRASH_MARK = "check_may_crash"
_RESULTS = pytest.StashKey[list]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{CRASH_MARK}: a check in this test may crash on purpose (the crash net lets it pass)")


@pytest.fixture(autouse=True)
def check_results(request):
    """Every Result a check returned during this test, in order (the crash net reads it after the test)."""
    seen: list = []
    request.node.stash[_RESULTS] = seen
    original = progress.record

    def record(result):
        seen.append(result)
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
