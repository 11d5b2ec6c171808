"""Solutions → labs (`lab build`) and headless execution (`lab run`).

A solution notebook is the single source of an exercise. Inside a code cell
the answer sits between ``# BEGIN SOLUTION`` and ``# END SOLUTION``; lines in
that region starting with ``# STUB:`` become the learner's starting code, and
without them the stub raises a "your turn" NotImplementedError. Markdown
cells hide text between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lablib import chapters
from lablib.config import ensure_dir, settings, validate_scale
from lablib.errors import LabError

# A notebook's time budget is in calibration units (lablib.calibration), at CI scale, declared in
# metadata.lab.budget_cu; a notebook that declares none gets the cap.
_CODE_BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\b.*$")
_CODE_END = re.compile(r"^\s*# END SOLUTION\b.*$")
_STUB = re.compile(r"^\s*# STUB: ?(.*)$")
_MD_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.S)
_KEEP_CELL_META = ("tags",)


# --------------------------------------------------------------------------- build
@dataclass(frozen=True)
class Region:
    """One ``# BEGIN SOLUTION`` … ``# END SOLUTION`` region of a code cell (line numbers in the cell)."""

    begin: int  # the BEGIN line
    end: int  # the END line
    indent: str
    stubs: tuple[str, ...]  # the learner's starting lines (from ``# STUB:``), indented
    answer: tuple[str, ...]  # the solution's lines between the markers, ``# STUB:`` lines left out

    @property
    def stub(self) -> list[str]:
        """What the lab shows instead of the answer."""
        return [f"{self.indent}# TODO: your turn",
                *(self.stubs or [f'{self.indent}raise NotImplementedError("your turn: write your code here")'])]


def code_regions(source: str) -> list[Region]:
    """The solution regions of a code cell, in order."""
    regions: list[Region] = []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        m = _CODE_BEGIN.match(lines[i])
        if not m:
            i += 1
            continue
        begin, indent = i, m.group(1)
        stubs: list[str] = []
        answer: list[str] = []
        i += 1
        while i < len(lines) and not _CODE_END.match(lines[i]):
            s = _STUB.match(lines[i])
            if s:
                stubs.append(indent + s.group(1))
            else:
                answer.append(lines[i])
            i += 1
        if i == len(lines):
            raise LabError("a '# BEGIN SOLUTION' has no '# END SOLUTION'; close the region")
        regions.append(Region(begin, i, indent, tuple(stubs), tuple(answer)))
        i += 1
    return regions


def strip_code(source: str) -> str:
    """Replace each solution region of a code cell with its stub."""
    lines = source.split("\n")
    out: list[str] = []
    pos = 0
    for region in code_regions(source):
        out += lines[pos:region.begin] + region.stub
        pos = region.end + 1
    return "\n".join(out + lines[pos:])


def strip_markdown(source: str) -> str:
    return _MD_BLOCK.sub("*Your answer here.*", source)


def to_lab(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner's copy of a solution notebook: answers stubbed, outputs cleared."""
    lab = nbformat.v4.new_notebook()
    lab.metadata = {
        "kernelspec": solution.metadata.get(
            "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
        ),
        "language_info": {"name": "python"},
        "lab": dict(solution.metadata.get("lab", {})),
    }
    for index, cell in enumerate(solution.cells):
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k in _KEEP_CELL_META}
        cell_id = cell.get("id") or f"cell-{index}"
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(strip_code(cell.source), metadata=meta)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(strip_markdown(cell.source), metadata=meta)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=meta)
        new["id"] = cell_id
        lab.cells.append(new)
    return lab


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def build_one(chapter: chapters.Chapter, write: bool = True) -> bool:
    """Generate one lab; True when the file changed (or would change)."""
    solution = nbformat.read(chapter.solution, as_version=4)
    text = render(to_lab(solution))
    current = chapter.lab.read_text() if chapter.lab.exists() else None
    if current == text:
        return False
    if write:
        chapter.lab.parent.mkdir(parents=True, exist_ok=True)
        tmp = chapter.lab.with_suffix(".ipynb.tmp")
        tmp.write_text(text)
        os.replace(tmp, chapter.lab)
    return True


