"""Fixtures for tests against the real services (a pytest plugin, see conftest.py).

``lab_services`` starts whatever embedded service is not running yet (all three
side by side) and, at the end of the session, stops exactly those it started,
also when tests failed. External services (KAFKA_BOOTSTRAP_SERVERS, ...) are
used as they are.
"""

from __future__ import annotations

import uuid

import pytest

from lablib.services import SERVICES, _service

#: the chapter number service tests use for their topics, experiments and subjects
TEST_CHAPTER = "99"


@pytest.fixture(scope="session")
def lab_services(request):
    started = [svc for svc in SERVICES.values()
               if svc.external() is None and _service.status(svc).state != "running"]

    def stop_what_we_started():
        # a test may have stopped one already (lifecycle tests); down is idempotent
        _service.down(started, log=lambda line: None)

    request.addfinalizer(stop_what_we_started)
    _service.up(list(SERVICES.values()), log=lambda line: None)
    return SERVICES


@pytest.fixture(scope="session")
def mlflow_server(request):
    """Only the MLflow tracking server (for tests that need nothing else): started if it is down,
    stopped at the end of the session if this fixture started it. Returns its URI."""
    svc = SERVICES["mlflow"]
    if svc.external() is None and _service.status(svc).state != "running":
        request.addfinalizer(lambda: _service.down([svc], log=lambda line: None))
    _service.up([svc], log=lambda line: None)
    return svc.uri()


@pytest.fixture
def unique():
    """A short random suffix, so reruns on a durable broker never see old data."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def topic_name(unique):
    return f"ch{TEST_CHAPTER}.test-{unique}"
