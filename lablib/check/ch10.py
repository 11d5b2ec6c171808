"""Checks of chapter 10, data governance: they read the real tables' metadata, the dataset's dirt
report and the contract run by datacontract-cli itself.

The truths come from the chapter's classification policy (PII below), from ``dirt.json`` (the exact
count of every planted flaw) and from datacontract-cli's own test run, never from the learner's code.
"""

from __future__ import annotations

from collections import Counter

from lablib.check import exercise, fail
from lablib.check._spark import need_columns, need_dataframe, spark_session
from lablib.paths import local_path

#: the customer columns that identify a person alone or with little else (the chapter's policy)
PII = ("first_name", "last_name", "email", "phone", "street", "birth_date")
TAG_PREFIX = "mat.pii."


def _table(name, what: str = "the table name"):
    spark = spark_session()
    if name is None:
        fail(f"{what} is still None")
    if not isinstance(name, str):
        fail(f"{what} should be a table name (str), not a {type(name).__name__}")
    if not spark.catalog.tableExists(name):
        fail(f"there is no table {name}", "create it with saveAsTable or CREATE TABLE first")
    return spark


# --------------------------------------------------------------------------- 1. tag the PII columns
@exercise("10", hint="ALTER TABLE … SET TBLPROPERTIES ('mat.pii.<column>' = '<kind>', …) for each column that "
                     "identifies a person: names, email, phone, street, birth date; nothing else")
def tag_pii(table):
    """``table``: a customers table whose PII columns carry a ``mat.pii.<column>`` table property."""
    spark = _table(table)
    props = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}
    tagged = {k[len(TAG_PREFIX):]: v for k, v in props.items() if k.startswith(TAG_PREFIX)}
    if not tagged:
        fail(f"{table} has no {TAG_PREFIX}<column> property", "tag each PII column with a table property")
    columns = set(spark.table(table).columns)
    unknown = sorted(set(tagged) - columns)
    if unknown:
        fail(f"{TAG_PREFIX}{unknown[0]} names no column of {table}", "tag the columns by their exact names")
    empty = sorted(c for c, v in tagged.items() if not (v or "").strip())
    if empty:
        fail(f"{TAG_PREFIX}{empty[0]} has an empty value", "say what kind of PII it is (name, contact, …)")
    missing = [c for c in PII if c in columns and c not in tagged]
    if missing:
        fail(f"{len(missing)} PII column(s) untagged: {', '.join(missing)}")
    extra = sorted(set(tagged) - set(PII))
    if extra:
        fail(f"{', '.join(extra)} tagged as PII, but the policy does not count it as PII",
             "tag only what identifies a person: over-tagging hides the columns that matter")
    return f"{len(tagged)} PII columns tagged on {table} ({', '.join(c for c in PII if c in tagged)})"


# --------------------------------------------------------------------------- 2. quality gate + quarantine
@exercise("10", hint="drop exact duplicate rows; parse birth_date with the three formats (try_to_date); send rows "
                     "whose date does not parse, or falls outside 1901-01-01…2024-12-31, to the quarantine with a "
                     "reason; lower/trim email and turn phone 'NA' into null in the rows that pass")
