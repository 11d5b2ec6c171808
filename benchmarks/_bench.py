"""What the benchmarks share: a throw-away LAB_HOME that borrows the resolved jars.

A benchmark must not touch the learner's tables or services, and must not download the jars
again, so each one runs in a fresh folder under the real home whose ``jars`` is a link to the
real jars. The folder goes when the benchmark ends, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_KEPT = ("LAB_HOME", "LAB_JARS_DIR", "LAB_SCALE")


@contextmanager
def scratch_home(name: str, scale: str | None = None, *, space: bool = False) -> Iterator[tuple[Path, str]]:
    """A fresh LAB_HOME for this process (``bench-<name>-…`` under the real home) at ``scale``.

    ``space`` puts a space in the folder's name, for a benchmark that also proves paths are quoted.

    Yields the folder and the scale as lablib names it; the environment is put back afterwards.
    """
    from lablib.config import settings, use_scale

    real = settings()
    real.home.mkdir(parents=True, exist_ok=True)
    saved = {key: os.environ.get(key) for key in _KEPT}
    home = Path(tempfile.mkdtemp(prefix=f"bench{' ' if space else '-'}{name}-", dir=real.home))
    try:
        (home / "jars").symlink_to(real.jars, target_is_directory=True)
        os.environ["LAB_HOME"] = str(home)
        os.environ["LAB_JARS_DIR"] = str(real.jars)
        chosen = use_scale(scale) if scale is not None else settings().scale
        yield home, chosen
    finally:
        shutil.rmtree(home, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
