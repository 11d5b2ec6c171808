"""lablib/services/mlflow_server.py: which of MLflow's commands run in the server's own process.

The server itself is started for real by the services tests (one process: the MLflow drill in
tests/test_services_drills.py asserts it); these are the launcher's decisions, pure logic.
"""

from __future__ import annotations

import sys

from lablib.services.mlflow_server import run_uvicorn_here


def _spawn_recorder(calls: list):
    def spawn(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return "a child process"

    return spawn


def test_commands_other_than_uvicorn_are_spawned_as_mlflow_would():
    calls: list = []
    start = run_uvicorn_here(_spawn_recorder(calls), job_execution=False)
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:5000", "mlflow.server:app"]
    assert start(gunicorn, extra_env={"A": "1"}, synchronous=False) == "a child process"
    assert calls == [(gunicorn, {"extra_env": {"A": "1"}, "synchronous": False})]


def test_with_the_job_runner_on_uvicorn_is_spawned_too():
    # MLflow starts its job runner after the child's spawn returns; in-process, it never would
    calls: list = []
    start = run_uvicorn_here(_spawn_recorder(calls), job_execution=True)
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "mlflow.server.fastapi_app:app"]
    assert start(uvicorn, extra_env={}) == "a child process"
    assert [cmd for cmd, _ in calls] == [uvicorn]


def test_the_pinned_mlflow_still_starts_its_server_through_exec_cmd():
    # without it the launcher falls back to MLflow's own child process: correct, but 2-3 s slower
    # a start; this fails on an MLflow upgrade that renames it, so the fallback is never silent
    import inspect

    import mlflow.server

    assert callable(getattr(mlflow.server, "_exec_cmd", None))
    assert "_exec_cmd(" in inspect.getsource(mlflow.server._run_server)
    assert "mlflow.server.fastapi_app:app" in inspect.getsource(mlflow.server._run_server)
