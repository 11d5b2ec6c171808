"""Real local services: Kafka (KRaft), MLflow and a schema registry (Apicurio).

Embedded by default: each runs as a local process on 127.0.0.1, started by
`lab up` or, on first use, by the helpers below (which print one line when
they start something). ``KAFKA_BOOTSTRAP_SERVERS``, ``MLFLOW_TRACKING_URI``
and ``SCHEMA_REGISTRY_URL`` point lablib at external services instead; then
nothing is started here, and one that does not answer is a LabError within
10 seconds.

Naming convention the chapter reset relies on: topics ``chNN.<name>``,
experiments and registered models ``chNN-<name>``, subjects ``chNN.<topic>-value``.
"""

from __future__ import annotations

import time

from lablib.services import _process
from lablib.services._service import ensure, status
from lablib.services.kafka import Kafka
from lablib.services.mlflow import MLflow
from lablib.services.registry import Registry

__all__ = ["kafka_config", "mlflow_uri", "registry_url", "connect_command", "reset_chapter", "health",
           "SERVICES", "by_name"]

SERVICES = {"kafka": Kafka(), "registry": Registry(), "mlflow": MLflow()}

#: when an external service was last seen answering; spares a probe on every helper call
_verified: dict[str, float] = {}
_TRUST_SECONDS = 30.0


def by_name(names: list[str] | str) -> list:
    names = [names] if isinstance(names, str) else names
    if not names or "all" in names:
        return list(SERVICES.values())
    return [SERVICES[n] for n in names]


def _available(name: str) -> None:
    """Embedded: start it if down. External: check that it answers (LabError within 10 s)."""
    svc = SERVICES[name]
    if svc.external() is not None:
        if time.monotonic() - _verified.get(name, -1e9) > _TRUST_SECONDS:
            svc.check_external()
            _verified[name] = time.monotonic()
        return
    record = _process.read_pid(name)
    if record and _process.is_alive(record) and _process.port_open(svc.ports()[0], timeout=0.2):
        return  # cheap: our process runs and listens (a full probe on every call would cost ms each)
    ensure(svc)


def kafka_config(**overrides) -> dict:
    """Settings for confluent-kafka clients (``bootstrap.servers`` and your overrides).

    Keyword names may use ``_`` for ``.``: ``kafka_config(group_id="ch05-app")``.
    """
    _available("kafka")
    conf = {"bootstrap.servers": SERVICES["kafka"].bootstrap()}
    conf.update({key.replace("_", "."): value for key, value in overrides.items()})
    return conf


def mlflow_uri() -> str:
    """The MLflow tracking URI (give it to ``mlflow.set_tracking_uri``)."""
    _available("mlflow")
    return SERVICES["mlflow"].uri()


def registry_url() -> str:
    """The schema registry's Confluent-compatible URL (for ``SchemaRegistryClient``)."""
    _available("registry")
    return SERVICES["registry"].url()


def connect_command(*properties, heap: str = "256m") -> list[str]:
    """The command line of a Kafka Connect standalone worker on the Kafka jar set.

    ``properties``: the worker's .properties file, then one file per connector
    (``org.apache.kafka.connect.cli.ConnectStandalone``). Run it with ``subprocess``;
    the worker talks to whatever ``bootstrap.servers`` its file names.
    """
    cmd = SERVICES["kafka"].java_command("org.apache.kafka.connect.cli.ConnectStandalone",
                                         *(str(p) for p in properties), heap=heap)
    cmd.insert(1, "-XX:TieredStopAtLevel=1")  # a short-lived worker: a quick start beats peak speed
    return cmd


# -- chapter reset -------------------------------------------------------------

def _answers(name: str) -> bool:
    """The service the helpers would use answers, without starting anything: external and
    reachable, embedded and running, or embedded and answering on its port although started from
    another LAB_HOME (``ensure`` uses that one, so the reset must clear it too)."""
    svc = SERVICES[name]
    if svc.external() is not None:
        try:
            svc.check_external()
            return True
        except Exception:  # noqa: BLE001 - an unreachable external service has nothing to reset
            return False
    state = status(svc).state
    return state == "running" or (state in ("stopped", "stale") and svc.ready())


