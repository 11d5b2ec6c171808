"""IoT telemetry: a reading every 15 minutes from every machine, one CSV file per day.

Failures are scheduled first; in the 24 hours before each failure the machine
drifts (temperature, vibration, power up, rpm down, depending on the failure
mode) so a model can learn to predict failures from the readings. Each day is
generated from its own random stream, so days are independent and can be
written in parallel; late events are the one link between neighbouring days.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lablib.data import _ref, spoil
from lablib.data._io import arrow, fmt_seconds, ids, strings, write_csv
from lablib.data._rng import rng
from lablib.data.dims import SALES_END, machines
from lablib.data.scales import Scale

SLOT = 900            # seconds between readings
HORIZON = 96          # slots of drift before a failure (24 h)
COLUMNS = ("event_time", "machine_id", "temperature_c", "vibration_mm_s", "rpm", "power_kw", "status")
NEW_COLUMN = "firmware_version"  # appears from two thirds into the window on (schema change)

# per failure mode: how strongly it moves temperature, vibration, rpm, power
_MODE_WEIGHTS = np.array([
    [0.3, 1.0, 0.2, 0.3],   # bearing_wear
    [1.0, 0.3, 0.1, 0.5],   # overheating
    [0.4, 0.3, 0.3, 1.0],   # motor_fault
    [0.2, 0.6, 1.0, 0.6],   # jam
])

RATES = {"na_temperature": 0.002, "null_vibration": 0.002, "outlier_temperature": 0.0005,
         "casing_machine_id": 0.001, "casing_status": 0.001, "mixed_dates": 0.001,
         "malformed_dates": 0.0002, "duplicates": 0.001, "late": 0.002, "out_of_order": 0.002}


@dataclass
class Plan:
    """Everything shared by all days: machines, their nominal readings and the failure schedule."""

    seed: int
    scale: Scale
    nominal: dict
    offset: np.ndarray     # per machine: seconds after the slot at which it reports
    order: np.ndarray      # machines sorted by offset (rows of one slot in time order)
    fail: np.ndarray       # (M, K) failure slot, padded with a huge value
    down: np.ndarray       # (M, K) slots of downtime after the failure
    mode: np.ndarray       # (M, K) failure mode index

    @property
    def start_day(self) -> int:
        return SALES_END - self.scale.days + 1

    @property
    def new_column_day(self) -> int:
        return (2 * self.scale.days) // 3


def plan(seed: int, scale: Scale) -> Plan:
    _, nominal = machines(seed, scale.machines)
    r = rng(seed, "failures")
    m, total = scale.machines, scale.days * scale.readings_per_day
    k = 4
    count = np.minimum(r.poisson(scale.days / 25.0, m), k)
    slots = np.sort(r.integers(HORIZON, max(HORIZON + 1, total), (m, k)), axis=1)
    # keep failures at least two horizons apart so drifts do not overlap
    keep = np.arange(k)[None, :] < count[:, None]
    gap_ok = np.ones((m, k), dtype=bool)
    gap_ok[:, 1:] = np.diff(slots, axis=1) > 2 * HORIZON
    keep &= np.cumprod(gap_ok, axis=1).astype(bool)
    big = np.iinfo(np.int64).max // 4
    fail = np.where(keep, slots, big)
    down = r.integers(4, 17, (m, k))
    mode = r.integers(0, len(_ref.FAILURE_MODES), (m, k))
    offset = r.integers(0, 60, m)
    return Plan(seed, scale, nominal, offset, np.argsort(offset, kind="stable"), fail, down, mode)


def failures_table(p: Plan) -> pa.Table:
    """The maintenance log: every failure in the window (the label of the MLOps chapter)."""
    mi, ki = np.nonzero(p.fail < np.iinfo(np.int64).max // 4)
    slot = p.fail[mi, ki]
    t = p.start_day * 86400 + slot * SLOT + p.offset[mi]
    order = np.lexsort((mi, t))
    mi, ki, t = mi[order], ki[order], t[order]
    return pa.table({
        "failure_id": ids("FL-", np.arange(1, len(mi) + 1), 5),
        "machine_id": ids("M-", mi + 1, 5),
        "failure_time": fmt_seconds(t),
        "failure_mode": pa.array([_ref.FAILURE_MODES[x] for x in p.mode[mi, ki].tolist()], pa.string()),
        "downtime_minutes": arrow((p.down[mi, ki] * SLOT // 60).astype(np.int32)),
    })


def _clean_day(p: Plan, d: int) -> dict:
    """Clean readings of day d (index in the window), rows in time order."""
    s = p.scale
    m, rr = s.machines, s.readings_per_day
    r = rng(p.seed, "telemetry", d)
    # Drift, downtime and failure readings only touch the few machines with a
    # failure within a horizon of this day: compute them for those rows only.
    # Everywhere else prog is 0 and every drift factor is exactly 1.0, so
    # nominal * factor is bit for bit the nominal value.
    lo, hi = d * rr, d * rr + rr - 1
    near = np.flatnonzero(((p.fail - HORIZON <= hi) & (p.fail + p.down >= lo)).any(axis=1))
    g = (lo + np.arange(rr))[None, :, None]                           # (1, R, 1)
    fs = p.fail[near, None, :]                                        # (m', 1, K)
    ramp = np.where(g < fs, np.clip((g - (fs - HORIZON)) / HORIZON, 0.0, 1.0), 0.0)
    which = ramp.argmax(axis=2)                                       # the nearest failure
    prog_n = np.take_along_axis(ramp, which[:, :, None], axis=2)[:, :, 0]
    w = _MODE_WEIGHTS[np.take_along_axis(np.broadcast_to(p.mode[near, None, :], ramp.shape), which[:, :, None], axis=2)[:, :, 0]]
    since = g - fs
    prog = np.zeros((m, rr))
    prog[near] = prog_n
    down = np.zeros((m, rr), dtype=bool)
    down[near] = ((since >= 0) & (since < p.down[near, None, :])).any(axis=2)
    first = np.zeros((m, rr), dtype=bool)
    first[near] = (since == 0).any(axis=2)
    hour = (np.arange(rr) * SLOT) // 3600
    idle = (r.random((m, rr)) < np.where(hour < 6, 0.35, 0.04)[None, :]) & ~down & (prog == 0)

    def factor(f):
        out = np.ones((m, rr))
        out[near] = f
        return out

    nom = p.nominal
    nt, nv, nr, npw = (nom[k][:, None] for k in ("temperature", "vibration", "rpm", "power"))
    temp = nt * factor(1 + 0.18 * prog_n * w[..., 0]) + r.normal(0, 0.8, (m, rr))
    vib = nv * factor(1 + 2.5 * prog_n**2 * w[..., 1]) * r.lognormal(0, 0.08, (m, rr))
    rpm = nr * factor(1 - 0.15 * prog_n * w[..., 2]) + r.normal(0, 1, (m, rr)) * 0.01 * nr
    power = npw * factor(1 + 0.25 * prog_n * w[..., 3]) * r.normal(1, 0.03, (m, rr))
    rest = idle | down
    temp = np.where(rest, 24 + 0.3 * (nt - 24) + r.normal(0, 0.8, (m, rr)), temp)
    vib = np.where(rest, 0.05 * nv * r.lognormal(0, 0.2, (m, rr)), vib)
    rpm = np.where(rest, 0, rpm)
    power = np.where(rest, np.where(down, 0.02, 0.05) * npw, power)
    status = np.zeros((m, rr), dtype=np.int8)                         # RUNNING
    status[(prog > 0.6) & (r.random((m, rr)) < 0.35)] = 2             # WARNING
    status[idle] = 1
    status[down] = 4
    status[first] = 3

    # rows slot by slot; within a slot machines in the order they report
    o = p.order
    def flat(a):
        return a[o].T.reshape(-1)
    return {
        "epoch": (p.start_day + d) * 86400 + np.repeat(np.arange(rr) * SLOT, m) + np.tile(p.offset[o], rr),
        "machine": np.tile(o, rr),
        "temperature_c": np.round(flat(temp), 2) + 0.0,
        "vibration_mm_s": np.round(flat(vib), 3) + 0.0,
        "rpm": np.round(flat(rpm)).astype(np.int32),
        "power_kw": np.round(flat(power), 2) + 0.0,
        "status": flat(status),
    }


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer values as (their distinct values, ascending; each value's index among them)."""
    lo = int(values.min())
    span = int(values.max()) - lo + 1
    if span > 4 * len(values) + 4096:
        distinct, code = np.unique(values, return_inverse=True)
        return distinct, code.astype(np.int32)
    used = np.zeros(span, dtype=bool)
    used[values - lo] = True
    distinct = np.flatnonzero(used)
    lookup = np.zeros(span, dtype=np.int32)
    lookup[distinct] = np.arange(len(distinct), dtype=np.int32)
    return distinct + lo, lookup[values - lo]


