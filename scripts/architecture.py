"""lablib's architecture, read from its real imports: the rules, the checker, the picture.

    .venv/bin/python scripts/architecture.py           # check the rules, write docs/architecture.{dot,svg}
    .venv/bin/python scripts/architecture.py --check   # check the rules and that the picture is current

The rules (tests/test_architecture.py runs :func:`problems` on lablib and on
planted violations):

1. ``lablib/__init__.py`` is the notebooks' face. No module inside lablib imports
   it: not ``import lablib``, not ``from lablib import rel`` (a name defined by
   the face), not ``import lablib.x`` (which binds the face's name ``lablib``).
   ``from lablib import data`` is fine: ``data`` is a module, not a face name.
   So that the two never look alike, the face binds no name that is also the
   name of one of lablib's modules (``lablib.spark`` is the function; the
   session's module is ``lablib.session``).
2. No import cycle between lablib modules, counting imports inside functions
   too. ``from lablib.data import build`` is an edge to ``lablib.data.build``;
   the parent package a submodule import initialises first is not counted as an
   edge (Python initialises it whatever the importer wants), and neither are
   ``importlib.import_module`` calls (the face and lablib.check load their
   children by name, downwards).
3. Every module sits in a layer (:data:`LAYERS`) and imports only its own layer
   or lower ones: the allowed directions of the picture.
4. Only lablib/config.py reads environment variables (``os.environ.get``,
   ``os.environ[...]``, ``os.getenv``, ``in os.environ``); other modules may only
   hand an environment on to a process they start.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "lablib"
DOT = REPO / "docs" / "architecture.dot"
SVG = REPO / "docs" / "architecture.svg"

#: the allowed import directions: a component imports its own layer or lower ones, never higher.
#: A component is a top-level module of lablib or a whole sub-package (data, services, check, jvm).
LAYERS: dict[str, tuple[int, str]] = {
    "lablib.errors": (0, "LabError, the one error a learner reads"),
    "lablib.config": (0, "every setting (env var -> default), the scale validator"),
    "lablib.clock": (1, "the kernel's zone: UTC, as Spark's and the data's"),
    "lablib.chapters": (1, "the course's notebooks, from solutions/NN_*.ipynb"),
    "lablib.over_connect": (1, "the chapters that need the classic session, said over Spark Connect"),
    "lablib.jvm": (1, "pinned JVM jars (lab setup)"),
    "lablib.jupyter": (1, "JupyterLab as make lab starts it: settings, landing page"),
    "lablib.browser": (1, "the system Chromium the browser tests drive"),
    "lablib.exercises": (1, "each notebook's exercises, read from its solution"),
    "lablib.catchup": (1, "after a failed check, the solution's own cells for it run in the learner's kernel"),
    "lablib.submissions": (1, "learners' notebooks: whose, and which course notebook"),
    "lablib.ports": (1, "each LAB_HOME's ports, recorded in the home; the machine's index of homes"),
    "lablib.sockets": (1, "listening sockets from /proc: who holds a port"),
    "lablib.paths": (2, "LAB_HOME, workdir, checkpoint, rel, local_path"),
    "lablib.session": (2, "the SparkSession: Delta, local jars, cluster switch"),
    "lablib.shared_jvm": (2, "one warm Spark JVM lent to notebooks run one after another (CI)"),
    "lablib.write_errors": (2, "a write the disk refused (full, read-only) as one LabError"),
    "lablib.services": (3, "Kafka, MLflow, schema registry: start, stop, reset"),
    "lablib.measuring": (3, "measure(): what Spark did in a block; bars()"),
    "lablib.data": (4, "the Mega Awesome Toys datasets, manifest, replayers"),
    "lablib.resetting": (4, "reset(NN): a chapter's tables, folders, topics, runs"),
    "lablib.ml": (4, "chapter 06's features, label, splits and model helpers"),
    "lablib.gold": (4, "chapter 07's gold tables: built by Spark, read by delta-rs + DuckDB"),
    "lablib.ci": (4, "chapter 08's scratch git repository and the gates run on it"),
    "lablib.resources": (4, "chapter 08's topic and table commands that Terraform's provisioners run"),
    "lablib.iac": (4, "chapter 08's Terraform/OpenTofu runs, offline (no provider download)"),
    "lablib.orchestration": (4, "chapter 09: a home's Dagster instance, a run's steps, the asset graph"),
    "lablib.governance": (4, "chapter 10's refused statements and OpenLineage capture"),
    "lablib.check": (5, "learner feedback: one module per chapter, progress"),
    "lablib.calibration": (6, "calibration units: the machine's own time yardstick"),
    "lablib.notebooks": (6, "lab build (solutions -> labs) and lab run (papermill)"),
    "lablib.doctor": (6, "lab doctor"),
    "lablib.gradebook": (6, "the learner x exercise table: CSV, JSON, Markdown"),
    "lablib.grading": (6, "lab grade: learners' notebooks run and marked"),
    "lablib.classprogress": (6, "lab progress --merge: a class's progress files"),
    "lablib.comparing": (6, "lab compare: answers against the solution's (nbdime)"),
    "lablib.webdiff": (6, "nbdime's web diff as one offline HTML file"),
    "lablib.cli": (7, "the `lab` command"),
    "lablib": (8, "the face: all a notebook imports"),
}
FACE = "lablib"


@dataclass(frozen=True)
class Edge:
    source: str  # importing module, e.g. lablib.check.ch03
    target: str  # imported module, e.g. lablib.paths (or "lablib": the face)
    line: int
    lazy: bool  # inside a function: runs on first call, not at import


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``: dotted name -> file."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def edges(root: Path) -> tuple[list[Edge], list[str]]:
    """Every import between the package's modules (function-level ones too), and rule-1 problems."""
    mods = modules(root)
    top = root.name
    out: list[Edge] = []
    face: list[str] = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        lazy_lines = {n.lineno for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        where = path.relative_to(root.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name != top and not alias.name.startswith(top + "."):
                        continue
                    if name != top and (alias.name == top or alias.asname is None):
                        face.append(f"{where}:{node.lineno}: `import {alias.name}` binds the face "
                                    f"`{top}`; import the module you need (from {top}.x import y)")
                    if alias.name in mods:
                        out.append(Edge(name, alias.name, node.lineno, node.lineno in lazy_lines))
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_from(node, name, path.name == "__init__.py")
                if base != top and not base.startswith(top + "."):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    target = sub if sub in mods else base
                    if target == top and name != top:
                        face.append(f"{where}:{node.lineno}: `from {top} import {alias.name}` takes a name "
                                    f"from the face; import it from the module that defines it")
                    if target in mods:
                        out.append(Edge(name, target, node.lineno, node.lineno in lazy_lines))
    return out, face


def shadowed(root: Path) -> list[str]:
    """Names the face binds that are also names of the package's own modules."""
    init = root / "__init__.py"
    bound: dict[str, int] = {}
    for node in ast.parse(init.read_text(), str(init)).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound[(alias.asname or alias.name).split(".")[0]] = node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = node.lineno
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    bound[t.id] = node.lineno
    children = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    children |= {p.name for p in root.iterdir() if (p / "__init__.py").exists()}
    return [f"{root.name}/__init__.py:{line}: the face binds `{name}`, also the name of the module "
            f"{root.name}.{name}: `from {root.name} import {name}` would be ambiguous; rename the module"
            for name, line in sorted(bound.items()) if name in children]


def cycles(found: list[Edge]) -> list[list[str]]:
    """Import cycles between modules (strongly connected components of more than one module,
    or a module importing itself)."""
    graph: dict[str, set[str]] = {}
    for e in found:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    result: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph is small
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                result.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def component(module: str) -> str:
    """The node a module belongs to in the picture: lablib.data.build -> lablib.data."""
    parts = module.split(".")
    return ".".join(parts[:2])


def layer_problems(found: list[Edge], layers: dict[str, tuple[int, str]], face: str = FACE) -> list[str]:
    problems = []
    for comp in sorted({component(e.source) for e in found} | {component(e.target) for e in found}):
        if comp not in layers:
            problems.append(f"{comp} has no layer: add it to LAYERS in scripts/architecture.py")
    for e in found:
        a, b = component(e.source), component(e.target)
        if b == face:
            continue  # rule 1 names these
        if a in layers and b in layers and layers[b][0] > layers[a][0]:
            problems.append(f"{e.source}:{e.line} imports {e.target}: {a} (layer {layers[a][0]}) may not "
                            f"import the higher {b} (layer {layers[b][0]})")
    return problems


def env_reads(root: Path, allowed: tuple[str, ...] = ("config.py",)) -> list[str]:
    """Reads of environment variables outside config.py."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).as_posix() in allowed:
            continue
        if any(part.endswith("_template") for part in path.relative_to(root).parts):
            continue  # files copied into a learner's project (chapter 08), which has no lablib/config.py
        tree = ast.parse(path.read_text(), str(path))

        def environ(n) -> bool:
            return isinstance(n, ast.Attribute) and n.attr == "environ" and isinstance(n.value, ast.Name) \
                and n.value.id == "os"

        for node in ast.walk(tree):
            read = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "get" and environ(node.func.value):
                    read = "os.environ.get"
                elif node.func.attr == "getenv" and isinstance(node.func.value, ast.Name) \
                        and node.func.value.id == "os":
                    read = "os.getenv"
            elif isinstance(node, ast.Subscript) and environ(node.value) and isinstance(node.ctx, ast.Load):
                read = "os.environ[...]"
            elif isinstance(node, ast.Compare) and any(environ(c) for c in node.comparators):
                read = "in os.environ"
            if read:
                problems.append(f"{path.relative_to(root.parent)}:{node.lineno}: {read} reads an environment "
                                "variable; read it through lablib/config.py and list it in ENVIRONMENT")
    return problems


def problems(root: Path = PACKAGE, layers: dict[str, tuple[int, str]] | None = None) -> list[str]:
    """Every broken rule of the package at ``root`` (empty: all kept)."""
    found, face = edges(root)
    out = shadowed(root) + face
    out += [f"import cycle among: {', '.join(c)}" for c in cycles(found)]
    if layers is not None:
        out += layer_problems(found, layers, root.name)
    out += env_reads(root)
    return out


# -- the picture -------------------------------------------------------------------------

def dot_source(root: Path = PACKAGE) -> str:
    """The component graph in Graphviz DOT: one node per component, ranked by layer (the face on
    top, the foundations at the bottom), an arrow for "imports", dashed when every such import
    is inside a function. Arrows into layer 0 (config, errors), which every module may import,
    are left out to keep the picture readable."""
    found, _ = edges(root)
    links: dict[tuple[str, str], bool] = {}
    for e in found:
        a, b = component(e.source), component(e.target)
        if a != b and LAYERS.get(b, (1, ""))[0] > 0:
            links[(a, b)] = links.get((a, b), True) and e.lazy
    used = sorted({c for pair in links for c in pair} | {c for c in LAYERS if c in {component(m) for m in modules(root)}})
    lines = [
        "// generated by scripts/architecture.py from lablib's imports; do not edit",
        "digraph lablib {",
        '  graph [rankdir=TB, nodesep=0.3, ranksep=0.45, fontname="Helvetica", fontsize=11, labelloc=t,',
        '         label="lablib: who imports whom. An arrow points at the imported module; dashed: only inside '
        'functions.\\nEvery module may import config and errors (arrows left out). Nothing inside lablib imports '
        'the face."];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6fa", fontname="Helvetica", fontsize=10];',
        '  edge [color="#55657a", arrowsize=0.7];',
    ]
    by_layer: dict[int, list[str]] = {}
    for c in used:
        by_layer.setdefault(LAYERS.get(c, (99, ""))[0], []).append(c)
    for layer in sorted(by_layer):
        lines.append(f"  subgraph layer{layer} {{ rank=same;")
        for c in by_layer[layer]:
            short = "lablib (face)" if c == FACE else c.removeprefix("lablib.")
            about = LAYERS.get(c, (0, ""))[1]
            fill = ', fillcolor="#fde9c9"' if c == FACE else ""
            lines.append(f'    "{c}" [label="{short}\\n{about}"{fill}];')
        lines.append("  }")
    layers = sorted(by_layer)
    for upper, lower in zip(layers[1:], layers[:-1], strict=True):  # keep the layers in order, top down
        lines.append(f'  "{by_layer[upper][0]}" -> "{by_layer[lower][0]}" [style=invis];')
    for (a, b), lazy in sorted(links.items()):
        lines.append(f'  "{a}" -> "{b}"' + (" [style=dashed]" if lazy else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail when a rule is broken or the picture is stale")
    args = ap.parse_args(argv)
    broken = problems(PACKAGE, LAYERS)
    for p in broken:
        print(p, file=sys.stderr)
    source = dot_source()
    if args.check:
        stale = not DOT.exists() or DOT.read_text() != source
        if stale:
            print("docs/architecture.dot is stale: run .venv/bin/python scripts/architecture.py", file=sys.stderr)
        return 1 if broken or stale else 0
    DOT.write_text(source)
    import graphviz  # the Python package, driving Graphviz's `dot`

    svg = graphviz.Source(source).pipe(format="svg", encoding="utf-8")
    # graphviz names its version in a comment: leave it out, so the file is the same on every machine
    SVG.write_text(re.sub(r"<!-- Generated by .*?-->\n", "", svg, count=1, flags=re.S))
    print(f"wrote {DOT.relative_to(REPO)} and {SVG.relative_to(REPO)}; "
          + (f"{len(broken)} rule(s) broken" if broken else "every rule kept"))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
