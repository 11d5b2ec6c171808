"""A registered model served over REST (lablib.serve_model): refused inputs, lifecycle, and no server left
behind when the process that started it dies or its notebook fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import nbformat
import numpy as np
import pandas as pd
import pytest
import requests

import lablib
from lablib import ports, services
from lablib.errors import LabError
from lablib.services import _process, _service

pytestmark = pytest.mark.services


def _port_closes(port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _process.port_open(port, timeout=0.2):
            return True
        time.sleep(0.3)
    return False


def _register(name: str):
    """A tiny LightGBM booster registered as ``name`` version 1, alias champion; returns (rows, booster)."""
    import lightgbm as lgb
    import mlflow

    mlflow.set_tracking_uri(lablib.mlflow_uri())
    mlflow.set_experiment("ch99-serving")
    rng = np.random.default_rng(6)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    booster = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, (X.a + X.b > 0).astype(int)).booster_
    with mlflow.start_run():
        info = mlflow.lightgbm.log_model(booster, name="model", input_example=X.head(2),
                                         pip_requirements=[f"lightgbm=={lgb.__version__}"], registered_model_name=name)
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", info.registered_model_version)
    return X, booster


@pytest.fixture(scope="module")
def model(lab_services):
    import mlflow

    name = f"ch99-served-{uuid.uuid4().hex[:6]}"
    X, booster = _register(name)
    yield name, X, booster
    services.stop_model(quiet=True)
    mlflow.MlflowClient().delete_registered_model(name)


def test_serving_refuses_what_it_cannot_serve(model):
    name = model[0]
    with pytest.raises(LabError, match=r"^there is no registered model ch99-nothing-here in MLflow at "):
        lablib.serve_model("models:/ch99-nothing-here@champion")
    with pytest.raises(LabError, match=rf"^alias gold is not set on the registered model {name}: set it with"):
        lablib.serve_model(f"models:/{name}@gold")
    with pytest.raises(LabError, match=rf"^version 7 does not exist on the registered model {name}$"):
        lablib.serve_model(f"models:/{name}/7")
    with pytest.raises(LabError, match=r"is not a registered model's URI: use models:/<name>@<alias>"):
        lablib.serve_model("runs:/abc/model")
    with pytest.raises(LabError, match=r"^the model URI is None: give one like models:/ch06-failures@champion$"):
        lablib.serve_model(None)
    assert services.served_model() is None


def test_a_served_model_answers_on_loopback_and_stops_with_lab_down(model, capsys):
    name, X, booster = model
    url = lablib.serve_model(f"models:/{name}@champion")
    assert url == f"http://127.0.0.1:{ports.port('model')}"
    assert f"serving models:/{name}@champion (version 1) on {url}" in capsys.readouterr().out
    assert requests.get(f"{url}/ping", timeout=5).status_code == 200
    answer = requests.post(f"{url}/invocations", json=lablib.ml.json_rows(X.head(5)), timeout=30).json()
    np.testing.assert_allclose(answer["predictions"], booster.predict(X.head(5)), rtol=0, atol=1e-12)
    assert services.served_model() == {"uri": f"models:/{name}@champion", "name": name, "version": 1, "url": url}
    svc = services.SERVED["model"]
    assert _service.status(svc).state == "running"
    leader = _process.read_pid("model").pid  # MLflow's CLI with its uvicorn inside (services/mlflow_cli.py)
    assert _process.session_members(leader) == [leader], "the model server was expected to be one process"
    status = subprocess.run([sys.executable, "-m", "lablib.cli", "status"], capture_output=True, text=True, timeout=120)
    assert any(line.split()[:2] == ["model", "running"] for line in status.stdout.splitlines()), status.stdout
    port = ports.port("model")
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert listening.strip() and all("127.0.0.1:" in line for line in listening.splitlines()), listening
    down = subprocess.run([sys.executable, "-m", "lablib.cli", "down", "model"], capture_output=True, text=True, timeout=120)
    assert "model: stopped" in down.stdout, down.stdout + down.stderr
    assert _port_closes(port, timeout=5)
    assert services.served_model() is None


def test_a_served_model_dies_with_the_process_that_started_it(model):
    # the kernel that started it is killed (no atexit runs): the parent-death signal stops the server
    name = model[0]
    starter = subprocess.Popen(
        [sys.executable, "-c", "import time, lablib\n"
         f"lablib.serve_model('models:/{name}@champion'); print('serving', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in starter.stdout:
            lines.append(line)
            if line.startswith("serving"):
                break
        assert any(line.startswith("serving") for line in lines), "".join(lines)
        assert services.served_model() is not None
    finally:
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
    assert _port_closes(ports.port("model")), "the model server outlived its killed parent"
    assert services.served_model() is None


def test_a_failing_notebook_leaves_no_server_behind(model, tmp_path):
    import papermill as pm

    name = model[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import lablib\nurl = lablib.serve_model('models:/{name}@champion')"),
                nbformat.v4.new_code_cell("raise RuntimeError('the notebook fails half way')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "fails.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(pm.PapermillExecutionError, match="the notebook fails half way"):
        pm.execute_notebook(str(source), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False)
    assert _port_closes(ports.port("model")), "the failed notebook's model server still answers"
    assert services.served_model() is None


def test_the_chapter_reset_stops_its_served_model(lab_services):
    import mlflow

    name = f"ch06-served-test-{uuid.uuid4().hex[:6]}"
    _register(name)
    lablib.serve_model(f"models:/{name}@champion")
    removed = services.reset_chapter("06")
    assert f"model server ({name} version 1)" in removed
    assert f"model {name}" in removed  # the registered model goes too
    assert _port_closes(ports.port("model"), timeout=5)
    with pytest.raises(mlflow.exceptions.MlflowException):
        mlflow.MlflowClient().get_registered_model(name)


def test_leftovers_are_read_from_the_store_while_the_server_is_down(tmp_path, monkeypatch):
    import sqlite3

    from lablib.services.mlflow import MLflow

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    svc = MLflow()
    assert not svc.leftovers("ch06")  # no store yet
    svc.store.parent.mkdir(parents=True)
    with sqlite3.connect(svc.store) as db:
        db.execute("CREATE TABLE experiments (name TEXT, lifecycle_stage TEXT)")
        db.execute("CREATE TABLE registered_models (name TEXT)")
        db.execute("INSERT INTO experiments VALUES ('ch05-x', 'active'), ('ch06-old.deleted-1', 'deleted')")
    assert not svc.leftovers("ch06")
    with sqlite3.connect(svc.store) as db:
        db.execute("INSERT INTO registered_models VALUES ('ch06-failures')")
    assert svc.leftovers("ch06")
    svc.store.write_text("not a database")
    assert svc.leftovers("ch06")  # unreadable: better safe


def test_chapter_06_declares_the_services_its_reset_starts():
    from lablib import chapters

    assert chapters.services("06") == ("mlflow",)
    assert chapters.services("03") == ()