def _reset_kafka(prefix: str) -> list[str]:
    from confluent_kafka.admin import AdminClient

    from lablib.services.kafka import _quiet_logger

    admin = AdminClient({"bootstrap.servers": SERVICES["kafka"].bootstrap(), "logger": _quiet_logger()})
    removed = []
    topics = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{prefix}."))
    if topics:
        for topic, future in admin.delete_topics(topics, operation_timeout=30).items():
            future.result()
            removed.append(f"topic {topic}")
        _wait_topics_gone(admin, topics)
    groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid
              if g.group_id.startswith((f"{prefix}.", f"{prefix}-"))]
    if groups:
        for group, future in admin.delete_consumer_groups(groups, request_timeout=10).items():
            try:
                future.result()
                removed.append(f"consumer group {group}")
            except Exception:  # noqa: BLE001 - a group with live members stays; its topics are gone anyway
                pass
    return removed


def _wait_topics_gone(admin, topics: list[str], timeout: float = 15) -> None:
    # deletion is asynchronous: a lab that recreates the topic right away must not race it
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not set(topics) & set(admin.list_topics(timeout=10).topics):
            return
        time.sleep(0.2)


def _reset_mlflow(prefix: str) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(SERVICES["mlflow"].uri())
    removed = []
    for model in client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'"):
        client.delete_registered_model(model.name)
        removed.append(f"model {model.name}")
    for exp in client.search_experiments(filter_string=f"name LIKE '{prefix}-%'"):
        # MLflow only soft-deletes and keeps the name taken: rename first so the lab can reuse it
        client.rename_experiment(exp.experiment_id, f"{exp.name}.deleted-{int(time.time() * 1000)}")
        client.delete_experiment(exp.experiment_id)
        removed.append(f"experiment {exp.name}")
    return removed


def _reset_registry(prefix: str) -> list[str]:
    import requests

    url = SERVICES["registry"].url().rstrip("/")
    removed = []
    for subject in requests.get(f"{url}/subjects", timeout=10).json():
        if subject.startswith(f"{prefix}."):
            requests.delete(f"{url}/subjects/{subject}", timeout=10)
            requests.delete(f"{url}/subjects/{subject}", params={"permanent": "true"}, timeout=10)
            removed.append(f"subject {subject}")
    return removed


def reset_chapter(number: str) -> list[str]:
    """Delete chapter NN's topics (`chNN.*`), experiments and models (`chNN-*`) and subjects
    (`chNN.*`), on services that already run or are external; never starts one."""
    prefix = f"ch{number}"
    removed: list[str] = []
    for name, reset in (("kafka", _reset_kafka), ("mlflow", _reset_mlflow), ("registry", _reset_registry)):
        if _answers(name):
            removed += reset(prefix)
    return removed


# -- doctor ----------------------------------------------------------------------

def health() -> list[tuple[str, bool, str]]:
    """(service, ok, one-line detail) for `lab doctor`. A stopped embedded service is fine:
    the labs start it when they need it."""
    rows = []
    for name, svc in SERVICES.items():
        if svc.external() is not None:
            try:
                svc.check_external()
                rows.append((name, True, f"external {svc.external()} answers"))
            except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
                rows.append((name, False, getattr(exc, "message", str(exc))))
            continue
        st = status(svc)
        if st.state == "running":
            rows.append((name, True, f"running on {st.address} (pid {st.pid})"))
        elif st.state == "not ready":
            rows.append((name, False, f"pid {st.pid} runs but {st.address} does not answer: "
                                      f"`lab down {name}` then `lab up {name}`; read {svc.rel_log()}"))
        else:
            rows.append((name, True, f"stopped; labs start it on demand, or `lab up {name}`"))
    return rows

