"""Checks of chapter 02, data analytics: cleansing, the star schema, SCD2, analytics questions.

The truth is recomputed from the dataset files with pandas and the standard library (not with the
learner's Spark code), and the counts are compared with the dirt report (lablib.data.dirt()).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from lablib.check import exercise, fail
from lablib.check._spark import history, need_columns, need_dataframe, spark_session

ORDER_TS_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%m/%d/%Y %H:%M:%S")
CHANNELS = {"store", "web", "marketplace"}
STATUSES = {"completed", "cancelled", "returned"}
TRACKED = ("street", "city", "postal_code", "country", "email")
STAR = ("fact_sales", "dim_date", "dim_product", "dim_store", "dim_customer")


def _dirt(table: str) -> dict:
    from lablib import data

    return data.dirt()[table]


def parse_order_ts(text: str | None) -> datetime | None:
    """The order timestamp in any of the documented formats, or None."""
    if text is None:
        return None
    for fmt in ORDER_TS_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


@lru_cache(maxsize=4)
def _raw_orders(scale: str):
    import pandas as pd

    from lablib import data

    df = pd.read_csv(data.path("orders"), dtype=str, keep_default_na=False)
    return df.replace({"": None})


def _scale() -> str:
    from lablib.config import settings

    return str(settings().scale)


def _orders():
    return _raw_orders(_scale())


@exercise("02", hint="parse order_ts with each format (try_to_timestamp) and coalesce; lower(trim()) the codes")
def clean_orders(df):
    """Row-level cleansing of the raw orders, every row kept, compared with the dirt report."""
    from pyspark.sql import functions as F

    need_dataframe(df, "clean")
    cols = ["order_id", "order_ts", "customer_id", "store_id", "channel", "status", "payment_method",
            "total_amount", "amount_outlier"]
    need_columns(df, cols, "clean")
    types = dict(df.dtypes)
    for col, want in (("order_ts", "timestamp"), ("total_amount", "decimal(12,2)"), ("amount_outlier", "boolean")):
        if types[col] != want:
            fail(f"{col} is {types[col]}, expected {want}")
    dirt = _dirt("orders")
    stats = df.agg(  # one query for every count below
        F.count("*").alias("n"),
        F.count_if(~F.col("channel").isin(*CHANNELS) | ~F.col("status").isin(*STATUSES)).alias("bad_codes"),
        F.sum(F.col("order_ts").isNull().cast("int")).alias("ts_null"),
        F.sum(F.col("total_amount").isNull().cast("int")).alias("amount_null"),
        F.sum(F.col("amount_outlier").cast("int")).alias("outliers"),
        F.sum((F.col("payment_method") == "unknown").cast("int")).alias("unknown"),
        F.sum(F.col("payment_method").isNull().cast("int")).alias("pm_null"),
    ).first()
    n = stats.n
    if n != dirt["rows"]:
        fail(f"{n:,} rows, the raw orders have {dirt['rows']:,}", "clean every row; deduplication comes next")
    if stats.ts_null != dirt["malformed_dates"]["order_ts"]:
        fail(f"{stats.ts_null} order_ts are null; only the {dirt['malformed_dates']['order_ts']} malformed ones "
             "should be", "the mixed formats are MM/dd/yyyy HH:mm:ss and yyyy-MM-dd'T'HH:mm:ss'Z'")
    bad_codes = stats.bad_codes
    if bad_codes:
        fail(f"{bad_codes} row(s) still have a channel or status that is not a canonical code")
    if stats.amount_null != dirt["na_strings"]["total_amount"]:
        fail(f"{stats.amount_null} null total_amount, the export has {dirt['na_strings']['total_amount']} 'NA'")
    if stats.outliers != dirt["outliers"]["total_amount"]:
        fail(f"{stats.outliers} amounts flagged as outliers, the dirt report counts {dirt['outliers']['total_amount']}",
             "valid amounts lie between 0 and 100000")
    if stats.pm_null or stats.unknown != dirt["nulls"]["payment_method"]:
        fail(f"payment_method: {stats.pm_null} null, {stats.unknown} 'unknown'; expected 0 and "
             f"{dirt['nulls']['payment_method']}")
    raw = _orders()
    truth = Counter((o, parse_order_ts(t)) for o, t in zip(raw.order_id, raw.order_ts, strict=True))
    got = Counter((r.order_id, r.order_ts) for r in df.select("order_id", "order_ts").collect())
    if got != truth:
        wrong = sum((truth - got).values())
        fail(f"{wrong} order_ts differ from the raw values read in their own format",
             "check the month/day order of the US format")
    mixed = dirt["mixed_format_dates"]["order_ts"]
    return (f"{n:,} rows; {mixed} mixed-format timestamps repaired, {stats.ts_null} malformed left null; "
            f"{stats.amount_null} 'NA' amounts null, {stats.outliers} outliers flagged, codes canonical")


@exercise("02", hint="a window per order_id ordered by _pos descending, keep row_number() == 1")
def dedupe_orders(df):
    """One row per order_id, the last one in the file kept; counts match the dirt report."""
    from pyspark.sql import functions as F

    need_dataframe(df, "silver_orders")
    need_columns(df, ["order_id", "status"], "silver_orders")
    dirt = _dirt("orders")
    expected = dirt["rows"] - dirt["duplicate_rows"] - dirt["duplicate_keys"]
    # one query for both counts; a struct counts a NULL order_id as a key, as distinct() does
    n, keys = df.agg(F.count("*"), F.count_distinct(F.struct("order_id"))).first()
    dupes = n - keys
    if dupes:
        fail(f"{dupes} duplicate order_id remain", "keep one row per key, not per whole row")
    if n != expected:
        fail(f"{n:,} orders, expected {expected:,} (= {dirt['rows']:,} rows - {dirt['duplicate_rows']} "
             f"duplicate rows - {dirt['duplicate_keys']} duplicate keys)")
    raw = _orders()
    last = raw.drop_duplicates("order_id", keep="last").set_index("order_id")
    first = raw.drop_duplicates("order_id", keep="first").set_index("order_id")
    differing = [o for o in last.index if str(first.status[o]).strip().lower() != str(last.status[o]).strip().lower()]
    got = {r.order_id: r.status for r in df.where(F.col("order_id").isin(differing)).select("order_id", "status")
           .collect()}
    stale = [o for o in differing if str(got.get(o)).strip().lower() != str(last.status[o]).strip().lower()]
    if stale:
        fail(f"{len(stale)} order(s) kept an earlier status (e.g. {stale[0]})", "the later row in the file wins")
    return f"{n:,} orders, one per order_id; {len(differing)} re-sent orders keep their latest status"


def _clickstream_truth():
    from lablib import data

    seen, purchases, items, qty = set(), 0, 0, 0
    for path in sorted(data.path("clickstream").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("action") != "purchase" or event["event_id"] in seen:
                continue
            seen.add(event["event_id"])
            purchases += 1
            for item in (event.get("cart") or {}).get("items") or []:
                items += 1
                qty += item["quantity"]
    return purchases, items, qty


@exercise("02", hint="deduplicate events, keep purchases, explode(cart.items), then select the struct fields")
def cart_lines(df):
    """One row per item of each distinct purchase event, with the session and item fields as columns."""
    from pyspark.sql import functions as F

    need_dataframe(df, "purchased_items")
    cols = ["event_id", "order_id", "session_id", "user_id", "product_id", "quantity", "unit_price"]
    need_columns(df, cols, "purchased_items")
    nested = [c for c, t in df.dtypes if t.startswith(("struct", "array", "map"))]
    if nested:
        fail(f"column(s) {', '.join(nested)} are still nested", "select the struct fields into flat columns")
    purchases, items, qty = _clickstream_truth()
    got = df.agg(F.count("*").alias("n"), F.countDistinct("event_id").alias("events"),
                 F.sum("quantity").alias("qty")).first()
    if got.events != purchases:
        fail(f"{got.events} purchase events, the files hold {purchases} distinct ones",
             "drop the duplicated events (same event_id) and the corrupt lines")
    if got.n != items or got.qty != qty:
        fail(f"{got.n} item rows with {got.qty} units; expected {items} rows with {qty} units")
    return f"{purchases} purchases flattened into {items} item rows ({qty} units)"


@lru_cache(maxsize=4)
def _fact_lines(scale: str):
    """The fact table's rows as the files give them: the order lines of the last copy of each order with a
    timestamp, a known product and a quantity of 1 to 100, with the order's customer, time and status."""
    import pandas as pd

    from lablib import data

    raw = _orders()
    last = raw.drop_duplicates("order_id", keep="last")
    last = last.assign(ts=last.order_ts.map(parse_order_ts))
    last = last[last.ts.notna()]
    lines = pd.read_parquet(data.path("order_lines"))
    products = set(pd.read_parquet(data.path("products")).product_id)
    merged = lines.merge(last[["order_id", "customer_id", "ts", "status"]], on="order_id", how="inner")
    return merged[merged.product_id.isin(products) & merged.quantity.between(1, 100)]


