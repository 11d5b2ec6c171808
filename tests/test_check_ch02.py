"""Chapter 02's checks accept the right answer and reject wrong or missing ones.

The right answers are built here the way the solution notebook builds them, on the `ci` data, in a
database of their own (test_ch02) so the chapter's own tables are not touched.
"""

import pytest
from checking import accepts, rejects
from delta.tables import DeltaTable
from pyspark.sql import Window
from pyspark.sql import functions as F

import lablib
from lablib.check import ch02

DB = "test_ch02"
TS_FORMATS = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss'Z'", "MM/dd/yyyy HH:mm:ss"]
CUSTOMER_COLUMNS = ["customer_id", "first_name", "last_name", "email", "phone", "street", "city",
                    "postal_code", "country", "birth_date", "loyalty_tier"]
FOREVER = "TIMESTAMP'9999-12-31 00:00:00'"


@pytest.fixture(scope="module")
def raw(spark):
    return lablib.data.read("orders").withColumn("_pos", F.monotonically_increasing_id()).cache()


def cleaned(raw, formats=TS_FORMATS):
    amount = F.expr("try_cast(total_amount AS DECIMAL(12,2))")
    return raw.select(
        "order_id", F.coalesce(*[F.try_to_timestamp("order_ts", F.lit(f)) for f in formats]).alias("order_ts"),
        "customer_id", "store_id", F.lower(F.trim("channel")).alias("channel"),
        F.lower(F.trim("status")).alias("status"),
        F.coalesce("payment_method", F.lit("unknown")).alias("payment_method"),
        amount.alias("total_amount"), F.coalesce(~amount.between(0, 100000), F.lit(False)).alias("amount_outlier"),
        "session_id", "_pos")


def latest(df):
    w = Window.partitionBy("order_id").orderBy(F.col("_pos").desc())
    return df.withColumn("rn", F.row_number().over(w)).where("rn = 1").drop("rn")


def test_clean_orders(raw):
    good = cleaned(raw)
    accepts(ch02.clean_orders(good))
    rejects(ch02.clean_orders(None), "clean is still None")
    rejects(ch02.clean_orders(cleaned(raw, TS_FORMATS[:1])), "order_ts are null; only the")  # mixed formats not repaired
    rejects(ch02.clean_orders(cleaned(raw, [TS_FORMATS[0], TS_FORMATS[1], "dd/MM/yyyy HH:mm:ss"])),
            "order_ts are null; only the")  # US dates read day first: many do not parse
    rejects(ch02.clean_orders(good.withColumn("channel", F.upper("channel"))),
            "still have a channel or status that is not a canonical code")
    rejects(ch02.clean_orders(good.drop("_pos").dropDuplicates()), "rows, the raw orders have")  # rows dropped
    rejects(ch02.clean_orders(good.withColumn("amount_outlier", F.lit(False))), "0 amounts flagged as outliers")
    rejects(ch02.clean_orders(good.withColumn("payment_method", F.expr("nullif(payment_method, 'unknown')"))),
            "null, 0 'unknown'; expected 0 and")


def test_dedupe_orders(raw):
    clean = cleaned(raw)
    accepts(ch02.dedupe_orders(latest(clean)))
    rejects(ch02.dedupe_orders(None), "silver_orders is still None")
    rejects(ch02.dedupe_orders(clean.drop("_pos").distinct()), "duplicate order_id remain")
    w = Window.partitionBy("order_id").orderBy(F.col("_pos"))
    earliest = clean.withColumn("rn", F.row_number().over(w)).where("rn = 1").drop("rn")
    rejects(ch02.dedupe_orders(earliest), "kept an earlier status")  # the first row, not the latest


@pytest.fixture(scope="module")
def events(spark):
    clicks = lablib.data.read("clickstream").cache()
    return clicks.where(F.col("_corrupt_record").isNull()).drop("_corrupt_record")


