"""Checks of chapter 03 (Spark deep dive and Delta Lake), for all three of its parts: 03a, 03b, 03c."""

from __future__ import annotations

from lablib.check import exercise, fail
from lablib.check._spark import (
    history,
    need_columns,
    need_dataframe,
    need_table,
    plan_text,
    spark_session,
    table_properties,
)
from lablib.paths import local_path
from lablib.session import spark_conf


@exercise("03", hint="lines.join(F.broadcast(products), \"product_id\")")
def broadcast_join(answer, lines, products):
    """``answer`` joins ``lines`` with ``products`` on product_id, the catalogue broadcast by a hint."""
    need_dataframe(answer, "lines_with_products")
    need_columns(answer, ["product_id", "order_id", "quantity", "category"], "lines_with_products")
    with spark_conf({"spark.sql.autoBroadcastJoinThreshold": -1}):
        text = plan_text(answer.select("*"))  # a fresh plan, made with automatic broadcasting off
    if "SortMergeJoin" in text or "ShuffledHashJoin" in text:
        fail("with automatic broadcasting off, your join plans as a shuffle join",
             "put a broadcast hint on the catalogue: F.broadcast(products)")
    if "BroadcastHashJoin" not in text:
        fail("the plan has no BroadcastHashJoin")
    expected = lines.join(products, "product_id").count()
    got = answer.count()
    if got != expected:
        fail(f"{got:,} rows, the inner join of lines and products has {expected:,}",
             "an inner join on product_id (orphan lines drop out)")
    return f"{got:,} lines with their product, joined by a BroadcastHashJoin even with auto-broadcast off"


@exercise("03", hint="filter on the partition columns: where(\"order_year = 2024 AND order_month = 11\")")
def pruned_month(answer, path, year, month):
    """``answer`` reads only the partition folder order_year=year/order_month=month of ``path``."""
    from pyspark.sql import functions as F

    from lablib.measuring import measure
    from lablib.paths import rel

    spark = spark_session()
    need_dataframe(answer, "november")
    folder = local_path(path) / f"order_year={year}" / f"order_month={month}"
    expected_files = len(list(folder.glob("*.parquet")))
    total_files = len(list(local_path(path).rglob("*.parquet")))
    if not expected_files:
        fail(f"no files in {rel(folder)}; re-run the cell that writes the partitioned orders")
    with measure("check: pruned_month") as m:
        got = answer.count()
    truth = (spark.read.parquet(str(path))
             .where((F.year("order_ts") == year) & (F.month("order_ts") == month)).count())
    if got != truth:
        fail(f"{got:,} rows, the orders of {year}-{month:02d} are {truth:,}")
    if m.files_read is None:  # no metrics (no UI): fall back to the plan
        if "PartitionFilters: [" not in plan_text(answer, "formatted") or "order_month" not in plan_text(answer):
            fail("the plan shows no partition filter on order_month")
        return f"{got:,} orders of {year}-{month:02d}, with a partition filter in the plan"
    if m.files_read > expected_files:
        fail(f"the query read {m.files_read} of {total_files} files; pruning would read {expected_files}",
             "a filter on order_ts cannot prune; filter on order_year and order_month")
    return f"{got:,} orders of {year}-{month:02d}; {m.files_read} of {total_files} files read"


@exercise("03", hint=".option(\"path\", stores_path).saveAsTable(\"ch03.stores\"), then COMMENT ON TABLE and "
                     "ALTER TABLE ... SET TBLPROPERTIES ('data_owner' = 'retail-ops')")