# --------------------------------------------------------------------------- launcher
LAUNCHER = "README.md"  # labs/README.md: the page JupyterLab opens first (lablib/jupyter.py)
_LAUNCHER_HEAD = """\
<!-- Generated by `lab build` from the solutions' metadata (metadata.lab title and summary): do not edit. -->
# Mega Awesome Toys labs

Open a chapter below, run its cells from the top (**Shift+Enter**, or *Run ▸ Run All Cells*) and
write your answer wherever a cell says `# TODO: your turn`. The check cell right after it answers
✅ or ❌ with a hint. Start with 00; after that, every chapter also runs on its own.

| NN | chapter | what you do |
|---|---|---|
"""
_LAUNCHER_FOOT = """
`lab progress` in a terminal lists every exercise: ✅ passed, ❌ tried, · not yet.
"""


def launcher() -> str:
    """labs/README.md: one row per notebook, from its metadata.lab title and summary."""
    rows = []
    for ch in chapters.all_chapters():
        meta = nbformat.read(ch.solution, as_version=4).metadata.get("lab", {})
        title = meta.get("title") or ch.name
        summary = " ".join(str(meta.get("summary", "")).split()).replace("|", "\\|")
        rows.append(f"| {ch.number}{ch.part} | [{title}]({ch.lab.name}) | {summary} |\n")
    return _LAUNCHER_HEAD + "".join(rows) + _LAUNCHER_FOOT


def build_launcher(write: bool = True) -> bool:
    """Generate labs/README.md; True when it changed (or would change)."""
    path = chapters.LABS / LAUNCHER
    text = launcher()
    if path.exists() and path.read_text() == text:
        return False
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return True


def build_all() -> list[tuple[str, bool]]:
    results = [(ch.lab.name, build_one(ch)) for ch in chapters.all_chapters()]
    known = {ch.lab.name for ch in chapters.all_chapters()}
    for extra in chapters.LABS.glob("*.ipynb"):
        if extra.name not in known:  # a lab whose solution was removed
            extra.unlink()
            results.append((extra.name + " (removed)", True))
    results.append((LAUNCHER, build_launcher()))
    return results


def stale_labs() -> list[str]:
    stale = [ch.lab.name for ch in chapters.all_chapters() if build_one(ch, write=False)]
    known = {ch.lab.name for ch in chapters.all_chapters()}
    stale += [p.name + " (no solution)" for p in chapters.LABS.glob("*.ipynb") if p.name not in known]
    if build_launcher(write=False):
        stale.append(LAUNCHER)
    return stale


# --------------------------------------------------------------------------- run
def budget(path: Path) -> float:
    """A notebook's budget in c.u. at CI scale (metadata.lab.budget_cu, at most LIMIT_CU)."""
    from lablib.calibration import LIMIT_CU

    nb = nbformat.read(path, as_version=4)
    return float(nb.metadata.get("lab", {}).get("budget_cu", LIMIT_CU))


@dataclass
class RunResult:
    chapter: str
    name: str
    status: str  # ok | failed | over budget
    seconds: float
    budget: float  # c.u.
    output: Path
    error: str = ""
    cu: float | None = None  # seconds in calibration units, when the run was calibrated

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class TimeLimitReached(Exception):
    """A notebook ran past its whole-notebook time limit (raised between or during cells)."""


