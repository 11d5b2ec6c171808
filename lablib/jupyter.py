"""JupyterLab as the course starts it: one command line for `make lab` (`lab jupyter`), the
workspace image and the browser test, so they cannot drift apart.

What it adds to a plain ``jupyter lab``:

* the project's Jupyter settings, ``jupyter-config/`` (put first on JUPYTER_CONFIG_PATH, so a
  fresh clone, a Codespace and the Docker image get them with no install step): no news feed and
  no "get notified about Jupyter news?" question, no update check, an extension manager that does
  not query PyPI, Markdown opened rendered (``jupyter-config/README.md`` lists each setting);
* ``labs/`` as its root folder (a learner's notebooks, not the solutions) and ``labs/README.md``,
  the chapter table that ``lab build`` writes, as its landing page;
* no usage reporting from the kernels it starts (:data:`NO_TELEMETRY`);
* 127.0.0.1 and a token by default; ``--allow-root`` only when running as root (containers, CI).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from lablib.chapters import LABS
from lablib.config import REPO

#: the course's Jupyter settings (server config + JupyterLab setting defaults)
CONFIG_DIR = REPO / "jupyter-config"
#: what JupyterLab opens first, relative to its root folder (labs/README.md, written by `lab build`)
LANDING = "README.md"
#: handed to JupyterLab and so to every kernel it starts: MLflow's client reports usage to a
#: remote endpoint unless told not to (the embedded server gets the same, lablib/services/mlflow.py)
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def command(port: int, *, ip: str = "127.0.0.1", token: str | None = None,
            root_dir: Path = LABS) -> list[str]:
    """The command line that starts JupyterLab on ``ip:port``, serving ``root_dir``.

    ``token`` None lets Jupyter draw a random token (printed in the address it shows); "" turns the
    token off, for a container whose port is published on 127.0.0.1 only.
    """
    args = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.default_url=/lab/tree/{LANDING}",
    ]
    if token is not None:
        args.append(f"--IdentityProvider.token={token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Jupyter refuses root unless told
        args.append("--allow-root")
    return args


def environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` (the caller's environment) with the course's Jupyter settings and no telemetry."""
    env = dict(base)
    paths = [str(CONFIG_DIR), *([base["JUPYTER_CONFIG_PATH"]] if base.get("JUPYTER_CONFIG_PATH") else [])]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    env.update(NO_TELEMETRY)
    return env
