"""Every setting of the workbench, in one place.

Each setting is an environment variable with a default, listed in
:data:`ENVIRONMENT`. Values are read when asked for (not at import), so a test or
a notebook can change the environment and see the change. No other module of
lablib reads ``os.environ`` (tests/test_architecture.py checks it); modules may
only hand an environment on to the processes they start.

How the dataset scale travels (one route, design note)
------------------------------------------------------
The scale is one value: LAB_SCALE as :func:`settings` reads it (``settings().scale``),
and :mod:`lablib.data` reads it nowhere else.

* A learner sets LAB_SCALE (or keeps the default, ``small``) and leaves the
  notebook's parameter ``SCALE = None``.
* ``lab run --scale X`` (and ``lab run --save``) hands X to the notebook only as
  papermill's ``SCALE`` parameter; it does not touch the kernel's environment.
  The notebook's first cell, ``lablib.reset("NN", scale=SCALE)``, is the one
  place that turns the parameter into the kernel's setting: :func:`use_scale`
  validates it and sets LAB_SCALE for this kernel and the processes it starts.
* nbval (CI) runs notebooks as a learner would: LAB_SCALE=ci, ``SCALE = None``.

Every scale a person types goes through :func:`validate_scale`, the one
validator (``lab run``, ``lab data``, ``reset`` and ``lablib.data.scales.resolve``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: the repository checkout this lablib belongs to (lablib is installed editable)
REPO = Path(__file__).resolve().parent.parent

#: each embedded service's port, and the Spark UI's and JupyterLab's: the first LAB_HOME on a machine
#: gets these, every other home free ports of its own (lablib/ports.py records them in the home)
DEFAULT_PORTS = {"kafka": 9092, "kafka_controller": 9093, "registry": 8081, "mlflow": 5000,
                 "model": 5001, "spark_ui": 4040, "jupyter": 8888, "orchestrator": 3000,
                 "dashboard": 8501, "connect": 15002}
#: the variables that set a port explicitly (they win over the home's record and are never recorded)
PORT_VARIABLES = {"kafka": "LAB_KAFKA_PORT", "kafka_controller": "LAB_KAFKA_CONTROLLER_PORT",
                  "registry": "LAB_REGISTRY_PORT", "mlflow": "LAB_MLFLOW_PORT", "model": "LAB_MODEL_PORT",
                  "spark_ui": "LAB_SPARK_UI_PORT", "jupyter": "LAB_JUPYTER_PORT",
                  "orchestrator": "LAB_ORCHESTRATOR_PORT", "dashboard": "LAB_DASHBOARD_PORT",
                  "connect": "LAB_CONNECT_PORT"}

#: the named dataset scales; any other scale is a positive factor of ``small`` up to MAX_SCALE_FACTOR
SCALES = ("ci", "small", "full")
MAX_SCALE_FACTOR = 1000


#: LAB_SPARK_GATEWAY ("port:secret"): a warm Spark JVM (lablib/shared_jvm.py) this process attaches to
#: instead of starting its own. Taken out of the environment as lablib loads, so a process this one
#: starts (a subprocess's Spark, a Dagster run) starts its own JVM and never shares the kernel's.
_SPARK_GATEWAY = os.environ.pop("LAB_SPARK_GATEWAY", None)


def spark_gateway() -> tuple[int, str] | None:
    """The shared JVM's py4j (port, secret) this process was given, or None: start a JVM of its own."""
    if not _SPARK_GATEWAY:
        return None
    port, _, secret = _SPARK_GATEWAY.partition(":")
    try:
        return int(port), secret
    except ValueError:
        raise ValueError(f"LAB_SPARK_GATEWAY={_SPARK_GATEWAY!r} is not port:secret; unset it") from None


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; unset it or give a number") from None


def _port(name: str) -> int:
    port = _int(name, 0)
    if not 0 < port < 65536:
        raise ValueError(f"{name}={port} is not a TCP port; unset it or give a number from 1 to 65535")
    return port


def _homes_index() -> Path:
    return Path(_env("LAB_HOMES_INDEX", "~/.cache/mega-awesome-toys/homes")).expanduser()


