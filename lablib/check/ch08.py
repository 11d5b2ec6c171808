"""Checks of chapter 08, CI for data code: they read what the gates really reported.

pytest's JUnit XML, the exit codes of pre-commit, check-jsonschema, zizmor and hadolint, git's
view of the scratch repository, the silver orders the packaged code produced, and Terraform's
state and plan. The truths come from the dataset's dirt report and the raw file, never from the
learner's code.
"""

from __future__ import annotations

import re
from pathlib import Path

from lablib.check import exercise, fail, not_run
from lablib.check._spark import need_columns, need_dataframe

LEARNER_TESTS = "tests/test_dedupe.py"
SHIPPED_TESTS = "tests/test_clean.py"


# --------------------------------------------------------------------------- shared
def _gate(gate, what: str, made_by: str):
    from lablib.ci import Gate

    if gate is None:
        fail(f"{what} is still None", f"assign what {made_by} returns")
    if not isinstance(gate, Gate):
        fail(f"{what} should be what {made_by} returns, not a {type(gate).__name__}")
    return gate


def _report(gate, what: str) -> dict:
    from lablib import ci

    _gate(gate, what, "lablib.ci.pytest(repo, ...)")
    if gate.report is None or not Path(gate.report).exists():
        last = gate.output.strip().splitlines()[-1:] or ["no output"]
        fail(f"pytest wrote no JUnit report (exit code {gate.returncode}: {last[0][:120]})",
             "run the tests with lablib.ci.pytest(repo, python=...)")
    return ci.junit(gate.report)


def _mine(report: dict, path: str = LEARNER_TESTS) -> list[dict]:
    stem = Path(path).stem
    return [c for c in report["cases"] if c["classname"].split(".")[-1] == stem]


def _changed(repo: Path, path: str) -> bool:
    from lablib import ci

    return not ci.git(repo, "diff", "--quiet", "HEAD", "--", path).passed


def _first_line(text: str, width: int = 90) -> str:
    line = (text or "").strip().splitlines()[:1]
    return (line[0][:width] + ("…" if len(line[0]) > width else "")) if line else "no message"


# --------------------------------------------------------------------------- 08a 1. a test that catches the bug
@exercise("08", hint="two raw rows with the same order_id, the later one (higher _pos) with another status; "
                     "assert that clean_orders keeps the later one (assertDataFrameEqual)")
def failing_test(red):
    """``red``: the pytest run with the learner's new test on the committed (buggy) code: the new
    test fails (an assertion, not an error) and every shipped test passes."""
    report = _report(red, "red")
    if _changed(red.cwd, "src"):
        fail("the package's code is changed: the new test must fail on the code as committed",
             "git checkout -- src, then run the tests again")
    if _changed(red.cwd, SHIPPED_TESTS):
        fail(f"{SHIPPED_TESTS} is changed: leave the shipped tests as they are and add yours in {LEARNER_TESTS}")
    mine = _mine(report)
    if not mine:
        fail(f"no test from {LEARNER_TESTS} ran", "TEST_CODE should define a function named test_… taking `spark`")
    errored = [c for c in mine if c["outcome"] == "error"]
    if errored:
        fail(f"{errored[0]['name']} errored instead of failing ({_first_line(errored[0]['message'])}): an error "
             "proves nothing about the bug", "a test proves a bug by a failing assertion")
    failed = [c for c in mine if c["outcome"] == "failure"]
    if not failed:
        fail(f"your test{'s' if len(mine) > 1 else ''} passed on the buggy code: {len(mine)} run, none failed",
             "assert which row survives: the later one, with its status")
    others = [c for c in report["cases"] if c not in mine and c["outcome"] in ("failure", "error")]
    if others:
        fail(f"{len(others)} shipped test(s) fail too (e.g. {others[0]['name']}): the run proves nothing about your test")
    if red.returncode != 1:
        fail(f"pytest's exit code is {red.returncode}, not 1 (tests failed)")
    return (f"{failed[0]['name']} fails on the committed code ({_first_line(failed[0]['message'], 60)}); "
            f"the {report['passed']} other tests pass")


