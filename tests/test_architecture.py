"""lablib's architecture holds: the face on top, no import cycle, layers, settings in config.

The rules and their checker live in scripts/architecture.py (which also draws
docs/architecture.svg); these tests run the checker on lablib, and on a small
planted package to prove that each rule can fail.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from lablib import config

REPO = Path(__file__).resolve().parent.parent


def _load_architecture():
    spec = importlib.util.spec_from_file_location("architecture", REPO / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


arch = _load_architecture()


def test_lablib_keeps_every_rule():
    # imports inside functions count: none is allowed to close a cycle or to reach the face
    assert arch.problems(arch.PACKAGE, arch.LAYERS) == []


def test_the_checker_sees_function_level_imports():
    found, _ = arch.edges(arch.PACKAGE)
    lazy = {(e.source, e.target) for e in found if e.lazy}
    assert ("lablib.resetting", "lablib.services") in lazy  # `from lablib import services` in reset()
    assert ("lablib.check._spark", "lablib.session") in {(e.source, e.target) for e in found}


def test_the_picture_is_current():
    # docs/architecture.svg is drawn from docs/architecture.dot; regenerate both with
    # `.venv/bin/python scripts/architecture.py` when a component's imports change
    assert arch.DOT.read_text() == arch.dot_source(), "run .venv/bin/python scripts/architecture.py"
    assert arch.SVG.exists()


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def planted(tmp_path):
    """A package `pkg` with one violation of each rule, and a module that keeps them all."""
    return _package(tmp_path / "pkg", {
        "__init__.py": "from pkg.spark import spark\nfrom pkg.paths import rel\n\n\ndef home():\n    return 1\n",
        "spark.py": "def spark():\n    return None\n",  # the face binds `spark`, also a module's name
        "paths.py": "def rel(p):\n    return p\n",
        "face_import.py": "import pkg\n",
        "face_name.py": "def f():\n    from pkg import rel\n    return rel\n",  # lazy, still the face
        "face_dotted.py": "import pkg.paths\n",  # binds the name `pkg`
        "cycle_a.py": "from pkg import cycle_b\n",
        "cycle_b.py": "def f():\n    from pkg import cycle_a\n    return cycle_a\n",  # closes the cycle lazily
        "env.py": "import os\n\nLEVEL = os.environ.get('LEVEL')\nHOME = os.environ['HOME']\nX = os.getenv('X')\n"
                  "FLAG = 'F' in os.environ\nCHILD = {**os.environ, 'A': '1'}  # handing it on is fine\n",
        "config.py": "import os\n\nLEVEL = os.environ.get('LEVEL')\n",  # config may read
        "low.py": "from pkg import high\n",  # upward: low is layer 0, high layer 1
        "high.py": "from pkg import paths\n",
        "clean.py": "from pkg import paths\nfrom pkg.paths import rel\n\n\ndef g():\n    from pkg import low\n"
                    "    return low, rel, paths\n",
    })


def test_a_planted_violation_of_each_rule_is_caught(planted):
    layers = {"pkg.low": (0, ""), "pkg.high": (1, ""), "pkg.paths": (0, ""), "pkg.clean": (2, "")}
    found = arch.problems(planted, layers)
    text = "\n".join(found)
    assert "the face binds `spark`, also the name of the module pkg.spark" in text
    assert "pkg/face_import.py:1: `import pkg` binds the face" in text
    assert "pkg/face_name.py:2: `from pkg import rel` takes a name from the face" in text
    assert "pkg/face_dotted.py:1: `import pkg.paths` binds the face" in text
    assert "import cycle among: pkg.cycle_a, pkg.cycle_b" in text
    assert "pkg.low:1 imports pkg.high: pkg.low (layer 0) may not import the higher pkg.high (layer 1)" in text
    assert "pkg.face_import has no layer" in text  # a new module must be given its place
    env = [p for p in found if "reads an environment variable" in p]
    assert [p.split(": ")[1].split(" reads ")[0] for p in env] == ["os.environ.get", "os.environ[...]", "os.getenv", "in os.environ"]
    assert all(p.startswith("pkg/env.py:") for p in env)  # not config.py, not the hand-on copy
    assert not [p for p in found if p.startswith("pkg/clean.py") or p.startswith("pkg.clean:")]


def test_a_clean_package_passes(tmp_path):
    root = _package(tmp_path / "pkg", {
        "__init__.py": "from pkg.paths import rel\n",
        "paths.py": "from pkg import config\n\n\ndef rel(p):\n    return p\n",
        "config.py": "import os\n\nHOME = os.environ.get('HOME')\n",
    })
    assert arch.problems(root, {"pkg.config": (0, ""), "pkg.paths": (1, ""), "pkg": (2, "")}) == []


def test_every_variable_config_reads_is_in_the_environment_table():
    tree = ast.parse((REPO / "lablib" / "config.py").read_text())
    read = {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("_env", "_int", "_positive") and node.args
            and isinstance(node.args[0], ast.Constant)}
    assert "LAB_CHECKS_STRICT" in read and "JAVA_HOME" in read
    assert read - set(config.ENVIRONMENT) == set()
    # test plumbing stays in the tests: lablib never reads it
    assert not {"LAB_TEST_HOMES", "_LAB_NB_CURRENT"} & (read | set(config.ENVIRONMENT))


def test_the_capstone_reads_its_settings_through_lablib():
    # capstone/ is a learner's project (like lablib/ci_template): outside lablib's layers, but its
    # package leaves every variable the course honours to lablib/config.py (mat_platform/settings.py)
    assert arch.env_reads(REPO / "capstone" / "src", allowed=()) == []
