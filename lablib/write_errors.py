"""Spark writes the disk refused (full, read-only, no permission), as one LabError sentence.

A Delta write that fails because LAB_HOME's disk is full reaches Python as a
Py4JJavaError of several hundred lines of Java stack; what a person can fix is
one line deep inside it. In a notebook, :func:`install` (called by
``lablib.spark()``) shows such an error as a LabError naming the folder and the
fix; every other error is shown exactly as before. Plain Python (scripts,
tests) sees Spark's own exception, and :func:`explain` turns it into the
sentence on demand.

A failed Delta write commits nothing: the table keeps its last version, and
the files the failed job wrote stay unreferenced until VACUUM removes them.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from lablib.config import settings
from lablib.errors import LabError, cannot_write
from lablib.paths import local_path

#: what the JVM says, innermost cause first found
_CAUSES = (
    ("No space left on device", errno.ENOSPC),
    ("Disk quota exceeded", errno.EDQUOT),
    ("Read-only file system", errno.EROFS),
    ("Permission denied", errno.EACCES),
)
#: where Spark and Delta name the folder they were writing (a path may hold spaces: to the line's end)
_FOLDER = (
    re.compile(r"writing rows to (file:[^\n]+?)\.?(?: SQLSTATE|\n|$)"),  # [TASK_WRITE_FAILED]
    re.compile(r"Cannot create (file:[^\n]+?)/_delta_log"),  # [DELTA_CANNOT_CREATE_LOG_PATH]
    # a file the OS refused: "java.io.FileNotFoundException: /…/part-0.parquet (Read-only file system)"
    re.compile(r"Exception: (/[^\n]+?)/[^/\n]+ \((?:" + "|".join(c for c, _ in _CAUSES) + r")\)"),
)


def _folder(text: str) -> Path | None:
    for pattern in _FOLDER:
        found = pattern.search(text)
        if found:
            return local_path(found.group(1))
    return None


def _filesystem_refuses(folder: Path) -> int | None:
    """ENOSPC or EROFS when the filesystem holding ``folder`` is full or read-only now."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        fs = os.statvfs(probe)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if fs.f_bavail == 0:
        return errno.ENOSPC
    return None


def explain(exc: BaseException) -> LabError | None:
    """The one sentence for a Spark write the disk refused, or None for any other error."""
    text = str(exc)  # a Py4JJavaError's text holds the Java exception and all its causes
    folder = _folder(text)
    code = next((c for marker, c in _CAUSES if marker in text), None)
    if code is None and folder is not None:
        code = _filesystem_refuses(folder)  # Delta's "Cannot create …/_delta_log" names no cause
    if code is None:
        return None
    error = cannot_write(folder or settings().home, code)
    if "_delta_log" in text or "org.apache.spark.sql.delta" in text:
        error = LabError(f"{error.message}; nothing of this write was committed to the Delta table")
        error.errno = code
    return error


def _exceptions() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return (Py4JJavaError, PySparkException)


def _show(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for Spark's exceptions: a refused write as a LabError, the rest unchanged."""
    error = explain(value)
    if error is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    else:
        shell.showtraceback((LabError, error, None))  # LabError renders as its one sentence


def install() -> None:
    """In an IPython kernel, show Spark writes the disk refused as one LabError; elsewhere nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or shell.custom_exceptions not in ((), _exceptions()):
        return  # another handler is installed: leave it alone
    shell.set_custom_exc(_exceptions(), _show)
