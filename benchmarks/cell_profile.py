"""Where each notebook's time goes, cell by cell: seconds, Spark jobs, Delta commits.

    .venv/bin/python benchmarks/cell_profile.py [NN ...] [--out benchmarks/PROFILE.md] [--min-seconds 1]
                                                [--shared-jvm] [--checks]

Runs each solution notebook at CI scale in a fresh LAB_HOME (as CI does), with a hook in its
kernel that records, after every cell, the time it took, how many Spark jobs it started (the
Spark UI's REST API) and how many Delta commits it wrote (new ``_delta_log/*.json`` files under
LAB_HOME); per notebook also the seconds spent inside its Spark jobs (the rest is the driver's
planning, Python and waiting) and the classes Spark's code generation compiled. ``--shared-jvm``
lends the notebooks one warm Spark JVM in turn, as CI and ``lab run`` do (lablib/shared_jvm.py);
without it each kernel starts its own, as in JupyterLab. Writes a Markdown table per notebook: the
cells above ``--min-seconds``, then the total. ``--checks`` adds, for each cell that calls a
``lablib.check``, the Spark actions the check made (count, collect, first, toPandas, ``spark.sql``,
catalog lookups), summed by the check's source line: a check pays per query and per table version it
reads first, so this names the line to fold. Nothing is asserted; it shows what to trim.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HOOK = r'''
import json as _pj, time as _pt, urllib.request as _pu
from pathlib import Path as _PP
import os as _po

_prof_rows, _prof_state = [], {}
_prof_home = _PP(_po.environ["LAB_HOME"])


def _prof_jobs():
    from pyspark import SparkContext
    sc = SparkContext._active_spark_context
    try:
        url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/jobs"
        with _pu.urlopen(url, timeout=10) as resp:
            jobs = _pj.loads(resp.read())
        return 1 + max((j["jobId"] for j in jobs), default=-1)
    except Exception:  # no session yet, or one being stopped: count nothing
        return 0


def _prof_commits():
    # os.walk, not rglob: a broker may delete a folder while we walk (rglob raises, walk skips it)
    return sum(sum(1 for f in files if f.endswith(".json"))
               for root, _, files in _po.walk(_prof_home) if root.endswith("_delta_log"))


def _prof_pre(info):
    _prof_state.update(t=_pt.perf_counter(), jobs=_prof_jobs(), commits=_prof_commits())


def _prof_post(result):
    if "t" not in _prof_state:  # the cell that registered the hooks
        return
    seconds = _pt.perf_counter() - _prof_state["t"]
    _prof_rows.append({"seconds": seconds, "jobs": _prof_jobs() - _prof_state["jobs"],
                       "commits": _prof_commits() - _prof_state["commits"]})


get_ipython().events.register("pre_run_cell", _prof_pre)
get_ipython().events.register("post_run_cell", _prof_post)
'''

# --checks: every Spark action a check makes, timed and named by the line of lablib/check that made it
CHECK_HOOK = r'''
import functools as _pf, traceback as _ptb
from pyspark.sql.catalog import Catalog as _PCat
from pyspark.sql.classic.dataframe import DataFrame as _PDF
from pyspark.sql.session import SparkSession as _PSS

_prof_calls, _prof_depth = [], [0]


def _prof_site():
    for frame in reversed(_ptb.extract_stack()[:-2]):
        if "/lablib/check/" in frame.filename:
            return f"{frame.filename.rsplit('/lablib/', 1)[1]}:{frame.lineno}"
    return None


def _prof_wrap(cls, name):
    real = getattr(cls, name)

    @_pf.wraps(real)
    def timed(*args, **kwargs):
        if _prof_depth[0]:  # first() calls collect(): count the outer call only
            return real(*args, **kwargs)
        _prof_depth[0] += 1
        started = _pt.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            _prof_depth[0] -= 1
            site = _prof_site()
            if site:
                _prof_calls.append((site, name, _pt.perf_counter() - started))
    setattr(cls, name, timed)


for _n in ("count", "collect", "first", "toPandas", "take", "head", "isEmpty"):
    _prof_wrap(_PDF, _n)
_prof_wrap(_PSS, "sql")
for _n in ("tableExists", "getTable", "listTables"):
    _prof_wrap(_PCat, _n)
_prof_pre_cell, _prof_post_cell = _prof_pre, _prof_post


def _prof_pre(info):
    _prof_calls.clear()
    _prof_pre_cell(info)


def _prof_post(result):
    _prof_post_cell(result)
    if _prof_rows and _prof_calls and "lablib.check." in (result.info.raw_cell or ""):
        by_line = {}
        for site, name, seconds in _prof_calls:
            entry = by_line.setdefault(site, {"line": site, "action": name, "calls": 0, "seconds": 0.0})
            entry["calls"] += 1
            entry["seconds"] += seconds
        _prof_rows[-1]["calls"] = list(by_line.values())


get_ipython().events.unregister("pre_run_cell", _prof_pre_cell)
get_ipython().events.unregister("post_run_cell", _prof_post_cell)
get_ipython().events.register("pre_run_cell", _prof_pre)
get_ipython().events.register("post_run_cell", _prof_post)
'''

DUMP = r'''
get_ipython().events.unregister("pre_run_cell", _prof_pre)
get_ipython().events.unregister("post_run_cell", _prof_post)
_PP(_po.environ["LAB_PROFILE_OUT"]).write_text(_pj.dumps(_prof_rows))


def _prof_jvm():
    # the notebook's jobs (its own SparkContext's) from start to end, and the JVM's code generation
    from datetime import datetime as _dt, timezone as _tz
    from pyspark import SparkContext
    sc = SparkContext._active_spark_context
    if sc is None:
        return {}
    def _at(s):
        return _dt.strptime(s.removesuffix("GMT"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=_tz.utc).timestamp()
    with _pu.urlopen(f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/jobs", timeout=30) as resp:
        jobs = _pj.loads(resp.read())
    metrics = sc._jvm.org.apache.spark.metrics.source.CodegenMetrics
    return {"job_seconds": sum(_at(j["completionTime"]) - _at(j["submissionTime"]) for j in jobs if "completionTime" in j),
            "compiles": metrics.METRIC_COMPILATION_TIME().getCount()}


try:
    _PP(_po.environ["LAB_PROFILE_OUT"] + ".jvm").write_text(_pj.dumps(_prof_jvm()))
except Exception:  # no UI, or a remote session: the table goes without these figures
    pass
'''


def profile(chapter, out_dir: Path, jvm: dict[str, str] | None = None, checks: bool = False) -> list[dict]:
    """Run one solution notebook with the hook; one dict per cell of the original notebook (with
    ``checks``, a check's cell also carries its Spark actions by line, ``calls``)."""
    import papermill as pm

    from lablib.config import settings

    nb = nbformat.read(chapter.solution, as_version=4)
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    nb.cells.insert(0, nbformat.v4.new_code_cell(HOOK + (CHECK_HOOK if checks else "")))
    nb.cells.append(nbformat.v4.new_code_cell(DUMP))
    source = out_dir / f"{chapter.name}.profiled.ipynb"
    nbformat.write(nb, source)
    home = Path(tempfile.mkdtemp(prefix=f"profile {chapter.name} ", dir=out_dir))
    rows_file = out_dir / f"{chapter.name}.json"
    env_before = dict(os.environ)
    jars = str(settings().jars)  # this checkout's jars, shared as CI's fresh homes share them (LAB_JARS_DIR)
    os.environ.update(LAB_HOME=str(home), LAB_JARS_DIR=jars, LAB_SCALE="ci", LAB_CHECKS_STRICT="1",
                      LAB_PROFILE_OUT=str(rows_file), **(jvm or {}))
    try:
        pm.execute_notebook(str(source), str(out_dir / f"{chapter.name}.out.ipynb"),
                            parameters={"SCALE": "ci"}, kernel_name="python3", progress_bar=False,
                            cwd=str(chapter.solution.parent), log_output=False)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        import subprocess

        subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], capture_output=True,
                       env={**os.environ, "LAB_HOME": str(home)}, timeout=120)
    rows = json.loads(rows_file.read_text())
    jvm_file = rows_file.with_name(rows_file.name + ".jvm")
    jvm_figures = json.loads(jvm_file.read_text()) if jvm_file.exists() else {}
    # papermill's injected-parameters cell ran too: drop it, so rows line up with the notebook's code cells
    executed = nbformat.read(out_dir / f"{chapter.name}.out.ipynb", as_version=4)
    injected = [i for i, c in enumerate(c for c in executed.cells[1:-1] if c.cell_type == "code")
                if "injected-parameters" in c.metadata.get("tags", [])]
    for i in reversed(injected):
        rows.pop(i)
    for (index, cell), row in zip(code_cells, rows, strict=True):
        first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("# NBVAL")), "")
        row.update(cell=index, code=first[:70])
    if rows:
        rows[0]["jvm"] = jvm_figures  # the notebook's: seconds inside its Spark jobs, classes compiled so far
    return rows