def fact_truth():
    """Expected fact rows, guests and net amount, from the files (pandas + Decimal)."""
    import pandas as pd

    merged = _fact_lines(_scale())
    net = sum(
        (Decimal(int(q)) * Decimal(str(p)) * (1 - Decimal(str(0 if pd.isna(d) else d)))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)
        for q, p, d in zip(merged.quantity, merged.unit_price, merged.discount_pct, strict=True))
    return len(merged), int(merged.customer_id.isna().sum()), net


def _need_table(spark, name: str, *, delta: bool = True):
    if not spark.catalog.tableExists(name):
        fail(f"table {name} does not exist", "saveAsTable(\"ch02.<name>\") in Delta format")
    if delta:
        detail = spark.sql(f"DESCRIBE DETAIL {name}").first()
        if detail.format != "delta":
            fail(f"{name} is a {detail.format} table, not Delta")
    return spark.table(name)


@exercise("02", hint="join silver orders (with a timestamp) to their lines, drop orphans/outliers, look up keys")
def fact_sales(table_name: str = "ch02.fact_sales"):
    """The star schema's fact table: right grain, row count and money, and every key resolves."""
    from pyspark.sql import functions as F

    if table_name is None:
        fail("the fact table's name is still None")
    spark = spark_session()
    db = table_name.split(".")[0]
    fact = _need_table(spark, table_name)
    # the dimensions were built by the demo cells: that they exist is enough, their format is not the exercise
    dims = {t: _need_table(spark, f"{db}.{t}", delta=False) for t in STAR if t != "fact_sales"}
    cols = ["order_id", "line_no", "date_key", "product_id", "store_id", "customer_sk", "quantity", "net_amount"]
    need_columns(fact, cols, "fact_sales")
    rows, guests, net = fact_truth()
    # one pass over the fact joined to each dimension's keys answers every question below (the check used to
    # run a dozen separate jobs); a missing key shows as a NULL marker after the left join
    keyed = fact.select(*cols)
    lookups = (("date_key", "dim_date", "date_key"), ("product_id", "dim_product", "product_id"),
               ("store_id", "dim_store", "store_id"), ("customer_sk", "dim_customer", "customer_sk"))
    for col, dim, key in lookups:
        found = dims[dim].select(F.col(key).alias(col)).distinct().withColumn(f"_in_{dim}", F.lit(True))
        keyed = keyed.join(found, col, "left")
    missing = {dim: F.sum((F.col(f"_in_{dim}").isNull()
                           & (F.lit(True) if dim != "dim_customer" else F.col("customer_sk") != -1)).cast("int"))
               for _, dim, _ in lookups}
    stats = keyed.agg(
        F.count("*").alias("n"),
        F.count_distinct("order_id", "line_no").alias("grain"),
        F.sum((F.col("customer_sk") == -1).cast("int")).alias("unknown"),
        F.sum("net_amount").alias("net"),
        *[m.alias(f"missing_{dim}") for dim, m in missing.items()],
    ).first()
    n = stats.n
    if n != rows:
        fail(f"{n:,} fact rows, expected {rows:,}",
             "one row per order line of silver orders with a timestamp, known product and quantity 1..100")
    if n - stats.grain:
        fail(f"{n - stats.grain} duplicate (order_id, line_no) rows: the grain is one order line")
    for col, dim, _ in lookups[:3]:
        if stats[f"missing_{dim}"]:
            fail(f"{stats[f'missing_{dim}']} fact row(s) have a {col} missing from {dim}")
    unknown = stats.unknown or 0
    if unknown != guests:
        fail(f"{unknown} rows have customer_sk -1, expected {guests} guest lines",
             "look the customer up in dim_customer by customer_id and validity range")
    if stats.missing_dim_customer:
        fail(f"{stats.missing_dim_customer} fact row(s) point to a customer_sk missing from dim_customer")
    got = stats.net or 0
    if abs(Decimal(str(got)) - net) > Decimal("1.00"):
        fail(f"net_amount sums to {got}, expected {net}", "round(quantity * unit_price * (1 - discount), 2), "
             "null discount = 0")
    return f"{n:,} order lines, {guests} by guests, every key resolves; net {net:,.2f} EUR"


