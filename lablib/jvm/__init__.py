"""JVM dependencies: Maven POMs pinned here, resolved into ``$LAB_HOME/jars``.

Each folder under ``lablib/jvm/`` holds one ``pom.xml`` (a "jar set"). ``lab
setup`` copies every set's runtime dependencies into ``$LAB_HOME/jars/<set>``
with Maven, or, where ``mvn`` is absent, with Spark's own Ivy resolver. The
``spark`` set drops the jars pip's pyspark already ships, so the classpath
carries one copy of each library.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from lablib.config import ensure_dir, settings
from lablib.errors import LabError

JVM_DIR = Path(__file__).resolve().parent
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class Coordinate:
    group: str
    artifact: str
    version: str
    type: str = "jar"
    classifier: str | None = None

    def __str__(self) -> str:
        parts = [self.group, self.artifact, self.version]
        return ":".join(parts)


def jar_sets() -> list[str]:
    """Names of the pinned jar sets (folders under lablib/jvm with a pom.xml)."""
    return sorted(p.parent.name for p in JVM_DIR.glob("*/pom.xml"))


def pom_path(name: str) -> Path:
    return JVM_DIR / name / "pom.xml"


def properties(name: str) -> dict[str, str]:
    """The <properties> of a set's POM (versions live there)."""
    root = ET.parse(pom_path(name)).getroot()
    props = root.find("m:properties", _NS)
    if props is None:
        return {}
    return {child.tag.split("}")[1]: (child.text or "").strip() for child in props}


def coordinates(name: str) -> list[Coordinate]:
    """The direct dependencies of a set, with ${properties} filled in."""
    props = properties(name)

    def fill(text: str | None) -> str | None:
        if text is None:
            return None
        return re.sub(r"\$\{([^}]+)\}", lambda m: props.get(m.group(1), m.group(0)), text.strip())

    root = ET.parse(pom_path(name)).getroot()
    out = []
    for dep in root.findall("m:dependencies/m:dependency", _NS):
        def get(tag: str, dep=dep) -> str | None:
            return fill(getattr(dep.find(f"m:{tag}", _NS), "text", None))

        out.append(
            Coordinate(
                get("groupId"), get("artifactId"), get("version"),
                get("type") or "jar", get("classifier"),
            )
        )
    return out


def jars_dir(name: str) -> Path:
    return settings().jars / name


def _artifacts(folder: Path) -> list[Path]:
    """Jars, and the one service Maven Central ships as a tar.gz (the schema registry)."""
    return sorted([*folder.glob("*.jar"), *folder.glob("*.tar.gz")]) if folder.is_dir() else []


def jars(name: str) -> list[Path]:
    """The resolved jars of a set, or a LabError naming `lab setup`."""
    folder = jars_dir(name)
    found = _artifacts(folder)
    if not found or not _stamp_ok(name):
        raise LabError(
            f"JVM dependencies missing or out of date in {folder}: run `lab setup`"
        )
    return found


def _fingerprint(name: str) -> str:
    h = hashlib.sha256(pom_path(name).read_bytes())
    if name == "spark":
        h.update("\n".join(sorted(_pyspark_artifacts())).encode())
    return h.hexdigest()


def _stamp_ok(name: str) -> bool:
    stamp = jars_dir(name) / ".stamp.json"
    try:
        return json.loads(stamp.read_text())["fingerprint"] == _fingerprint(name)
    except (OSError, ValueError, KeyError):
        return False


def is_resolved(name: str) -> bool:
    return bool(_artifacts(jars_dir(name))) and _stamp_ok(name)


def _artifact_id(jar: str) -> str:
    """`kafka-clients-3.9.2.jar` -> `kafka-clients` (drop the version and what follows)."""
    m = re.match(r"(.+?)-\d[\w.]*(-[\w.]+)?\.jar$", jar)
    return m.group(1) if m else jar.removesuffix(".jar")


def java_path() -> Path | None:
    """The `java` Spark and the embedded services run: JAVA_HOME's, else the one on PATH; None if none."""
    java_home = settings().java_home
    found = str(java_home / "bin" / "java") if java_home else shutil.which("java")
    return Path(found) if found and Path(found).exists() else None


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _pyspark_artifacts() -> set[str]:
    folder = pyspark_home() / "jars"
    return {_artifact_id(p.name) for p in folder.glob("*.jar")}