def _positive(name: str) -> float | None:
    raw = _env(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise ValueError(f"{name}={raw!r} is not a positive number of seconds; unset it or give one")
    return value


@dataclass(frozen=True)
class Settings:
    """A snapshot of every setting. Build one with :func:`settings`."""

    home: Path
    scale: str
    spark_master: str
    spark_remote: str | None
    driver_memory: str
    spark_local_ip: str  # the address Spark's web UI binds in local mode (SPARK_LOCAL_IP)
    shuffle_partitions: int
    kafka_bootstrap: str | None  # None: the embedded broker
    mlflow_uri: str | None  # None: the embedded tracking server
    registry_url: str | None  # None: the embedded schema registry
    port_overrides: dict[str, int]  # ports set by LAB_*_PORT (lablib.ports.port() gives the one to use)
    homes_index: Path  # the machine-wide index of LAB_HOMEs (lablib/ports.py)
    ci: bool
    jars_override: Path | None = None
    checks_strict: bool = False  # a failed check raises after printing (lab run / CI, solutions)
    catch_up: bool = True  # after a ❌ in a notebook, the solution's cells for it run (lablib/catchup.py)
    catch_up_verify: bool = False  # ... and then the solution's check cell judges the reference answer
    java_home: Path | None = None  # the Java runtime of Spark and the embedded services
    calibration_seconds: float | None = None  # None: measured (lablib.calibration)
    chromium: Path | None = None  # None: found on PATH (lablib.browser)
    terraform: str | None = None  # None: terraform, else tofu, found on PATH (lablib.iac)
    cds: bool = True  # the local driver maps the class-data archive `lab setup` recorded (lablib/jvm/cds.py)
    cds_record: Path | None = None  # set for the one driver that records that archive at its exit
    cds_record_service: str | None = None  # "<service>=<path>": the one service JVM that records its cache at exit

    # -- folders under LAB_HOME ------------------------------------------------
    @property
    def jars(self) -> Path:
        return self.jars_override or self.home / "jars"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def checkpoints(self) -> Path:
        return self.home / "checkpoints"

    @property
    def scratch(self) -> Path:
        return self.home / "scratch"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def state(self) -> Path:
        """PID files and other bookkeeping of the embedded services."""
        return self.home / "state"

    @property
    def progress_file(self) -> Path:
        return self.home / "progress.json"

    # -- embedded or external ------------------------------------------------
    @property
    def kafka_embedded(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def mlflow_embedded(self) -> bool:
        return self.mlflow_uri is None

    @property
    def registry_embedded(self) -> bool:
        return self.registry_url is None


@dataclass(frozen=True)
class Targets:
    """Where the course's code runs and at what scale: what a project built on lablib may ask (the capstone)."""

    scale: str  # LAB_SCALE
    kafka: str | None  # KAFKA_BOOTSTRAP_SERVERS: someone else's broker; None: the embedded one
    spark: str | None  # SPARK_REMOTE, or a LAB_SPARK_MASTER that is not local[...]; None: Spark in local mode
    mlflow: str | None = None  # MLFLOW_TRACKING_URI: someone else's tracking server; None: the embedded one
    registry: str | None = None  # SCHEMA_REGISTRY_URL: someone else's schema registry; None: the embedded one


def targets() -> Targets:
    """The scale and the services that are not the embedded ones, from :func:`settings`."""
    s = settings()
    cluster = s.spark_remote or (None if s.spark_master.startswith("local") else s.spark_master)
    return Targets(scale=s.scale, kafka=s.kafka_bootstrap, spark=cluster, mlflow=s.mlflow_uri,
                   registry=s.registry_url)


def settings() -> Settings:
    """Read every setting from the environment (see the README's table)."""
    home = Path(_env("LAB_HOME", str(REPO / ".lab"))).expanduser()
    if not home.is_absolute():
        home = (Path.cwd() / home).resolve()
    scale = _env("LAB_SCALE", "small")
    return Settings(
        home=home,
        scale=scale,
        spark_master=_env("LAB_SPARK_MASTER", "local[*]"),
        spark_remote=_env("SPARK_REMOTE"),
        driver_memory=_env("LAB_DRIVER_MEMORY", "2g"),
        spark_local_ip=_env("SPARK_LOCAL_IP", "127.0.0.1"),
        shuffle_partitions=_int("LAB_SHUFFLE_PARTITIONS", 4),
        kafka_bootstrap=_env("KAFKA_BOOTSTRAP_SERVERS"),
        mlflow_uri=_env("MLFLOW_TRACKING_URI"),
        registry_url=_env("SCHEMA_REGISTRY_URL"),
        port_overrides={name: _port(var) for name, var in PORT_VARIABLES.items() if _env(var) is not None},
        homes_index=_homes_index(),
        ci=_env("CI", "false").lower() in ("1", "true", "yes"),
        jars_override=Path(_env("LAB_JARS_DIR")).expanduser() if _env("LAB_JARS_DIR") else None,
        checks_strict=_env("LAB_CHECKS_STRICT") == "1",
        catch_up=_env("LAB_CATCH_UP") != "0",
        catch_up_verify=_env("LAB_CATCH_UP_VERIFY") == "1",
        java_home=Path(_env("JAVA_HOME")).expanduser() if _env("JAVA_HOME") else None,
        calibration_seconds=_positive("LAB_CALIBRATION_SECONDS"),
        chromium=Path(_env("LAB_CHROMIUM")).expanduser() if _env("LAB_CHROMIUM") else None,
        terraform=_env("LAB_TERRAFORM"),
        cds=_env("LAB_CDS", "on").lower() not in ("off", "0", "false", "no"),
        cds_record=Path(_env("LAB_CDS_RECORD")) if _env("LAB_CDS_RECORD") else None,
        cds_record_service=_env("LAB_CDS_RECORD_SERVICE") or None,
    )


def validate_scale(scale: str | float | int) -> str:
    """A dataset scale as lablib names it (``"ci"``, ``"small"``, ``"full"`` or a number as
    text), or one LabError. The only validator of scales: ``lab run --scale``, ``lab data
    --scale``, ``lablib.reset(..., scale=)`` and the dataset generator all use it."""
    import math

    from lablib.errors import LabError

    text = str(scale).strip().lower()
    if text in SCALES:
        return text
    try:
        factor = float(text)
    except ValueError:
        factor = None
    if factor is None or not math.isfinite(factor) or factor <= 0 or factor > MAX_SCALE_FACTOR:
        raise LabError(
            f"unknown dataset scale {str(scale)!r}: use {', '.join(SCALES)} or a positive number "
            f"up to {MAX_SCALE_FACTOR} (a factor of small)"
        )
    return text


def use_scale(scale: str | float | int) -> str:
    """Make ``scale`` this process's LAB_SCALE (validated); returns it as :func:`validate_scale` names it.

    ``lablib.reset(..., scale=SCALE)`` calls it: papermill's SCALE parameter becomes the
    kernel's setting here and nowhere else (see the design note at the top of this module).
    """
    text = validate_scale(scale)
    os.environ["LAB_SCALE"] = text
    return text


#: every environment variable lablib reads, with what it means (README and doctor print it)
ENVIRONMENT = {
    "LAB_HOME": "where jars, data, tables, checkpoints, logs and runs live (default: .lab/ in the repo)",
    "LAB_JARS_DIR": "where `lab setup` puts the jars (default: $LAB_HOME/jars); share one copy between homes",
    "LAB_SCALE": "dataset scale the labs use: ci, small (default), full or a number",
    "LAB_SPARK_MASTER": "Spark master URL (default local[*]); e.g. spark://host:7077",
    "SPARK_REMOTE": "a Spark Connect URL (sc://host:15002); wins over LAB_SPARK_MASTER",
    "LAB_DRIVER_MEMORY": "driver heap (default 2g)",
    "LAB_CDS": "off: start the Spark driver, the Kafka broker and the schema registry without the class-data files `lab setup` records (default: use them when present)",
    "LAB_CDS_RECORD": "set by `lab setup` for the one Spark run that records the class-data archive (its path)",
    "LAB_CDS_RECORD_SERVICE": "set by `lab setup` for the one service start that records its class-data cache (`kafka=<path>`, `registry=<path>`)",
    "SPARK_LOCAL_IP": "the address a local Spark session's web UI binds (default 127.0.0.1; the container sets 0.0.0.0 and publishes it on the host's 127.0.0.1)",
    "LAB_SPARK_GATEWAY": "port:secret of a warm Spark JVM to attach to instead of starting one (set by CI for each solution notebook, lablib/shared_jvm.py; never set it by hand)",
    "LAB_SHUFFLE_PARTITIONS": "spark.sql.shuffle.partitions (default 4, sized for 2 cores)",
    "LAB_SPARK_UI_PORT": "first port tried for the Spark UI (default: the home's recorded port, 4040 for the first home)",
    "KAFKA_BOOTSTRAP_SERVERS": "an external Kafka; unset = the embedded broker",
    "LAB_KAFKA_PORT": "embedded broker port (default: the home's recorded port, 9092 for the first home)",
    "LAB_KAFKA_CONTROLLER_PORT": "embedded KRaft controller port (default: recorded, 9093 for the first home)",
    "MLFLOW_TRACKING_URI": "an external MLflow server; unset = the embedded one",
    "LAB_MLFLOW_PORT": "embedded MLflow port (default: recorded, 5000 for the first home)",
    "SCHEMA_REGISTRY_URL": "an external schema registry; unset = the embedded one",
    "LAB_REGISTRY_PORT": "embedded schema registry port (default: recorded, 8081 for the first home)",
    "LAB_JUPYTER_PORT": "JupyterLab port for `make lab` / `lab jupyter` (default: recorded, 8888 for the first home)",
    "LAB_HOMES_INDEX": "the machine's index of LAB_HOMEs and the ports they hold (default ~/.cache/mega-awesome-toys/homes)",
    "LAB_TERRAFORM": "the Terraform-compatible binary chapter 08c runs (default: terraform, else tofu, on PATH)",
    "LAB_CHROMIUM": "the Chromium (or Chrome) the browser tests drive (default: chromium found on PATH)",
    "LAB_MODEL_PORT": "port of a model served with lablib.serve_model (default: recorded, 5001 for the first home)",
    "LAB_CONNECT_PORT": "port of the Spark Connect server `lab up connect` starts (default: recorded, 15002 for the first home)",
    "LAB_DASHBOARD_PORT": "port of chapter 07's Streamlit dashboard, `lab dashboard up` (default: recorded, 8501 for the first home)",
    "LAB_ORCHESTRATOR_PORT": "port of the Dagster UI `lab orchestrator up` serves (default: recorded, 3000 for the first home)",
    "LAB_CHECKS_STRICT": "1: a failed check raises after printing (`lab run` and CI set it for solutions)",
    "LAB_CATCH_UP": "0: after a ❌ the lab does not run the reference answer in its place (catch-up is on by default)",
    "LAB_CATCH_UP_VERIFY": "1: after catch-up, the solution's check cell runs again and prints whether the reference "
                           "answer passes its check here (tests use it; default off)",
    "JAVA_HOME": "the Java runtime of Spark and the embedded services (default: `java` on PATH)",
    "CI": "true on CI machines (default false)",
    "LAB_CALIBRATION_SECONDS": "seconds of one calibration unit, instead of measuring it; budgets are judged at exactly this (to replay a verdict)",
}


#: what lablib sets for MLflow in a lab's process and hands to the MLflow processes it starts: no
#: telemetry (no phoning home from a classroom laptop, no waiting on a blocked network), no progress
#: bars or run links printed into notebook cells (a lab prints the address it means)
MLFLOW_CLIENT_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents); an unwritable place becomes one clear LabError."""
    import errno

    from lablib.errors import LabError, cannot_write

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(path, exc.errno, exc.strerror, verb="create") from None
    if not os.access(path, os.W_OK):
        if os.statvfs(path).f_flag & os.ST_RDONLY:  # root may write anywhere, except there
            raise cannot_write(path, errno.EROFS)
        raise LabError(f"{path} is not writable; set LAB_HOME to a folder you can write")
    return path
