"""Where things are: LAB_HOME, a chapter's folders, and paths fit to print.

On the face as ``lablib.home()``, ``lablib.workdir()``, ``lablib.checkpoint()``,
``lablib.rel()`` and ``lablib.local_path()``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from lablib import chapters
from lablib.config import ensure_dir, settings


def home() -> Path:
    """LAB_HOME: where jars, data, tables, checkpoints and logs live."""
    return settings().home


def workdir(chapter: str | int) -> Path:
    """This chapter's scratch folder under LAB_HOME (created if missing)."""
    return ensure_dir(settings().scratch / f"ch{chapters.normalise(chapter)}")


def checkpoint(chapter: str | int, name: str) -> str:
    """A streaming checkpoint location for one query of a chapter."""
    return str(settings().checkpoints / f"ch{chapters.normalise(chapter)}" / name)


def local_path(location: str | Path) -> Path:
    """A local path from a path or a ``file:`` URI, as Spark and the catalog report locations.

    ``file:/a/b``, ``file:///a/b`` and ``file://localhost/a/b`` all give ``/a/b``; a URI is
    %-decoded (``%20`` is a space: managed tables and streaming logs encode their paths). A plain
    path is returned as it is, never decoded.
    """
    text = str(location)
    if not text.startswith("file:"):
        return Path(text)
    rest = text.removeprefix("file:")
    if rest.startswith("//"):  # file://host/path or file:///path: drop the (local) host
        rest = "/" + rest[2:].partition("/")[2]
    return Path(unquote(rest))


def rel(path: str | Path) -> str:
    """A path shown relative to LAB_HOME, so printed outputs carry no user or host names."""
    text = str(path)
    if text.startswith("file:"):
        text = str(local_path(text))
    root = str(settings().home)
    if text.startswith(root):
        return "$LAB_HOME" + text[len(root):]
    return text
