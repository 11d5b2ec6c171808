"""Each LAB_HOME's ports: chosen once, recorded in the home, never another home's (lablib/ports.py).

Every test here uses an index of homes of its own (LAB_HOMES_INDEX in tmp_path), so it sees a
machine with no other home on it; nothing is started, the ports are only chosen and recorded.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from lablib import config, ports


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine whose index of homes is empty; returns a function making a home on it."""
    monkeypatch.setenv("LAB_HOMES_INDEX", str(tmp_path / "index"))
    for variable in config.PORT_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)

    def home(name: str):
        path = tmp_path / name
        monkeypatch.setenv("LAB_HOME", str(path))
        return path

    return home


def test_the_first_home_gets_the_defaults_the_next_gets_free_ports_of_its_own(machine):
    free_defaults = {name for name, port in config.DEFAULT_PORTS.items() if ports.free(port)}
    first = machine("first home")
    a = ports.ports()
    assert {name for name in ports.NAMES if a[name] == config.DEFAULT_PORTS[name]} == free_defaults
    assert json.loads(ports.record_path().read_text()) == a
    assert ports.record_path() == first / "state" / "ports.json"
    assert ports.ports() == a  # the same on every call: read from the record

    machine("second home")
    b = ports.ports()
    assert not set(a.values()) & set(b.values())
    assert len(set(b.values())) == len(ports.NAMES)
    assert all(port in ports._candidates() for port in b.values())
    assert sorted(ports.homes()) == sorted([first, ports.record_path().parent.parent])

    machine("first home")
    assert ports.ports() == a  # coming back to a home finds its ports unchanged


def test_a_port_variable_wins_and_is_never_recorded(machine, monkeypatch):
    machine("home")
    recorded = ports.ports()
    monkeypatch.setenv("LAB_MLFLOW_PORT", "15000")
    assert ports.port("mlflow") == 15000 and ports.explicit("mlflow") == "LAB_MLFLOW_PORT"
    assert ports.recorded() == recorded
    assert ports.explicit("kafka") is None


def test_a_crowded_machine_still_finds_the_ports_no_home_claimed(machine, monkeypatch):
    """Hundreds of homes (CI runs, a classroom) can claim nearly all of the range; the few ports left
    are found, not missed by a sample of the whole range (ci50 of stop 44 failed so, 448 homes)."""
    monkeypatch.setattr(ports, "_candidates", lambda: range(61_000, 65_000))
    left = [61_234, 64_321]
    claimed = set(range(61_000, 65_000)) - set(left)
    # the machine as the index sees it: only the unclaimed ports are free (no real socket decides)
    monkeypatch.setattr(ports, "free", lambda number: number in left)
    assert {ports._choose("kafka", claimed, prefer_default=False) for _ in range(20)} <= set(left)
    with pytest.raises(ports.LabError, match="no free port found for Kafka on 127.0.0.1; set LAB_KAFKA_PORT"):
        ports._choose("kafka", claimed | set(left), prefer_default=False)


def _choose_in(args):
    index, home = args
    os.environ["LAB_HOMES_INDEX"], os.environ["LAB_HOME"] = index, home
    return ports.ports()


def test_homes_choosing_at_the_same_moment_never_pick_the_same_port(tmp_path):
    jobs = [(str(tmp_path / "index"), str(tmp_path / f"home {i}")) for i in range(6)]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        chosen = pool.map(_choose_in, jobs)
    every = [port for home in chosen for port in home.values()]
    assert len(every) == len(set(every)) == 6 * len(ports.NAMES)


def test_a_port_that_moves_is_recorded_and_stays_clear_of_other_homes(machine):
    machine("other home")
    other = ports.ports()
    machine("home")
    before = ports.ports()
    moved = ports.move(["kafka"])
    assert moved["kafka"] != before["kafka"] and moved["kafka"] not in other.values()
    assert ports.recorded() == {**before, "kafka": moved["kafka"]}
    assert not list(ports.record_path().parent.glob("*.tmp"))  # written whole, then renamed


def test_an_entry_of_a_deleted_home_is_dropped_unless_something_still_runs_there(machine, tmp_path):
    import shutil

    gone = machine("gone home")
    ports.ports()
    busy = machine("busy home")
    ports.ports()
    orphan = subprocess.Popen(["sleep", "60"], cwd=busy)
    try:
        kept = machine("kept home")
        held = ports.ports()
        shutil.rmtree(gone)
        shutil.rmtree(busy)
        (tmp_path / "index" / "broken.json").write_text("{not json")
        assert sorted(ports.homes()) == sorted([busy, kept])  # the deleted busy home still runs something
        assert ports.running_in(busy) == [orphan.pid]
        assert not (tmp_path / "index" / "broken.json").exists()
    finally:
        orphan.kill()
        orphan.wait()
    assert ports.homes() == [kept]
    assert ports.recorded(kept) == held


def test_mlflow_uri_of_an_embedded_server_is_not_a_choice_to_share(machine, monkeypatch):
    # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI; a kernel started from a process of home A
    # inherits A's address, and must still use its own home's server, not A's
    from lablib.services.mlflow import MLflow

    machine("home a")
    a = ports.port("mlflow")
    machine("home b")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{a}")
    assert MLflow().external() is None
    assert MLflow().uri() == f"http://127.0.0.1:{ports.port('mlflow')}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert MLflow().external() == "http://mlflow.example:5000"  # a server set on purpose is used


def test_lab_port_prints_the_homes_port_and_make_lab_leaves_the_choice_to_it(machine):
    home = machine("home")
    env = {**os.environ, "LAB_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "lablib.cli", "port", "jupyter"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == str(ports.port("jupyter"))

    def make_lab(*extra: str) -> str:
        dry = subprocess.run(["make", "-n", "lab", f"VENV={sys.prefix}", *extra], capture_output=True, text=True,
                             env=env, cwd=config.REPO, timeout=120)
        return next(line for line in dry.stdout.splitlines() if " jupyter" in line)

    # `lab jupyter` without --port serves on the home's recorded port (lablib/cli.py); PORT=… still wins
    assert make_lab().endswith("/lab jupyter "), make_lab()
    assert make_lab("PORT=18888").endswith("/lab jupyter --port 18888")
