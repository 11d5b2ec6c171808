"""The learner's main job in a real browser: JupyterLab started as `make lab` starts it, driven in
headless Chromium (tests/browser.py).

JupyterLab gets the command line and settings of `lab jupyter` (lablib/jupyter.py: 127.0.0.1, a
token, jupyter-config/ on JUPYTER_CONFIG_PATH, the chapter table as landing page) on a random free
port, as a brand-new user (empty Jupyter user folders), with a fresh LAB_HOME at CI scale. Its root
folder is a temporary copy of labs/ in which 00_setup.ipynb is the *solution* (JupyterLab saves
what it runs, so nothing in the repository changes): the learner opens the chapter table, clicks
00, runs every cell through the Run menu, and every check must answer ✅ with no traceback, no
news question and no request leaving the machine. Two more tests prove the detectors can fail: a
planted notebook whose traceback must be caught (and whose JVM-style stderr warning must not), and
a JupyterLab without the course's settings, which must ask the news question.

Time limits are in calibration units (c.u.) of this machine; JupyterLab and its kernels are stopped
at the end, also when a test fails.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import requests

from lablib import chapters, jupyter
from lablib.notebooks import LAUNCHER, budget

pytestmark = pytest.mark.browser

SETUP = chapters.get("00")
NEWS_QUESTION = "Would you like to get notified about official Jupyter news?"
STDERR = "application/vnd.jupyter.stderr"
#: an error output as JupyterLab shows it: a stderr block holding a Python traceback or the
#: exception line ("ValueError: …", "LabError: …"); a plain warning on stderr is not one
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+(Error|Exception): ", re.M)
#: the notebook on screen (a restored workspace may hold others, hidden)
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
#: every code cell that has source shows "[n]:" and none is queued or running ("[*]:")
ALL_RAN = """({expected, notebook}) => {
  const panel = document.querySelector(notebook);
  if (!panel) return false;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent);
  if (prompts.some(p => p.includes('*'))) return false;
  const numbered = prompts.filter(p => /\\[\\d+\\]/.test(p)).length;
  const failed = [...panel.querySelectorAll('.jp-OutputArea-output')]
    .some(e => e.textContent.includes('Traceback (most recent call last)'));
  return numbered >= expected || (failed && numbered > 0);  // Run All stops at an error
}"""


# -- JupyterLab, started as `make lab` starts it ------------------------------------------------


@dataclass
class Lab:
    base: str
    token: str
    root: Path
    home: Path
    log: Path
    start_seconds: float

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}"

    def api(self, method: str, path: str, timeout: float) -> requests.Response:
        return requests.request(method, f"{self.base}{path}",
                                headers={"Authorization": f"token {self.token}"}, timeout=timeout)

    def stop_kernels(self, timeout: float) -> None:
        for kernel in self.api("GET", "/api/kernels", timeout).json():
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_jupyterlab(root: Path, home: Path, scratch: Path, cu: float,
                       course_settings: bool = True) -> Iterator[Lab]:
    """JupyterLab on a free port of 127.0.0.1 serving ``root``, its kernels on LAB_HOME ``home``,
    for a user with no Jupyter history; stopped (kernels, server, services) on the way out."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    user = scratch / "jupyter-user"
    env = jupyter.environment(os.environ) if course_settings else dict(os.environ)
    env.update(
        LAB_HOME=str(home), LAB_SCALE="ci", LAB_CHECKS_STRICT="1",
        JUPYTER_CONFIG_DIR=str(user / "config"), JUPYTER_DATA_DIR=str(user / "data"),
        JUPYTER_RUNTIME_DIR=str(user / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(user / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(user / "workspaces"),
    )
    command = jupyter.command(port, token=token, root_dir=root) + ["--ServerApp.port_retries=0"]
    log = scratch / "jupyterlab.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, home, log, 0.0)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{_tail(log)}")
            try:
                if lab.api("GET", "/api/status", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.perf_counter() - started > cu:
                pytest.fail(f"JupyterLab did not answer within 1 c.u. ({cu:.0f} s):\n{_tail(log)}")
            time.sleep(0.2)
        lab.start_seconds = time.perf_counter() - started
        yield lab
    finally:
        try:
            lab.stop_kernels(timeout=cu)
        except requests.RequestException:
            pass
        proc.send_signal(signal.SIGTERM)  # Jupyter shuts its kernels down on SIGTERM too
        try:
            proc.wait(timeout=cu)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=cu)
        # a notebook may have started an embedded service in its LAB_HOME
        subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True,
                       env={**os.environ, "LAB_HOME": str(home)}, timeout=120)


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory, cu):
    """JupyterLab with the course's settings on a copy of labs/ where 00 is the solution."""
    scratch = tmp_path_factory.mktemp("jupyterlab")
    root = scratch / "labs"
    root.mkdir()
    shutil.copy(chapters.LABS / LAUNCHER, root / LAUNCHER)
    shutil.copy(SETUP.solution, root / SETUP.lab.name)
    nbformat.write(planted_notebook(), root / "planted.ipynb")
    with running_jupyterlab(root, scratch / "lab home", scratch, cu) as lab:
        yield lab


@pytest.fixture
def lab(course_lab, cu):
    yield course_lab
    course_lab.stop_kernels(timeout=cu)  # each test's kernel (and its JVM) goes with the test


# -- what a learner does and sees -----------------------------------------------------------------


def wait_for_idle_kernel(page, timeout_s: float) -> None:
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).wait_for(timeout=timeout_s * 1000)


