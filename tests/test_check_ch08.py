"""Chapter 08's checks accept the right answer and reject wrong or missing ones, each for the reason
the learner reads. The gates are real: pytest runs in a subprocess on a real scratch repository and
writes a real JUnit report; the silver orders come from the packaged code on the real raw orders."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from checking import accepts, rejects
from pyspark.sql import functions as F

import lablib
from lablib import ci
from lablib.check import ch08

RIGHT_TEST = """
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual
from test_clean import RAW_SCHEMA, raw_row

from mat_orders import clean_orders


def test_later_row_wins(spark):
    raw = spark.createDataFrame([raw_row(0, status="completed"), raw_row(1, status="cancelled")], RAW_SCHEMA)
    assertDataFrameEqual(clean_orders(raw).select("order_id", "status"), [Row(order_id="O-1", status="cancelled")])
"""
OLD, NEW = "orderBy(F.col(order))", "orderBy(F.col(order).desc())"
GONE = "def test_gone():\n    pass\n"  # the shipped tests replaced by one that proves nothing


def _only_mine(repo: Path, text: str, name: str = "mine"):
    """pytest on the learner's file alone (no JVM unless the test asks for `spark`)."""
    ci.write(repo, ch08.LEARNER_TESTS, text)
    return ci.pytest(repo, ch08.LEARNER_TESTS, name=name)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return ci.scratch_repo(tmp_path_factory.mktemp("ch08") / "mat-orders")


@pytest.fixture(scope="module")
def runs(repo):
    """The learner's right test on the committed code (red), then after the fix (green)."""
    red = _only_mine(repo, RIGHT_TEST, name="red")
    assert ci.replace(repo, "src/mat_orders/clean.py", OLD, NEW)
    green = ci.pytest(repo, ch08.LEARNER_TESTS, name="green")
    ci.git(repo, "checkout", "--", "src")
    return red, green


@pytest.fixture(scope="module")
def red(runs):
    return runs[0]


@pytest.fixture(scope="module")
def green(runs):
    return runs[1]


@contextmanager
def _edited(repo: Path, path: str, text: str | None = None):
    """One file of the repository changed for the block (the fix, or ``text``), then checked out again."""
    if text is None:
        ci.replace(repo, path, OLD, NEW)
    else:
        (repo / path).write_text(text)
    try:
        yield
    finally:
        ci.git(repo, "checkout", "--", path)


@pytest.fixture(scope="module")
def raw(spark):
    return lablib.data.read("orders").withColumn("_pos", F.monotonically_increasing_id())


def _package(repo: Path, fixed: bool):
    """clean_orders from the repository's src/ (buggy or fixed), imported in this process."""
    if fixed:
        ci.replace(repo, "src/mat_orders/clean.py", OLD, NEW)
    for mod in [m for m in sys.modules if m.startswith("mat_orders")]:
        del sys.modules[mod]
    sys.path.insert(0, str(repo / "src"))
    try:
        import mat_orders

        return mat_orders.clean_orders
    finally:
        sys.path.remove(str(repo / "src"))
        ci.git(repo, "checkout", "--", "src")


def test_junit_is_read_from_a_real_run(red, green):
    assert red.returncode == 1 and green.returncode == 0
    got = ci.junit(red.report)
    assert (got["tests"], got["failure"]) == (1, 1)
    assert got["cases"][0]["name"] == "test_later_row_wins"
    assert "cancelled" in got["cases"][0]["message"] or got["cases"][0]["message"]


def test_a_run_can_borrow_a_running_spark(repo, spark):
    """pytest(remote=...) runs the tests on this process's Spark through Spark Connect, not a JVM of their own."""
    url = ci.spark_connect(spark)
    assert url.startswith("sc://127.0.0.1:") and ci.spark_connect(spark) == url  # one server per application
    where = ("def test_where(spark):\n    assert type(spark).__module__ == 'pyspark.sql.connect.session'\n"
             "    assert spark.range(3).count() == 3\n")
    ci.write(repo, ch08.LEARNER_TESTS, where)
    gate = ci.pytest(repo, ch08.LEARNER_TESTS, name="remote", remote=url)
    assert gate.passed, gate.output


def test_a_run_loads_none_of_the_course_s_pytest_plugins(repo):
    """The scratch venv sees the course's site-packages, whose plugins (nbval, faker …) a clean CI
    runner of the package would not have; a run loads only pytest's own (and starts 2.3 s sooner)."""
    probe = ("def test_plugins(pytestconfig):\n"
             "    loaded = [n for n in ('nbval', 'faker') if pytestconfig.pluginmanager.has_plugin(n)]\n"
             "    assert not loaded, f'course plugins loaded: {loaded}'\n")
    ci.write(repo, ch08.LEARNER_TESTS, probe)
    control = ci.run("control", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 ch08.LEARNER_TESTS], repo)
    assert "course plugins loaded: ['nbval', 'faker']" in control.output, control.output[-2000:]
    gate = ci.pytest(repo, ch08.LEARNER_TESTS, name="plugins")
    assert gate.passed, gate.output[-2000:]


