"""The Mega Awesome Toys datasets.

PLACEHOLDER: filled in by the datasets issue. The names below are the
interface the rest of lablib relies on; keep them.
"""

from __future__ import annotations


def read(table: str, scale: str | None = None):
    """A dataset table as a Spark DataFrame (generated on first use)."""
    raise NotImplementedError("data.read")


def add_commands(subparsers) -> None:
    """Register `lab data` on the CLI's subparsers."""
