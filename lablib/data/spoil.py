"""Seeding dirt: pick disjoint rows and spoil them in documented, countable ways.

Each kind of dirt lands on its own rows (never two kinds on one row), so every
count in dirt.json is exact and an independent pass over the files finds the
same numbers. The definitions a counter needs are in docs/datasets.md.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lablib.data._io import fmt_seconds

TS = "%Y-%m-%d %H:%M:%S"                                # canonical timestamp
TS_OTHER = ("%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")  # mixed formats: parse, but not canonical
DATE = "%Y-%m-%d"
DATE_OTHER = ("%d.%m.%Y", "%Y/%m/%d")


def sizes(n: int, rates: dict[str, float]) -> dict[str, int]:
    """How many rows each kind of dirt gets among n rows (a rate of the rows, rounded)."""
    return {kind: int(round(rate * n)) for kind, rate in rates.items()}


def pick(rng: np.random.Generator, n: int, counts: dict[str, int], allowed: np.ndarray | None = None
         ) -> dict[str, np.ndarray]:
    """Disjoint sorted row indices for each kind (from ``allowed`` rows if given)."""
    pool = np.arange(n) if allowed is None else np.asarray(allowed)
    order = rng.permutation(pool)
    total = sum(counts.values())
    if total > len(order):  # tiny tables: shrink every kind in proportion
        f = len(order) / max(total, 1)
        counts = {k: int(v * f) for k, v in counts.items()}
    out, at = {}, 0
    for kind, k in counts.items():
        out[kind] = np.sort(order[at:at + k])
        at += k
    return out


def replace(arr: pa.Array, idx: np.ndarray, values) -> pa.Array:
    """``arr`` with rows ``idx`` (sorted) replaced by ``values`` (None = null)."""
    if len(idx) == 0:
        return arr
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(values, type=arr.type))


def recase(rng: np.random.Generator, values: list[str]) -> list[str]:
    """Inconsistent casing or stray whitespace; always differs from the canonical value."""
    out = []
    for v, how in zip(values, rng.integers(0, 4, len(values)).tolist(), strict=True):
        if how == 0 and v.lower() != v:
            out.append(v.lower())
        elif how == 1 and v.upper() != v:
            out.append(v.upper())
        elif how == 2:
            out.append(" " + v)
        else:
            out.append(v + "  ")
    return out


def mixed_timestamps(rng: np.random.Generator, epoch: np.ndarray) -> list[str]:
    """The same instants in a non-canonical (but parseable) format."""
    which = rng.integers(0, len(TS_OTHER), len(epoch))
    out = np.empty(len(epoch), dtype=object)
    for i, fmt in enumerate(TS_OTHER):
        sel = which == i
        if sel.any():
            out[sel] = fmt_seconds(epoch[sel], fmt).to_pylist()
    return out.tolist()


def malformed_timestamps(rng: np.random.Generator, epoch: np.ndarray) -> list[str]:
    """Strings that no accepted format parses: month 13, or cut off mid-way."""
    text = fmt_seconds(epoch).to_pylist()
    how = rng.integers(0, 2, len(text)).tolist()
    return [t[:5] + "13" + t[7:] if h == 0 else t[:13] for t, h in zip(text, how, strict=True)]


def mixed_dates(rng: np.random.Generator, days: np.ndarray) -> list[str]:
    which = rng.integers(0, len(DATE_OTHER), len(days))
    out = np.empty(len(days), dtype=object)
    for i, fmt in enumerate(DATE_OTHER):
        sel = which == i
        if sel.any():
            out[sel] = fmt_seconds(np.asarray(days[sel], dtype=np.int64) * 86400, fmt).to_pylist()
    return out.tolist()


def malformed_dates(rng: np.random.Generator, days: np.ndarray) -> list[str]:
    text = fmt_seconds(np.asarray(days, dtype=np.int64) * 86400, DATE).to_pylist()
    how = rng.integers(0, 2, len(text)).tolist()
    return [t[:5] + "13" + t[7:] if h == 0 else t[:4] + "-" + t[5:7] for t, h in zip(text, how, strict=True)]


def out_of_order(epoch: np.ndarray, valid: np.ndarray) -> int:
    """Rows whose time is earlier than some row before them (only rows with ``valid`` times)."""
    t = epoch[valid]
    if len(t) < 2:
        return 0
    running = np.maximum.accumulate(t)
    return int((t[1:] < running[:-1]).sum())
