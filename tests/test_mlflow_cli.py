"""lablib/services/mlflow_cli.py: which of MLflow's commands run in the CLI's own process.

The servers themselves start for real in the services tests (one process each: the MLflow drill in
tests/test_services_drills.py and tests/test_services_model.py assert it); these are the
launcher's decisions, pure logic, plus a guard that the pinned MLflow still has the two places
the launcher takes over.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

from lablib.services.mlflow_cli import SCORING_APP, ScoringHere, run_server_here


def _spawn_recorder(calls: list):
    def spawn(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return "a child process"

    return spawn


def test_server_commands_other_than_uvicorn_are_spawned_as_mlflow_would():
    calls: list = []
    start = run_server_here(_spawn_recorder(calls), job_execution=False)
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:5000", "mlflow.server:app"]
    assert start(gunicorn, extra_env={"A": "1"}, synchronous=False) == "a child process"
    assert calls == [(gunicorn, {"extra_env": {"A": "1"}, "synchronous": False})]


def test_with_the_job_runner_on_the_server_is_spawned_too():
    # MLflow starts its job runner after the child's spawn returns; in-process, it never would
    calls: list = []
    start = run_server_here(_spawn_recorder(calls), job_execution=True)
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "mlflow.server.fastapi_app:app"]
    assert start(uvicorn, extra_env={}) == "a child process"
    assert [cmd for cmd, _ in calls] == [uvicorn]


def test_only_the_scoring_servers_uvicorn_is_taken_over_from_the_model_backend():
    stand_in = ScoringHere()
    assert stand_in.PIPE is subprocess.PIPE and stand_in.run is subprocess.run  # the rest is the real module
    other = stand_in.Popen(["bash", "-c", "exec echo uvicorn"], stdout=subprocess.PIPE, text=True)
    assert other.communicate(timeout=30)[0] == "uvicorn\n"  # not the scoring app: a real child


def test_the_pinned_mlflow_still_starts_its_children_where_the_launcher_takes_over():
    # without these the launcher falls back to MLflow's own child processes: correct, but 2-3 s
    # slower a start; this fails on an MLflow upgrade that moves them, so the fallback is never silent
    import mlflow.pyfunc.backend
    import mlflow.pyfunc.scoring_server
    import mlflow.server

    assert callable(getattr(mlflow.server, "_exec_cmd", None))
    assert "_exec_cmd(" in inspect.getsource(mlflow.server._run_server)
    assert "mlflow.server.fastapi_app:app" in inspect.getsource(mlflow.server._run_server)
    assert mlflow.pyfunc.backend.subprocess is subprocess
    serve = inspect.getsource(mlflow.pyfunc.backend.PyFuncBackend.serve)
    assert 'command = ["bash", "-c", command]' in serve and "subprocess.Popen(" in serve
    command, _ = mlflow.pyfunc.scoring_server.get_cmd("/tmp/model", 5001, "127.0.0.1", 60, 1)
    assert command.split()[0] == "uvicorn" and command.split()[-1] == SCORING_APP, command
