"""Dimension tables: factories, machines, products, stores, customers (+ their updates).

Dimensions are small, so they are drawn from the reference lists in ``_ref``
with numpy; only customers are large enough to need vectorised string work.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lablib.data import _ref, spoil
from lablib.data._io import decimal, fmt_seconds, ids
from lablib.data._rng import rng

DAY0 = np.datetime64("1970-01-01", "D")


def day(text: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int((np.datetime64(text, "D") - DAY0).astype(np.int64))


SALES_START, SALES_END = day("2022-01-01"), day("2024-12-31")


def dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), pa.date32())


def date_text(days: np.ndarray) -> list[str]:
    return fmt_seconds(np.asarray(days, dtype=np.int64) * 86400, spoil.DATE).to_pylist()


# -- factories and machines -------------------------------------------------------------

def factories() -> pa.Table:
    cols = list(zip(*_ref.FACTORIES, strict=True))
    return pa.table({
        "factory_id": cols[0], "name": cols[1], "city": cols[2], "country": cols[3],
        "region": cols[4], "opened_date": dates([day(d) for d in cols[5]]),
        "capacity_units_per_day": pa.array(cols[6], pa.int32()),
    })


def machines(seed: int, n: int) -> tuple[pa.Table, dict]:
    """The machine table, and per machine the nominal readings telemetry starts from."""
    r = rng(seed, "machines")
    types = _ref.MACHINE_TYPES
    w = np.array([t[5] for t in types])
    kind = r.choice(len(types), size=n, p=w / w.sum())
    cap = np.array([f[6] for f in _ref.FACTORIES], dtype=float)
    factory = r.choice(len(cap), size=n, p=cap / cap.sum())
    opened = np.array([day(f[5]) for f in _ref.FACTORIES])[factory]
    installed = opened + (r.random(n) * (day("2024-06-30") - opened)).astype(np.int64)
    spread = r.uniform(0.9, 1.1, size=(n, 4))
    nominal = {
        "kind": kind,
        "temperature": np.array([t[1] for t in types])[kind] * spread[:, 0],
        "vibration": np.array([t[2] for t in types])[kind] * spread[:, 1],
        "rpm": np.array([t[3] for t in types])[kind] * spread[:, 2],
        "power": np.array([t[4] for t in types])[kind] * spread[:, 3],
        "firmware": [f"fw-2.{a}.{b}" for a, b in zip(r.integers(3, 7, n).tolist(), r.integers(0, 10, n).tolist(), strict=True)],
    }
    maker = r.integers(0, len(_ref.MAKERS), n)
    series = r.integers(100, 999, n)
    table = pa.table({
        "machine_id": ids("M-", np.arange(1, n + 1), 5),
        "factory_id": pa.array([_ref.FACTORIES[i][0] for i in factory.tolist()]),
        "machine_type": pa.array([types[i][0] for i in kind.tolist()]),
        "maker": pa.array([_ref.MAKERS[i] for i in maker.tolist()]),
        "model": pa.array([f"{types[k][0][:3].upper()}-{s}" for k, s in zip(kind.tolist(), series.tolist(), strict=True)]),
        "install_date": dates(installed),
        "rated_rpm": pa.array(np.round(nominal["rpm"] * 1.25).astype(np.int32)),
        "rated_power_kw": pa.array(np.round(nominal["power"] * 1.3, 1)),
    })
    return table, nominal


# -- products and stores ------------------------------------------------------------------

def products(seed: int, n: int) -> tuple[pa.Table, dict]:
    """Products, and the popularity and cost the sales generator needs."""
    r = rng(seed, "products")
    lines = _ref.TOY_LINES
    line = r.integers(0, len(lines), n)
    median = np.array([x[3] for x in lines])[line]
    price_cents = (np.floor(median * r.lognormal(0, 0.35, n)) * 100 + 99).astype(np.int64)
    cost_cents = np.round(price_cents * r.uniform(0.3, 0.55, n)).astype(np.int64)
    word = r.integers(0, len(_ref.PRODUCT_WORDS), n).tolist()
    noun = r.integers(0, len(_ref.PRODUCT_NOUNS), n).tolist()
    names = [f"{lines[li][0]} {_ref.PRODUCT_WORDS[a]} {_ref.PRODUCT_NOUNS[b]}"
             for li, a, b in zip(line.tolist(), word, noun, strict=True)]
    launch = day("2015-01-01") + r.integers(0, day("2024-10-01") - day("2015-01-01"), n)
    # a Zipf-like popularity over a random ranking: a few best sellers, a long tail
    popularity = 1.0 / np.power(r.permutation(n) + 1.0, 0.8)
    table = pa.table({
        "product_id": ids("P-", np.arange(1, n + 1), 5),
        "sku": pa.array([f"MAT-{lines[li][0][:3].upper()}-{i:05d}" for i, li in enumerate(line.tolist(), 1)]),
        "name": pa.array(names),
        "toy_line": pa.array([lines[i][0] for i in line.tolist()]),
        "category": pa.array([lines[i][1] for i in line.tolist()]),
        "age_group": pa.array([lines[i][2] for i in line.tolist()]),
        "list_price": decimal(price_cents, 10),
        "unit_cost": decimal(cost_cents, 10),
        "launch_date": dates(launch),
        "discontinued": pa.array(r.random(n) < 0.08),
    })
    return table, {"price_cents": price_cents, "cost_cents": cost_cents, "popularity": popularity,
                   "category": [lines[i][1] for i in line.tolist()]}


def stores(seed: int, n: int) -> pa.Table:
    """Physical stores S-0001.., then the web shop and two marketplaces (no address)."""
    r = rng(seed, "stores")
    w = np.array(_ref.CITY_WEIGHTS, dtype=float)
    city = r.choice(len(_ref.CITIES), size=n, p=w / w.sum())
    opened = day("2005-01-01") + r.integers(0, day("2023-12-31") - day("2005-01-01"), n)
    seq: dict[int, int] = {}
    names = []
    for c in city.tolist():
        seq[c] = seq.get(c, 0) + 1
        names.append(f"Mega Awesome Toys {_ref.CITIES[c][0]} {seq[c]}")
    online = [("S-WEB", "Mega Awesome Toys Online", "web", day("2012-03-01")),
              ("S-MKT1", "ToyBazaar Marketplace", "marketplace", day("2016-09-01")),
              ("S-MKT2", "BrickMart Marketplace", "marketplace", day("2019-04-01"))]
    return pa.table({
        "store_id": pa.array([f"S-{i:04d}" for i in range(1, n + 1)] + [o[0] for o in online]),
        "name": pa.array(names + [o[1] for o in online]),
        "channel": pa.array(["store"] * n + [o[2] for o in online]),
        "city": pa.array([_ref.CITIES[c][0] for c in city.tolist()] + [None] * 3, pa.string()),
        "country": pa.array([_ref.CITIES[c][1] for c in city.tolist()] + [None] * 3, pa.string()),
        "region": pa.array([_ref.CITIES[c][2] for c in city.tolist()] + [None] * 3, pa.string()),
        "opened_date": dates(np.concatenate([opened, [o[3] for o in online]])),
        "size_sqm": pa.array(np.concatenate([r.integers(300, 3000, n), [0, 0, 0]]).astype(np.int32),
                             mask=np.array([False] * n + [True] * 3)),
    })


# -- customers ----------------------------------------------------------------------------

def _people(r: np.random.Generator, n: int, first_id: int) -> dict[str, list]:
    """Clean customer records (lists of str), ids first_id.."""
    w = np.array(_ref.CITY_WEIGHTS, dtype=float)
    city = r.choice(len(_ref.CITIES), size=n, p=w / w.sum()).tolist()
    first = r.integers(0, len(_ref.FIRST_NAMES), n).tolist()
    last = r.integers(0, len(_ref.LAST_NAMES), n).tolist()
    num = r.integers(1, 999, n).tolist()
    phone = r.integers(100_000_000, 999_999_999, n).tolist()
    birth = day("1950-01-01") + r.integers(0, day("2008-12-31") - day("1950-01-01"), n)
    F, L, C = _ref.FIRST_NAMES, _ref.LAST_NAMES, _ref.CITIES
    return {
        "customer_id": [f"C-{i:07d}" for i in range(first_id, first_id + n)],
        "first_name": [F[i] for i in first],
        "last_name": [L[i] for i in last],
        "email": [f"{F[a]}.{L[b]}{k}@{C[c][4]}".lower().replace(" ", "") for a, b, k, c in zip(first, last, num, city, strict=True)],
        "phone": [f"+{C[c][3]} {p // 10000:05d} {p % 10000:04d}" for c, p in zip(city, phone, strict=True)],
        **_address(r, city),
        "birth_date": date_text(birth),
        "_birth": birth,
        "loyalty_tier": [_ref.LOYALTY[i] for i in r.choice(4, size=n, p=[0.5, 0.25, 0.17, 0.08]).tolist()],
    }


def _address(r: np.random.Generator, city: list[int]) -> dict[str, list]:
    n = len(city)
    house = r.integers(1, 300, n).tolist()
    street = r.integers(0, len(_ref.STREETS), n).tolist()
    kind = r.integers(0, len(_ref.STREET_KINDS), n).tolist()
    postal = r.integers(1000, 99999, n).tolist()
    return {
        "street": [f"{h} {_ref.STREETS[s]} {_ref.STREET_KINDS[k]}" for h, s, k in zip(house, street, kind, strict=True)],
        "city": [_ref.CITIES[c][0] for c in city],
        "postal_code": [f"{p:05d}" for p in postal],
        "country": [_ref.CITIES[c][1] for c in city],
    }


CUSTOMER_COLUMNS = ("customer_id", "first_name", "last_name", "email", "phone", "street", "city",
                    "postal_code", "country", "birth_date", "loyalty_tier")

CUSTOMER_DIRT = {"duplicate_rows": 0.005, "email_casing": 0.01, "phone_na": 0.01, "phone_null": 0.01,
                 "birth_mixed": 0.01, "birth_malformed": 0.001, "birth_outlier": 0.001}


def customers(seed: int, n: int) -> dict[str, list]:
    """Clean customer records, with a first-drawn signup day (``_signup``); the sales generator
    derives the final one, before each customer's first order."""
    r = rng(seed, "customers")
    people = _people(r, n, 1)
    people["_signup"] = day("2015-01-01") + r.integers(0, SALES_END - day("2015-01-01"), n)
    people["_weight"] = r.lognormal(0, 1.0, n)  # some customers buy far more often
    return people


