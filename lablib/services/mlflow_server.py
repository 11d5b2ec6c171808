"""``mlflow server`` in one process: ``python -m lablib.services.mlflow_server server [options]``.

MLflow's CLI prepares the server (checks the options, migrates the store, builds the
environment) and then starts uvicorn as a child process, which imports MLflow a second time:
about 3 s of a 2-core machine's CPU at every start. Here the CLI runs unchanged, and only its
last step, the child, runs in this process instead: uvicorn's own command line with the
arguments and the environment MLflow built for it. Whatever else the CLI would spawn (gunicorn,
waitress, a job runner, a command this module does not know) it spawns as usual.

The one private name used is ``mlflow.server._exec_cmd``, the function the CLI starts the child
with (mlflow 3.17); without it the CLI simply runs as ``mlflow server`` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def run_uvicorn_here(spawn: Callable, job_execution: bool) -> Callable:
    """A stand-in for MLflow's ``_exec_cmd`` that runs a ``python -m uvicorn …`` command in this process
    (and never returns: uvicorn exits when it is stopped), and hands any other command to ``spawn``."""

    def start(cmd, *, extra_env=None, **kwargs):
        # the job runner is started after the child, by the caller: it needs the spawn to return
        if job_execution or list(cmd[:3]) != [sys.executable, "-m", "uvicorn"]:
            return spawn(cmd, extra_env=extra_env, **kwargs)
        import uvicorn

        os.environ.update(extra_env or {})
        uvicorn.main.main(args=[str(arg) for arg in cmd[3:]], prog_name="uvicorn")
        raise SystemExit(0)  # main() exits by itself; this is for a uvicorn that would not

    return start


def main(argv: list[str]) -> None:
    import mlflow.server
    from mlflow.cli import cli
    from mlflow.environment_variables import MLFLOW_SERVER_ENABLE_JOB_EXECUTION

    spawn = getattr(mlflow.server, "_exec_cmd", None)
    if spawn is not None:
        mlflow.server._exec_cmd = run_uvicorn_here(spawn, MLFLOW_SERVER_ENABLE_JOB_EXECUTION.get())
    cli.main(args=argv, prog_name="mlflow")


if __name__ == "__main__":
    main(sys.argv[1:])
