"""Orders and order lines over three years, with growth, weekly rhythm and holiday peaks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lablib.data import _ref, spoil
from lablib.data._io import decimal, fmt_seconds, ids, money
from lablib.data._rng import rng
from lablib.data.dims import SALES_END, SALES_START, day
from lablib.data.scales import Scale

CHANNELS = ("store", "web", "marketplace")
STATUSES = ("completed", "cancelled", "returned")
ORDER_COLUMNS = ("order_id", "order_ts", "customer_id", "store_id", "channel", "status",
                 "payment_method", "total_amount", "session_id")
ORDER_DIRT = {"duplicate_rows": 0.005, "duplicate_keys": 0.002, "mixed_dates": 0.01, "malformed_dates": 0.001,
              "na_total": 0.002, "null_payment": 0.005, "outlier_total": 0.0005,
              "casing_channel": 0.005, "casing_status": 0.005}
LINE_DIRT = {"outlier_quantity": 0.0005, "null_discount": 0.001, "orphan_product": 0.0005}


def day_weights() -> tuple[np.ndarray, np.ndarray]:
    """Every sales day and its relative order volume."""
    days = np.arange(SALES_START, SALES_END + 1)
    dt = days.astype("datetime64[D]")
    year = dt.astype("datetime64[Y]").astype(int) + 1970
    month = dt.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (dt - dt.astype("datetime64[M]")).astype(int) + 1
    weekday = (days + 3) % 7                                    # 0 = Monday
    growth = 1 + 0.3 * (days - SALES_START) / 365.25
    week = np.array([0.9, 0.9, 0.95, 1.0, 1.15, 1.35, 1.2])[weekday]
    season = np.array([0.7, 0.75, 0.85, 0.9, 0.9, 0.85, 0.85, 0.9, 0.95, 1.0, 1.2, 1.6])[month - 1]
    # the run-up to Christmas, and Black Friday (the Friday after the 4th Thursday of November)
    xmas = (month == 12) & (dom <= 23)
    season = np.where(xmas, season * (1 + 1.5 * dom / 23), season)
    season = np.where((month == 12) & (dom >= 25), season * 0.5, season)
    first_thu = np.array([((day(f"{y}-11-01") + 3) % 7) for y in year])
    thanksgiving = 1 + (3 - first_thu) % 7 + 21
    black_friday = (month == 11) & (dom == thanksgiving + 1)
    cyber_monday = (month == 11) & (dom == thanksgiving + 4) | (month == 12) & (dom == thanksgiving + 4 - 30)
    season = np.where(black_friday, season * 3.5, np.where(cyber_monday, season * 2.5, season))
    return days, growth * week * season


def generate(seed: int, scale: Scale, people: dict, prod: dict, n_stores: int) -> tuple[dict, np.ndarray]:
    """Clean orders and lines as arrays (dirt is added when the files are written), and every
    customer's signup day moved before their first order. ``people`` is left as it was."""
    r = rng(seed, "orders")
    n = scale.orders
    days, w = day_weights()
    od = np.sort(r.choice(days, size=n, p=w / w.sum()))
    frac = (od - SALES_START) / (SALES_END - SALES_START)
    hours = np.array([0, 0, 0, 0, 0, 0, 1, 2, 4, 6, 8, 9, 10, 9, 9, 9, 9, 10, 11, 11, 10, 8, 5, 2], dtype=float)
    secs = r.choice(24, size=n, p=hours / hours.sum()) * 3600 + r.integers(0, 3600, n)
    ts = od * 86400 + secs
    order = np.argsort(ts, kind="stable")
    ts, od, frac = ts[order], od[order], frac[order]
    # online grows from a quarter to almost half of the orders, and more so in December
    dec = (od.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12) == 11
    p_web = 0.25 + 0.2 * frac + 0.05 * dec
    u = r.random(n)
    channel = np.where(u < p_web, 1, np.where(u < p_web + 0.12, 2, 0))
    store = np.where(channel == 0, r.integers(0, n_stores, n),
                     np.where(channel == 1, n_stores, n_stores + 1 + (r.random(n) < 0.4)))
    cw = np.asarray(people["_weight"])
    customer = r.choice(len(cw), size=n, p=cw / cw.sum())
    guest = (channel == 0) & (r.random(n) < 0.1)                 # walk-in buyers without a card
    customer = np.where(guest, -1, customer)
    status = r.choice(3, size=n, p=[0.92, 0.03, 0.05])
    pay_p = np.array([[0.45, 0.05, 0.35, 0.1, 0.05], [0.5, 0.3, 0.0, 0.1, 0.1], [0.6, 0.3, 0.0, 0.0, 0.1]])
    pay = (r.random(n)[:, None] > np.cumsum(pay_p[channel], axis=1)).sum(axis=1)
    pay = np.minimum(pay, len(_ref.PAYMENT_METHODS) - 1)

    k = 1 + np.minimum(r.poisson(1.0, n), 5)
    line_order = np.repeat(np.arange(n), k)
    starts = np.cumsum(k) - k
    line_no = np.arange(len(line_order)) - np.repeat(starts, k) + 1
    pop = prod["popularity"]
    product = r.choice(len(pop), size=len(line_order), p=pop / pop.sum())
    qty = 1 + r.poisson(0.4, len(line_order))
    disc = np.array([0.0, 0.1, 0.2, 0.3])[r.choice(4, size=len(line_order), p=[0.75, 0.15, 0.07, 0.03])]
    unit = prod["price_cents"][product]
    line_cents = np.round(qty * unit * (1 - disc)).astype(np.int64)
    total = np.bincount(line_order, weights=line_cents, minlength=n).astype(np.int64)
    cost = np.bincount(line_order, weights=qty * prod["cost_cents"][product], minlength=n).astype(np.int64)

    # a customer signs up before (or on) the day of their first order
    first = np.full(len(cw), np.iinfo(np.int64).max)
    buyers = customer >= 0
    np.minimum.at(first, customer[buyers], od[buyers])
    signup = np.asarray(people["_signup"])
    signup = np.where(first < signup, first - r.integers(0, 60, len(cw)), signup)
    orders = {"ts": ts, "day": od, "channel": channel, "store": store, "customer": customer, "status": status,
              "pay": pay, "total_cents": total, "cost_cents": cost, "line_order": line_order, "line_no": line_no,
              "product": product, "qty": qty, "disc": disc, "unit_cents": unit}
    return orders, signup


