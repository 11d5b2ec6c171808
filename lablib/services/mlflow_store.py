"""An empty MLflow store, migrated once: a fresh home's tracking server starts from a copy of it.

MLflow creates a new sqlite store by running its schema migrations one after another (about 60
alembic revisions): 0.9 s of CPU at every first start of the tracking server in a fresh home (06a,
06b, 06c, 11 and 12 in CI, each in its own home), on the cores the notebook's Spark needs. The
migrated result does not depend on the home: its tables, its revision, and the ``Default``
experiment, whose artifact location is ``mlflow-artifacts:/0`` (the server proxies artifacts to the
home's own folder). So ``lab setup`` records one with MLflow itself (:func:`record`), beside the
class-data caches that are shared between homes, and :func:`seed` copies it to a home that has no
store yet. Its name carries MLflow's version: after an upgrade the file is missing until ``lab
setup`` records it again, and the server migrates a new store itself, as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from lablib.jvm import cds

# MLflow's own store, created at `path` as `mlflow server --artifacts-destination` would: the
# Default experiment's artifacts go through the server (mlflow-artifacts:/)
_CREATE = (
    "import sys\n"
    "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore\n"
    "SqlAlchemyStore('sqlite:///' + sys.argv[1], 'mlflow-artifacts:/')\n"
)


def template() -> Path:
    """The migrated empty store for the installed MLflow (it may not exist yet)."""
    return cds.folder() / f"mlflow-{metadata.version('mlflow')}-store.db"


def record(log=print) -> Path | None:
    """`lab setup`: record the template unless it exists; None (with one line) when MLflow could
    not create it, and the server then migrates each new store itself."""
    target = template()
    if target.is_file():
        log(f"MLflow empty store: {target.name} is up to date")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", _CREATE, str(partial)], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        log(f"MLflow empty store: not recorded ({tail}); each new store is migrated at its first start")
        return None
    partial.chmod(0o444)  # shared by every home: each copies it, none writes it
    partial.replace(target)
    log(f"MLflow empty store: recorded {target.name}")
    return target


def seed(store: Path) -> bool:
    """Copy the template to ``store`` when the home has none yet; True when it did. Written beside
    it and renamed, so a server never opens half a file."""
    source = template()
    if store.exists() or not source.is_file():
        return False
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    partial.replace(store)
    return True