def quarantine(silver, quarantined):
    """``silver``: the customers that passed the gate (birth_date a DATE); ``quarantined``: the rows
    that failed it, with a ``reason``. Both reconciled against ``dirt.json``."""
    from pyspark.sql import functions as F

    from lablib import data

    need_dataframe(silver, "silver")
    need_dataframe(quarantined, "quarantined")
    need_columns(quarantined, ["customer_id", "reason"], "quarantined")
    need_columns(silver, ["customer_id", "email", "phone", "birth_date"], "silver")
    dirt = data.dirt()["customers"]
    bad = dirt["malformed_dates"]["birth_date"] + dirt["outliers"]["birth_date"]
    q = quarantined.groupBy("reason").count().collect()
    n_q = sum(r["count"] for r in q)
    if any(r["reason"] is None or not str(r["reason"]).strip() for r in q):
        fail("some quarantined rows have no reason", "write why each row failed into reason")
    if n_q != bad:
        fail(f"{n_q:,} row(s) quarantined; dirt.json planted {bad} bad birth dates "
             f"({dirt['malformed_dates']['birth_date']} malformed, {dirt['outliers']['birth_date']} out of range)",
             "dates in DD.MM.YYYY or YYYY/MM/DD are fine once parsed: repair them, do not quarantine them"
             if n_q > bad else None)
    if len(q) < 2:
        fail(f"one reason ({q[0]['reason']!r}) for every quarantined row",
             "say which rule failed: an unparseable date is not the same problem as an impossible one")
    if dict(silver.dtypes)["birth_date"] != "date":
        fail(f"silver.birth_date is {dict(silver.dtypes)['birth_date']}, not date", "parse it with try_to_date")
    want = dirt["rows"] - dirt["duplicate_rows"] - bad
    got, ids, null_birth, bad_email, na_phone = silver.agg(
        F.count("*"), F.countDistinct("customer_id"), F.count_if(F.col("birth_date").isNull()),
        F.count_if(F.col("email") != F.lower(F.trim("email"))), F.count_if(F.col("phone") == "NA"),
    ).first()
    if got != ids:
        fail(f"silver holds {got - ids} duplicate customer row(s)",
             f"dirt.json planted {dirt['duplicate_rows']} exact duplicate rows: dropDuplicates()")
    if got != want:
        fail(f"silver holds {got:,} customers; {dirt['rows']:,} rows − {dirt['duplicate_rows']} duplicates − "
             f"{bad} quarantined = {want:,}")
    if null_birth:
        fail(f"{null_birth} silver row(s) have a null birth_date")
    if bad_email:
        fail(f"{bad_email} silver email(s) still carry upper case or spaces", "F.lower(F.trim('email'))")
    if na_phone:
        fail(f"{na_phone} silver phone(s) are still the text 'NA'", "turn 'NA' into null")
    return (f"{got:,} customers pass, {n_q} quarantined under {len(q)} reasons; "
            f"{dirt['rows']:,} = {got:,} + {dirt['duplicate_rows']} duplicates + {n_q}, as dirt.json says")


# --------------------------------------------------------------------------- 3. the data contract
def _contract(text: str, frame):
    """datacontract-cli's test of ``text`` against ``frame`` (registered as the contract's model)."""
    import yaml
    from datacontract.data_contract import DataContract

    spec = yaml.safe_load(text)
    model = spec["schema"][0]["name"]
    frame.createOrReplaceTempView(model)
    return model, DataContract(data_contract_str=text, spark=frame.sparkSession).test()


def _failed(run) -> list:
    return [c for c in run.checks if str(getattr(c.result, "value", c.result)) not in ("passed", "info")]


@exercise("10", hint="an ODCS v3 contract (apiVersion v3.1.0, kind DataContract) with team (the owner), "
                     "slaProperties, one schema entry named like the table's view, every column as a property "
                     "with logicalType/physicalType and required, and at least one quality rule; servers: "
                     "type custom with customProperties customType = dataframe")
def contract(text, table):
    """``text``: an ODCS contract (YAML) for the gold table ``table``; it must pass datacontract-cli's
    test on the real table and fail when a column is renamed."""
    import yaml

    spark = _table(table, "table")
    if text is None:
        fail("contract is still None")
    if not isinstance(text, str):
        fail(f"contract should be the YAML text (str), not a {type(text).__name__}")
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        fail(f"the contract is not valid YAML ({str(exc).splitlines()[0]})")
    if not isinstance(spec, dict) or spec.get("kind") != "DataContract" or not str(spec.get("apiVersion", "")).startswith("v3"):
        fail("the contract is not an ODCS v3 data contract (kind: DataContract, apiVersion: v3.x)")
    if not spec.get("team"):
        fail("the contract names no owner (team)", "team: {name: …}: someone answers for this product")
    if not spec.get("slaProperties"):
        fail("the contract states no SLA (slaProperties)", "e.g. freshness or latency, and availability")
    schemas = spec.get("schema") or []
    if len(schemas) != 1 or not schemas[0].get("name"):
        fail("the contract should describe one schema entry (the gold table) with a name")
    props = {p.get("name"): p for p in schemas[0].get("properties") or []}
    frame = spark.table(table)
    uncovered = [c for c in frame.columns if c not in props]
    if uncovered:
        fail(f"the contract leaves column(s) {', '.join(uncovered)} of {table} undescribed")
    rules = list(schemas[0].get("quality") or []) + [q for p in props.values() for q in (p.get("quality") or [])]
    if not rules:
        fail("the contract has no quality rule", "add e.g. a rowCount or invalidValues rule")
    model, run = _contract(text, frame)
    failed = _failed(run)
    if failed:
        first = failed[0]
        fail(f"datacontract test fails on {table}: {first.name} ({first.reason or first.result})")
    renamed_col = next((c for c in frame.columns if props[c].get("required")), None)
    if renamed_col is None:
        fail("no column is required, so a renamed column would pass unnoticed",
             "mark the columns consumers rely on required: true")
    broken = frame.withColumnRenamed(renamed_col, f"{renamed_col}_renamed")
    _, run2 = _contract(text, broken)
    if not _failed(run2):
        fail(f"the contract still passes when {renamed_col} is renamed", "describe every column, required")
    return (f"{model}: {len(run.checks)} contract checks pass on {table}; renaming {renamed_col} fails "
            f"{len(_failed(run2))} of them")