def store_ids(n_stores: int) -> list[str]:
    return [f"S-{i:04d}" for i in range(1, n_stores + 1)] + ["S-WEB", "S-MKT1", "S-MKT2"]


def orders_table(seed: int, o: dict, sessions: np.ndarray, n_stores: int) -> tuple[pa.Table, dict]:
    """The orders CSV with its dirt, and the dirt's exact counts. ``sessions``: per order, the
    clickstream session that placed it, or None (``clickstream.generate`` derives them)."""
    n = len(o["ts"])
    r = rng(seed, "orders-dirt")
    rows = spoil.pick(r, n, spoil.sizes(n, ORDER_DIRT))
    ts = fmt_seconds(o["ts"])
    ts = spoil.replace(ts, rows["mixed_dates"], spoil.mixed_timestamps(r, o["ts"][rows["mixed_dates"]]))
    ts = spoil.replace(ts, rows["malformed_dates"], spoil.malformed_timestamps(r, o["ts"][rows["malformed_dates"]]))
    cust = ids("C-", np.maximum(o["customer"], 0) + 1, 7)
    cust = pa.array(cust.to_numpy(zero_copy_only=False), mask=o["customer"] < 0)
    channel = pa.array(list(CHANNELS)).take(pa.array(o["channel"]))
    channel = spoil.replace(channel, rows["casing_channel"], spoil.recase(r, channel.take(rows["casing_channel"]).to_pylist()))
    status = pa.array(list(STATUSES)).take(pa.array(o["status"]))
    status = spoil.replace(status, rows["casing_status"], spoil.recase(r, status.take(rows["casing_status"]).to_pylist()))
    pay = pa.array(list(_ref.PAYMENT_METHODS)).take(pa.array(o["pay"]))
    pay = spoil.replace(pay, rows["null_payment"], [None] * len(rows["null_payment"]))
    total = pa.array(money(o["total_cents"] / 100)).cast(pa.string())
    total = spoil.replace(total, rows["na_total"], ["NA"] * len(rows["na_total"]))
    k = len(rows["outlier_total"])
    # outside the valid range [0, 100000): a negative total, or the 999999.99 "unknown" sentinel
    bad = np.where(r.random(k) < 0.5, -o["total_cents"][rows["outlier_total"]], 99_999_999) / 100
    total = spoil.replace(total, rows["outlier_total"], pa.array(money(bad)).cast(pa.string()).to_pylist())
    table = pa.table({
        "order_id": ids("O-", np.arange(1, n + 1), 8), "order_ts": ts, "customer_id": cust,
        "store_id": pa.array(store_ids(n_stores)).take(pa.array(o["store"])), "channel": channel,
        "status": status, "payment_method": pay, "total_amount": total,
        "session_id": pa.array(sessions.tolist(), pa.string()),
    })
    # re-sent rows land later in the export: exact copies, and copies whose status changed since
    dup, key = rows["duplicate_rows"], rows["duplicate_keys"]
    changed = pa.array(list(STATUSES)).take(pa.array((o["status"][key] + 1 + r.integers(0, 2, len(key))) % 3))
    copies = pa.concat_tables([table.take(pa.array(dup)),
                               table.take(pa.array(key)).set_column(5, "status", changed)])
    pos = np.concatenate([np.arange(n, dtype=np.float64),
                          np.concatenate([dup, key]) + 0.5 + r.integers(0, max(1, n // 20), len(dup) + len(key))])
    full = pa.concat_tables([table, copies]).take(pa.array(np.argsort(pos, kind="stable")))
    report = {
        "rows": full.num_rows,
        "duplicate_rows": len(dup),
        "duplicate_keys": len(key),
        "na_strings": {"total_amount": len(rows["na_total"])},
        "nulls": {"payment_method": len(rows["null_payment"])},
        "outliers": {"total_amount": k},
        "casing_whitespace": {"channel": len(rows["casing_channel"]), "status": len(rows["casing_status"])},
        "mixed_format_dates": {"order_ts": len(rows["mixed_dates"])},
        "malformed_dates": {"order_ts": len(rows["malformed_dates"])},
    }
    return full, report


def lines_table(seed: int, o: dict, n_products: int) -> tuple[pa.Table, dict]:
    n = len(o["line_order"])
    r = rng(seed, "order-lines-dirt")
    rows = spoil.pick(r, n, spoil.sizes(n, LINE_DIRT))
    qty = o["qty"].astype(np.int32).copy()
    qty[rows["outlier_quantity"]] = np.where(r.random(len(rows["outlier_quantity"])) < 0.5, 0, 1000)
    dmask = np.zeros(n, dtype=bool)
    dmask[rows["null_discount"]] = True
    product = ids("P-", o["product"] + 1, 5)
    # orphans (P-9xxxx) never collide with real ids: no scale has 90,000 products
    product = spoil.replace(product, rows["orphan_product"],
                           [f"P-9{i:04d}" for i in r.integers(0, 10_000, len(rows["orphan_product"])).tolist()])
    table = pa.table({
        "order_id": ids("O-", o["line_order"] + 1, 8),
        "line_no": pa.array(o["line_no"].astype(np.int32)),
        "product_id": product,
        "quantity": pa.array(qty),
        "unit_price": decimal(o["unit_cents"], 10),
        "discount_pct": pa.array(o["disc"], mask=dmask),
    })
    return table, {
        "rows": n,
        "nulls": {"discount_pct": len(rows["null_discount"])},
        "outliers": {"quantity": len(rows["outlier_quantity"])},
        "orphan_product_ids": len(rows["orphan_product"]),
    }
