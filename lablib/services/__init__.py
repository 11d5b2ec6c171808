"""Real local services: Kafka (KRaft), MLflow and a schema registry (Apicurio).

Embedded by default: each runs as a local process on 127.0.0.1, started by
`lab up` or, on first use, by the helpers below (which print one line when
they start something). Each LAB_HOME has its own, on ports recorded in the
home (lablib/ports.py); a home never uses, resets or stops another's. ``KAFKA_BOOTSTRAP_SERVERS``, ``MLFLOW_TRACKING_URI``
and ``SCHEMA_REGISTRY_URL`` point lablib at external services instead; then
nothing is started here, and one that does not answer is a LabError within
10 seconds.

Naming convention the chapter reset relies on: topics ``chNN.<name>``,
experiments and registered models ``chNN-<name>``, subjects ``chNN.<topic>-value``.

A registered model can also be served (``serve_model``): that server is started from a lab,
never by ``lab up``, and lives no longer than the process that started it (services/model.py).
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import time
from pathlib import Path

from lablib.config import MLFLOW_CLIENT_ENV
from lablib.errors import LabError
from lablib.paths import rel
from lablib.services import _process
from lablib.services._service import down, ensure, status
from lablib.services.connect import Connect
from lablib.services.dashboard import Dashboard
from lablib.services.kafka import Kafka
from lablib.services.mlflow import MLflow
from lablib.services.model import ModelServer
from lablib.services.orchestrator import Orchestrator
from lablib.services.registry import Registry

__all__ = ["kafka_config", "mlflow_uri", "registry_url", "connect_command", "reset_chapter", "health",
           "serve_model", "stop_model", "served_model", "start_dashboard", "serve_dashboard", "stop_dashboard", "SERVICES", "SERVED", "by_name", "running", "stop"]

SERVICES = {"kafka": Kafka(), "registry": Registry(), "mlflow": MLflow()}
#: servers started on their own (a model a lab serves; the Dagster UI, `lab orchestrator up`; chapter 07's
#: dashboard, `lab dashboard up`): stopped
#: by `lab down`, never started by `lab up`
SERVED = {"model": ModelServer(), "orchestrator": Orchestrator(), "dashboard": Dashboard(), "connect": Connect()}
#: of those, what `lab up NAME` starts when named (never with `lab up` / `lab up all`)
UP_BY_NAME = ("connect",)

#: when an external service was last seen answering; spares a probe on every helper call
_verified: dict[str, float] = {}
_TRUST_SECONDS = 30.0


def by_name(names: list[str] | str, served: bool = False) -> list:
    """The services named (``all``: every one). ``served``: include the servers a lab starts (the
    model server), for `lab down` and `lab status`; `lab up` starts only the three services, or
    the Spark Connect server when it is named (`lab up connect`)."""
    names = [names] if isinstance(names, str) else names
    if not names or "all" in names:
        return list(({**SERVICES, **SERVED} if served else SERVICES).values())
    known = {**SERVICES, **SERVED} if served else {**SERVICES, **{n: SERVED[n] for n in UP_BY_NAME}}
    return [known[n] for n in names]


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
    """The MLflow tracking URI (give it to ``mlflow.set_tracking_uri``). This process's MLflow
    client gets lablib's quiet settings (config.MLFLOW_CLIENT_ENV: no telemetry, no progress bars)."""
    _quiet_mlflow_client()
    _available("mlflow")
    return SERVICES["mlflow"].uri()


