"""A chapter's reset starts the services its notebook declares: in the background on a home where
they never ran (nothing of the chapter can be on them), at once where they may hold its leftovers."""

from __future__ import annotations

import pytest


def test_each_part_declares_its_own_services():
    from lablib import chapters

    assert chapters.services("05") == ("kafka", "registry")
    assert chapters.services("08c") == ("kafka",)
    assert chapters.services("08a") == () and chapters.services("08b") == ()  # not part c's broker
    assert chapters.services("08") == ("kafka",)  # the chapter: every part's
    assert chapters.services("06") == ("mlflow",)


@pytest.mark.parametrize("name", ["kafka", "registry"])
def test_a_service_that_never_ran_holds_no_leftovers(tmp_path, monkeypatch, name):
    from lablib.services import SERVICES

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    svc = SERVICES[name]
    assert svc.leftovers("ch05") is False
    stored = {"kafka": tmp_path / "kafka" / "data" / "meta.properties",
              "registry": tmp_path / "registry" / "registry.mv.db"}[name]
    stored.parent.mkdir(parents=True)
    stored.write_text("")  # the file the service keeps once it has run
    assert svc.leftovers("ch05") is True


def test_a_service_that_cannot_tell_is_started_at_once():
    from lablib.services._service import Service

    assert Service().leftovers("ch05") is True