def run_all_cells(page, expected_cells: int, timeout_s: float) -> float:
    """Run ▸ Run All Cells, then wait until every cell ran (or one failed); returns the seconds."""
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))
    page.locator("#jp-mainmenu-run .lm-Menu-item").filter(has=label).click()
    started = time.perf_counter()
    page.wait_for_function(ALL_RAN, arg={"expected": expected_cells, "notebook": PANEL},
                           timeout=timeout_s * 1000, polling=250)
    wait_for_idle_kernel(page, timeout_s)
    return time.perf_counter() - started


def outputs(page) -> list[tuple[str, str]]:
    """(mime type, text) of every output block of the open notebook, in order."""
    return page.locator(f"{PANEL} .jp-OutputArea-output").evaluate_all(
        "els => els.map(e => [e.dataset.mimeType || '', e.textContent])")


def errors(blocks: list[tuple[str, str]]) -> list[str]:
    return [text for mime, text in blocks if mime == STDERR and TRACEBACK.search(text)]


def check_lines(blocks: list[tuple[str, str]]) -> list[str]:
    return [line for _, text in blocks for line in text.splitlines() if line.startswith(("✅", "❌"))]


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and c.source.strip()]


def planted_notebook() -> nbformat.NotebookNode:
    """A notebook with a harmless stderr warning, a ✅ line, then a cell that raises."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            'import sys\nprint("WARNING: Using incubator modules: jdk.incubator.vector", file=sys.stderr)'),
        nbformat.v4.new_code_cell('print("✅ planted: this line is fine")'),
        nbformat.v4.new_code_cell('raise ValueError("planted failure")'),
        nbformat.v4.new_code_cell('print("✅ never printed: Run All stops at the error")'),
    ]
    return nb


# -- the tests ------------------------------------------------------------------------------------


def test_a_learner_runs_00_through_jupyterlab(lab, tab, cu):
    page = tab.page
    notebook = lab.root / SETUP.lab.name
    titles = [nbformat.read(ch.solution, as_version=4).metadata["lab"]["title"] for ch in chapters.all_chapters()]

    started = time.perf_counter()
    page.goto(lab.url("/"))  # the landing page: the chapter table
    table = page.locator(".jp-RenderedMarkdown table")
    table.wait_for()
    landing_seconds = time.perf_counter() - started
    shown = table.text_content()
    assert all(title in shown for title in titles), f"the chapter table lacks some of {titles}:\n{shown}"
    tab.screenshot("jupyterlab-landing")

    table.locator("a", has_text=titles[0]).click()
    wait_for_idle_kernel(page, cu)
    limit = 2 * budget(notebook) * cu  # its budget at CI scale, doubled for the UI and kernel start
    run_seconds = run_all_cells(page, len(code_cells(notebook)), limit)

    blocks = outputs(page)
    assert errors(blocks) == [], "error output in 00 run through JupyterLab:\n" + "\n".join(errors(blocks))
    checks = check_lines(blocks)
    calls = sum(1 for c in code_cells(notebook) if "lablib.check." in c.source)
    assert checks and all(line.startswith("✅") for line in checks), checks
    assert len(checks) == calls, f"{calls} checks in 00, {len(checks)} answered: {checks}"
    page.locator(f"{PANEL} .jp-OutputArea-output", has_text=checks[-1][:40]).scroll_into_view_if_needed()
    tab.screenshot("jupyterlab-00-run")

    # no news question, no news or update request, nothing sent off this machine
    assert page.get_by_text(NEWS_QUESTION).count() == 0
    assert [u for u in tab.requests if "/lab/api/news" in u or "/lab/api/update" in u] == []
    assert tab.offsite == [], f"JupyterLab called out: {tab.offsite}"

    # what JupyterLab saved holds the same: no error output, every check ✅
    page.keyboard.press("Control+s")
    page.locator(".jp-mod-dirty").wait_for(state="detached")
    saved = nbformat.read(notebook, as_version=4)
    kinds = [o.output_type for c in saved.cells if c.cell_type == "code" for o in c.outputs]
    assert "error" not in kinds
    print(f"\nJupyterLab answered in {lab.start_seconds:.1f} s; landing page {landing_seconds:.1f} s; "
          f"00 through the UI {run_seconds:.1f} s = {run_seconds / cu:.1f} c.u. (1 c.u. = {cu:.1f} s)")


def test_the_error_detector_catches_a_traceback_and_not_a_warning(lab, tab, cu):
    page = tab.page
    page.goto(lab.url("/lab/tree/planted.ipynb?reset"))  # ?reset: not the workspace of the test before
    page.locator(f"{PANEL} .jp-CodeCell").first.wait_for()
    wait_for_idle_kernel(page, cu)
    run_all_cells(page, len(code_cells(lab.root / "planted.ipynb")), cu)

    blocks = outputs(page)
    found = errors(blocks)
    assert len(found) == 1 and "ValueError: planted failure" in found[0], found
    assert any(mime == STDERR and "incubator modules" in text for mime, text in blocks)  # shown, not counted
    assert check_lines(blocks) == ["✅ planted: this line is fine"]


def test_without_the_course_settings_jupyterlab_asks_about_news(tmp_path, tab, cu):
    root = tmp_path / "labs"
    root.mkdir()
    shutil.copy(chapters.LABS / LAUNCHER, root / LAUNCHER)
    with running_jupyterlab(root, tmp_path / "lab home", tmp_path, cu, course_settings=False) as plain:
        tab.page.goto(plain.url("/lab"))
        tab.page.get_by_text(NEWS_QUESTION).wait_for()
        tab.screenshot("jupyterlab-without-course-settings")
