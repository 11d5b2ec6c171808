"""Browser tests in headless Chromium (a pytest plugin, see conftest.py; reused by any page test).

The browser is the system Chromium (lablib.browser.chromium(): Debian's ``chromium``, installed by
scripts/system-deps.sh), driven by Playwright through ``executable_path``; Playwright's own browser
download is never used. Fixtures:

* ``chromium`` (session): one headless browser for the whole run;
* ``tab``: a fresh browser context and page, closed after the test, whose waits default to one
  calibration unit; :class:`Tab` records every request that leaves this machine and saves
  screenshots to the run folder (``$LAB_HOME/runs/browser/``); a failed test leaves
  ``<test name>-failed.png`` there;
* ``cu``: seconds of one calibration unit on this machine (lablib.calibration), for time limits.

    def test_page(tab, cu):
        tab.page.goto(url, timeout=cu * 1000)
        tab.page.get_by_text("Mega Awesome Toys").wait_for()
        tab.screenshot("my-page")
        assert tab.offsite == []
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lablib import calibration
from lablib.browser import chromium as chromium_binary
from lablib.config import ensure_dir, settings
from lablib.errors import LabError

#: hosts that are this machine; a request to any other host is "offsite"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: a page the size of a laptop screen
VIEWPORT = {"width": 1400, "height": 900}
#: the run folder of the LAB_HOME the suite was started with (read at start-up: the tests of lablib
#: switch LAB_HOME to a home of their own, tests/fixtures_checks.py), beside nbval-times.md
RUNS = settings().runs / "browser"


def run_folder() -> Path:
    """Where screenshots go: ``$LAB_HOME/runs/browser/`` (CI keeps ``runs/`` as an artifact)."""
    return ensure_dir(RUNS)


def screenshot(page, name: str) -> Path:
    """Save what ``page`` shows as ``<run folder>/<name>.png`` and return the path."""
    path = run_folder() / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path))
    return path


@dataclass
class Tab:
    """A page in its own browser context, and what it asked of the network."""

    page: object  # playwright.sync_api.Page
    offsite: list[str] = field(default_factory=list)  # requests to any host but this machine
    requests: list[str] = field(default_factory=list)  # every URL requested, in order

    def _record(self, request) -> None:
        self.requests.append(request.url)
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in LOOPBACK:
            self.offsite.append(request.url)

    def screenshot(self, name: str) -> Path:
        return screenshot(self.page, name)


@pytest.fixture(scope="session")
def cu() -> float:
    """Seconds per c.u. that time limits use, measured once per session: this machine's, or the
    reference machine's when this one is faster (or LAB_CALIBRATION_SECONDS)."""
    return calibration.current().judging_seconds


@pytest.fixture(scope="session")
def chromium():
    """Headless system Chromium driven by Playwright; one clear sentence when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: run `make setup` (it is in pyproject's dev extras)",
                    pytrace=False)
    try:
        binary = chromium_binary()
    except LabError as exc:
        pytest.fail(exc.message, pytrace=False)
    driver = sync_playwright().start()
    try:
        browser = driver.chromium.launch(executable_path=str(binary), headless=True)
    except Exception:
        driver.stop()
        raise
    yield browser
    browser.close()
    driver.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item._browser_failed = outcome.get_result().failed


@pytest.fixture
def tab(request, chromium, cu):
    """A fresh page (own cookies and storage), closed after the test, also when it fails."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(cu * 1000)
    page = context.new_page()
    opened = Tab(page)
    page.on("request", opened._record)
    yield opened
    try:
        if getattr(request.node, "_browser_failed", False):
            opened.screenshot(f"{request.node.name}-failed")
    finally:
        context.close()