def test_cart_lines(events):
    def flat(ev):
        return (ev.where("action = 'purchase'")
                .select("event_id", "order_id", "session.session_id", "session.user_id",
                        F.explode("cart.items").alias("item"))
                .select("event_id", "order_id", "session_id", "user_id", "item.*"))

    accepts(ch02.cart_lines(flat(events.dropDuplicates(["event_id"]))))
    rejects(ch02.cart_lines(None), "purchased_items is still None")
    rejects(ch02.cart_lines(flat(events)), "item rows with")  # duplicated events kept: too many rows and units
    nested = events.dropDuplicates(["event_id"]).where("action = 'purchase'").select(
        "event_id", "order_id", "session.session_id", "session.user_id", F.explode("cart.items").alias("item"),
        F.lit(1).alias("product_id"), F.lit(1).alias("quantity"), F.lit(1.0).alias("unit_price"))
    rejects(ch02.cart_lines(nested), "column(s) item are still nested")


def customers_clean():
    bd = F.col("birth_date")
    repaired = (F.when(bd.rlike(r"^\d{2}\.\d{2}\.\d{4}$"), F.regexp_replace(bd, r"^(\d{2})\.(\d{2})\.(\d{4})$", "$3-$2-$1"))
                .when(bd.rlike(r"^\d{4}/\d{2}/\d{2}$"), F.regexp_replace(bd, "/", "-")).otherwise(bd))
    return (lablib.data.read("customers").distinct().withColumn("email", F.lower(F.trim("email")))
            .withColumn("birth_date", F.try_to_date(repaired, "yyyy-MM-dd")))


@pytest.fixture(scope="module")
def star(spark, raw):
    dim_date = spark.sql("SELECT explode(sequence(DATE'2022-01-01', DATE'2025-12-31')) AS date").select(
        F.date_format("date", "yyyyMMdd").cast("int").alias("date_key"), "date", F.year("date").alias("year"))
    dim_customer = (customers_clean().select(*CUSTOMER_COLUMNS, F.col("signup_date").cast("timestamp")
                                             .alias("valid_from"))
                    .withColumn("marketing_opt_in", F.lit(None).cast("boolean"))
                    .withColumn("valid_to", F.expr(FOREVER)).withColumn("is_current", F.lit(True))
                    .withColumn("customer_sk", F.xxhash64("customer_id", "valid_from")))
    for name, df in [("dim_date", dim_date), ("dim_product", lablib.data.read("products")),
                     ("dim_store", lablib.data.read("stores")), ("dim_customer", dim_customer)]:
        df.write.format("delta").mode("overwrite").saveAsTable(f"{DB}.{name}")
    silver = latest(cleaned(raw))
    o = silver.where("order_ts IS NOT NULL").alias("o")
    dc = spark.table(f"{DB}.dim_customer").alias("dc")
    joined = o.join(dc, (F.col("o.customer_id") == F.col("dc.customer_id"))
                    & (F.col("o.order_ts") >= F.col("dc.valid_from")) & (F.col("o.order_ts") < F.col("dc.valid_to")),
                    "left")
    discount = F.coalesce("discount_pct", F.lit(0.0))
    fact = (joined.select("o.order_id", "o.order_ts", "o.store_id", "o.status",
                          F.coalesce("dc.customer_sk", F.lit(-1).cast("bigint")).alias("customer_sk"))
            .join(lablib.data.read("order_lines"), "order_id")
            .join(spark.table(f"{DB}.dim_product").select("product_id"), "product_id", "left_semi")
            .where(F.col("quantity").between(1, 100))
            .select("order_id", "line_no", F.date_format("order_ts", "yyyyMMdd").cast("int").alias("date_key"),
                    "product_id", "store_id", "customer_sk", "status", "quantity",
                    F.round(F.col("quantity") * F.col("unit_price") * (1 - discount.cast("decimal(3,2)")), 2)
                    .cast("decimal(12,2)").alias("net_amount")))
    return fact