def external_table(name, path):
    """``name`` is an external Delta table at ``path`` with a comment, data_owner=retail-ops, all stores."""
    from lablib import data
    from lablib.paths import rel

    spark = spark_session()
    need_table(spark, name)
    table = spark.catalog.getTable(name)
    if table.tableType != "EXTERNAL":
        fail(f"{name} is a {table.tableType} table, not EXTERNAL", "give it a location: .option(\"path\", ...)")
    detail = spark.sql(f"DESCRIBE DETAIL {name}").first()
    if detail["format"] != "delta":
        fail(f"{name} is stored as {detail['format']}, not delta")
    where = local_path(detail["location"]).resolve()  # managed locations are %-encoded
    if where != local_path(path).resolve():
        fail(f"{name} lives at {rel(where)}, not at {rel(path)}")
    if not (table.description or "").strip():
        fail(f"{name} has no comment", "COMMENT ON TABLE ... IS '...'")
    props = table_properties(spark, name)
    if props.get("data_owner") != "retail-ops":
        fail(f"property data_owner is {props.get('data_owner')!r}, expected 'retail-ops'")
    expected = {r.store_id for r in data.read("stores").select("store_id").collect()}
    got = [r.store_id for r in spark.table(name).select("store_id").collect()]
    if len(got) != len(expected) or set(got) != expected:
        fail(f"{name} has {len(got)} rows, the stores dataset {len(expected)} distinct stores")
    return f"external Delta table {name} at {rel(path)}: {len(got)} stores, comment and data_owner set"


@exercise("03", hint="DeltaTable.forName(...).alias(\"t\").merge(price_updates.alias(\"u\"), \"t.product_id = "
                     "u.product_id\").whenMatchedUpdate(...).whenNotMatchedInsert(...).withSchemaEvolution().execute()")
