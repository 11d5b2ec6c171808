"""The MLflow UI in a real browser: a run logged to the embedded tracking server (lablib.mlflow_uri())
is shown on its page and its experiment in the experiments list, in headless Chromium
(tests/browser.py), with no request leaving the machine. Time limits are in calibration units."""

from __future__ import annotations

import time

import pytest
from mlflow import MlflowClient

import lablib

pytestmark = [pytest.mark.browser, pytest.mark.services]


def test_the_mlflow_ui_shows_a_logged_run_and_lists_its_experiment(mlflow_server, tab, cu, unique):
    uri = lablib.mlflow_uri()
    client = MlflowClient(uri)
    experiment = f"ch99-browser-{unique}"
    run_name = f"browser-run-{unique}"
    experiment_id = client.create_experiment(experiment)
    try:
        run = client.create_run(experiment_id, run_name=run_name)
        run_id = run.info.run_id
        client.log_param(run_id, "max_depth", 4)
        client.log_metric(run_id, "failure_recall", 0.875)
        client.set_terminated(run_id)
        page = tab.page

        started = time.perf_counter()
        page.goto(f"{uri}/#/experiments/{experiment_id}/runs/{run_id}")
        page.get_by_text(run_name).first.wait_for()
        run_page_seconds = time.perf_counter() - started
        for shown in (experiment, run_id, "failure_recall"):
            page.get_by_text(shown).first.wait_for()
        tab.screenshot("mlflow-run")

        started = time.perf_counter()
        page.goto(f"{uri}/#/experiments")
        page.get_by_role("link", name=experiment).wait_for()
        list_seconds = time.perf_counter() - started
        # the same locator finds nothing for an experiment that was never logged
        assert page.get_by_role("link", name=f"{experiment}-never-logged").count() == 0
        tab.screenshot("mlflow-experiments")

        assert tab.offsite == [], f"the MLflow UI called out: {tab.offsite}"
        print(f"\nMLflow run page {run_page_seconds:.1f} s, experiments list {list_seconds:.1f} s "
              f"(1 c.u. = {cu:.1f} s)")
    finally:
        client.delete_experiment(experiment_id)
