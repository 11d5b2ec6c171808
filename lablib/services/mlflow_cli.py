"""MLflow's command line in one process: ``python -m lablib.services.mlflow_cli server|models serve …``.

``mlflow server`` and ``mlflow models serve`` prepare their server (check the options, migrate the
store or download the model, build the environment) and then start uvicorn as a child process,
which imports MLflow a second time: 2–3 s of a 2-core machine's CPU at every start, and twice the
memory. Here MLflow's CLI runs unchanged and only its last step, the child, runs in this process
instead: uvicorn's own command line, with the arguments and the environment MLflow built for it.
Anything else the CLI would spawn (gunicorn, waitress, a job runner, a command this module does
not recognise) it spawns as usual.

Two private names of mlflow 3.17 are used, the two places the CLI starts its child:
``mlflow.server._exec_cmd`` and the ``subprocess`` module as ``mlflow.pyfunc.backend`` sees it.
Without them the CLI runs as ``mlflow`` would (tests/test_mlflow_cli.py fails on an MLflow that
renames them, so the slower fallback is never silent).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable

SCORING_APP = "mlflow.pyfunc.scoring_server.app:app"  # what `mlflow models serve` runs


def _uvicorn_here(args: list[str], env: dict[str, str]) -> None:
    """Run uvicorn's command line in this process with ``env`` added; returns only by exiting."""
    import uvicorn

    os.environ.update(env)
    uvicorn.main.main(args=[str(arg) for arg in args], prog_name="uvicorn")
    raise SystemExit(0)  # main() exits by itself; this is for a uvicorn that would not


def run_server_here(spawn: Callable, job_execution: bool) -> Callable:
    """A stand-in for ``mlflow.server._exec_cmd``: a ``python -m uvicorn …`` command runs here,
    any other goes to ``spawn``."""

    def start(cmd, *, extra_env=None, **kwargs):
        # MLflow starts its job runner after the child, so the spawn must return for it
        if job_execution or list(cmd[:3]) != [sys.executable, "-m", "uvicorn"]:
            return spawn(cmd, extra_env=extra_env, **kwargs)
        _uvicorn_here(list(cmd[3:]), extra_env or {})

    return start


class ScoringHere:
    """Stands in for the ``subprocess`` module inside ``mlflow.pyfunc.backend`` only: the
    ``bash -c "exec uvicorn … <scoring app>"`` it starts a served model with runs here; every
    other use goes to the real module."""

    def __getattr__(self, name: str):
        return getattr(subprocess, name)

    def Popen(self, command, *args, env=None, **kwargs):  # noqa: N802 (subprocess's name)
        if not args and isinstance(command, list) and command[:2] == ["bash", "-c"] and len(command) == 3:
            words = shlex.split(command[2])
            if words[:2] == ["exec", "uvicorn"] and words[-1] == SCORING_APP:
                _uvicorn_here(words[2:], env if env is not None else {})
        return subprocess.Popen(command, *args, env=env, **kwargs)


def main(argv: list[str]) -> None:
    import mlflow.pyfunc.backend
    import mlflow.server
    from mlflow.cli import cli
    from mlflow.environment_variables import MLFLOW_SERVER_ENABLE_JOB_EXECUTION

    spawn = getattr(mlflow.server, "_exec_cmd", None)
    if spawn is not None:
        mlflow.server._exec_cmd = run_server_here(spawn, MLFLOW_SERVER_ENABLE_JOB_EXECUTION.get())
    if getattr(mlflow.pyfunc.backend, "subprocess", None) is subprocess:
        mlflow.pyfunc.backend.subprocess = ScoringHere()
    cli.main(args=argv, prog_name="mlflow")


if __name__ == "__main__":
    main(sys.argv[1:])