def upsert(name, updates):
    """The latest MERGE into ``name`` applied ``updates`` (prices, safety_cert, new rows) and nothing else."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    spark = spark_session()
    need_dataframe(updates, "price_updates")
    need_table(spark, name)
    commits = history(DeltaTable.forName(spark, name))  # oldest first, each with its metrics
    merges = [c for c in commits if c["operation"] == "MERGE"]
    if not merges:
        fail(f"the history of {name} has no MERGE", "upsert with one DeltaTable.merge(...).execute()")
    commit = merges[-1]
    v = commit["version"]
    # the latest version is read as the table (its state is cached); only an older one needs time travel
    now = spark.table(name) if v == commits[-1]["version"] else spark.read.option("versionAsOf", v).table(name)
    if "safety_cert" not in now.columns:
        fail("the table has no safety_cert column", "add .withSchemaEvolution() to the merge")
    upd = {r.product_id: r for r in updates.collect()}
    rows = {r.product_id: r for r in now.where(F.col("product_id").isin(list(upd)))
            .select("product_id", "list_price", "safety_cert").collect()}
    for pid, u in sorted(upd.items()):
        r = rows.get(pid)
        if r is None:
            fail(f"{pid} is missing after the merge (insert the toys that do not match)")
        if r.list_price != u.list_price or r.safety_cert != u.safety_cert:
            fail(f"{pid} has list_price {r.list_price} / safety_cert {r.safety_cert}, "
                 f"the update says {u.list_price} / {u.safety_cert}")
    old_ids = {r.product_id for r in spark.read.option("versionAsOf", v - 1).table(name)
               .where(F.col("product_id").isin(list(upd))).select("product_id").collect()}
    new = [p for p in upd if p not in old_ids]
    metrics = commit["operationMetrics"] or {}
    updated, inserted = int(metrics.get("numTargetRowsUpdated", -1)), int(metrics.get("numTargetRowsInserted", -1))
    deleted = int(metrics.get("numTargetRowsDeleted", 0))
    if (updated, inserted, deleted) != (len(upd) - len(new), len(new), 0):
        fail(f"the MERGE updated {updated}, inserted {inserted}, deleted {deleted} rows; expected "
             f"{len(upd) - len(new)} updated, {len(new)} inserted, none deleted")
    return (f"MERGE (version {v}): {len(upd) - len(new)} prices updated, {len(new)} toys inserted, "
            f"safety_cert added, other rows untouched")


@exercise("03", hint="DELETE the rows with quantity NOT BETWEEN 1 AND 100, then "
                     "ALTER TABLE ... ADD CONSTRAINT quantity_range CHECK (quantity BETWEEN 1 AND 100)")
def quantity_rule(name, raw_lines):
    """``name`` lost exactly its out-of-range quantities and carries the CHECK constraint quantity_range."""
    from pyspark.sql import functions as F

    from lablib import data

    spark = spark_session()
    need_dataframe(raw_lines, "lines")
    need_table(spark, name)

    def rows_and_valid(df):  # one query per table for both counts
        return df.agg(F.count("*"), F.count_if(F.col("quantity").between(1, 100))).first()

    got, valid = rows_and_valid(spark.table(name))
    bad = got - valid
    if bad:
        fail(f"{bad} line(s) with a quantity outside 1 … 100 are still in {name}")
    raw_total, expected = rows_and_valid(raw_lines)
    if got != expected:
        fail(f"{name} has {got:,} lines; the raw lines with a valid quantity are {expected:,}",
             "delete only the out-of-range quantities")
    props = table_properties(spark, name)
    rule = props.get("delta.constraints.quantity_range")
    if rule is None:
        others = [k.split(".")[-1] for k in props if k.startswith("delta.constraints.")]
        fail("the table has no constraint quantity_range" + (f" (it has {', '.join(others)})" if others else ""))
    if "quantity" not in rule.lower():
        fail(f"the constraint quantity_range says {rule!r}; it should test quantity")
    try:
        spark.sql(f"INSERT INTO {name} (order_id, line_no, product_id, quantity, unit_price, discount_pct) "
                  "VALUES ('O-CHECK', 1, 'P-00001', 0, 1.00, 0.0)")
        accepted = True
    except Exception as exc:  # noqa: BLE001 - the refusal is what we want
        if "CHECK constraint" not in str(exc) and "DELTA_VIOLATE_CONSTRAINT" not in str(exc):
            raise
        accepted = False
    if accepted:
        spark.sql(f"DELETE FROM {name} WHERE order_id = 'O-CHECK'")
        fail("Delta accepted a line with quantity 0", "the constraint must be quantity BETWEEN 1 AND 100")
    removed = raw_total - got
    seeded = data.dirt().get("order_lines", {}).get("outliers", {}).get("quantity")
    extra = f" (the dataset seeded {seeded})" if seeded is not None else ""
    return f"{removed} out-of-range line(s) removed{extra}, {got:,} kept; CHECK ({rule}) enforced"


@exercise("03", hint="CREATE TABLE ch03.telemetry_clustered CLUSTER BY (machine_id) AS SELECT * FROM "
                     "delta.`<path>`, then OPTIMIZE ch03.telemetry_clustered")
def clustered(name, source_path):
    """``name`` is liquid clustered by machine_id, optimized, holds every row of ``source_path``."""
    from delta.tables import DeltaTable

    from lablib.measuring import measure

    spark = spark_session()
    need_table(spark, name)
    detail = spark.sql(f"DESCRIBE DETAIL {name}").first()
    cols = list(detail["clusteringColumns"] or [])
    if cols != ["machine_id"]:
        fail(f"{name} is clustered by {cols or 'nothing'}, not by machine_id", "CREATE TABLE ... CLUSTER BY (machine_id)")
    ops = [r.operation for r in DeltaTable.forName(spark, name).history().orderBy("version").collect()]
    if "OPTIMIZE" not in ops:
        fail(f"{name} was never optimized (history: {', '.join(ops)})", f"run OPTIMIZE {name}")
    got, expected = spark.table(name).count(), spark.read.format("delta").load(str(source_path)).count()
    if got != expected:
        fail(f"{name} has {got:,} rows, the source table {expected:,}")
    query = spark.table(name).where("machine_id = 'M-00007'")
    with measure("check: clustered") as m:
        query.count()
    files = detail["numFiles"]
    if m.files_read is not None and files > 1 and m.files_read >= files:
        fail(f"a query for one machine still reads all {files} files", f"run OPTIMIZE {name} after clustering")
    read = f", one machine's query reads {m.files_read} of {files} files" if m.files_read is not None else ""
    return f"{got:,} rows clustered by machine_id and optimized{read}"