def run_papermill(source: Path, output: Path, *, parameters: dict, env: dict[str, str | None] | None = None,
                  progress: bool = True, keep_going: bool = False,
                  time_limit: float | None = None) -> tuple[str, str]:
    """Execute ``source`` into ``output`` with papermill; (status, first error) where status is
    ``ok``, ``failed`` (a cell raised), ``crashed`` (the kernel died or never started) or
    ``time limit``. The one way lablib executes a notebook (`lab run`, `lab grade`).

    ``env`` changes the kernel's environment (a value of None removes the variable) for this run
    only. ``keep_going`` runs every cell even after one raises, as a grader does (the first error
    is still reported). ``time_limit`` bounds the whole notebook, in seconds: the kernel is
    stopped when it is reached, and the outputs so far are saved.
    """
    import papermill as pm

    engine: dict = {}
    if keep_going:
        engine["allow_errors"] = True
    if time_limit is not None:
        deadline = time.monotonic() + time_limit

        def remaining(cell) -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeLimitReached()
            return left

        engine.update(timeout_func=remaining, shutdown_kernel="immediate")
    env_before = dict(os.environ)
    for key, value in (env or {}).items():  # the kernel inherits this process's environment
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    error = ""
    try:
        pm.execute_notebook(
            str(source), str(output), parameters=parameters,
            kernel_name="python3", language="python", progress_bar=progress, cwd=str(source.parent),
            log_output=False, request_save_on_cell_execute=time_limit is not None, **engine,
        )
        status = "ok"
    except pm.PapermillExecutionError as exc:
        status = "failed"
        error = f"cell {exc.cell_index} (execution {exc.exec_count}): {exc.ename}: {_first(exc.evalue)}"
    except (TimeLimitReached, TimeoutError):  # nbclient's CellTimeoutError is a TimeoutError
        status = "time limit"
        error = f"stopped at its time limit ({time_limit:.0f} s)"
    except Exception as exc:  # noqa: BLE001 - a kernel that dies must still give a row
        status = "crashed"
        error = f"{type(exc).__name__}: {_first(str(exc))}"
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return status, error


def execute(chapter: chapters.Chapter, labs: bool = False, scale: str | None = None,
            progress: bool = True, strict: bool = False, calibration=None,
            jvm: dict[str, str] | None = None) -> RunResult:
    """Run one notebook with papermill; the executed copy goes to $LAB_HOME/runs/.

    Time is always reported (in c.u. too when a ``calibration`` is given); it fails the run only
    when ``strict`` (authors and CI) and the notebook ran at CI scale over its budget in c.u.
    ``jvm`` is a shared JVM's variable for the kernel (:meth:`lablib.shared_jvm.SharedJVM.env`).
    """
    cfg = settings()
    source = chapter.lab if labs else chapter.solution
    if not source.exists():
        raise LabError(f"{source.name} is missing; run `lab build`")
    out_dir = ensure_dir(cfg.runs / ("labs" if labs else "solutions"))
    output = out_dir / source.name
    scale = scale or cfg.scale
    limit = budget(source)
    started = time.perf_counter()
    # the kernel inherits this: strict checks for solutions. The scale goes to the notebook only as
    # its SCALE parameter; lablib.reset(..., scale=SCALE) makes it the kernel's LAB_SCALE (the one
    # route, see lablib/config.py)
    status, error = run_papermill(source, output, parameters={"SCALE": scale}, progress=progress,
                                  env={**({} if labs else {"LAB_CHECKS_STRICT": "1"}), **(jvm or {})})
    status = "failed" if status == "crashed" else status  # `lab run` has one word for both
    seconds = time.perf_counter() - started
    cu = None
    if calibration is not None:
        from lablib.calibration import verdict

        judged = verdict(seconds, limit, calibration, confirm=strict and scale == "ci")
        cu = judged.cu
        if strict and status == "ok" and scale == "ci" and judged.over:
            status = "over budget"
            error = f"{judged.text} at CI scale ({calibration.describe()})"
    return RunResult(chapter.number, source.name, status, seconds, limit, output, error, cu)


