"""Web clickstream: nested JSON events of sessions, one JSON-lines file per day.

Every web order inside the window gets the session that produced it: the
session's purchase event carries the order_id and the order's lines as cart
items, and the order's session_id points back. Other sessions browse and leave.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lablib.data import _ref, spoil
from lablib.data._io import fmt_seconds, write_lines
from lablib.data._rng import rng
from lablib.data.dims import SALES_END
from lablib.data.scales import Scale

RATES = {"duplicates": 0.005, "late": 0.005, "out_of_order": 0.01, "corrupt": 0.001}


def _sessions(seed: int, scale: Scale, o: dict, prod: dict, n_customers: int) -> tuple[list, np.ndarray]:
    """All sessions of the window, each a list of its events (clean, times in ms), and per order
    the session that placed it (None for orders outside the web shop's window)."""
    r = rng(seed, "clickstream")
    start_day = SALES_END - scale.days + 1
    conv = np.nonzero((o["channel"] == 1) & (o["day"] >= start_day))[0]
    n_browse = max(0, scale.sessions - len(conv))
    hours = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 6, 6, 6, 7, 8, 9, 9, 7, 4, 2], dtype=float)
    b_start = (start_day * 86400 + r.integers(0, scale.days, n_browse) * 86400
               + r.choice(24, n_browse, p=hours / hours.sum()) * 3600 + r.integers(0, 3600, n_browse))
    c_dur = r.integers(120, 1800, len(conv))
    # a converting session starts inside the window even when its order came early on day one
    starts = np.concatenate([np.maximum(o["ts"][conv] - c_dur, start_day * 86400), b_start])
    ends = np.concatenate([o["ts"][conv], b_start + r.integers(20, 1500, n_browse)])
    # where each order's lines sit in the line arrays
    line_start = np.searchsorted(o["line_order"], conv)
    line_stop = np.searchsorted(o["line_order"], conv, side="right")
    anon = r.random(n_browse) < 0.6
    users = np.concatenate([o["customer"][conv], np.where(anon, -1, r.integers(0, n_customers, n_browse))])
    ua = r.integers(0, len(_ref.USER_AGENTS), len(starts))
    order = np.lexsort((np.arange(len(starts)), starts))
    pids = [f"P-{i:05d}" for i in range(1, len(prod["price_cents"]) + 1)]
    # popular products are viewed more: inverse-CDF draws (rng.choice with p= is O(products) per call)
    cdf = np.cumsum(prod["popularity"] / prod["popularity"].sum())

    def product() -> str:
        return pids[min(int(np.searchsorted(cdf, r.random(), side="right")), len(pids) - 1)]

    cats = sorted({x[1] for x in _ref.TOY_LINES})
    sessions = []
    session_of_order = np.full(len(o["ts"]), None, dtype=object)
    for number, s in enumerate(order.tolist(), 1):
        sid = f"SES-{number:07d}"
        converting = s < len(conv)
        u = int(users[s])
        session = {"session_id": sid, "user_id": f"C-{u + 1:07d}" if u >= 0 else None,
                   "device": _ref.USER_AGENTS[ua[s]][1], "user_agent": _ref.USER_AGENTS[ua[s]][0]}
        steps: list[tuple[str, str, str, list | None, str | None]] = []  # action, url, page type, cart, order
        cart: list[dict] = []
        steps.append(("page_view", "/", "home", None, None))
        for _ in range(int(r.poisson(2.0))):
            kind = r.random()
            if kind < 0.25:
                steps.append(("search", f"/search?q={_ref.SEARCH_TERMS[r.integers(len(_ref.SEARCH_TERMS))].replace(' ', '+')}", "search", None, None))
            elif kind < 0.5:
                steps.append(("page_view", f"/c/{cats[r.integers(len(cats))]}", "category", None, None))
            else:
                steps.append(("page_view", f"/p/{product()}", "product", None, None))
        if converting:
            oi = conv[s]
            for li in range(line_start[s], line_stop[s]):
                pid = pids[o["product"][li]]
                steps.append(("page_view", f"/p/{pid}", "product", None, None))
                cart.append({"product_id": pid, "quantity": int(o["qty"][li]),
                             "unit_price": round(int(o["unit_cents"][li]) / 100, 2)})
                steps.append(("add_to_cart", f"/p/{pid}", "product", list(cart), None))
            steps.append(("page_view", "/cart", "cart", list(cart), None))
            steps.append(("checkout", "/checkout", "checkout", list(cart), None))
            steps.append(("purchase", "/checkout/confirm", "confirmation", list(cart), f"O-{oi + 1:08d}"))
            session_of_order[oi] = sid
        elif r.random() < 0.3:
            for _ in range(1 + int(r.random() < 0.3)):
                pid = product()
                cart.append({"product_id": pid, "quantity": 1, "unit_price": round(int(prod["price_cents"][int(pid[2:]) - 1]) / 100, 2)})
                steps.append(("add_to_cart", f"/p/{pid}", "product", list(cart), None))
            if r.random() < 0.3:
                gone = cart.pop()
                steps.append(("remove_from_cart", f"/p/{gone['product_id']}", "product", list(cart), None))
            steps.append(("page_view", "/cart", "cart", list(cart), None))
        k = len(steps)
        span_ms = int(ends[s] - starts[s]) * 1000
        offs = np.sort(r.integers(0, max(1, span_ms), k))
        if converting:
            offs[-1] = span_ms  # the purchase is the order's own timestamp
        t0 = int(starts[s]) * 1000
        referrer = _ref.REFERRERS[r.integers(len(_ref.REFERRERS))]
        events = []
        for i, ((action, url, ptype, items, oid), off) in enumerate(zip(steps, offs.tolist(), strict=True)):
            items = items or []
            events.append((t0 + off, {
                "event_id": f"{sid}-{i + 1:03d}",
                "event_time": None,  # filled in bulk below
                "session": session,
                "page": {"url": url, "type": ptype, "referrer": referrer},
                "action": action,
                "cart": {"items": items, "value": round(float(sum(x["quantity"] * x["unit_price"] for x in items)), 2)},
                "order_id": oid,
            }))
            referrer = url
        sessions.append(events)
    return sessions, session_of_order


