"""`lab orchestrator up|status|down`: dagster dev on the repository's code location, on 127.0.0.1
only, its runs in $LAB_HOME/dagster with telemetry off, the asset graph served (and drawn in headless
Chromium), every process of it stopped by `lab down all`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from lablib import sockets
from lablib.services import SERVED, _process
from lablib.services.orchestrator import dagster_home

pytestmark = pytest.mark.services


def lab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


@pytest.mark.browser
def test_orchestrator_up_serves_the_asset_graph_on_loopback_and_down_all_stops_it(tab):
    svc = SERVED["orchestrator"]
    assert lab("orchestrator", "status").stdout.split("\n")[1].split()[1] == "stopped"
    up = lab("orchestrator", "up")
    try:
        assert up.returncode == 0, up.stderr
        assert f"Dagster UI: {svc.address()}" in up.stdout
        record = _process.read_pid("orchestrator")
        members = _process.session_members(record.pid)
        assert len(members) >= 3  # dagster dev, its code server, the webserver, the daemon
        listening = [s for s in sockets.listeners() if s.pid in members]
        assert listening and all(s.loopback for s in listening), [s.describe() for s in listening]
        query = {"query": "{ assetNodes { assetKey { path } dependencyKeys { path } } }"}
        nodes = requests.post(f"{svc.address()}/graphql", json=query, timeout=30).json()["data"]["assetNodes"]
        edges = {(d["path"][0], n["assetKey"]["path"][0]) for n in nodes for d in n["dependencyKeys"]}
        assert ("bronze_telemetry", "silver_telemetry") in edges and ("silver_telemetry", "gold_machine_daily") in edges
        assert ("silver_orders", "gold_daily_sales") in edges and len(nodes) == 7
        # the UI itself, in headless Chromium: the lineage page draws every asset of the graph
        page = tab.page
        page.goto(f"{svc.address()}/asset-groups")  # global lineage: the pipeline's two groups
        for group in ("orders", "telemetry"):
            page.get_by_text(group, exact=True).first.wait_for()
        skip = page.get_by_role("button", name="Skip")  # a first visit's newsletter dialog
        if skip.count():
            skip.click()
        tab.screenshot("dagster-lineage")
        page.goto(f"{svc.address()}/assets")  # the catalog lists every asset
        for node in nodes:
            page.get_by_text(node["assetKey"]["path"][0], exact=True).first.wait_for()
        assert page.get_by_text("no_such_asset", exact=True).count() == 0
        tab.screenshot("dagster-catalog")
        assert tab.offsite == [], f"the Dagster UI called out: {tab.offsite}"
        assert "telemetry:\n  enabled: false" in (dagster_home() / "dagster.yaml").read_text()
        assert lab("orchestrator", "status").stdout.split("\n")[1].split()[1] == "running"
    finally:
        down = lab("down", "all")
    assert down.returncode == 0 and "orchestrator: stopped" in down.stdout
    assert not _process.session_members(record.pid)
    assert lab("orchestrator", "status").stdout.split("\n")[1].split()[1] == "stopped"
