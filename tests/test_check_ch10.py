"""Chapter 10's checks accept the right answer and reject wrong or missing ones (real Spark, Delta,
the dataset's dirt report and datacontract-cli)."""

from __future__ import annotations

import datetime as dt

import pytest
from checking import accepts, rejects
from pyspark.sql import functions as F

import lablib
from lablib.check import ch10

DB = "test_ch10_checks"
EARLIEST, LATEST = dt.date(1901, 1, 1), dt.date(2024, 12, 31)
FORMATS = ("yyyy-MM-dd", "dd.MM.yyyy", "yyyy/MM/dd")
KINDS = {"first_name": "name", "last_name": "name", "email": "contact", "phone": "contact",
         "street": "address", "birth_date": "birth"}


def _gate(bronze, formats=FORMATS, dedupe=True, clean_email=True, reasons=True):
    parsed = F.coalesce(*(F.try_to_date("birth_date", f) for f in formats))
    rows = bronze.dropDuplicates() if dedupe else bronze
    typed = (rows.withColumn("birth_text", F.col("birth_date")).withColumn("birth_date", parsed)
             .withColumn("email", F.lower(F.trim("email")) if clean_email else F.col("email"))
             .withColumn("phone", F.when(F.col("phone") != "NA", F.col("phone")))
             .withColumn("reason", F.when(F.col("birth_date").isNull(), "does not parse")
                         .when(~F.col("birth_date").between(EARLIEST, LATEST),
                               "out of range" if reasons else "does not parse")))
    silver = typed.where(F.col("reason").isNull()).drop("reason", "birth_text")
    quarantined = typed.where(F.col("reason").isNotNull()).drop("birth_text")
    return silver, quarantined


@pytest.fixture(scope="module")
def bronze(spark):
    return lablib.data.read("customers").cache()


@pytest.fixture()
def customers(spark, bronze):
    name = f"{DB}.customers"
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    bronze.limit(20).write.format("delta").saveAsTable(name)
    return name


def _tag(spark, table, kinds):
    pairs = ", ".join(f"'mat.pii.{c}' = '{k}'" for c, k in kinds.items())
    spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ({pairs})")


def test_tag_pii(spark, customers):
    rejects(ch10.tag_pii(None), "the table name is still None")
    rejects(ch10.tag_pii(f"{DB}.nope"), f"there is no table {DB}.nope")
    rejects(ch10.tag_pii(customers), "has no mat.pii.<column> property")
    _tag(spark, customers, {c: k for c, k in KINDS.items() if c != "birth_date"})
    rejects(ch10.tag_pii(customers), "1 PII column(s) untagged: birth_date")
    _tag(spark, customers, KINDS)
    accepts(ch10.tag_pii(customers))
    _tag(spark, customers, {"city": "address"})
    rejects(ch10.tag_pii(customers), "city tagged as PII, but the policy does not count it as PII")
    spark.sql(f"ALTER TABLE {customers} UNSET TBLPROPERTIES ('mat.pii.city')")
    _tag(spark, customers, {"mail": "contact"})
    rejects(ch10.tag_pii(customers), "mat.pii.mail names no column")


def test_quarantine(bronze):
    accepts(ch10.quarantine(*_gate(bronze)))
    rejects(ch10.quarantine(None, _gate(bronze)[1]), "silver is still None")
    rejects(ch10.quarantine(*_gate(bronze, formats=("yyyy-MM-dd",))),
            "24 row(s) quarantined; dirt.json planted 4 bad birth dates (2 malformed, 2 out of range)")
    rejects(ch10.quarantine(*_gate(bronze, reasons=False)), "one reason ('does not parse') for every quarantined row")
    rejects(ch10.quarantine(*_gate(bronze, dedupe=False)), "silver holds 10 duplicate customer row(s)")
    rejects(ch10.quarantine(*_gate(bronze, clean_email=False)), "20 silver email(s) still carry upper case or spaces")
    silver, quarantined = _gate(bronze)
    rejects(ch10.quarantine(silver, quarantined.drop("reason")), "quarantined lacks column(s) reason")
    rejects(ch10.quarantine(silver.toPandas(), quarantined), "silver is a pandas DataFrame, not a Spark DataFrame")


CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: urn:test:segments
name: Segments
version: 1.0.0
status: active
team:
  name: crm-analytics
slaProperties:
  - property: frequency
    value: 1
    unit: d
schema:
  - name: test_segments
    physicalType: table
    properties:
      - name: country
        logicalType: string
        physicalType: string
        required: true
      - name: loyalty_tier
        logicalType: string
        physicalType: string
        required: true
        quality:
          - type: library
            metric: invalidValues
            arguments:
              validValues: [none, bronze, silver, gold]
            mustBe: 0
      - name: customers
        logicalType: integer
        physicalType: bigint
        required: true
    quality:
      - type: library
        metric: rowCount
        mustBeGreaterThan: 0
servers:
  - server: lakehouse
    type: custom
    customProperties:
      - property: customType
        value: dataframe
"""


@pytest.fixture()
def segments(spark, bronze):
    name = f"{DB}.segments"
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    bronze.groupBy("country", "loyalty_tier").agg(F.count("*").alias("customers")).write.format("delta").saveAsTable(name)
    return name


def test_contract(segments):
    accepts(ch10.contract(CONTRACT, segments))
    rejects(ch10.contract(None, segments), "contract is still None")
    rejects(ch10.contract(CONTRACT, f"{DB}.nope"), f"there is no table {DB}.nope")
    rejects(ch10.contract("a: [", segments), "the contract is not valid YAML")
    rejects(ch10.contract(CONTRACT.replace("kind: DataContract", "kind: Other"), segments),
            "the contract is not an ODCS v3 data contract")
    rejects(ch10.contract(CONTRACT.replace("team:\n  name: crm-analytics\n", ""), segments),
            "the contract names no owner (team)")
    rejects(ch10.contract(CONTRACT.replace("slaProperties:\n  - property: frequency\n    value: 1\n    unit: d\n", ""),
                          segments), "the contract states no SLA (slaProperties)")
    no_customers = CONTRACT.split("      - name: customers")[0] + "    quality:" + CONTRACT.split("    quality:")[-1]
    rejects(ch10.contract(no_customers, segments), "leaves column(s) customers of")
    rejects(ch10.contract(CONTRACT.replace("[none, bronze, silver, gold]", "[none, bronze, silver]"), segments),
            "datacontract test fails on")
    rejects(ch10.contract(CONTRACT.replace("physicalType: bigint", "physicalType: string")
                          .replace("logicalType: integer", "logicalType: string"), segments),
            "datacontract test fails on")
    rejects(ch10.contract(CONTRACT.replace("required: true", "required: false"), segments),
            "no column is required, so a renamed column would pass unnoticed")


# -- 10b ----------------------------------------------------------------------------------

def test_lineage_impact(spark, tmp_path):
    from lablib import governance

    events = tmp_path / "events.jsonl"
    a, b, c = (str(tmp_path / n) for n in "abc")
    with governance.lineage(events):
        spark.range(5).selectExpr("id", "id * 2 AS x").write.format("delta").save(a)
        spark.read.format("delta").load(a).selectExpr("id", "x + 1 AS y").write.format("delta").save(b)
        spark.read.format("delta").load(b).selectExpr("id", "y * 3 AS z").write.format("delta").save(c)
    accepts(ch10.lineage_impact({("b", "y"), ("c", "z")}, events, "a", "x"))
    rejects(ch10.lineage_impact(None, events, "a", "x"), "impacted is still None")
    rejects(ch10.lineage_impact({("b", "y")}, events, "a", "x"),
            "1 dependent column(s) missing, e.g. c.z Hint: follow the edges further")
    rejects(ch10.lineage_impact({("b", "y"), ("c", "z"), ("b", "id")}, events, "a", "x"),
            "b.id does not depend on a.x in the events")
    rejects(ch10.lineage_impact(["b.y"], events, "a", "x"), "'b.y' is not a (table, column) pair of strings")
    rejects(ch10.lineage_impact({("b", "y")}, tmp_path / "none.jsonl", "a", "x"),
            "the events file holds no OpenLineage event")


@pytest.fixture()
def silver_customers(spark, bronze):
    name = f"{DB}.silver_customers"
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    _gate(bronze)[0].write.format("delta").saveAsTable(name)
    return name


MASKED = """SELECT customer_id, CAST(NULL AS STRING) AS first_name, CAST(NULL AS STRING) AS last_name,
       {email} AS email, {phone} AS phone, CAST(NULL AS STRING) AS street, city, postal_code, country,
       make_date(year(birth_date), 1, 1) AS birth_date, loyalty_tier, signup_date FROM {table}"""
GOOD_EMAIL = "concat(substr(email, 1, 1), '***@', substring_index(email, '@', -1))"
GOOD_PHONE = "CASE WHEN phone IS NOT NULL THEN concat('***-', right(phone, 4)) END"


def _view(spark, table, email=GOOD_EMAIL, phone=GOOD_PHONE, name="analyst"):
    spark.sql(f"CREATE OR REPLACE VIEW {DB}.{name} AS " + MASKED.format(email=email, phone=phone, table=table))
    return f"{DB}.{name}"


def test_masked_view(spark, silver_customers):
    accepts(ch10.masked_view(_view(spark, silver_customers), silver_customers))
    rejects(ch10.masked_view(None, silver_customers), "the view name is still None")
    rejects(ch10.masked_view(silver_customers, silver_customers), f"{silver_customers} is a MANAGED table, not a view")
    rejects(ch10.masked_view(_view(spark, silver_customers, email="email"), silver_customers),
            "email shows its real value in 1,996 row(s)")
    rejects(ch10.masked_view(_view(spark, silver_customers, phone="coalesce(concat('***-', right(phone, 4)), '***')"),
                             silver_customers), "40 customer(s) without a phone show a masked phone")
    rejects(ch10.masked_view(_view(spark, silver_customers, email="'***'"), silver_customers),
            "1,996 masked e-mail(s) lost their domain")
    spark.sql(f"CREATE OR REPLACE VIEW {DB}.narrow AS SELECT customer_id, email FROM {silver_customers}")
    rejects(ch10.masked_view(f"{DB}.narrow", silver_customers), "lacks column(s) first_name")


def test_erasure(spark, bronze):
    table, log = f"{DB}.erase_me", f"{DB}.erasure_log"
    for t in (table, log):
        spark.sql(f"DROP TABLE IF EXISTS {t}")
    bronze.limit(200).write.format("delta").option("delta.enableChangeDataFeed", "true").saveAsTable(table)
    spark.sql(f"CREATE TABLE {log} (request STRING, customer_token STRING) USING delta")
    who = bronze.orderBy("customer_id").first()
    rejects(ch10.erasure(who.customer_id, [table], who.email, log), f"{table} still holds 1 row(s) of {who.customer_id}")
    spark.sql(f"DELETE FROM {table} WHERE customer_id = '{who.customer_id}'")
    rejects(ch10.erasure(who.customer_id, [table], who.email, log),
            f"the DELETE on {table} carries no userMetadata")
    spark.sql(f"RESTORE TABLE {table} TO VERSION AS OF 0")
    with lablib.spark_conf({"spark.databricks.delta.commitInfo.userMetadata": "REQ-1"}):
        spark.sql(f"DELETE FROM {table} WHERE customer_id = '{who.customer_id}'")
    rejects(ch10.erasure(who.customer_id, [table], who.email, log), "still holds the customer's customer_id")
    with lablib.spark_conf({"spark.databricks.delta.retentionDurationCheck.enabled": "false",
                            "spark.sql.sources.parallelPartitionDiscovery.parallelism": 4}):
        spark.sql(f"REORG TABLE {table} APPLY (PURGE)")
        spark.sql(f"VACUUM {table} RETAIN 0 HOURS")
    rejects(ch10.erasure(who.customer_id, [table], who.email, log), f"{log} is empty: the request is not recorded")
    spark.sql(f"INSERT INTO {log} VALUES ('REQ-1', sha2('salt{who.customer_id}', 256))")
    accepts(ch10.erasure(who.customer_id, [table], who.email, log))
    spark.sql(f"INSERT INTO {log} VALUES ('REQ-1', '{who.customer_id}')")
    rejects(ch10.erasure(who.customer_id, [table], who.email, log), f"{log} stores the customer's id")