# --------------------------------------------------------------------------- 08a 2. the fix
@exercise("08", hint="order the window by the position descending: F.col(order).desc()")
def fix(green, silver):
    """``green``: every test passes after the fix (the learner's new ones included, the shipped
    ones unchanged); ``silver``: the packaged ``clean_orders`` on the real raw orders keeps one row
    per order, the later one in the file."""
    from lablib import data
    from lablib.check.ch02 import _orders

    report = _report(green, "green")
    if _changed(green.cwd, SHIPPED_TESTS):
        fail(f"{SHIPPED_TESTS} is changed: a fix makes the tests pass without editing them")
    mine = _mine(report)
    if not mine:
        fail(f"no test from {LEARNER_TESTS} ran: the fix must pass your test too")
    bad = [c for c in report["cases"] if c["outcome"] in ("failure", "error")]
    if bad:
        fail(f"{len(bad)} test(s) still fail (e.g. {bad[0]['name']}: {_first_line(bad[0]['message'], 70)})")
    if report["tests"] == 0 or green.returncode != 0:
        fail(f"pytest's exit code is {green.returncode}, not 0")
    need_dataframe(silver, "silver")
    need_columns(silver, ["order_id", "status"], "silver")
    dirt = data.dirt()["orders"]
    want = dirt["rows"] - dirt["duplicate_rows"] - dirt["duplicate_keys"]
    rows = {r.order_id: r.status for r in silver.select("order_id", "status").collect()}
    n = silver.count()
    if n != len(rows):
        fail(f"{n - len(rows)} duplicate order_id remain in silver")
    if n != want:
        fail(f"silver has {n:,} orders, expected {want:,}")
    raw = _orders()
    last = raw.drop_duplicates("order_id", keep="last").set_index("order_id")["status"].str.strip().str.lower()
    first = raw.drop_duplicates("order_id", keep="first").set_index("order_id")["status"].str.strip().str.lower()
    resent = [o for o in last.index if last[o] != first[o]]
    stale = [o for o in resent if rows.get(o) != last[o]]
    if stale:
        fail(f"{len(stale)} re-sent order(s) kept an earlier status in silver (e.g. {stale[0]}): "
             "is silver built with the fixed, re-installed package?", "rebuild the wheel, install it, import it again")
    return (f"{report['tests']} tests pass ({len(mine)} of yours); silver: {n:,} orders, the {len(resent)} "
            "re-sent ones keep their latest status")


# --------------------------------------------------------------------------- 08b 1. hooks that block the bad commit
#: the tools a hook must run (the first word(s) of its entry), and the problem each was planted for
HOOK_TOOLS = {"ruff check": "the unused import in report.py", "ruff format": "report.py's formatting",
              "nbstripout": "the notebook saved with outputs",
              "check-jsonschema": "the workflow's misspelt runs-on"}


def _hooks_config(repo: Path) -> dict[str, str]:
    """hook id -> entry, from the repository's .pre-commit-config.yaml (every repo must be local)."""
    import yaml

    path = Path(repo) / ".pre-commit-config.yaml"
    if not path.exists():
        fail("the repository has no .pre-commit-config.yaml", "lablib.ci.write(repo, '.pre-commit-config.yaml', HOOKS)")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        fail(f".pre-commit-config.yaml is not valid YAML ({_first_line(str(err), 80)})")
    repos = config.get("repos") if isinstance(config, dict) else None
    if not repos:
        fail(".pre-commit-config.yaml lists no repos", "repos: [{repo: local, hooks: [...]}]")
    hooks = {}
    for entry in repos:
        where = entry.get("repo") if isinstance(entry, dict) else None
        if where != "local":
            fail(f"repo {where!r} is cloned from a git host when the hooks install: that cannot run offline",
                 "use `repo: local` hooks with `language: system` and the tools already installed")
        for hook in entry.get("hooks") or []:
            hooks[str(hook.get("id"))] = str(hook.get("entry", ""))
            if hook.get("language") not in ("system", "unsupported"):
                fail(f"hook {hook.get('id')} has language {hook.get('language')!r}: pre-commit would build an "
                     "environment for it from a package index", "language: system runs the installed tool")
    return hooks


def _hook_for(hooks: dict[str, str], tool: str) -> str | None:
    for hook_id, entry in hooks.items():
        if " ".join(entry.split()[: len(tool.split())]) == tool:
            return hook_id
    return None


@exercise("08", hint="four `repo: local` hooks with `language: system`: `ruff check --fix --exit-non-zero-on-fix` "
                     "and `ruff format` on python files, `nbstripout` on .ipynb, `check-jsonschema "
                     "--builtin-schema vendor.github-workflows` on .github/workflows/*.yml")
