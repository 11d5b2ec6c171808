"""lablib.browser: the system Chromium the browser tests drive, or one sentence saying what to run."""

from __future__ import annotations

import os

import pytest

from lablib import browser
from lablib.errors import LabError


def test_this_machine_has_a_chromium_to_drive():
    path = browser.chromium()
    assert path.is_file() and os.access(path, os.X_OK), path


def test_lab_chromium_wins_and_a_wrong_one_is_named(tmp_path, monkeypatch):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("LAB_CHROMIUM", str(fake))
    with pytest.raises(LabError) as err:
        browser.chromium()  # not executable
    assert err.value.message.startswith(f"LAB_CHROMIUM={fake} is not an executable file")
    fake.chmod(0o755)
    assert browser.chromium() == fake


def test_no_chromium_says_what_to_run(monkeypatch):
    monkeypatch.delenv("LAB_CHROMIUM", raising=False)
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser, "PLACES", ())
    with pytest.raises(LabError) as err:
        browser.chromium()
    assert err.value.message == browser.MISSING and "`make system-deps`" in browser.MISSING
