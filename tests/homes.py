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


def fresh_process_env(home: Path | str, *, drop: tuple[str, ...] = ("LAB_SPARK_GATEWAY",), **extra: str) -> dict[str, str]:
    """The environment of a fresh Python process whose LAB_HOME is ``home``.

    It finds the jars `lab setup` put where this run finds them (LAB_JARS_DIR), and borrows no warm
    Spark JVM (LAB_SPARK_GATEWAY is CI's lending to notebooks): it starts its own, as a learner's
    kernel does. ``drop`` removes more (e.g. SPARK_REMOTE); ``extra`` sets more.
    """
    from lablib.config import settings

    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "LAB_HOME": str(home), "LAB_JARS_DIR": str(settings().jars), **extra}