# --------------------------------------------------------------------------- 10b 1. a lineage question
@exercise("10", hint="walk the column edges from (table, column): every edge whose input is a pair you have "
                     "reached adds its output; repeat until nothing new is reached")
def lineage_impact(impacted, events_path, table, column):
    """``impacted``: every ``(table, column)`` downstream of ``table.column`` in the OpenLineage events."""
    from lablib import governance

    if impacted is None:
        fail("impacted is still None")
    if not isinstance(impacted, set | frozenset | list | tuple):
        fail(f"impacted should be a set of (table, column) pairs, not a {type(impacted).__name__}")
    got = set()
    for item in impacted:
        if not (isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            fail(f"{item!r} is not a (table, column) pair of strings")
        got.add(tuple(item))
    events = governance.read_events(events_path)
    if not events:
        fail("the events file holds no OpenLineage event", "run the pipeline inside lablib.governance.lineage(EVENTS)")
    _, columns = governance.lineage_edges(events)
    want = governance.downstream(columns, table, column)
    missing = sorted(want - got)
    if missing:
        direct = {(ot, oc) for it, ic, ot, oc in columns if (it, ic) == (table, column)}
        fail(f"{len(missing)} dependent column(s) missing, e.g. {'.'.join(missing[0])}",
             "follow the edges further: a column computed from a column computed from it is impacted too"
             if set(missing).isdisjoint(direct) else None)
    extra = sorted(got - want)
    if extra:
        fail(f"{'.'.join(extra[0])} does not depend on {table}.{column} in the events",
             "follow only edges whose input you have already reached")
    return f"{len(want)} column(s) depend on {table}.{column}: " + ", ".join(".".join(p) for p in sorted(want))


# --------------------------------------------------------------------------- 10b 2. the masked view
@exercise("10", hint="CREATE OR REPLACE VIEW … AS SELECT customer_id, NULL first_name, …, "
                     "concat(substr(email,1,1),'***@',substring_index(email,'@',-1)) AS email, "
                     "CASE WHEN phone IS NOT NULL THEN concat('***-', right(phone,4)) END AS phone, …")
def masked_view(view, table):
    """``view``: the analyst's view over ``table``: every row, every column, no PII column showing its
    real value (the PII columns are the chapter's policy, PII above)."""
    from pyspark.sql import functions as F

    spark = _table(view, "the view name")
    kind = next((t.tableType for t in spark.catalog.listTables(view.rsplit(".", 1)[0]) if t.name == view.rsplit(".", 1)[-1]), None)
    if kind != "VIEW":
        fail(f"{view} is a {kind or 'temporary'} table, not a view",
             "a view masks at read time and holds no copy: CREATE OR REPLACE VIEW")
    masked, real = spark.table(view), spark.table(table)
    missing = [c for c in real.columns if c not in masked.columns]
    if missing:
        fail(f"{view} lacks column(s) {', '.join(missing)}", "keep every column; mask, do not drop")
    n_masked, n_real = masked.count(), real.count()
    if n_masked != n_real:
        fail(f"{view} has {n_masked:,} rows, {table} has {n_real:,}")
    joined = real.alias("r").join(masked.alias("m"), "customer_id")
    # every comparison below is a sum over one join, counted in a single Spark job
    tests = {}
    for c in PII:
        if c not in real.columns:
            continue
        same = F.col(f"r.{c}").isNotNull() & (F.col(f"r.{c}").cast("string") == F.col(f"m.{c}").cast("string"))
        if c == "birth_date":  # kept as its year (1 January): a birthday on 1 January matches by chance
            same = same & ~F.date_format(F.col("r.birth_date").cast("date"), "MM-dd").eqNullSafe("01-01")
        tests[f"shown:{c}"] = same
    tests["nulls"] = F.col("r.phone").isNull() & F.col("m.phone").isNotNull()
    tests["domains"] = (F.col("m.email").isNull()
                        | (F.substring_index("m.email", "@", -1) != F.substring_index("r.email", "@", -1)))
    for c in ("country", "loyalty_tier", "signup_date"):
        if c in real.columns:
            tests[f"kept:{c}"] = ~F.col(f"r.{c}").eqNullSafe(F.col(f"m.{c}"))
    counts = joined.agg(*[F.sum(F.when(t, 1).otherwise(0)).alias(k) for k, t in tests.items()]).first().asDict()
    counts = {k: v or 0 for k, v in counts.items()}  # an empty join sums to null
    for c in PII:
        if counts.get(f"shown:{c}"):
            fail(f"{c} shows its real value in {counts[f'shown:{c}']:,} row(s) of {view}")
    if counts["nulls"]:
        fail(f"{counts['nulls']} customer(s) without a phone show a masked phone", "mask only a phone that exists")
    if counts["domains"]:
        fail(f"{counts['domains']:,} masked e-mail(s) lost their domain", "keep the part after @: analysts count by provider")
    for c in ("country", "loyalty_tier", "signup_date"):
        if counts.get(f"kept:{c}"):
            fail(f"{c} differs from the table in {view}; it is not PII and should stay as it is")
    return f"{view}: {n_real:,} rows, no real value of {', '.join(c for c in PII if c in real.columns)}"


# --------------------------------------------------------------------------- 10b 3. erasure
@exercise("10", hint="for each table: DELETE …, REORG TABLE … APPLY (PURGE), VACUUM … RETAIN 0 HOURS (inside "
                     "lablib.spark_conf with the retention check off, the request as userMetadata and a small "
                     "spark.sql.sources.parallelPartitionDiscovery.parallelism); then "
                     "append the request with the customer's token to the audit log")
def erasure(customer_id, tables, email, log_table):
    """No row of ``customer_id`` in ``tables`` now, nor the customer's id or e-mail in any data file under
    their folders (so no older version can return them either); the request in ``log_table`` and in the
    DELETE commits' user metadata."""
    from functools import reduce

    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    spark = spark_session()
    if not tables:
        fail("no tables to check")
    for table in tables:
        _table(table)
    # one query finds what is left of the customer in every table, not one query per table
    hits = reduce(lambda a, b: a.unionByName(b), [
        spark.table(t).where(F.col("customer_id") == customer_id).select(F.lit(t).alias("table")) for t in tables])
    left = Counter(r["table"] for r in hits.collect())
    for table in tables:
        if left[table]:
            fail(f"{table} still holds {left[table]} row(s) of {customer_id}")
        hist = spark.sql(f"DESCRIBE HISTORY {table}").select("version", "operation", "userMetadata").collect()
        deletes = [h for h in hist if h["operation"] == "DELETE"]
        if not deletes:
            fail(f"{table} has no DELETE in its history", "DELETE FROM … WHERE customer_id = …")
        if not any(h["userMetadata"] for h in deletes):
            fail(f"the DELETE on {table} carries no userMetadata: the audit trail cannot say why",
                 "wrap it in lablib.spark_conf({'spark.databricks.delta.commitInfo.userMetadata': REQUEST})")
        # every version of the table, version 0 too, is made of files in this folder: when none of them holds
        # the customer, time travel cannot return the customer either (so no old version is read here)
        folder = local_path(spark.sql(f"DESCRIBE DETAIL {table}").first()["location"])
        for f in sorted(folder.rglob("*.parquet")):
            if "_delta_log" in f.parts:
                continue
            data = pq.read_table(f)
            text = [data.column(i) for i, field in enumerate(data.schema)
                    if str(field.type) in ("string", "large_string")]  # any text column: names may be mapped
            for what, value in (("customer_id", customer_id), ("email", email)):
                if value is not None and any(pc.any(pc.equal(column, value)).as_py() for column in text):
                    where = "a change-data file" if "_change_data" in f.parts else "a data file"
                    fail(f"{table}: {where} ({f.name}) still holds the customer's {what}",
                         "deletion vectors only hide rows: REORG TABLE … APPLY (PURGE), then VACUUM … RETAIN 0 HOURS")
    _table(log_table, "the audit log")
    logged = spark.table(log_table).collect()  # a handful of requests: read once, looked at in Python
    if not logged:
        fail(f"{log_table} is empty: the request is not recorded")
    if any(customer_id in str(v) for r in logged for v in r.asDict().values()):
        fail(f"{log_table} stores the customer's id: the audit log must not keep what was erased",
             "log a salted token of the id instead")
    return (f"{customer_id} gone from {len(tables)} tables, their files and version 0; "
            f"{len(logged)} request(s) in {log_table}")
