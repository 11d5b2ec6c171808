"""Helpers shared by the test_data_* modules (imported by them; holds no tests).

The ci dataset is built once per test session into a temporary folder, away
from LAB_HOME, so the tests never touch a learner's data. Each module wraps
these in its own fixtures (importing fixtures trips the linter).
"""

from __future__ import annotations

import json
from pathlib import Path

_BUILT: dict[str, Path] = {}


def ci_dataset(tmp_path_factory) -> Path:
    if "ci" not in _BUILT:
        from lablib.data import build

        dest = tmp_path_factory.mktemp("data") / "ci"
        build.build("ci", 42, quiet=True, dest=dest)
        _BUILT["ci"] = dest
    return _BUILT["ci"]


def dirt_report(root: Path) -> dict:
    return json.loads((root / "dirt.json").read_text())["tables"]
