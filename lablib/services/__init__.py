"""Real local services: Kafka (KRaft), MLflow and a schema registry.

PLACEHOLDER: filled in by the services issue. The names below are the
interface the rest of lablib relies on; keep them.
"""

from __future__ import annotations


def kafka_config(**overrides) -> dict:
    raise NotImplementedError("services: kafka_config")


def mlflow_uri() -> str:
    raise NotImplementedError("services: mlflow_uri")


def registry_url() -> str:
    raise NotImplementedError("services: registry_url")


def reset_chapter(number: str) -> list[str]:
    """Delete chapter NN's topics (`chNN.*`), experiments (`chNN-*`) and subjects; only
    on services that are already running or configured externally. Returns what was removed."""
    return []


def health() -> list[tuple[str, bool, str]]:
    """(service, ok, one-line detail) for `lab doctor`."""
    return []


def add_commands(subparsers) -> None:
    """Register `lab up`, `lab down`, `lab status` on the CLI's subparsers."""
