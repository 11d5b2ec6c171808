"""Where each solution notebook runs under test: one fresh LAB_HOME per notebook."""

from __future__ import annotations

import os
from pathlib import Path

#: left in a notebook's home by conftest.py once nbval ran the whole notebook there
FIRST_RUN_MARK = ".first-run-passed"


def notebook_home(notebook: str) -> Path:
    """The fresh LAB_HOME a solution notebook ran in (tests reuse it to prove re-runs).

    The base folder is fixed once per test session in LAB_TEST_HOMES (conftest.py).
    The space in the name is on purpose: paths with spaces must work.
    """
    return Path(os.environ["LAB_TEST_HOMES"]) / f"home {Path(notebook).stem}"