def hooks(blocked, passed):
    """``blocked``: the commit of the colleague's change, refused by the hooks, each planted problem
    caught by its own hook; ``passed``: the commit after the fix, accepted; and the hooks pass on every
    file of the repository now."""
    from lablib import ci

    _gate(blocked, "blocked", "lablib.ci.commit(repo, ...)")
    _gate(passed, "passed", "lablib.ci.commit(repo, ...)")
    repo = blocked.cwd
    config = _hooks_config(repo)
    if not (Path(repo) / ".git" / "hooks" / "pre-commit").exists():
        fail("no pre-commit hook is installed in the repository's .git/hooks: git commit runs nothing",
             "run `pre-commit install` in the repository")
    ids = {tool: _hook_for(config, tool) for tool in HOOK_TOOLS}
    missing = [tool for tool, hook_id in ids.items() if hook_id is None]
    if missing:
        fail(f"no hook runs {missing[0]} (for {HOOK_TOOLS[missing[0]]})")
    if "vendor.github-workflows" not in config[ids["check-jsonschema"]]:
        fail("the check-jsonschema hook does not use the bundled GitHub-workflow schema",
             "--builtin-schema vendor.github-workflows")
    if blocked.passed:
        fail("the commit of the colleague's change went through: the hooks did not block it")
    failed = set(re.findall(r"^- hook id: (\S+)", blocked.output, re.M))
    silent = [tool for tool in HOOK_TOOLS if ids[tool] not in failed]
    if silent:
        fail(f"the {ids[silent[0]]} hook did not fail on {HOOK_TOOLS[silent[0]]}",
             "check its `files`/`types_or` filter and its arguments")
    if not passed.passed:
        fail(f"the second commit was refused too: {_first_line(passed.output, 100)}")
    again = ci.run("pre-commit", ["pre-commit", "run", "--all-files"], repo)
    if not again.passed:
        bad = re.findall(r"^- hook id: (\S+)", again.output, re.M)
        fail(f"`pre-commit run --all-files` fails now ({', '.join(bad) or again.returncode})")
    status = ci.git(repo, "status", "--porcelain").output
    if status:
        fail(f"files are left uncommitted: {_first_line(status, 80)}")
    return (f"the hooks ({', '.join(ids.values())}) blocked the commit, each for its problem; the fixed commit "
            "went in and every file passes")


# --------------------------------------------------------------------------- 08b 2. a workflow that lints clean
ACTIONS = {"checkout": "actions/checkout", "setup-python": "actions/setup-python",
           "setup-java": "actions/setup-java", "upload-artifact": "actions/upload-artifact"}


@exercise("08", hint="pull_request (not pull_request_target), `permissions: {}` at the top and `contents: read` "
                     "per job, every action pinned to a 40-hex commit SHA, checkout with persist-credentials: false, "
                     "no ${{ github.event.* }} inside run:")
def workflow(path):
    """The workflow file: valid under GitHub's workflow schema, no zizmor finding, and the jobs the
    package needs (lint, test on ≥ 2 Python versions with Java and a pip cache, a wheel uploaded as
    an artifact)."""
    import yaml

    from lablib import ci

    if path is None:
        fail("the workflow's path is still None")
    path = Path(path)
    if not path.exists():
        fail(f"there is no file {path.name}", "write WORKFLOW to .github/workflows/ci.yml")
    schema = ci.run("check-jsonschema", ["check-jsonschema", "--builtin-schema", "vendor.github-workflows",
                                         str(path)], path.parent)
    if not schema.passed:
        best = [line.strip() for line in schema.output.splitlines() if line.strip().startswith("$.")]
        fail(f"the workflow is not valid under GitHub's schema: {(best[-1] if best else _first_line(schema.output))[:140]}")
    audit = ci.zizmor(path)
    findings = audit.extra["findings"]
    if findings:
        fail(f"zizmor reports {len(findings)} finding(s): "
             + ", ".join(f"{rule} at line {line}" for rule, _, line, _ in findings[:4]))
    if not audit.passed:
        fail(f"zizmor could not audit the workflow (exit code {audit.returncode}): {_first_line(audit.output, 100)}")
    doc = yaml.safe_load(path.read_text())
    jobs = doc.get("jobs") or {}
    steps = [s for job in jobs.values() for s in (job.get("steps") or [])]
    used = " ".join(str(s.get("uses", "")) for s in steps)
    runs = " ".join(str(s.get("run", "")) for s in steps)
    for what, action in ACTIONS.items():
        if action + "@" not in used:
            fail(f"no step uses {action}", f"the package's CI needs {what}")
    versions = [v for job in jobs.values()
                for v in (((job.get("strategy") or {}).get("matrix") or {}).get("python-version") or [])]
    if len(set(map(str, versions))) < 2:
        fail(f"the matrix tests {len(set(versions))} Python version(s)", "a python-version matrix of at least two")
    if not any(str((s.get("with") or {}).get("cache", "")) for s in steps if "setup-python" in str(s.get("uses"))):
        fail("setup-python has no cache", "with: cache: pip")
    for word, what in (("ruff", "a lint job (ruff)"), ("pytest", "the tests (pytest)"), ("wheel", "a wheel build")):
        if word not in runs:
            fail(f"no step runs {word}: the workflow lacks {what}")
    triggers = doc.get(True, doc.get("on"))
    return (f"schema valid, 0 zizmor findings; {len(jobs)} jobs, Python {', '.join(map(str, versions))}, "
            f"triggers {', '.join(triggers) if isinstance(triggers, dict) else triggers}")


