"""The finance ledger: double-entry journals derived from the orders plus monthly costs.

Clean on purpose (finance data is reconciled): every journal balances, so the
ledger is the reference a learner reconciles the cleansed orders against.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lablib.data import _ref
from lablib.data._io import decimal
from lablib.data._rng import rng
from lablib.data.dims import SALES_END, SALES_START, dates
from lablib.data.sales import CHANNELS

_NAME = dict(_ref.ACCOUNTS)
RETURN_LAG = 14  # days between a sale and its return being booked


def generate(seed: int, o: dict) -> pa.Table:
    r = rng(seed, "ledger")
    days = np.arange(SALES_START, SALES_END + 1)
    nd, nc = len(days), len(CHANNELS)
    cell = (o["day"] - SALES_START) * nc + o["channel"]
    sold = o["status"] != 1  # cancelled orders never reach the books
    revenue = np.bincount(cell[sold], weights=o["total_cents"][sold], minlength=nd * nc).astype(np.int64)
    cost = np.bincount(cell[sold], weights=o["cost_cents"][sold], minlength=nd * nc).astype(np.int64)
    ret = o["status"] == 2
    rcell = np.minimum(o["day"][ret] + RETURN_LAG - SALES_START, nd - 1) * nc + o["channel"][ret]
    returns = np.bincount(rcell, weights=o["total_cents"][ret], minlength=nd * nc).astype(np.int64)

    # (day, journal kind, channel or -1, debit account, credit account, cents, description)
    entries: list[tuple[int, int, str, str, int, str]] = []
    for i in np.nonzero(revenue | returns)[0].tolist():
        d, c = days[i // nc], CHANNELS[i % nc]
        if revenue[i]:
            entries.append((d, c, "1100", "4000", int(revenue[i]), f"{c} sales"))
            entries.append((d, c, "5000", "1300", int(cost[i]), f"{c} cost of goods sold"))
        if returns[i]:
            entries.append((d, c, "4100", "1100", int(returns[i]), f"{c} returns"))
    months = np.unique(days.astype("datetime64[M]"))
    monthly_sales = max(1, int(revenue.sum() // len(months)))
    for m in months:
        last = int((m + 1).astype("datetime64[D]").astype(np.int64)) - 1
        q4 = m.astype(int) % 12 >= 9
        entries.append((last, None, "6100", "1000", int(monthly_sales * r.uniform(0.16, 0.18)), "salaries"))
        entries.append((last, None, "6200", "2100", int(monthly_sales * r.uniform(0.05, 0.06)), "rent and utilities"))
        entries.append((last, None, "6300", "2100", int(monthly_sales * r.uniform(0.04, 0.05) * (1.8 if q4 else 1)), "marketing"))
        entries.append((last, None, "1300", "2100", int(monthly_sales * r.uniform(0.38, 0.45)), "stock from factories"))
        entries.append((last, None, "2100", "1000", int(monthly_sales * r.uniform(0.5, 0.6)), "supplier payments"))
    entries.sort(key=lambda e: (e[0], e[2]))

    n = len(entries)
    jday = np.array([e[0] for e in entries])
    journal = [f"J-{np.datetime64(int(d), 'D').astype(object).year}-{i:06d}" for i, d in enumerate(jday.tolist(), 1)]
    acct = [a for e in entries for a in (e[2], e[3])]
    cents = np.repeat([e[4] for e in entries], 2)
    is_debit = np.tile([True, False], n)
    return pa.table({
        "entry_id": pa.array(np.arange(1, 2 * n + 1, dtype=np.int64)),
        "journal_id": pa.array(np.repeat(journal, 2).tolist()),
        "entry_date": dates(np.repeat(jday, 2)),
        "account_id": pa.array(acct),
        "account_name": pa.array([_NAME[a] for a in acct]),
        "description": pa.array(np.repeat([e[5] for e in entries], 2).tolist()),
        "channel": pa.array(np.repeat(np.array([e[1] for e in entries], dtype=object), 2).tolist(), pa.string()),
        "debit": decimal(np.where(is_debit, cents, 0)),
        "credit": decimal(np.where(is_debit, 0, cents)),
    })
