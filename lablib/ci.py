"""Chapter 08's plumbing: the learner's scratch git repository and the gates run on it.

Every gate is the real tool run in a subprocess (pytest, pip, pre-commit, check-jsonschema,
zizmor, hadolint, terraform); what comes back is a :class:`Gate` (command, exit code, output)
and, for pytest, the JUnit XML it wrote. Nothing here decides whether a gate passed: the
exit code and the report do.

The repository lives in ``$LAB_HOME/scratch/ch08/mat-orders`` (the chapter's reset removes it);
the throwaway venv the wheel is installed into lives in ``$LAB_HOME/ci/venv`` and is made once
per home, since it is the slow step.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from lablib.config import settings
from lablib.paths import rel

TEMPLATE = Path(__file__).parent / "ci_template"
REPO_NAME = "mat-orders"
AUTHOR = ("Mega Awesome Toys learner", "learner@mega-awesome-toys.invalid")
#: how to get the workflow linter chapter 08b uses when it is there (a pinned release, as everything here)
ACTIONLINT_INSTALL = "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"


@dataclass(frozen=True)
class Gate:
    """One tool's run: its command, exit code and output (stdout and stderr together)."""

    name: str
    command: list[str]
    returncode: int
    output: str
    cwd: Path | None = None  # where it ran
    report: Path | None = None  # a file the tool wrote (pytest's JUnit XML)
    extra: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    def __str__(self) -> str:
        mark = "passed" if self.passed else f"FAILED (exit code {self.returncode})"
        return f"{self.name}: {mark}"


def bin_dir() -> Path:
    """The course's own tools (ruff, pre-commit, check-jsonschema, zizmor, hadolint …)."""
    return Path(sysconfig.get_path("scripts"))


def tool_env(**extra: str) -> dict[str, str]:
    """The environment of every gate: the course's tools first on PATH, caches in LAB_HOME,
    git identity set, nothing that reaches a registry."""
    cfg = settings()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir()), env.get("PATH", "")])
    env["PRE_COMMIT_HOME"] = str(cfg.home / "ci" / "pre-commit")
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = AUTHOR[0]
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = AUTHOR[1]
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["NO_COLOR"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)  # the scratch repository's code, not the course's worktree
    env.pop("SPARK_REMOTE", None)  # the tests start their own Spark unless a run names one
    env.update(extra)
    return env


def run(name: str, command: list[str], cwd: Path, timeout: float = 300, **env: str) -> Gate:
    """Run one gate; its exit code and output come back as a :class:`Gate` (never raises on failure)."""
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env=tool_env(**env), capture_output=True,
                          text=True, timeout=timeout)
    return Gate(name, [str(c) for c in command], proc.returncode, (proc.stdout + proc.stderr).strip(), Path(cwd))


def git(repo: Path, *args: str) -> Gate:
    return run("git " + args[0], ["git", *args], repo)


# --------------------------------------------------------------------------- the repository
def scratch_repo(path: Path | None = None) -> Path:
    """A fresh git repository holding the ``mat-orders`` package (one commit on ``main``), by default
    in ``$LAB_HOME/scratch/ch08/mat-orders``."""
    repo = Path(path) if path else settings().scratch / "ch08" / REPO_NAME
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(TEMPLATE, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for args in (("init", "-q", "-b", "main"), ("add", "-A"),
                 ("commit", "-q", "-m", "mat-orders: the silver cleaning of the orders as a package")):
        gate = git(repo, *args)
        if not gate.passed:
            raise RuntimeError(f"git {args[0]} failed in {rel(repo)}: {gate.output}")
    return repo


def write(repo: Path, path: str, text: str | None) -> Path | None:
    """Write one file of the repository (folders made as needed); returns its path. ``None``
    (an exercise not done yet) writes nothing."""
    if text is None:
        print(f"nothing written to {path} (still None)")
        return None
    target = Path(repo) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text if text.endswith("\n") else text + "\n")
    return target


def replace(repo: Path, path: str, old: str | None, new: str | None) -> bool:
    """Replace the text ``old`` by ``new`` in one file of the repository; says whether it did."""
    target = Path(repo) / path
    text = target.read_text()
    if old is None or new is None:
        print(f"{path} unchanged (still None)")
        return False
    if old not in text:
        print(f"{path} unchanged: the text to replace is not in it")
        return False
    target.write_text(text.replace(old, new, 1))
    return True


def tree(repo: Path) -> list[str]:
    """The files git tracks or would track (ignored files left out), sorted."""
    out = run("git ls-files", ["git", "ls-files", "--cached", "--others", "--exclude-standard"], repo)
    return sorted(line for line in out.output.splitlines() if line)