def _number_codes(x: np.ndarray, decimals: int) -> tuple[pa.Array, np.ndarray]:
    """Numbers rounded to ``decimals`` as (their distinct values as text, each value's index).

    The text is Arrow's own double -> string cast, the one the CSV writer applies
    to a double column, so a column taken from it is written byte for byte the
    same; each distinct value is formatted once instead of once per row.
    """
    scale = 10.0 ** decimals
    distinct, code = _codes(np.rint(x * scale).astype(np.int64))
    values = distinct / scale + 0.0
    if not np.array_equal(values[code], x):  # not exactly k / 10**decimals: key on the values themselves
        values, inverse = np.unique(x, return_inverse=True)
        code = inverse.astype(np.int32)
    return pc.cast(arrow(values), pa.string()), code


class _Column:
    """A text column as a small dictionary of distinct values plus one index per row.

    Dirt appends its values to the dictionary and points the spoiled rows at
    them; the column's text is built once, for the rows in file order.
    """

    def __init__(self, text: pa.Array, code: np.ndarray):
        self.parts, self.size = [text], len(text)
        self.code = np.array(code, dtype=np.int32)

    def spoil(self, rows: np.ndarray, values: list, which: np.ndarray | None = None) -> None:
        """Rows get ``values[which]`` (``which`` = 0, 1, ... by default; a value None = null)."""
        if len(rows) == 0:
            return
        self.code[rows] = self.size + (np.arange(len(rows)) if which is None else which)
        self.parts.append(strings(values))
        self.size += len(values)

    def take(self, rows: np.ndarray) -> pa.Array:
        if len(self.parts) > 1:
            self.parts = [pa.concat_arrays(self.parts)]
        return self.parts[0].take(arrow(self.code[rows]))


