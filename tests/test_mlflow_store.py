"""The empty MLflow store `lab setup` records: MLflow's own migrations run once, a fresh home copies the
result, and a home that has a store keeps it (the server itself is exercised by test_services_mlflow.py
and chapters 06 and 12, whose homes start from the copy)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from lablib.services import mlflow_store


def _query(path, sql):
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute(sql).fetchall()


def test_the_recorded_store_is_at_mlflow_s_head_revision_with_its_default_experiment():
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    template = mlflow_store.record(log=lambda line: None)
    assert template is not None and template.is_file(), "lab setup could not record MLflow's empty store"
    head = ScriptDirectory.from_config(_get_alembic_config("sqlite://")).get_current_head()
    assert _query(template, "SELECT version_num FROM alembic_version") == [(head,)]
    # the server proxies artifacts to each home's own folder: nothing in the copy names a home
    assert _query(template, "SELECT experiment_id, name, artifact_location FROM experiments") == [
        (0, "Default", "mlflow-artifacts:/0")]
    assert _query(template, "SELECT count(*) FROM runs") == [(0,)]


def test_a_fresh_home_gets_a_copy_and_a_home_with_a_store_keeps_its_own(tmp_path):
    template = mlflow_store.record(log=lambda line: None)
    store = tmp_path / "home" / "mlflow" / "mlflow.db"
    assert mlflow_store.seed(store) is True
    assert store.read_bytes() == template.read_bytes()
    assert [p.name for p in store.parent.iterdir()] == ["mlflow.db"]  # no partial file left beside it

    store.write_bytes(b"a learner's runs")
    assert mlflow_store.seed(store) is False
    assert store.read_bytes() == b"a learner's runs"


def test_without_a_recorded_store_the_server_migrates_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_store, "template", lambda: tmp_path / "never-recorded.db")
    store = tmp_path / "home" / "mlflow.db"
    assert mlflow_store.seed(store) is False
    assert not store.exists()


def test_doctor_names_the_store_or_says_how_to_record_it(tmp_path, monkeypatch):
    from lablib import doctor

    template = mlflow_store.record(log=lambda line: None)
    assert doctor._mlflow_store() == ("MLflow empty store", True, template.name)
    monkeypatch.setattr(mlflow_store, "template", lambda: tmp_path / "never-recorded.db")
    assert doctor._mlflow_store() == (
        "MLflow empty store", None,
        "not recorded for this MLflow: `lab setup` records it (a fresh home's MLflow starts faster)")