def customers_table(seed: int, people: dict[str, list], signup: np.ndarray) -> tuple[pa.Table, dict]:
    """The customers CSV with its dirt, and the dirt's exact counts. ``signup``: each customer's
    signup day (from ``sales.generate``)."""
    n = len(people["customer_id"])
    r = rng(seed, "customers-dirt")
    rows = spoil.pick(r, n, spoil.sizes(n, CUSTOMER_DIRT))
    cols = {c: pa.array(people[c], pa.string()) for c in CUSTOMER_COLUMNS}
    email = cols["email"]
    cols["email"] = spoil.replace(email, rows["email_casing"], spoil.recase(r, email.take(rows["email_casing"]).to_pylist()))
    cols["phone"] = spoil.replace(cols["phone"], rows["phone_na"], ["NA"] * len(rows["phone_na"]))
    cols["phone"] = spoil.replace(cols["phone"], rows["phone_null"], [None] * len(rows["phone_null"]))
    birth = people["_birth"]
    b = cols["birth_date"]
    b = spoil.replace(b, rows["birth_mixed"], spoil.mixed_dates(r, birth[rows["birth_mixed"]]))
    b = spoil.replace(b, rows["birth_malformed"], spoil.malformed_dates(r, birth[rows["birth_malformed"]]))
    k = len(rows["birth_outlier"])
    odd = np.where(r.random(k) < 0.5, day("1900-01-01"), day("2031-01-01") + r.integers(0, 365, k))
    cols["birth_date"] = spoil.replace(b, rows["birth_outlier"], date_text(odd))
    cols["signup_date"] = dates(signup)
    table = pa.table(cols)
    # exact duplicates right after their original (a double export)
    times = np.ones(n, dtype=np.int64)
    times[rows["duplicate_rows"]] = 2
    table = table.take(pa.array(np.repeat(np.arange(n), times)))
    report = {
        "rows": table.num_rows,
        "duplicate_rows": len(rows["duplicate_rows"]),
        "na_strings": {"phone": len(rows["phone_na"])},
        "nulls": {"phone": len(rows["phone_null"])},
        "casing_whitespace": {"email": len(rows["email_casing"])},
        "mixed_format_dates": {"birth_date": len(rows["birth_mixed"])},
        "malformed_dates": {"birth_date": len(rows["birth_malformed"])},
        "outliers": {"birth_date": k},
    }
    return table, report


