"""Seeded random streams: one independent numpy Generator per (seed, table, part).

Every table (and every daily batch of a table) draws from its own stream, so
generating one part never shifts the numbers of another, and batches can be
generated in any order or in parallel with byte-identical results. Keys are
hashed with crc32, never Python's ``hash()``, which changes between processes.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(part) -> int:
    if isinstance(part, int | np.integer):
        return int(part) & 0xFFFFFFFF
    return zlib.crc32(str(part).encode("utf-8"))


def rng(seed: int, *parts) -> np.random.Generator:
    """The random stream for ``parts`` (e.g. ``rng(42, "telemetry", 3)``) under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *map(_key, parts)])))