def _day(p: Plan, d: int, own_rows: bool = True) -> tuple[pa.Table | None, np.ndarray, np.ndarray, pa.Table, dict]:
    """Day d with its dirt: (own rows, their epoch, parseable mask, late rows for tomorrow, counts).

    Without ``own_rows`` only the late rows are built (the first own table is None).
    """
    c = _clean_day(p, d)
    n = len(c["epoch"])
    r = rng(p.seed, "telemetry-dirt", d)
    rates = dict(RATES)
    if d == p.scale.days - 1:
        rates["late"] = 0.0  # nothing comes after the last batch
    rows = spoil.pick(r, n, spoil.sizes(n, rates))

    # the random draws below keep the order they always had (same seed -> same bytes)
    epoch = c["epoch"]
    day0 = (p.start_day + d) * 86400
    seconds, code = _codes(epoch - day0)
    t = _Column(fmt_seconds(day0 + seconds), code)
    t.spoil(rows["mixed_dates"], spoil.mixed_timestamps(r, epoch[rows["mixed_dates"]]))
    t.spoil(rows["malformed_dates"], spoil.malformed_timestamps(r, epoch[rows["malformed_dates"]]))
    machine = c["machine"]
    mid = _Column(ids("M-", np.arange(1, p.scale.machines + 1), 5), machine)
    mid.spoil(rows["casing_machine_id"],
              spoil.recase(r, mid.take(rows["casing_machine_id"]).to_pylist()))
    temp = _Column(*_number_codes(c["temperature_c"], 2))
    temp.spoil(rows["na_temperature"], ["NA"], np.zeros(len(rows["na_temperature"]), dtype=np.int64))
    k = len(rows["outlier_temperature"])
    temp.spoil(rows["outlier_temperature"], ["999.9", "-99.9"], (r.random(k) >= 0.7).astype(np.int64))
    vib = _Column(*_number_codes(c["vibration_mm_s"], 3))
    vib.spoil(rows["null_vibration"], [None], np.zeros(len(rows["null_vibration"]), dtype=np.int64))
    status = _Column(strings(list(_ref.STATUSES)), c["status"])
    status.spoil(rows["casing_status"],
                 spoil.recase(r, status.take(rows["casing_status"]).to_pylist()))
    columns = {
        "event_time": t, "machine_id": mid, "temperature_c": temp, "vibration_mm_s": vib,
        "rpm": _Column(*_int_codes(c["rpm"])), "power_kw": _Column(*_number_codes(c["power_kw"], 2)),
        "status": status, NEW_COLUMN: _Column(strings(p.nominal["firmware"]), machine),
    }
    valid = np.ones(n, dtype=bool)
    valid[rows["malformed_dates"]] = False

    late = rows["late"]
    own = np.ones(n, dtype=bool)
    own[late] = False
    # out of order: a row arrives two slots after its neighbours
    key = np.arange(n, dtype=np.float64)
    key[rows["out_of_order"]] += 2 * p.scale.machines + 0.5
    order = np.argsort(key, kind="stable")
    order = order[own[order]]
    # duplicates: the same reading sent twice in a row
    times = np.ones(n, dtype=np.int64)
    times[rows["duplicates"]] = 2
    order = np.repeat(order, times[order])
    counts = {
        "duplicate_rows": len(rows["duplicates"]),
        "na_strings": len(rows["na_temperature"]),
        "nulls": len(rows["null_vibration"]),
        "outliers": k,
        "casing_machine_id": len(rows["casing_machine_id"]),
        "casing_status": len(rows["casing_status"]),
        "mixed_format_dates": len(rows["mixed_dates"]),
        "malformed_dates": len(rows["malformed_dates"]),
        "late_events": len(late),
    }

    def table(at: np.ndarray, names) -> pa.Table:
        return pa.table({name: columns[name].take(at) for name in names})

    mine = None
    if own_rows:  # the new column only from the day the schema changes
        mine = table(order, list(COLUMNS) + ([NEW_COLUMN] if d >= p.new_column_day else []))
    return mine, epoch[order], valid[order], table(late, list(COLUMNS) + [NEW_COLUMN]), counts