BATCH_DATES = ("2025-01-31", "2025-02-28", "2025-03-31")


def customer_updates(seed: int, people: dict[str, list]) -> tuple[list[tuple[str, pa.Table]], dict]:
    """Monthly change batches of customers (moves, new emails, new customers) for SCD2.

    Each batch holds the full new record of every changed customer, stamped with
    updated_at; a customer who changed twice in a month appears twice. The last
    batch carries a new column, marketing_opt_in (the schema change).
    """
    r = rng(seed, "customer_updates")
    n = len(people["customer_id"])
    state = {c: list(people[c]) for c in CUSTOMER_COLUMNS}
    next_id = n + 1
    batches, report = [], {"batches": len(BATCH_DATES), "changed_rows": 0, "address_changes": 0,
                           "email_changes": 0, "new_customers": 0, "same_customer_twice_in_batch": 0}
    for b, end in enumerate(BATCH_DATES):
        start = day(end) - 27 if b else day("2025-01-01")
        movers = np.sort(r.choice(n, size=max(1, n // 20), replace=False))
        twice = movers[r.random(len(movers)) < 0.04]
        emails = np.sort(r.choice(n, size=max(1, n // 100), replace=False))
        emails = np.setdiff1d(emails, movers)
        rows: list[tuple[int, dict]] = []
        for who in np.concatenate([movers, twice]).tolist():
            city = int(r.integers(0, len(_ref.CITIES)))
            if r.random() < 0.7:  # most people move within their city
                city = [c[0] for c in _ref.CITIES].index(state["city"][who])
            addr = _address(r, [city])
            for c in ("street", "city", "postal_code", "country"):
                state[c][who] = addr[c][0]
            rows.append((who, {c: state[c][who] for c in CUSTOMER_COLUMNS}))
        for who in emails.tolist():
            user, _, _ = state["email"][who].partition("@")
            state["email"][who] = f"{user}@{_ref.CITIES[int(r.integers(0, len(_ref.CITIES)))][4]}"
            rows.append((who, {c: state[c][who] for c in CUSTOMER_COLUMNS}))
        k_new = max(1, n // 200)
        new = _people(r, k_new, next_id)
        next_id += k_new
        for i in range(k_new):
            rows.append((-1, {c: new[c][i] for c in CUSTOMER_COLUMNS}))
        # a moment in the month for each change; a person's second change comes after the first
        secs = r.integers(start * 86400, (day(end) + 1) * 86400, len(rows))
        for j, who in enumerate(twice.tolist()):
            first, second = int(np.searchsorted(movers, who)), len(movers) + j
            if secs[second] < secs[first]:
                secs[first], secs[second] = secs[second], secs[first]
            elif secs[second] == secs[first]:
                secs[second] += 1
        order = np.argsort(secs, kind="stable")
        fixed = [(int(secs[i]), rows[i][1]) for i in order.tolist()]
        seen: dict[str, int] = {}
        for _, rec in fixed:
            seen[rec["customer_id"]] = seen.get(rec["customer_id"], 0) + 1
        cols = {c: [rec[c] for _, rec in fixed] for c in CUSTOMER_COLUMNS}
        cols["updated_at"] = fmt_seconds(np.array([t for t, _ in fixed])).to_pylist()
        if b == len(BATCH_DATES) - 1:
            cols["marketing_opt_in"] = ["true" if x else "false" for x in (r.random(len(fixed)) < 0.35).tolist()]
        batches.append((end, pa.table({c: pa.array(v, pa.string()) for c, v in cols.items()})))
        report["changed_rows"] += len(fixed)
        report["address_changes"] += len(movers) + len(twice)
        report["email_changes"] += len(emails)
        report["new_customers"] += k_new
        report["same_customer_twice_in_batch"] += sum(1 for v in seen.values() if v > 1)
    report["schema_change"] = {"column": "marketing_opt_in", "first_file": f"customer_updates/{BATCH_DATES[-1]}.csv",
                               "files": 1}
    return batches, report