def test_fact_sales(spark, star):
    table = f"{DB}.fact_sales"
    rejects(ch02.fact_sales(table), f"table {table} does not exist")  # not written yet
    rejects(ch02.fact_sales(None), "the fact table's name is still None")
    star.limit(100).write.format("delta").mode("overwrite").saveAsTable(table)
    rejects(ch02.fact_sales(table), "100 fact rows, expected")  # rows missing
    star.withColumn("customer_sk", F.lit(-1).cast("bigint")).write.format("delta").mode("overwrite") \
        .option("overwriteSchema", True).saveAsTable(table)
    rejects(ch02.fact_sales(table), "rows have customer_sk -1, expected")  # customers not looked up
    # same row count, one line twice (and the last one missing): the grain is broken
    ordered = star.withColumn("_rn", F.row_number().over(Window.orderBy("order_id", "line_no")))
    total = star.count()
    ordered.where(F.col("_rn") < total).unionByName(ordered.where("_rn = 1")).drop("_rn") \
        .write.format("delta").mode("overwrite").saveAsTable(table)
    rejects(ch02.fact_sales(table), "1 duplicate (order_id, line_no) rows")
    # same rows, one product that the product dimension does not know
    ordered.withColumn("product_id", F.when(F.col("_rn") == 1, F.lit("P-NOPE")).otherwise(F.col("product_id"))) \
        .drop("_rn").write.format("delta").mode("overwrite").saveAsTable(table)
    rejects(ch02.fact_sales(table), "1 fact row(s) have a product_id missing from dim_product")
    star.write.format("delta").mode("overwrite").saveAsTable(table)
    accepts(ch02.fact_sales(table))


def apply_batch(spark, batch, table, tracked=ch02.TRACKED, keep_latest=True):
    w = Window.partitionBy("customer_id").orderBy(F.col("updated_at").desc())
    if keep_latest:
        batch = batch.withColumn("rn", F.row_number().over(w)).where("rn = 1")
    latest_rows = batch.select(*[c for c in CUSTOMER_COLUMNS if c != "birth_date"],
                               F.to_date("birth_date").alias("birth_date"), "marketing_opt_in", "updated_at")
    dim = DeltaTable.forName(spark, table)
    current = dim.toDF().where("is_current").alias("cur")
    changed = " OR ".join(f"NOT (cur.{c} <=> u.{c})" for c in tracked)
    to_insert = (latest_rows.alias("u").join(current, F.col("u.customer_id") == F.col("cur.customer_id"))
                 .where(changed).select("u.*"))
    staged = (latest_rows.withColumn("merge_key", F.col("customer_id"))
              .unionByName(to_insert.withColumn("merge_key", F.lit(None).cast("string"))))
    values = {c: f"s.{c}" for c in CUSTOMER_COLUMNS + ["marketing_opt_in"]}
    values.update({"valid_from": "s.updated_at", "valid_to": FOREVER, "is_current": "true",
                   "customer_sk": "xxhash64(s.customer_id, s.updated_at)"})
    (dim.alias("d").merge(staged.alias("s"), "d.customer_id = s.merge_key AND d.is_current")
        .whenMatchedUpdate(condition=" OR ".join(f"NOT (d.{c} <=> s.{c})" for c in tracked),
                           set={"is_current": "false", "valid_to": "s.updated_at"})
        .whenNotMatchedInsert(values=values).execute())


def test_scd2(spark, star):
    updates = lablib.data.read("customer_updates").withColumn("batch", F.col("_metadata.file_name"))
    batches = [r.batch for r in updates.select("batch").distinct().orderBy("batch").collect()]
    base = spark.table(f"{DB}.dim_customer")
    for name, kwargs in (("scd_good", {}), ("scd_no_latest", {"keep_latest": False}),
                         ("scd_address_only", {"tracked": ("street", "city", "postal_code", "country")})):
        base.write.format("delta").mode("overwrite").saveAsTable(f"{DB}.{name}")
        for b in batches:
            try:
                apply_batch(spark, updates.where(F.col("batch") == b), f"{DB}.{name}", **kwargs)
            except Exception as exc:  # noqa: BLE001 - Delta refuses two source rows for one target row
                assert "MULTIPLE_SOURCE_ROW" in str(exc) and name == "scd_no_latest"
                break
    good = f"{DB}.scd_good"
    accepts(ch02.scd2(good))
    # break one closed version of the good table at a time, then put the table back
    closed = spark.table(good).where("NOT is_current").orderBy("customer_id", "valid_from").first()
    that = f"customer_id = '{closed.customer_id}' AND valid_from = TIMESTAMP'{closed.valid_from}'"
    for change, message in (("valid_to = valid_to - INTERVAL 1 DAY",
                             "1 version(s) whose valid_to is not the next version's valid_from"),
                            ("is_current = true", "1 customer(s) have more than one current row")):
        before = DeltaTable.forName(spark, good).history(1).first()["version"]
        spark.sql(f"UPDATE {good} SET {change} WHERE {that}")
        rejects(ch02.scd2(good), message)
        spark.sql(f"RESTORE TABLE {good} TO VERSION AS OF {before}")
    accepts(ch02.scd2(good))
    rejects(ch02.scd2(None), "the table name is still None")
    rejects(ch02.scd2(f"{DB}.scd_no_latest"),  # Delta refused the batch with a customer twice
            "MERGE commit(s), expected one per batch (3)")
    rejects(ch02.scd2(f"{DB}.scd_address_only"), "rows in total, expected")  # e-mail changes missed
    base.write.format("delta").mode("overwrite").saveAsTable(f"{DB}.scd_type1")
    for b in batches:  # overwrite in place: no history
        latest_rows = updates.where(F.col("batch") == b).withColumn("rn", F.row_number().over(
            Window.partitionBy("customer_id").orderBy(F.col("updated_at").desc()))).where("rn = 1")
        (DeltaTable.forName(spark, f"{DB}.scd_type1").alias("d").merge(latest_rows.alias("s"),
                                                                        "d.customer_id = s.customer_id")
         .whenMatchedUpdate(set={c: f"s.{c}" for c in ch02.TRACKED}).execute())
    # type 1 (no versions) and no insert: the customers new in the batches have no current row
    rejects(ch02.scd2(f"{DB}.scd_type1"), "current rows, expected one for each of")


