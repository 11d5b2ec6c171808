"""The embedded MLflow server: tracking, the model registry with aliases, loading by alias."""

from __future__ import annotations

import numpy as np
import pytest

import lablib

pytestmark = pytest.mark.services


def test_run_register_alias_load_predict(lab_services, unique, tmp_path):
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    uri = lablib.mlflow_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(f"ch99-services-{unique}")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    name = f"ch99-defect-{unique}"

    notes = tmp_path / "notes.txt"
    notes.write_text("trained on synthetic sensor readings\n")
    with mlflow.start_run() as run:
        model = LogisticRegression(C=0.5).fit(x, y)
        mlflow.log_params({"C": 0.5, "features": 3})
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        mlflow.log_artifact(str(notes))
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name, input_example=x[:2])

    client = MlflowClient(uri)
    got = client.get_run(run.info.run_id)
    assert got.data.params["C"] == "0.5" and got.data.metrics["accuracy"] > 0.9
    assert "notes.txt" in [a.path for a in client.list_artifacts(run.info.run_id)]

    version = info.registered_model_version
    client.set_registered_model_alias(name, "champion", version)
    assert client.get_model_version_by_alias(name, "champion").version == str(version)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(loaded.predict(x[:20]), model.predict(x[:20]))
