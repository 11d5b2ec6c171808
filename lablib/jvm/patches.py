"""Java sources lablib carries for pinned JVM libraries, each set compiled once into a small jar.

- ``lineage/patch/FilesystemDatasetUtils.java`` makes the OpenLineage listener quote a table location
  holding a space (a LAB_HOME like "home 10b" lost every catalog table's lineage). Its jar goes before
  the listener's own on the driver's classpath (``lablib.session``).
- ``localfs/lab/hadoop/*.java`` is Hadoop's local file system without a process per call: without
  Hadoop's native library, every file Spark or Delta creates cost a ``chmod`` process and every Delta
  commit several ``readlink`` ones (about 7 ms each here). ``lablib.session`` names the classes in
  ``fs.file.impl`` and ``fs.AbstractFileSystem.file.impl`` when the jar exists.

Each jar is built with the JDK's ``javac`` against the jars it patches, cached in
``$LAB_JARS_DIR/<name>`` under a name that carries a hash of the sources and of those jars, written
to a temp file and renamed. Without ``javac`` a patch is left out, with one line on stderr.
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
LOCAL_FS_DIR = jvm.JVM_DIR / "localfs"
#: the classes lablib.session names for file: paths when local_fs_patch() built them
LOCAL_FS_CONF = {
    "spark.hadoop.fs.file.impl": "lab.hadoop.ForklessLocalFileSystem",
    "spark.hadoop.fs.AbstractFileSystem.file.impl": "lab.hadoop.ForklessLocalFs",
}
_warned: set[str] = set()


def _javac() -> str | None:
    from lablib.config import settings

    home = settings().java_home
    if home and (Path(home) / "bin" / "javac").exists():
        return str(Path(home) / "bin" / "javac")
    return shutil.which("javac")


def _warn_once(name: str, line: str) -> None:
    if name not in _warned:
        _warned.add(name)
        print(line, file=sys.stderr)


def _patch_jar(name: str, sources: list[Path], against: list[Path], without: str) -> Path | None:
    """The jar of ``sources`` compiled against the jars ``against``, built once; None (with one line on
    stderr saying ``without``, what is lost) when it cannot be built here."""
    digest = hashlib.sha256()
    for path in [*sources, *against]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.suffix == ".java" else str(path.stat().st_size).encode())
    folder = jvm.jars_dir(name)
    jar = folder / f"lablib-{name}-{digest.hexdigest()[:12]}.jar"
    if jar.exists():
        return jar
    javac = _javac()
    if not javac:
        _warn_once(name, f"{name}: no `javac` here, so {without}; install a JDK (openjdk-17-jdk-headless) "
                         "and restart the kernel")
        return None
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        classes = Path(tmp) / "classes"
        done = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", os.pathsep.join(map(str, against)),
             "-d", str(classes), *map(str, sources)],
            capture_output=True, text=True)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["?"])[0]
            _warn_once(name, f"{name}: the patch did not compile ({first}), so {without}")
            return None
        partial = Path(tmp) / jar.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            for cls in sorted(classes.rglob("*.class")):
                z.write(cls, cls.relative_to(classes).as_posix())
        partial.replace(jar)  # atomic: a concurrent session sees the whole jar or none
    return jar


def lineage_patch() -> Path | None:
    """The compiled patch jar for the OpenLineage listener, or None (with one line on stderr) when
    it cannot be built here (no ``javac``)."""
    return _patch_jar("lineage-patch", sorted(PATCH_DIR.glob("*.java")), jvm.jars("lineage"),
                      "the OpenLineage listener drops catalog tables whose path holds a space")


def local_fs_patch() -> Path | None:
    """The compiled jar of the forkless local file system (against pyspark's own Hadoop jars), or None
    (with one line on stderr) when it cannot be built here; Spark then uses Hadoop's, only slower."""
    hadoop = sorted((jvm.pyspark_home() / "jars").glob("hadoop-client-api-*.jar"))
    return _patch_jar("localfs-patch", sorted(LOCAL_FS_DIR.rglob("*.java")), hadoop,
                      "Spark starts a process for every local file it creates (slower, same results)")