def _int_codes(x: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Integers as (their distinct values as text, each value's index)."""
    distinct, code = _codes(x.astype(np.int64))
    return pc.cast(arrow(distinct.astype(x.dtype)), pa.string()), code


def write_days(seed: int, scale: Scale, folder: Path, first: int, stop: int, p: Plan | None = None) -> list[dict]:
    """Write the files of days [first, stop); returns per-file counts. Runs in worker processes too."""
    p = p or plan(seed, scale)
    carry = _day(p, first - 1, own_rows=False)[3] if first > 0 else None
    out = []
    for d in range(first, stop):
        own, epoch, valid, late, counts = _day(p, d)
        cols = own.column_names
        table = own if carry is None else pa.concat_tables([own, carry.select(cols)])
        name = file_name(p.start_day + d)
        size = write_csv(folder / name, table)
        counts.update(file=f"telemetry/{name}", rows=table.num_rows, bytes=size,
                      late_in_file=0 if carry is None else carry.num_rows,
                      out_of_order_events=spoil.out_of_order(epoch, valid))
        out.append(counts)
        carry = late
    return out


def _ready() -> None:
    """A worker's first task: nothing (unpickling it imports this module)."""


def file_name(day_number: int) -> str:
    return f"{np.datetime64(int(day_number), 'D')}.csv"


def generate(seed: int, scale: Scale, root: Path, workers: int | None = None) -> tuple[dict, pa.Table]:
    """Write telemetry/ under root; returns (dirt report, failures table)."""
    folder = root / "telemetry"
    days = scale.days
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if scale.telemetry_rows > 2_000_000 else 1
    workers = min(workers, days)
    if workers > 1:
        import concurrent.futures as cf
        import multiprocessing as mp

        # this process writes the first share itself (no carry-over day to redo); the
        # workers start (and import) while it makes the plan, and get the plan from it
        bounds = np.linspace(0, days, workers + 1).astype(int)
        shares = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        with cf.ProcessPoolExecutor(len(shares) - 1, mp_context=mp.get_context("spawn")) as pool:
            for _ in shares[1:]:
                pool.submit(_ready)
            p = plan(seed, scale)
            jobs = [pool.submit(write_days, seed, scale, folder, a, b, p) for a, b in shares[1:]]
            files = write_days(seed, scale, folder, *shares[0], p)
            files += [f for job in jobs for f in job.result()]
    else:
        p = plan(seed, scale)
        files = write_days(seed, scale, folder, 0, days, p)
    total = lambda key: sum(f[key] for f in files)  # noqa: E731
    report = {
        "rows": total("rows"),
        "files": len(files),
        "duplicate_rows": total("duplicate_rows"),
        "na_strings": {"temperature_c": total("na_strings")},
        "nulls": {"vibration_mm_s": total("nulls")},
        "outliers": {"temperature_c": total("outliers")},
        "casing_whitespace": {"machine_id": total("casing_machine_id"), "status": total("casing_status")},
        "mixed_format_dates": {"event_time": total("mixed_format_dates")},
        "malformed_dates": {"event_time": total("malformed_dates")},
        "late_events": total("late_in_file"),
        "out_of_order_events": total("out_of_order_events"),
        "schema_change": {"column": NEW_COLUMN, "first_file": f"telemetry/{file_name(p.start_day + p.new_column_day)}",
                          "files": days - p.new_column_day},
    }
    return report, failures_table(p)
