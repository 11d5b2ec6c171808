"""Fixtures for the dataset tests (a pytest plugin, see conftest.py).

The ci dataset is built once per test session into a temporary folder, away
from LAB_HOME, so the tests never touch a learner's data.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def ci_data(tmp_path_factory):
    from lablib.data import build

    dest = tmp_path_factory.mktemp("data") / "ci"
    build.build("ci", 42, quiet=True, dest=dest)
    return dest


@pytest.fixture(scope="session")
def ci_dirt(ci_data):
    """The dirt report of the ci dataset: per table, exact counts."""
    return json.loads((ci_data / "dirt.json").read_text())["tables"]