def scd2_truth():
    """Expected (rows, current state per customer) of dim_customer after all update batches."""
    import pandas as pd

    from lablib import data

    base = pd.read_csv(data.path("customers"), dtype=str, keep_default_na=False).drop_duplicates()
    base["email"] = base.email.str.strip().str.lower()
    state = {r.customer_id: tuple(getattr(r, c) for c in TRACKED) for r in base.itertuples()}
    rows = len(state)
    since = {}
    for path in sorted(data.path("customer_updates").glob("*.csv")):
        batch = pd.read_csv(path, dtype=str, keep_default_na=False)
        batch = batch.sort_values("updated_at").drop_duplicates("customer_id", keep="last")
        for r in batch.itertuples():
            new = tuple(getattr(r, c) for c in TRACKED)
            if state.get(r.customer_id) != new:
                rows += 1
                state[r.customer_id] = new
                since[r.customer_id] = r.updated_at
    return rows, state, since


@exercise("02", hint="stage changed rows twice (merge_key = id to close, NULL to insert); keep the latest per key")
def scd2(table_name: str = "ch02.dim_customer"):
    """dim_customer after the three batches: versions, current rows and contiguous validity ranges."""
    if table_name is None:
        fail("the table name is still None")
    spark = spark_session()
    dim = _need_table(spark, table_name)
    need_columns(dim, ["customer_sk", "customer_id", *TRACKED, "valid_from", "valid_to", "is_current"],
                 table_name)
    merges = [c for c in history(_delta_for(spark, table_name)) if c["operation"] == "MERGE"]
    if len(merges) < 3:
        fail(f"the table's history has {len(merges)} MERGE commit(s), expected one per batch (3)")
    rows, state, since = scd2_truth()
    # one read of every version answers each question below in Python (the check used to run seven queries);
    # the truth above already holds every customer, so the versions fit in memory beside it
    versions = dim.select("customer_id", *TRACKED, "valid_from", "valid_to", "is_current").collect()
    n = len(versions)
    current = [r for r in versions if r.is_current]
    per_key = sum(1 for c in Counter(r.customer_id for r in current).values() if c > 1)
    if per_key:
        fail(f"{per_key} customer(s) have more than one current row")
    if len(current) != len(state):
        fail(f"{len(current):,} current rows, expected one for each of {len(state):,} customers")
    if n != rows:
        fail(f"{n:,} rows in total, expected {rows:,} (each real change adds one version)",
             "keep only the latest row per customer in a batch, and skip rows that change nothing")
    got = {r.customer_id: tuple(r[c] for c in TRACKED) for r in current}
    stale = [k for k, v in state.items() if got.get(k) != v]
    if stale:
        fail(f"{len(stale)} current row(s) do not hold the latest address/email (e.g. {stale[0]})")
    bad = _validity_gaps(versions)
    if bad:
        fail(f"{bad} version(s) whose valid_to is not the next version's valid_from (or an open end for the "
             "current one)")
    starts = {r.customer_id: str(r.valid_from)[:19] for r in current}
    wrong_from = [k for k, t in since.items() if starts.get(k) != str(t)[:19]]
    if wrong_from:
        fail(f"{len(wrong_from)} current version(s) are not valid from their batch row's updated_at "
             f"(e.g. {wrong_from[0]})")
    return (f"{n:,} versions of {len(state):,} customers, one current each, {n - len(state):,} closed; "
            "validity ranges contiguous")