def commit(repo: Path, message: str) -> Gate:
    """``git add -A`` and ``git commit``: with hooks installed, the hooks decide."""
    git(repo, "add", "-A")
    return run("git commit", ["git", "commit", "-q", "-m", message], repo)


# --------------------------------------------------------------------------- wheel and venv
def build_wheel(repo: Path) -> Path:
    """``pip wheel`` (pip's own PEP 517 build, setuptools from this environment): the wheel's path."""
    dist = Path(repo) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    gate = run("pip wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--quiet", "--wheel-dir", str(dist), "."], repo)
    if not gate.passed:
        raise RuntimeError(f"the wheel did not build:\n{gate.output}")
    (wheel,) = dist.glob("*.whl")
    shutil.rmtree(Path(repo) / "build", ignore_errors=True)
    for info in Path(repo, "src").glob("*.egg-info"):
        shutil.rmtree(info)
    return wheel


def venv() -> Path:
    """The throwaway venv (made once per LAB_HOME). It has no packages of its own; a ``.pth`` line
    lets it see the course's installed packages (pyspark, pytest), so installing a wheel into it
    downloads nothing."""
    path = settings().home / "ci" / "venv"
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(path)], check=True)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    course = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "course-packages.pth").write_text("\n".join(course) + "\n")
    return path


def install(wheel: Path, into: Path) -> Gate:
    """Install the wheel (and nothing else) into the venv ``into`` with the course's pip."""
    return run("pip install", [sys.executable, "-m", "pip", "--python", str(into / "bin" / "python"), "install",
                               "--quiet", "--no-deps", "--force-reinstall", str(wheel)], Path(wheel).parent)


def venv_python(into: Path, code: str, cwd: Path | None = None) -> Gate:
    """Run Python code with the venv's interpreter, away from the repository (so ``src/`` is not
    what gets imported)."""
    where = cwd or settings().home / "ci"
    return run("python", [str(into / "bin" / "python"), "-c", code], where)