def _run_maven(name: str, out: Path) -> None:
    cmd = [
        shutil.which("mvn"), "-B", "-q", "-f", str(pom_path(name)),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={out}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        missing = sorted(set(re.findall(r"([\w.\-]+:[\w.\-]+:(?:jar|pom|tar\.gz):[\w.\-]+)", text)))
        what = ", ".join(missing[:6]) if missing else "see the Maven output below"
        tail = "\n".join([line for line in text.splitlines() if "ERROR" in line][:8])
        raise LabError(
            f"Maven could not resolve the '{name}' jar set ({what}); check the network "
            f"to Maven Central and the versions in {pom_path(name).relative_to(JVM_DIR.parent.parent)}\n{tail}"
        )


def _run_ivy(name: str, out: Path) -> None:
    """Resolve with spark-submit --packages (Spark's bundled Ivy), then copy the jars."""
    ivy = settings().home / "ivy"
    odd = [str(c) for c in coordinates(name) if c.type != "jar" or c.classifier]
    if odd:
        raise LabError(
            f"the '{name}' jar set needs Maven ({', '.join(odd)} is not a plain jar, which Spark's Ivy "
            "cannot fetch): install Maven (`apt-get install maven`) and run `lab setup` again"
        )
    packages = ",".join(
        f"{c.group}:{c.artifact}:{c.version}" for c in coordinates(name) if c.type == "jar"
    )
    noop = Path(tempfile.mkdtemp()) / "noop.py"
    noop.write_text("")
    submit = pyspark_home() / "bin" / "spark-submit"
    cmd = [str(submit), "--packages", packages, "--conf", f"spark.jars.ivy={ivy}",
           "--conf", f"spark.jars.ivySettings={JVM_DIR / 'ivysettings.xml'}", str(noop)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        unresolved = re.findall(r"UNRESOLVED DEPENDENCIES.*?::\s+([\w.:\-]+)", proc.stderr, re.S)
        raise LabError(
            f"Ivy could not resolve the '{name}' jar set ({', '.join(unresolved) or packages}); "
            "install Maven (`apt-get install maven`) and run `lab setup` again"
        )
    for jar in (ivy / "jars").glob("*.jar"):
        # Ivy names jars group_artifact-version.jar; keep the artifact part.
        shutil.copy2(jar, out / jar.name.split("_", 1)[-1] if "_" in jar.name else out / jar.name)


def resolve(name: str, force: bool = False, log=print) -> list[Path]:
    """Resolve one jar set into $LAB_HOME/jars/<name>; fast no-op when up to date."""
    target = jars_dir(name)
    if not force and is_resolved(name):
        found = _artifacts(target)
        log(f"  {name}: up to date ({len(found)} jars)")
        return found
    ensure_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        if shutil.which("mvn"):
            log(f"  {name}: resolving {len(coordinates(name))} pinned dependencies with Maven …")
            _run_maven(name, tmp)
        else:
            log(f"  {name}: `mvn` not found, falling back to Spark's Ivy resolver …")
            _run_ivy(name, tmp)
        if name == "spark":
            shipped = _pyspark_artifacts()
            for jar in list(tmp.glob("*.jar")):
                if _artifact_id(jar.name) in shipped:
                    jar.unlink()
        (tmp / ".stamp.json").write_text(
            json.dumps({"fingerprint": _fingerprint(name), "python": sys.version.split()[0]})
        )
        # swap in atomically: never leave a half-filled jar folder behind
        old = None
        if target.exists():
            old = target.with_name(f".{name}-old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    found = _artifacts(target)
    size = sum(p.stat().st_size for p in found) / 1e6
    log(f"  {name}: {len(found)} jars, {size:.0f} MB in {target}")
    return found


def setup(force: bool = False, log=print) -> None:
    """Resolve every jar set (`lab setup`)."""
    names = jar_sets()
    ensure_dir(settings().home)
    for i, name in enumerate(names, 1):
        log(f"[{i}/{len(names)}] jar set '{name}'")
        resolve(name, force=force, log=log)