def _validity_gaps(versions) -> int:
    """How many versions break the chain: a closed version must end where the customer's next one starts,
    the last one must be current and open (valid_to in year 9999). A missing value proves nothing, as in
    SQL, so it does not count."""
    per_customer: dict = {}
    for r in versions:
        per_customer.setdefault(r.customer_id, []).append(r)
    bad = 0
    for chain in per_customer.values():
        chain.sort(key=lambda r: (r.valid_from is None, r.valid_from))
        for r, nxt in zip(chain, [*chain[1:], None], strict=True):
            if nxt is not None and nxt.valid_from is not None:
                bad += (r.valid_to is not None and r.valid_to != nxt.valid_from) or r.is_current is True
            elif nxt is None:
                bad += r.is_current is False or (r.valid_to is not None and r.valid_to.year < 9999)
    return bad


def _delta_for(spark, name: str):
    from delta.tables import DeltaTable

    return DeltaTable.forName(spark, name)


def repeat_truth() -> dict[int, tuple[int, int]]:
    """{year: (customers, repeat customers)} over the fact's lines: completed orders of known customers,
    each order counted once per customer and year; from the files."""
    lines = _fact_lines(_scale())
    done = lines[(lines.status.str.strip().str.lower() == "completed") & lines.customer_id.notna()]
    orders = done.groupby([done.ts.map(lambda t: t.year).rename("year"), "customer_id"]).order_id.nunique()
    truth: dict[int, tuple[int, int]] = {}
    for (year, _customer), n in orders.items():
        customers, repeat = truth.get(int(year), (0, 0))
        truth[int(year)] = (customers + 1, repeat + int(n >= 2))
    return truth