def generate(seed: int, scale: Scale, o: dict, prod: dict, n_customers: int,
             root: Path) -> tuple[dict, np.ndarray]:
    """Write clickstream/ under root; returns the dirt report and, per order, the session that
    placed it (the orders' session_id column). The orders ``o`` are left as they were."""
    sessions, session_of_order = _sessions(seed, scale, o, prod, n_customers)
    events = [e for s in sessions for e in s]
    ms = np.array([t for t, _ in events], dtype=np.int64)
    order = np.argsort(ms, kind="stable")
    ms = ms[order]
    events = [events[i][1] for i in order.tolist()]
    text = fmt_seconds(ms // 1000, "%Y-%m-%dT%H:%M:%S").to_pylist()
    for e, t, m in zip(events, text, (ms % 1000).tolist(), strict=True):
        e["event_time"] = f"{t}.{m:03d}Z"
    lines = [json.dumps(e, separators=(",", ":")) for e in events]
    day_of = ms // 86_400_000
    start_day = SALES_END - scale.days + 1
    report = {"rows": 0, "files": 0, "sessions": len(sessions), "events": len(events),
              "converting_sessions": int(sum(1 for s in sessions if s[-1][1]["action"] == "purchase")),
              "duplicate_rows": 0, "corrupt_json_lines": 0, "late_events": 0, "out_of_order_events": 0}
    carry: list[str] = []
    bounds = np.searchsorted(day_of, np.arange(start_day, SALES_END + 2))
    for d in range(scale.days):
        a, b = int(bounds[d]), int(bounds[d + 1])
        n = b - a
        r = rng(seed, "clickstream-dirt", d)
        rates = dict(RATES, late=0.0) if d == scale.days - 1 else RATES
        want = spoil.sizes(n, rates)
        want["corrupt"] = max(want["corrupt"], int(d % 7 == 3))  # a few even in a tiny dataset
        rows = spoil.pick(r, n, want)
        key = np.arange(n, dtype=np.float64)
        key[rows["out_of_order"]] += 50.5
        own = np.ones(n, dtype=bool)
        own[rows["late"]] = False
        pos = np.argsort(key, kind="stable")
        pos = pos[own[pos]]
        times = np.ones(n, dtype=np.int64)
        times[rows["duplicates"]] = 2
        pos = np.repeat(pos, times[pos])
        corrupt = set(rows["corrupt"].tolist())
        out = [lines[a + i][: len(lines[a + i]) // 2] if i in corrupt else lines[a + i] for i in pos.tolist()]
        valid = np.array([i not in corrupt for i in pos.tolist()], dtype=bool)
        report["out_of_order_events"] += spoil.out_of_order(ms[a + pos], valid)
        report["late_events"] += len(carry)
        report["duplicate_rows"] += len(rows["duplicates"])
        report["corrupt_json_lines"] += len(corrupt)
        out += carry
        carry = [lines[a + i] for i in rows["late"].tolist()]
        name = f"{np.datetime64(start_day + d, 'D')}.jsonl"
        write_lines(root / "clickstream" / name, out)
        report["rows"] += len(out)
        report["files"] += 1
    return report, session_of_order