def _first(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def table(results: list[RunResult]) -> str:
    rows = ["| chapter | notebook | status | seconds | c.u. | budget (c.u.) |",
            "|---|---|---|---:|---:|---:|"]
    for r in results:
        cu = "" if r.cu is None else f"{r.cu:.1f}"
        rows.append(f"| {r.chapter} | {r.name} | {r.status} | {r.seconds:.1f} | {cu} | {r.budget:g} |")
    return "\n".join(rows)


def save_outputs(executed: Path, solution: Path) -> None:
    """Copy an executed run back into solutions/ (authors: `lab run NN --save`).

    Drops what papermill adds (the injected-parameters cell, timings in metadata),
    so the committed notebook differs from its source only by its outputs.
    """
    nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    tmp = solution.with_suffix(".ipynb.tmp")
    tmp.write_text(render(nb))
    os.replace(tmp, solution)


def run_cli(names: list[str], labs: bool = False, scale: str | None = None, save: bool = False,
            strict: bool = False, own_jvm: bool = False) -> int:
    """`lab run`: a learner's run reports time; ``strict`` (authors, and CI=true) also enforces budgets.

    Several notebooks take turns in one warm Spark JVM (lablib/shared_jvm.py), each with its own
    SparkContext; ``own_jvm`` starts a JVM in each kernel instead, as a learner's notebook does.

    A headless run leaves no broker or JVM behind: at the end it stops the embedded services its
    notebooks started, and keeps those that ran before it (a learner's `make lab`, a `lab up`)."""
    from lablib import calibration, services

    selected = chapters.select(names)
    strict = (strict or settings().ci) and not labs  # a learner's copy has no budget to keep
    if save:
        if labs:
            raise LabError("--save writes solutions/, so it cannot be used with --labs")
        scale = scale or "ci"  # committed outputs are the ones CI (nbval) compares against
    if scale is not None:
        scale = validate_scale(scale)
    cal = calibration.current()
    if strict and len(selected) > 1:
        cal.confirmed()  # an author's run of several notebooks: their c.u. all against a median of 3
    print(cal.describe() + (" — budgets enforced (--strict)" if strict else " — time is reported, not enforced"),
          flush=True)
    running_before = services.running()
    try:
        results = _run_all(selected, labs=labs, scale=scale, save=save, strict=strict, calibration=cal,
                           share_jvm=not own_jvm)
    finally:
        started = services.running() - running_before
        if started:
            services.stop(started, log=lambda line: None)
            print(f"stopped the services this run started: {', '.join(sorted(started))}"
                  + (f" (still running from before: {', '.join(sorted(running_before))})" if running_before else ""),
                  flush=True)
    summary = table(results)
    print()
    print(summary)
    ensure_dir(settings().runs)
    (settings().runs / "summary.md").write_text(summary + "\n")
    failed = [r for r in results if not r.ok]
    if failed:
        for r in failed:
            print(f"error: {r.name} {r.status}: {r.error} (executed copy: {r.output})", file=sys.stderr)
        return 1
    return 0


def _run_all(selected: list[chapters.Chapter], labs: bool, scale: str | None, save: bool, strict: bool,
             calibration, share_jvm: bool = True) -> list[RunResult]:
    results = []
    cfg = settings()
    shared = None
    if share_jvm and len(selected) > 1 and cfg.spark_master.startswith("local") and not cfg.spark_remote:
        from lablib.shared_jvm import SharedJVM

        shared = SharedJVM()
        print("the notebooks take turns in one warm Spark JVM (--own-jvm: a JVM each, as in JupyterLab)",
              flush=True)
    try:
        for i, chapter in enumerate(selected, 1):
            print(f"[{i}/{len(selected)}] chapter {chapter.number}: {chapter.name}", flush=True)
            result = execute(chapter, labs=labs, scale=scale, strict=strict, calibration=calibration,
                             jvm=shared.env() if shared else None)
            if shared:
                shared.release()  # the next kernel builds its SparkContext in a JVM with none
            results.append(_report(result, chapter, save))
    finally:
        if shared:
            shared.close()
    return results


def _report(result: RunResult, chapter: chapters.Chapter, save: bool) -> RunResult:
    line = f"      {result.status} in {result.seconds:.1f} s = {result.cu:.1f} c.u."
    print(line + (f" — {result.error}" if result.error else ""), flush=True)
    if save and result.status in ("ok", "over budget"):  # the outputs are right either way
        save_outputs(result.output, chapter.solution)
        build_one(chapter)
        print(f"      outputs saved to solutions/{chapter.solution.name}; labs/{chapter.lab.name} rebuilt")
    return result