def markdown(name: str, rows: list[dict], min_seconds: float, compiled_before: int = 0) -> str:
    total = sum(r["seconds"] for r in rows)
    jvm = rows[0].get("jvm", {}) if rows else {}
    inside = f" ({jvm['job_seconds']:.1f} s inside them)" if "job_seconds" in jvm else ""
    compiled = f", {jvm['compiles'] - compiled_before} classes compiled" if "compiles" in jvm else ""
    lines = [f"### {name}: {total:.1f} s, {sum(r['jobs'] for r in rows)} Spark jobs{inside}, "
             f"{sum(r['commits'] for r in rows)} Delta commits{compiled}", "",
             "| cell | code | seconds | share | jobs | commits |", "|---:|---|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: -r["seconds"]):
        if r["seconds"] >= min_seconds:
            code = r["code"].replace("|", "\\|")
            lines.append(f"| {r['cell']} | `{code}` | {r['seconds']:.1f} | {r['seconds'] / total:.0%} | "
                         f"{r['jobs']} | {r['commits']} |")
    return "\n".join(lines) + "\n"


def markdown_checks(name: str, rows: list[dict]) -> str:
    """The checks of one notebook: seconds and jobs per check cell, then its Spark actions by line."""
    checks = [r for r in rows if "calls" in r]
    if not checks:
        return ""
    lines = [f"#### {name}: the checks, {sum(r['seconds'] for r in checks):.1f} s, "
             f"{sum(r['jobs'] for r in checks)} Spark jobs", "",
             "| cell | check | seconds | jobs | Spark actions by line of lablib/check (ms, calls) |",
             "|---:|---|---:|---:|---|"]
    for r in sorted(checks, key=lambda r: -r["seconds"]):
        calls = "; ".join(f"{c['line']} {c['action']} {c['seconds'] * 1000:.0f}×{c['calls']}"
                          for c in sorted(r["calls"], key=lambda c: -c["seconds"]))
        code = r["code"].replace("|", "\\|")
        lines.append(f"| {r['cell']} | `{code}` | {r['seconds']:.1f} | {r['jobs']} | {calls} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from lablib import chapters

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("chapters", nargs="*", default=["all"])
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown here (default: print it)")
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--shared-jvm", action="store_true", help="one warm Spark JVM lent to each notebook in turn")
    ap.add_argument("--checks", action="store_true", help="also each check's Spark actions, by line of lablib/check")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lab-profile-"))
    parts = [f"# Notebook profile, CI scale, {time.strftime('%Y-%m-%d')}", "",
             f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
             f"Python {platform.python_version()}. Cells under {args.min_seconds:g} s are left out. "
             + ("One warm Spark JVM was lent to the notebooks in turn. " if args.shared_jvm else "")
             + "Generated by `benchmarks/cell_profile.py`; times are this machine's on that day.", ""]
    shared, compiled_before = None, 0
    if args.shared_jvm:
        from lablib.shared_jvm import SharedJVM

        shared = SharedJVM(log=work / "shared-jvm.log")
    try:
        for chapter in chapters.select(args.chapters):
            print(f"profiling {chapter.name} …", file=sys.stderr, flush=True)
            rows = profile(chapter, work, shared.env() if shared else None, checks=args.checks)
            if shared:
                shared.release()
            parts.append(markdown(chapter.name, rows, args.min_seconds, compiled_before))
            if args.checks:
                parts.append(markdown_checks(chapter.name, rows))
            if shared and rows:  # one JVM's code-generation count runs on across the notebooks
                compiled_before = rows[0].get("jvm", {}).get("compiles", compiled_before)
            if args.out:  # written after each notebook, so a long run that fails keeps what it measured
                args.out.write_text("\n".join(parts))
    finally:
        if shared:
            shared.close()
        # its homes hold ports in the machine's index (lablib/ports.py) for as long as they exist
        shutil.rmtree(work, ignore_errors=True)
    if not args.out:
        print("\n".join(parts))


if __name__ == "__main__":
    main()