# --------------------------------------------------------------------------- 08c 1. an idempotent apply
ALERTS = "terraform_data.alerts"
ALERTS_TABLE = "machine_alerts"


def _resource_block(folder: Path, kind: str, name: str) -> str | None:
    """The text of ``resource "kind" "name" {…}`` in the folder's .tf files (None: not declared)."""
    for tf in sorted(Path(folder).glob("*.tf")):
        text = tf.read_text()
        m = re.search(rf'^resource\s+"{kind}"\s+"{name}"\s*\{{', text, re.M)
        if m:
            rest = text[m.end():]
            nxt = re.search(r"^(resource|check|output|variable|locals|data|terraform)\b", rest, re.M)
            return rest[: nxt.start()] if nxt else rest
    return None


@exercise("08", hint="a terraform_data \"alerts\" whose triggers_replace holds only the table's path (no "
                     "timestamp() or uuid()), a create provisioner `table create` and a `when = destroy` one "
                     "`table delete`, both reading self.input")
def terraform_idempotent(folder):
    """``folder``: the Terraform working folder after the learner's applies: ``terraform_data.alerts``
    is in the state, the Delta table it manages is on disk, its destroy-time provisioner is declared,
    and a new plan (with the broker's topics observed) finds no change and no failing check."""
    from lablib import iac, resources
    from lablib.config import settings

    if not iac.available():
        not_run(iac.INSTALL)
    if folder is None:
        fail("the folder is still None", "pass the Terraform working folder (lablib.iac.workdir())")
    folder = Path(folder)
    if not list(folder.glob("*.tf")):
        fail(f"{folder.name} holds no .tf file", "pass the Terraform working folder (lablib.iac.workdir())")
    block = _resource_block(folder, "terraform_data", "alerts")
    if block is None:
        fail('no .tf file declares resource "terraform_data" "alerts"', "write ALERTS_TF to alerts.tf")
    held = iac.state(folder)
    if ALERTS not in held:
        fail(f"the state has no {ALERTS} ({', '.join(held) or 'the state is empty'}): the configuration "
             "was not applied since the resource was added", "run lablib.iac.apply(folder)")
    table = settings().warehouse / "ch08.db" / ALERTS_TABLE
    if not resources.table_exists(table):
        fail(f"{ALERTS} is in the state but the Delta table {ALERTS_TABLE} is not on disk: its create "
             "provisioner did not write it", "the create provisioner runs `table create` on the table's path")
    if not re.search(r"\bwhen\s*=\s*destroy\b", block):
        fail(f"{ALERTS} has no destroy-time provisioner: `terraform destroy` would forget the table and "
             "leave it on disk", "add a provisioner with `when = destroy` that runs `table delete`")
    second = iac.plan(folder, observe="terraform_data.topic" in held)
    if second.returncode == 1:
        errors = [line for line in iac.clean(second.output).splitlines() if line.startswith("Error:")]
        fail(f"the plan fails: {(errors or [_first_line(iac.clean(second.output))])[0][:140]}")
    if second.returncode == 2:
        text = iac.clean(second.output)
        summary = re.search(r"^Plan: .*$", text, re.M)
        why = re.findall(r"# (\S+) (must be replaced|will be updated in-place|will be created|will be destroyed)",
                         text)
        what = "; ".join(f"{addr} {verb}" for addr, verb in why[:3])
        fail(f"a second plan still wants changes ({summary.group(0) if summary else 'changes'}: {what}): "
             "the apply is not idempotent",
             "a value that differs on every run (timestamp(), uuid()) in triggers_replace or input makes every "
             "plan replace the resource")
    warnings = iac.check_warnings(second)
    if warnings:
        fail(f"a check block fails: {warnings[0][:140]}")
    return (f"{len(held)} resources in the state; {ALERTS_TABLE} is a Delta table on disk; "
            "a second plan: no changes, every check passes")