def _quiet_mlflow_client() -> None:
    import logging

    os.environ.update(MLFLOW_CLIENT_ENV)
    # MLflow's INFO lines ("Creating a new experiment", "Created version 1") carry clocks and ids into
    # notebook outputs; warnings still show. Its own processes keep their INFO logs.
    os.environ["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    _import_tqdm_quietly()
    import warnings

    # two known, harmless warnings that print a library's absolute path into cells: MLflow's hint about
    # integer columns when it infers a dataset's schema (the label column, never a model input), and
    # scikit-learn 1.9's renamed argument, as MLflow 3.17's autolog still calls its metrics
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column", category=UserWarning)
    warnings.filterwarnings("ignore", message="`y_pred` was renamed to `y_proba`", category=FutureWarning)


def _import_tqdm_quietly() -> None:
    # MLflow imports tqdm.auto, which warns in every kernel without ipywidgets ("IProgress not
    # found"); the labs draw no progress bars, so the warning only clutters the cell
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import tqdm.auto  # noqa: F401
        except ImportError:
            pass
    if "mlflow" in sys.modules:  # imported before: drop the telemetry client it made at import
        try:
            from mlflow.telemetry.client import set_telemetry_client

            set_telemetry_client()
        except Exception:  # noqa: BLE001 - an MLflow without it has nothing to drop
            pass


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
    # a short-lived worker: a quick start beats peak speed
    return SERVICES["kafka"].java_command("org.apache.kafka.connect.cli.ConnectStandalone",
                                          *(str(p) for p in properties), heap=heap, c1_only=True)


# -- a served model ---------------------------------------------------------------

_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def _describe_model(model_uri: str) -> dict:
    """{"uri", "name", "version"} of a model URI the registry resolves, or one LabError saying why not."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not isinstance(model_uri, str) or not model_uri.strip():
        raise LabError(f"the model URI is {model_uri!r}: give one like models:/ch06-failures@champion")
    client = MlflowClient(mlflow_uri())
    m = _MODEL_URI.match(model_uri.strip())
    if m is None:
        raise LabError(f"{model_uri!r} is not a registered model's URI: use models:/<name>@<alias> "
                       "or models:/<name>/<version>")
    name, alias, version = m.group("name", "alias", "version")
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise LabError(f"there is no registered model {name} in MLflow at {mlflow_uri()}: register it "
                       "first (mlflow.register_model or log_model(registered_model_name=...))") from None
    try:
        found = (client.get_model_version_by_alias(name, alias) if alias
                 else client.get_model_version(name, version))
    except MlflowException:
        what = f"alias {alias} is not set" if alias else f"version {version} does not exist"
        raise LabError(f"{what} on the registered model {name}"
                       + (": set it with MlflowClient().set_registered_model_alias(name, alias, version)"
                          if alias else "")) from None
    return {"uri": model_uri.strip(), "name": name, "version": int(found.version)}


def serve_model(model_uri: str) -> str:
    """Serve a registered model (``models:/<name>@<alias>`` or ``models:/<name>/<version>``) with
    ``mlflow models serve --env-manager local`` on 127.0.0.1 (LAB_MODEL_PORT); returns its base URL
    (POST ``<url>/invocations``). A model served before is stopped first: one at a time. The server
    stops with this process, with `lab down model` and with the chapter's reset."""
    from lablib.services import _service

    svc = SERVED["model"]
    what = _describe_model(model_uri)
    stop_model(quiet=True)
    svc.remember(what)
    label = f"{what['uri']} (version {what['version']})"
    print(f"serving {label} on {svc.address()} …", end=" ", flush=True)
    try:
        with _process.lock(svc.name):
            launch = _service._launch(svc, dies_with_parent=True)
        if launch is None:  # raced by another process of this home: use what it serves
            _service._wait_existing(svc, svc.start_timeout)
            seconds = 0.0
        else:
            atexit.register(_stop_served_at_exit, launch.proc.pid)
            seconds = _service._wait(launch)
    except LabError:
        print("failed")
        svc.forget()
        raise
    print(f"ready in {seconds:.0f} s (log: {svc.rel_log()}; `lab down model` stops it)")
    return svc.address()


def served_model() -> dict | None:
    """What the model server of this LAB_HOME serves, when it runs and answers: {"uri", "name",
    "version", "url"}; None otherwise."""
    svc = SERVED["model"]
    record = _process.read_pid(svc.name)
    if record is None or not _process.is_alive(record) or not svc.ready():
        return None
    what = svc.served()
    return None if what is None else {**what, "url": svc.address()}


def stop_model(quiet: bool = False) -> bool:
    """Stop the served model of this LAB_HOME, if any; True when one was running."""
    from lablib.services import _service

    svc = SERVED["model"]
    record = _process.read_pid(svc.name)
    running = record is not None and _process.is_alive(record)
    if record is not None:
        _service.down([svc], log=(lambda line: None) if quiet else print)
    svc.forget()
    return running


def _stop_served_at_exit(pid: int) -> None:
    # only the server this process started, and only while the PID file still names it
    record = _process.read_pid(SERVED["model"].name)
    if record is not None and record.pid == pid:
        stop_model(quiet=True)


# -- chapter reset -------------------------------------------------------------

def _answers(name: str) -> bool:
    """The service the helpers would use answers, without starting anything: external (set on
    purpose) and reachable, or this home's own embedded service running. Whatever else answers on a
    port (another home's service) is never reset from here."""
    svc = SERVICES[name]
    if svc.external() is not None:
        try:
            svc.check_external()
            return True
        except Exception:  # noqa: BLE001 - an unreachable external service has nothing to reset
            return False
    return status(svc).state == "running"


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
    _import_tqdm_quietly()
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


def start_dashboard(log=print, app=None, args: tuple[str, ...] = (), paths=()) -> str:
    """Serve chapter 07's dashboard (dashboards/sales.py; or the Streamlit script ``app`` with ``args``,
    importing from ``paths``) on 127.0.0.1 unless it runs; its URL. It keeps running after this process ends, like `lab up`'s
    services: `lab dashboard down` stops it."""
    from lablib.services import _service

    svc = _dashboard(app, args, paths)
    with _process.lock(svc.name):
        _refuse_another_app(svc)
    _service.up([svc], log=log)
    return svc.address()


def serve_dashboard(app=None, args: tuple[str, ...] = (), paths=()) -> str:
    """The dashboard for a lab: started unless it runs, and stopped when this process ends or dies
    (like a served model), so a notebook leaves no server behind; its URL once it answers.
    ``app``, ``args``, ``paths``: another Streamlit script than chapter 07's (the capstone's), its
    arguments and the folders it imports from, served the same way."""
    from lablib.services import _service

    svc = _dashboard(app, args, paths)
    with _process.lock(svc.name):
        _refuse_another_app(svc)
        launch = _service._launch(svc, dies_with_parent=True)
    if launch is None:  # already up (`lab dashboard up`, or an earlier cell): use it
        _service._wait_existing(svc, svc.start_timeout)
    else:
        atexit.register(_stop_dashboard_at_exit, launch.proc.pid)
        _service._wait(launch)
    return svc.address()


def _dashboard(app, args, paths) -> Dashboard:
    return SERVED["dashboard"] if app is None else Dashboard(app, args, paths)


def _refuse_another_app(svc: Dashboard) -> None:
    # one dashboard port per home: a running one serving another script must not pass for this one
    record = _process.read_pid(svc.name)
    what = svc.served()
    if record is None or not _process.is_alive(record) or what is None:
        return
    if (what["app"], list(what["args"])) != (str(svc.app), list(svc.args)):
        raise LabError(f"this home's dashboard serves {_script(what['app'])}, not {_script(svc.app)}: "
                       "`lab dashboard down` stops it first")


def _script(path) -> str:
    # a script of this checkout by its path in the repository, any other as rel() shows it
    from lablib.config import REPO

    path = Path(path)
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else rel(path)


def _stop_dashboard_at_exit(pid: int) -> None:
    record = _process.read_pid(SERVED["dashboard"].name)
    if record is not None and record.pid == pid:
        stop_dashboard(log=lambda line: None)


def stop_dashboard(log=print) -> bool:
    """Stop this home's dashboard; True when one was running."""
    from lablib.services import _service

    svc = SERVED["dashboard"]
    record = _process.read_pid(svc.name)
    running = record is not None and _process.is_alive(record)
    if record is not None:
        _service.down([svc], log=log)
    return running


def _reset_served(prefix: str) -> list[str]:
    removed = []
    if prefix == "ch07" and stop_dashboard(log=lambda line: None):
        removed.append("dashboard (Streamlit)")
    return removed + _reset_model(prefix)


def _reset_model(prefix: str) -> list[str]:
    what = SERVED["model"].served()
    if what and str(what.get("name", "")).startswith(f"{prefix}-"):
        if stop_model(quiet=True):
            return [f"model server ({what['name']} version {what['version']})"]
        SERVED["model"].forget()
    return []


def start_in_background(name: str) -> bool:
    """Launch an embedded service that is down and return at once (True when launched); the next
    helper that needs it (``mlflow_uri()``, ...) waits until it answers. Its start then overlaps
    whatever the lab does meanwhile."""
    from lablib.services import _service

    svc = SERVICES[name]
    if svc.external() is not None or _answers(name):
        return False
    with _process.lock(svc.name):
        return _service._launch(svc) is not None


def reset_chapter(number: str, uses: tuple[str, ...] = ()) -> list[str]:
    """Delete chapter NN's topics (`chNN.*`), experiments and models (`chNN-*`) and subjects
    (`chNN.*`), on services that already run or are external. A model of the chapter being served
    is stopped. ``uses``: the services the chapter needs; one that is down is started in the
    background (or, when its stored state holds the chapter's leftovers, started and cleared now)."""
    prefix = f"ch{number}"
    removed: list[str] = _reset_served(prefix)
    for name in uses:
        svc = SERVICES[name]
        if svc.external() is None and not _answers(name):
            if svc.leftovers(prefix):
                ensure(svc)  # what a run of this chapter may have left before it stopped: clear it now
            elif start_in_background(name):
                removed.append(f"({svc.title} starting in the background)")
    for name, reset in (("kafka", _reset_kafka), ("mlflow", _reset_mlflow), ("registry", _reset_registry)):
        if _answers(name):
            removed += reset(prefix)
    return removed


# -- class-data caches -------------------------------------------------------------

CLASS_DATA = ("kafka", "registry")  # the JVM services whose classes `lab setup` records


def class_data_cache(name: str) -> Path | None:
    """Where service ``name``'s class-data cache is (or would be) for this JVM and these jars;
    None without its Java or its jars (lablib/services/class_data.py)."""
    from lablib.services import class_data

    try:
        return class_data.cache(name, *SERVICES[name].jvm_files())
    except LabError:
        return None


def record_class_data(log=print) -> None:
    """`lab setup`: record each JVM service's class-data cache unless it is up to date."""
    from lablib.services import class_data

    for name in CLASS_DATA:
        try:
            files = SERVICES[name].jvm_files()
        except LabError as exc:
            log(f"{name} class-data cache: skipped ({exc})")
            continue
        class_data.record(name, *files, log=log)


# -- headless runs ---------------------------------------------------------------

def running() -> set[str]:
    """This home's embedded services that run now (by their PID files)."""
    return {name for name, svc in SERVICES.items()
            if svc.external() is None and (record := _process.read_pid(name)) and _process.is_alive(record)}


def stop(names: set[str] | list[str], log=print) -> None:
    """Stop these embedded services of this home (`lab run` stops the ones it started)."""
    down([SERVICES[name] for name in SERVICES if name in names], log=log)


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