def installed_package(into: Path, name: str = "mat_orders"):
    """Import ``name`` in this kernel from the venv's installed copy (not from ``src/``)."""
    import importlib

    purelib = subprocess.run([str(into / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]
    sys.path.insert(0, purelib)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(purelib)


# --------------------------------------------------------------------------- pytest
_CONNECT: dict[str, str] = {}  # Spark application id -> the Spark Connect URL started in it


def spark_connect(spark) -> str:
    """A Spark Connect URL (``sc://127.0.0.1:<port>``) served by this kernel's own Spark, started
    once per Spark application, so that a test run in a subprocess borrows a warm JVM instead of
    starting its own. A session that is already a Spark Connect client gives its own server's URL."""
    import random

    from lablib import ports

    remote = settings().spark_remote
    if remote or not hasattr(spark, "sparkContext"):
        if not remote:
            raise RuntimeError("this Spark session is a Spark Connect client: set SPARK_REMOTE to its URL")
        return remote
    jsc = spark.sparkContext._jsc.sc()
    app = jsc.applicationId()
    if app not in _CONNECT:
        candidates = ports._candidates()
        port = next(n for n in random.sample(candidates, k=min(500, len(candidates))) if ports.free(n))
        conf = jsc.conf()  # the running context's own conf: the server reads address and port from it
        conf.set("spark.connect.grpc.binding.address", "127.0.0.1")
        conf.set("spark.connect.grpc.binding.port", str(port))
        spark._jvm.org.apache.spark.sql.connect.service.SparkConnectService.start(jsc)
        _CONNECT[app] = f"sc://127.0.0.1:{port}"
    return _CONNECT[app]


def pytest(repo: Path, *args: str, python: Path | None = None, name: str = "pytest",
           remote: str | None = None) -> Gate:
    """The repository's tests in a subprocess; JUnit XML in ``reports/<name>.xml`` (a run of another
    name keeps its own report). With ``remote`` (a Spark Connect URL, see :func:`spark_connect`)
    the tests' ``spark`` fixture connects there (``SPARK_REMOTE``) instead of starting a JVM. Only
    pytest's own plugins load, as on a runner that installed the package's test dependencies alone."""
    report = Path(repo) / "reports" / f"{name}.xml"
    report.unlink(missing_ok=True)
    exe = python or Path(sys.executable)
    # The venv sees the course's site-packages (for pyspark), and with them the course's pytest plugins
    # (nbval, faker …), which a clean CI runner of this package would not have: loading them took
    # 2.3 s of each 3.0 s start here (nbval's nbformat imports jsonschema). The package needs none.
    extra = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if remote:
        extra["SPARK_REMOTE"] = remote
    gate = run(name, [str(exe), "-m", "pytest", "-q", "--no-header", "-p", "no:cacheprovider",
                      f"--junitxml={report}", *args], repo, timeout=600, PYSPARK_PYTHON=str(exe), **extra)
    return Gate(gate.name, gate.command, gate.returncode, gate.output, gate.cwd,
                report if report.exists() else None)


def junit(report: Path | str) -> dict:
    """What a JUnit XML report says: counts, and each test's outcome and message."""
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    cases = []
    for suite in suites:
        for case in suite.iter("testcase"):
            outcome, message = "passed", ""
            for kind in ("failure", "error", "skipped"):
                node = case.find(kind)
                if node is not None:
                    outcome, message = kind, (node.get("message") or "").strip()
                    break
            cases.append({"name": case.get("name", ""), "classname": case.get("classname", ""),
                          "file": case.get("file", ""), "outcome": outcome, "message": message})
    count = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failure", "error", "skipped")}
    return {"tests": len(cases), **count, "cases": cases}


def show_junit(report: Path | str) -> None:
    """Print a JUnit report as a short table: one line per test that did not pass, then the counts."""
    got = junit(report)
    for case in got["cases"]:
        if case["outcome"] != "passed":
            print(f"  {case['outcome']:8} {case['classname'].split('.')[-1]}::{case['name']}  "
                  f"{case['message'].splitlines()[0][:90] if case['message'] else ''}")
    print(f"{got['tests']} tests: {got['passed']} passed, {got['failure']} failed, {got['error']} errors, "
          f"{got['skipped']} skipped  ({rel(report)})")


# --------------------------------------------------------------------------- part b: hooks, workflow, container
DRAFTS = Path(__file__).parent / "ci_drafts"
#: a colleague's change, not committed yet: lablib's file -> where it lands in the repository
COLLEAGUE = {"report.py.txt": "src/mat_orders/report.py", "explore.ipynb.json": "notebooks/explore.ipynb",
             "ci.yml": ".github/workflows/ci.yml"}


def colleague_change(repo: Path) -> list[str]:
    """Copy a colleague's uncommitted work into the repository: a report module, an exploration
    notebook saved with its outputs and a first draft of the CI workflow. Returns their paths."""
    for source, target in COLLEAGUE.items():
        write(repo, target, (DRAFTS / source).read_text())
    return list(COLLEAGUE.values())


def draft(name: str) -> str:
    """The text of one of the drafts part b starts from (``ci.yml``, ``Dockerfile``)."""
    return (DRAFTS / name).read_text()


def _json_list(text: str) -> list | None:
    import json

    try:
        return json.loads(text[text.index("["):text.rindex("]") + 1])
    except ValueError:
        return None


def zizmor(path: Path) -> Gate:
    """zizmor's security audit of a workflow, offline (no GitHub API): findings in ``extra["findings"]``
    as (rule, severity, line, what) tuples."""
    path = Path(path)
    gate = run("zizmor", ["zizmor", "--offline", "--format", "json", str(path)], path.parent)
    found = []
    for f in _json_list(gate.output) or []:
        loc = ((f.get("locations") or [{}])[0].get("concrete") or {}).get("location") or {}
        row = (loc.get("start_point") or {}).get("row")
        found.append((f.get("ident"), (f.get("determinations") or {}).get("severity", ""),
                      row + 1 if isinstance(row, int) else None, f.get("desc", "")))
    return Gate(gate.name, gate.command, gate.returncode, gate.output, gate.cwd, extra={"findings": found})


def hadolint(path: Path) -> Gate:
    """hadolint on a Dockerfile: findings in ``extra["findings"]`` as (rule, level, line, message) tuples."""
    path = Path(path)
    gate = run("hadolint", ["hadolint", "--no-color", "--format", "json", str(path)], path.parent)
    found = [(f.get("code"), f.get("level"), f.get("line"), f.get("message"))
             for f in _json_list(gate.output) or []]
    return Gate(gate.name, gate.command, gate.returncode, gate.output, gate.cwd, extra={"findings": found})


def show_findings(gate: Gate, width: int = 78) -> None:
    """One line per finding of a linter's Gate, then its exit code."""
    for rule, level, line, what in gate.extra.get("findings", []):
        print(f"  line {line if line is not None else '?':>3}  {level:<8} {rule:<22} {what[:width]}")
    print(f"{gate.name}: {len(gate.extra.get('findings', []))} finding(s), exit code {gate.returncode}")
