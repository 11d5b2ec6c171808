"""The Spark fixture of the check tests (a pytest plugin, see conftest.py)."""

from __future__ import annotations

import pytest

import lablib


@pytest.fixture(scope="module")
def spark(request):
    """The lab's Spark session. A test module that sets ``DB`` gets that database, empty, for its tests
    (dropped after them), so the checks are tried on tables of their own, not a chapter's."""
    session = lablib.spark()
    db = getattr(request.module, "DB", None)
    if db:
        session.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
        session.sql(f"CREATE DATABASE {db}")
    yield session
    if db:
        session.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
