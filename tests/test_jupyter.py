"""JupyterLab as the course starts it (lablib/jupyter.py, `lab jupyter`, `make lab`): loopback,
the chapter table as landing page, and the settings in jupyter-config/ that keep it offline.

The browser tests (test_browser_jupyterlab.py) show the same from the learner's side."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import jsonschema
import pytest
import requests

from lablib import jupyter
from lablib.chapters import LABS
from lablib.notebooks import LAUNCHER

SERVER_CONFIG = jupyter.CONFIG_DIR / "jupyter_server_config.json"
UI_DEFAULTS = jupyter.CONFIG_DIR / "labconfig" / "default_setting_overrides.json"
SCHEMAS = os.path.join(sys.prefix, "share", "jupyter", "lab", "schemas")


def test_the_command_serves_labs_on_loopback_opening_the_chapter_table():
    cmd = jupyter.command(8999)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.port=8999" in cmd and "--no-browser" in cmd
    assert f"--ServerApp.root_dir={LABS}" in cmd and (LABS / jupyter.LANDING).is_file()
    assert f"--LabApp.default_url=/lab/tree/{LAUNCHER}" in cmd
    assert not any(a.startswith("--IdentityProvider.token") for a in cmd)  # Jupyter draws a random token
    assert "--IdentityProvider.token=" in jupyter.command(8999, token="")
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)


def test_the_environment_puts_the_course_settings_first_and_keeps_the_users():
    env = jupyter.environment({"PATH": "/bin", "JUPYTER_CONFIG_PATH": "/etc/mine"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(jupyter.CONFIG_DIR), "/etc/mine"]
    assert env["PATH"] == "/bin" and env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["DO_NOT_TRACK"] == "true"
    assert jupyter.environment({})["JUPYTER_CONFIG_PATH"] == str(jupyter.CONFIG_DIR)


def test_every_ui_default_is_a_setting_of_this_jupyterlab():
    # a renamed or removed setting would be ignored silently after an upgrade
    for plugin, values in json.loads(UI_DEFAULTS.read_text()).items():
        package, name = plugin.split(":")
        schema_file = os.path.join(SCHEMAS, package, f"{name}.json")
        assert os.path.isfile(schema_file), f"{plugin}: no such JupyterLab plugin here"
        schema = json.loads(open(schema_file).read())
        for key, value in values.items():
            assert key in schema["properties"], f"{plugin}: no setting {key!r}"
            jsonschema.validate(value, {**schema["properties"][key], "definitions": schema.get("definitions", {})})


def test_every_server_setting_is_a_trait_of_labapp():
    from jupyterlab.labapp import LabApp

    for key in json.loads(SERVER_CONFIG.read_text())["LabApp"]:
        assert LabApp.class_traits(config=True).get(key) is not None, f"LabApp has no setting {key!r}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_jupyter_starts_jupyterlab_with_the_course_settings(tmp_path, cu):
    """What `make lab` runs: the `lab jupyter` command, as a new user would start it."""
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    env.pop("JUPYTER_CONFIG_PATH", None)
    log = tmp_path / "jupyterlab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lablib.cli", "jupyter", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.perf_counter() + cu
        info = None
        while info is None:
            assert proc.poll() is None, f"lab jupyter exited:\n{log.read_text()[-2000:]}"
            assert time.perf_counter() < deadline, f"lab jupyter did not start within 1 c.u.:\n{log.read_text()[-2000:]}"
            found = sorted((tmp_path / "runtime").glob("jpserver-*.json"))
            info = json.loads(found[0].read_text()) if found else None
            time.sleep(0.2)
        assert info["port"] == port and info["token"], info  # the address it prints carries a token
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {info['token']}"}
        while requests.get(f"{base}/api/status", headers=headers, timeout=5).status_code != 200:
            time.sleep(0.2)
        landing = requests.get(f"{base}/", headers=headers, allow_redirects=False, timeout=5)
        assert landing.headers["Location"].split("?")[0] == f"/lab/tree/{LAUNCHER}"
        assert requests.get(f"{base}/api/status", timeout=5).status_code == 403  # no token, no entry
        notification = requests.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                    headers=headers, timeout=5).json()["schema"]["properties"]
        assert notification["fetchNews"]["default"] == "false"
        assert notification["checkForUpdates"]["default"] is False
        assert requests.get(f"{base}/lab/api/news", headers=headers, timeout=5).json() == {"news": []}
        assert requests.get(f"{base}/lab/api/update", headers=headers, timeout=5).json() == {"notification": None}
        # nothing else listens on another interface: the server is bound to loopback only
        assert info["hostname"] == "127.0.0.1"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=cu)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Extension Manager is 'readonly'" in log.read_text()


@pytest.mark.parametrize("broken", ["fetchNews", "plugin"])
def test_the_settings_check_rejects_an_unknown_setting(tmp_path, monkeypatch, broken):
    defaults = json.loads(UI_DEFAULTS.read_text())
    if broken == "fetchNews":
        defaults["@jupyterlab/apputils-extension:notification"]["fetchNewz"] = "false"
    else:
        defaults["@jupyterlab/no-such-extension:plugin"] = {"x": 1}
    bad = tmp_path / "defaults.json"
    bad.write_text(json.dumps(defaults))
    monkeypatch.setattr(sys.modules[__name__], "UI_DEFAULTS", bad)
    with pytest.raises(AssertionError):
        test_every_ui_default_is_a_setting_of_this_jupyterlab()