def test_the_shipped_suite_passes_in_a_terminal_set_to_another_zone(repo, spark, monkeypatch):
    """A learner may run the package's tests from a terminal in their laptop's zone, without lablib
    (which keeps the kernel in UTC): the suite pins its own zone (tests/conftest.py). Without that pin,
    two mixed-format-date cases read Spark's 10:00 as 11:00 in Berlin."""
    monkeypatch.setenv("TZ", "Europe/Berlin")  # the gates' environment is this process's (ci.tool_env)
    zone = ci.run("zone", [sys.executable, "-c", "import time; print(time.tzname[0])"], repo)
    assert zone.output == "CET", f"the control: the suite would not run in Berlin ({zone.output})"
    gate = ci.pytest(repo, "tests/test_clean.py", name="berlin", remote=ci.spark_connect(spark))
    assert gate.passed, gate.output[-2000:]


def test_failing_test(red, repo):
    accepts(ch08.failing_test(red))
    rejects(ch08.failing_test(None), "red is still None")
    rejects(ch08.failing_test("1 failed"), "red should be what lablib.ci.pytest(repo, ...) returns, not a str")
    no_report = ci.run("pytest", [sys.executable, "-c", "pass"], repo)
    rejects(ch08.failing_test(no_report), "pytest wrote no JUnit report")
    # a test that passes on the buggy code does not catch the bug
    rejects(ch08.failing_test(_only_mine(repo, "def test_nothing():\n    assert 1 + 1 == 2\n", "nothing")),
            "your test passed on the buggy code")
    rejects(ch08.failing_test(_only_mine(repo, "VALUE = 1\n", "none")), "no test from tests/test_dedupe.py ran")
    broken = ("import pytest\n\n\n@pytest.fixture\ndef rows():\n    raise RuntimeError('no rows')\n\n\n"
              "def test_uses_rows(rows):\n    assert rows\n")
    rejects(ch08.failing_test(_only_mine(repo, broken, "broken")), "test_uses_rows errored instead of failing")
    # the fix made before the test ran: green is no proof that the test catches anything
    with _edited(repo, "src/mat_orders/clean.py"):
        rejects(ch08.failing_test(red), "the package's code is changed")
    with _edited(repo, ch08.SHIPPED_TESTS, GONE):
        rejects(ch08.failing_test(red), "tests/test_clean.py is changed")


def test_fix(red, green, repo, raw):
    fixed = _package(repo, fixed=True)(raw)
    accepts(ch08.fix(green, fixed))
    rejects(ch08.fix(None, fixed), "green is still None")
    rejects(ch08.fix(red, fixed), "1 test(s) still fail (e.g. test_later_row_wins")
    rejects(ch08.fix(_only_mine(repo, "VALUE = 1\n", "none"), fixed), "no test from tests/test_dedupe.py ran")
    # the tests pass, but silver was built with the old package: the re-sent orders keep a stale status
    buggy = _package(repo, fixed=False)(raw)
    rejects(ch08.fix(green, buggy), "re-sent order(s) kept an earlier status")
    rejects(ch08.fix(green, raw.dropDuplicates()), "duplicate order_id remain in silver")
    rejects(ch08.fix(green, fixed.limit(100)), "silver has 100 orders, expected")
    rejects(ch08.fix(green, None), "silver is still None")
    rejects(ch08.fix(green, fixed.drop("status")), "silver lacks column(s) status")
    with _edited(repo, ch08.SHIPPED_TESTS, GONE):
        rejects(ch08.fix(green, fixed), "tests/test_clean.py is changed")


# -- 08b: hooks and the workflow (no JVM) -------------------------------------------------

HOOKS = r"""
repos:
  - repo: local
    hooks:
      - id: ruff-check
        name: ruff check
        entry: ruff check --fix --exit-non-zero-on-fix
        language: system
        types_or: [python, pyi]
      - id: ruff-format
        name: ruff format
        entry: ruff format
        language: system
        types_or: [python, pyi]
      - id: nbstripout
        name: nbstripout
        entry: nbstripout
        language: system
        files: \.ipynb$
      - id: check-github-workflows
        name: check GitHub workflows
        entry: check-jsonschema --builtin-schema vendor.github-workflows
        language: system
        files: ^\.github/workflows/.*\.ya?ml$
"""

WORKFLOW = """
# CI of mat-orders: lint, test on two Pythons, build the wheel once
name: ci
on:
  pull_request:
  push:
    branches: [main]
permissions: {}
jobs:
  lint:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0
        with:
          python-version: "3.12"
          cache: pip
          cache-dependency-path: pyproject.toml
      - run: python -m pip install ruff==0.17.6
      - run: ruff check . && ruff format --check .
  test:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    strategy:
      matrix:
        python-version: ["3.11", "3.12"]
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - uses: actions/setup-java@c5195efecf7bdfc987ee8bae7a71cb8b11521c00 # v4.7.1
        with:
          distribution: temurin
          java-version: "17"
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0
        with:
          python-version: ${{ matrix.python-version }}
          cache: pip
          cache-dependency-path: pyproject.toml
      - run: python -m pip install ".[test]"
      - run: python -m pytest --junitxml=reports/junit.xml
  build:
    needs: [lint, test]
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0
        with:
          python-version: "3.12"
      - run: python -m pip wheel --no-deps --wheel-dir dist .
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: wheel
          path: dist/*.whl
"""