def test_repeat_rate(spark, star):
    star.write.format("delta").mode("overwrite").saveAsTable(f"{DB}.fact_sales")
    f = spark.table(f"{DB}.fact_sales")
    dim = spark.table(f"{DB}.dim_customer").select("customer_sk", "customer_id")
    per = (f.where("status = 'completed' AND customer_sk <> -1").join(dim, "customer_sk")
           .withColumn("year", (F.col("date_key") / 10000).cast("int"))
           .groupBy("year", "customer_id").agg(F.countDistinct("order_id").alias("orders")))
    good = (per.groupBy("year").agg(F.count("*").alias("customers"),
                                    F.sum((F.col("orders") >= 2).cast("int")).alias("repeat_customers"))
            .withColumn("repeat_rate", F.col("repeat_customers") / F.col("customers")))
    accepts(ch02.repeat_rate(good))
    rejects(ch02.repeat_rate(None), "repeat is still None")
    lines = (f.where("status = 'completed' AND customer_sk <> -1").join(dim, "customer_sk")
             .withColumn("year", (F.col("date_key") / 10000).cast("int"))
             .groupBy("year", "customer_id").agg(F.count("*").alias("orders")))  # lines, not orders
    wrong = (lines.groupBy("year").agg(F.count("*").alias("customers"),
                                       F.sum((F.col("orders") >= 2).cast("int")).alias("repeat_customers"))
             .withColumn("repeat_rate", F.col("repeat_customers") / F.col("customers")))
    rejects(ch02.repeat_rate(wrong), "count distinct orders per customer_id")
    rejects(ch02.repeat_rate(good.withColumn("repeat_rate", F.lit(0.5))), "repeat_rate 0.5, expected")


def test_validity_gaps_follow_sql_on_missing_values():
    """The chain of versions is checked in Python now; a NULL proves nothing, as in the SQL it replaced."""
    from datetime import datetime

    from pyspark.sql import Row

    v = Row("customer_id", "valid_from", "valid_to", "is_current")
    jan, feb, forever = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(9999, 12, 31)
    assert ch02._validity_gaps([v("C1", jan, feb, False), v("C1", feb, forever, True)]) == 0
    assert ch02._validity_gaps([v("C1", jan, jan, False), v("C1", feb, forever, True)]) == 1  # a hole
    assert ch02._validity_gaps([v("C1", jan, feb, True), v("C1", feb, forever, True)]) == 1  # closed yet current
    assert ch02._validity_gaps([v("C1", jan, feb, False)]) == 1  # the last version is closed
    assert ch02._validity_gaps([v("C1", jan, datetime(2030, 1, 1), True)]) == 1  # current, not open-ended
    assert ch02._validity_gaps([v("C1", jan, None, True)]) == 0  # an open end written as NULL
    assert ch02._validity_gaps([v("C1", feb, forever, True), v("C1", jan, feb, False)]) == 0  # any order
