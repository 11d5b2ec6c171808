"""Source patches lablib carries for a pinned JVM library, compiled once into a small jar.

One today: ``lineage/patch/FilesystemDatasetUtils.java``, which makes the OpenLineage listener quote
a table location holding a space (a LAB_HOME like "home 10b" lost every catalog table's lineage).
The jar goes before the listener's own on the driver's classpath (``lablib.session``). It is built
with the JDK's ``javac`` against the resolved listener jar, cached in ``$LAB_JARS_DIR/lineage-patch``
under a name that carries a hash of the sources and of the jar, written to a temp file and renamed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lablib import jvm

PATCH_DIR = jvm.JVM_DIR / "lineage" / "patch"
_warned = False


def _javac() -> str | None:
    from lablib.config import settings

    home = settings().java_home
    if home and (Path(home) / "bin" / "javac").exists():
        return str(Path(home) / "bin" / "javac")
    return shutil.which("javac")


def lineage_patch() -> Path | None:
    """The compiled patch jar for the OpenLineage listener, or None (with one line on stderr) when
    it cannot be built here (no ``javac``)."""
    global _warned
    sources = sorted(PATCH_DIR.glob("*.java"))
    listener = jvm.jars("lineage")
    digest = hashlib.sha256()
    for path in [*sources, *listener]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.suffix == ".java" else str(path.stat().st_size).encode())
    folder = jvm.jars_dir("lineage-patch")
    jar = folder / f"lablib-openlineage-patch-{digest.hexdigest()[:12]}.jar"
    if jar.exists():
        return jar
    javac = _javac()
    if not javac:
        if not _warned:
            _warned = True
            print("lineage: no `javac` here, so the OpenLineage listener drops catalog tables whose path holds "
                  "a space; install a JDK (openjdk-17-jdk-headless) and restart the kernel", file=sys.stderr)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        classes = Path(tmp) / "classes"
        done = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", os.pathsep.join(map(str, listener)),
             "-d", str(classes), *map(str, sources)],
            capture_output=True, text=True)
        if done.returncode != 0:
            if not _warned:
                _warned = True
                first = (done.stderr.strip().splitlines() or ["?"])[0]
                print(f"lineage: the OpenLineage patch did not compile ({first}); catalog tables under a path "
                      "with a space will have no lineage", file=sys.stderr)
            return None
        partial = Path(tmp) / jar.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            for cls in sorted(classes.rglob("*.class")):
                z.write(cls, cls.relative_to(classes).as_posix())
        partial.replace(jar)  # atomic: a concurrent session sees the whole jar or none
    return jar