def _hooked(tmp_path, config: str | None, install: bool = True):
    """A fresh repository, the hooks of ``config``, the colleague's change committed twice (the
    workflow's runs_on fixed in between), as the notebook does."""
    repo = ci.scratch_repo(tmp_path / "mat-orders")
    ci.write(repo, ".pre-commit-config.yaml", config)
    if install:
        assert ci.run("pre-commit install", ["pre-commit", "install"], repo).passed
    ci.colleague_change(repo)
    blocked = ci.commit(repo, "colleague")
    ci.replace(repo, ".github/workflows/ci.yml", "runs_on:", "runs-on:")
    return blocked, ci.commit(repo, "colleague")


def test_hooks_accepts_the_offline_config(tmp_path):
    blocked, passed = _hooked(tmp_path, HOOKS)
    assert not blocked.passed and passed.passed
    accepts(ch08.hooks(blocked, passed))
    rejects(ch08.hooks(None, passed), "blocked is still None")
    rejects(ch08.hooks(blocked, blocked), "the second commit was refused too")


def test_hooks_rejects_remote_and_built_hooks(tmp_path):
    remote = HOOKS.replace("repo: local", "repo: https://github.com/astral-sh/ruff-pre-commit\n    rev: v0.17.6", 1)
    blocked, passed = _hooked(tmp_path / "remote", remote)
    rejects(ch08.hooks(blocked, passed), "is cloned from a git host when the hooks install")
    built = HOOKS.replace("language: system", "language: python", 1)
    blocked, passed = _hooked(tmp_path / "built", built)
    rejects(ch08.hooks(blocked, passed), "has language 'python'")


def test_hooks_rejects_missing_or_blind_hooks(tmp_path):
    no_strip = HOOKS[: HOOKS.index("      - id: nbstripout")] + HOOKS[HOOKS.index("      - id: check-github"):]
    rejects(ch08.hooks(*_hooked(tmp_path / "a", no_strip)), "no hook runs nbstripout")
    blind = HOOKS.replace(r"files: \.ipynb$", r"files: \.py$")
    rejects(ch08.hooks(*_hooked(tmp_path / "b", blind)),
            "the nbstripout hook did not fail on the notebook saved with outputs")
    own_schema = HOOKS.replace("--builtin-schema vendor.github-workflows", "--check-metaschema")
    rejects(ch08.hooks(*_hooked(tmp_path / "c", own_schema)), "does not use the bundled GitHub-workflow schema")
    rejects(ch08.hooks(*_hooked(tmp_path / "d", HOOKS, install=False)), "no pre-commit hook is installed")
    rejects(ch08.hooks(*_hooked(tmp_path / "e", None)), "the repository has no .pre-commit-config.yaml")


def _workflow(tmp_path, text: str) -> Path:
    return ci.write(tmp_path, ".github/workflows/ci.yml", text)


def test_workflow(tmp_path):
    accepts(ch08.workflow(_workflow(tmp_path / "right", WORKFLOW)))
    rejects(ch08.workflow(None), "the workflow's path is still None")
    rejects(ch08.workflow(tmp_path / "nowhere.yml"), "there is no file nowhere.yml")
    draft = ci.draft("ci.yml")
    rejects(ch08.workflow(_workflow(tmp_path / "draft", draft)), "'runs-on' is a required property")
    rejects(ch08.workflow(_workflow(tmp_path / "fixed", draft.replace("runs_on:", "runs-on:"))),
            "zizmor reports 6 finding(s): ")
    tag = WORKFLOW.replace("actions/setup-java@c5195efecf7bdfc987ee8bae7a71cb8b11521c00", "actions/setup-java@v4")
    rejects(ch08.workflow(_workflow(tmp_path / "tag", tag)), "unpinned-uses at line")
    target = WORKFLOW.replace("  pull_request:\n", "  pull_request_target:\n")
    rejects(ch08.workflow(_workflow(tmp_path / "target", target)), "dangerous-triggers")
    no_java = WORKFLOW.replace("actions/setup-java@", "actions/setup-go@")
    rejects(ch08.workflow(_workflow(tmp_path / "java", no_java)), "no step uses actions/setup-java")
    one = WORKFLOW.replace('python-version: ["3.11", "3.12"]', 'python-version: ["3.12"]')
    rejects(ch08.workflow(_workflow(tmp_path / "one", one)), "the matrix tests 1 Python version(s)")
    no_cache = WORKFLOW.replace("          cache: pip\n", "")
    rejects(ch08.workflow(_workflow(tmp_path / "cache", no_cache)), "setup-python has no cache")
    no_wheel = WORKFLOW.replace("python -m pip wheel --no-deps --wheel-dir dist .", "echo skipped")
    rejects(ch08.workflow(_workflow(tmp_path / "wheel", no_wheel)), "the workflow lacks a wheel build")