@exercise("02", hint="count completed orders per customer_id and year, then the share with two or more")
def repeat_rate(df):
    """Repeat-customer rate per year over the star schema (completed orders, by durable customer_id),
    compared with the same question asked of the files (:func:`repeat_truth`)."""
    need_dataframe(df, "repeat")
    need_columns(df, ["year", "customers", "repeat_customers", "repeat_rate"], "repeat")
    truth = repeat_truth()
    got = {int(r.year): r for r in df.collect()}
    if set(got) != set(truth):
        fail(f"years {sorted(got)}, expected {sorted(truth)}")
    for year, (customers, repeat) in sorted(truth.items()):
        r = got[year]
        if r.customers != customers or r.repeat_customers != repeat:
            fail(f"{year}: {r.customers} customers / {r.repeat_customers} repeat, expected {customers} / {repeat}",
                 "count distinct orders per customer_id (not per customer_sk, which changes with each version)")
        if r.repeat_rate is None or abs(float(r.repeat_rate) - repeat / customers) > 1e-6:
            fail(f"{year}: repeat_rate {r.repeat_rate}, expected {repeat / customers:.4f}")
    last = max(truth)
    return f"{len(truth)} years; {last}: {truth[last][1]:,} of {truth[last][0]:,} customers came back " \
           f"({truth[last][1] / truth[last][0]:.1%})"
