"""Checks of chapter 00, the set-up tour."""

from __future__ import annotations

from lablib.check import exercise, fail
from lablib.check._spark import history, need_columns, need_dataframe, need_delta, spark_session

TOY_COLUMNS = ["sku", "name", "category", "price"]


@exercise("00", hint='filter the catalogue with toys.filter(toys.category == "Puzzles")')
def puzzles(answer, toys):
    """``answer``: the puzzles of the ``toys`` catalogue, every column kept."""
    need_dataframe(answer, "puzzles")
    need_columns(answer, TOY_COLUMNS, "puzzles")
    expected = sorted(r.sku for r in toys.where("category = 'Puzzles'").select("sku").collect())
    got = sorted(r.sku for r in answer.select("sku").collect())
    if not expected:
        fail("the catalogue has no puzzles at all; re-run the cell that builds `toys`")
    others = [r.category for r in answer.where("category <> 'Puzzles'").select("category").collect()]
    if others:
        fail(f"{len(others)} row(s) are not puzzles (e.g. {others[0]})")
    if got != expected:
        fail(f"{len(got)} puzzle(s) found, the catalogue has {len(expected)}")
    return f"{len(got)} puzzles, all of category Puzzles"


@exercise("00", hint='toys.write.format("delta").mode("overwrite").save(toys_path)')
def delta_table(path, toys):
    """``path`` holds a Delta table with the same rows as ``toys``."""
    spark = spark_session()
    table = need_delta(path, spark)
    df = table.toDF()
    need_columns(df, TOY_COLUMNS, "the Delta table")
    # a catalogue fits in memory: two small collects instead of a Spark job per question
    got = [r.sku for r in df.select("sku").collect()]
    expected = [r.sku for r in toys.select("sku").collect()]
    if len(got) != len(expected):
        fail(f"the Delta table has {len(got)} rows, the catalogue {len(expected)}")
    missing = len(set(expected) - set(got))
    if missing:
        fail(f"{missing} toy(s) of the catalogue are missing from the table")
    return f"a Delta table of {len(got)} toys, version {history(table)[-1]['version']}"


@exercise("00", hint="DeltaTable.forPath(spark, toys_path).update(condition, {\"price\": ...})")
def plush_price_rise(path):
    """The latest version raised every Plush price by 10 % (rounded to cents), and only those."""
    from pyspark.sql import functions as F

    spark = spark_session()
    table = need_delta(path, spark)
    commits = history(table)
    updates = [c for c in commits if c["operation"] in ("UPDATE", "MERGE")]
    if not updates:
        fail("the table's history has no UPDATE", "change prices in place with an update, not a rewrite")
    first = spark.read.format("delta").option("versionAsOf", 0).load(str(path)).alias("v0")
    now = spark.read.format("delta").load(str(path)).alias("now")
    plush = F.col("v0.category") == "Plush"
    # three counts in one pass over the join (a null comparison counts as 0, as a filter drops it)
    plush_wrong, other_changed, n = first.join(now, "sku").agg(*[
        F.coalesce(F.sum(F.when(condition, 1).otherwise(0)), F.lit(0)) for condition in (
            plush & (F.abs(F.col("now.price") - F.round(F.col("v0.price") * 1.10, 2)) > 0.005),
            ~plush & (F.col("now.price") != F.col("v0.price")),
            plush,
        )]).first()
    if plush_wrong:
        fail(f"{plush_wrong} Plush price(s) are not 10 % above version 0")
    if other_changed:
        fail(f"{other_changed} non-Plush price(s) changed too", "put the category in the update's condition")
    return f"{n} Plush prices up 10 % in version {commits[-1]['version']}, others unchanged"


@exercise("00", hint='spark.read.format("delta").option("versionAsOf", 0).load(toys_path)')
def time_travel(answer, path):
    """``answer`` is version 0 of the table at ``path``, read with time travel."""
    from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

    need_dataframe(answer, "original_toys")
    spark = spark_session()
    need_delta(path, spark)
    v0 = spark.read.format("delta").option("versionAsOf", 0).load(str(path))
    latest = spark.read.format("delta").load(str(path))
    rows = answer.collect()  # each side read once; the comparisons below are in Python

    def same(table, table_rows) -> bool:
        try:
            assertSchemaEqual(answer.schema, table.schema)
            assertDataFrameEqual(rows, table_rows)
            return True
        except AssertionError:
            return False

    v0_rows = v0.collect()
    if not same(v0, v0_rows):
        if same(latest, latest.collect()):
            fail("this is the latest version, not version 0")
        fail("these rows are not version 0 of the table")
    return f"version 0 read back: {len(v0_rows)} toys at their original prices"
