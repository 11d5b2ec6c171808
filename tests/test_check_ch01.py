"""Chapter 01's checks accept the right answer and reject wrong or missing ones."""

import copy
import sqlite3

import graphviz
import pytest
from checking import accepts, rejects
from pyspark.sql import functions as F

from lablib.check import ch01


@pytest.fixture(scope="module")
def orders(spark):
    return spark.createDataFrame(
        [("O-1", "2024-03-01 10:00:00", "store", "completed", "10.50"),
         ("O-2", "2024-05-01 11:00:00", "web", "completed", "20.25"),
         ("O-3", "2024-06-01 12:00:00", "web", "cancelled", "99.99"),
         ("O-4", "2023-06-01 12:00:00", "web", "completed", "5.00"),
         ("O-5", "2024-07-01 12:00:00", "marketplace", "completed", "7.10")],
        "order_id string, order_ts string, channel string, status string, total_amount string",
    ).select("order_id", F.to_timestamp("order_ts").alias("order_ts"), "channel", "status",
             F.col("total_amount").cast("decimal(12,2)").alias("total_amount"),
             F.to_date("order_ts").alias("order_date"))


def test_typed_csv(spark, orders, tmp_path):
    path = str(tmp_path / "csv")
    orders.write.option("header", True).csv(path)
    accepts(ch01.typed_csv(spark.read.schema(orders.schema).option("header", True).csv(path), path, orders))
    rejects(ch01.typed_csv(None, path, orders), "orders_from_csv is still None")
    inferred = spark.read.option("header", True).option("inferSchema", True).csv(path)
    rejects(ch01.typed_csv(inferred, path, orders), "total_amount is double, not decimal(12,2)")
    rejects(ch01.typed_csv(spark.read.schema(orders.schema).csv(path), path, orders),
            "rows read, the orders have 5")  # the header of each file (one per task) read as a row
    rejects(ch01.typed_csv(orders, path, orders), "this DataFrame was not read from the CSV copy")


def test_fit_bad_append(spark, orders, tmp_path):
    path = str(tmp_path / "delta")
    orders.write.format("delta").save(path)
    bad = orders.limit(2).withColumn("total_amount", F.col("total_amount").cast("string")).withColumn("x", F.lit(1))
    rejects(ch01.fit_bad_append(path, bad), "the table's history has no append after version 0")
    rejects(ch01.fit_bad_append(path, None), "bad_batch is still None")
    evolved = str(tmp_path / "evolved")
    orders.write.format("delta").save(evolved)
    bad.withColumn("total_amount", F.col("total_amount").cast("decimal(12,2)")).write.format("delta") \
        .mode("append").option("mergeSchema", True).save(evolved)
    rejects(ch01.fit_bad_append(evolved, bad), "the table's schema changed")  # evolved instead
    fitted = bad.select([F.col(f.name).cast(f.dataType) for f in orders.schema])
    fitted.write.format("delta").mode("append").save(path)
    accepts(ch01.fit_bad_append(path, bad))
    twice = str(tmp_path / "twice")
    orders.write.format("delta").save(twice)
    fitted.union(fitted).write.format("delta").mode("append").save(twice)
    rejects(ch01.fit_bad_append(twice, bad), "the append added 4 row(s), the batch has 2")  # twice


def test_same_question(spark, orders, tmp_path):
    path = str(tmp_path / "parquet")
    orders.write.parquet(path)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE o (channel TEXT, status TEXT, order_ts TEXT, cents INTEGER)")
    con.executemany("INSERT INTO o VALUES (?,?,?,?)",
                    [(r.channel, r.status, str(r.order_ts), int(r.total_amount * 100)) for r in orders.collect()])
    good_sql = con.execute("SELECT channel, sum(cents) / 100.0 FROM o WHERE status = 'completed' "
                           "AND order_ts >= '2024-01-01' AND order_ts < '2025-01-01' GROUP BY channel").fetchall()
    good_spark = (spark.read.parquet(path).where("status = 'completed' AND year(order_ts) = 2024")
                  .groupBy("channel").agg(F.sum("total_amount").alias("revenue")))
    accepts(ch01.same_question(good_sql, good_spark, path))
    rejects(ch01.same_question(None, good_spark, path), "sqlite_answer is still None")
    rejects(ch01.same_question(good_sql, None, path), "spark_answer is still None")
    all_status = con.execute("SELECT channel, sum(cents) / 100.0 FROM o WHERE order_ts >= '2024-01-01' "
                             "GROUP BY channel").fetchall()
    rejects(ch01.same_question(all_status, good_spark, path),
            "sqlite_answer: web revenue 120.24, expected 20.25")  # cancelled counted
    all_years = spark.read.parquet(path).where("status = 'completed'").groupBy("channel") \
        .agg(F.sum("total_amount").alias("revenue"))
    rejects(ch01.same_question(good_sql, all_years, path),
            "spark_answer: web revenue 25.25, expected 20.25")  # 2023 counted
    rejects(ch01.same_question(good_sql, good_spark.withColumnRenamed("revenue", "r"), path),
            "spark_answer lacks column(s) revenue")


@pytest.fixture()
def decision():
    why = "a reason of several words"
    return {
        "sources": {n: dict(f) for n, f in ch01.SOURCES.items()},
        "ingestion": {n: {"tech": "Kafka" if f["arrives"] == "stream" else "Spark batch",
                          "path": f["arrives"], "why": why} for n, f in ch01.SOURCES.items()},
        "storage": {"tech": "Delta Lake", "format": "delta", "layers": ["bronze", "silver", "gold"], "why": why},
        "processing": {"stream": {"tech": "Structured Streaming", "why": why}, "batch": {"tech": "Spark", "why": why}},
        "serving": {"dashboards": {"tech": "SQL", "reads": "gold", "why": why},
                    "failure_prediction": {"tech": "MLflow", "reads": "silver", "why": why}},
        "governance": {"pii": {"tech": "masking", "why": why}, "access": {"tech": "grants", "why": why}},
    }


def test_architecture_decision(decision):
    accepts(ch01.architecture_decision(decision))
    rejects(ch01.architecture_decision(None), "decision is still None")
    for mutate, reason in (
        (lambda d: d.pop("governance"), "stage(s) missing or empty: governance"),
        (lambda d: d["ingestion"]["telemetry"].update(path="batch"),  # stream source, batch path
         "telemetry arrives continuously but is ingested in batch"),
        (lambda d: d["sources"]["customers"].update(pii=False), "customers holds personal data"),
        (lambda d: d["governance"].pop("pii"), "governance has no 'pii' control"),
        (lambda d: d["storage"].update(format="csv"), "storage format 'csv' is not an open table format"),
        (lambda d: d["processing"].pop("stream"), "sources are ingested as stream but processing has no 'stream'"),
        (lambda d: d["serving"]["dashboards"].update(reads="platinum"),
         "serving dashboards reads 'platinum', which is not one of the layers"),
        (lambda d: d["ingestion"]["orders"].update(why="..."), "ingestion of orders: say why Spark batch"),
        (lambda d: d["sources"].pop("ledger"), "source ledger is not described in 'sources'"),
        (lambda d: d["sources"]["clickstream"].update(arrives="batch"),
         "clickstream arrives as a stream, the decision says 'batch'"),
    ):
        wrong = copy.deepcopy(decision)
        mutate(wrong)
        rejects(ch01.architecture_decision(wrong), reason)


def test_decision_diagram(decision):
    g = graphviz.Digraph()
    store = decision["storage"]["tech"]
    for name, ing in decision["ingestion"].items():
        g.edge(name, ing["tech"])
        g.edge(ing["tech"], store)
    for part in ("processing", "serving", "governance"):
        for entry in decision[part].values():
            g.edge(store, entry["tech"])
    accepts(ch01.decision_diagram(g, decision))
    rejects(ch01.decision_diagram(None, decision), "decision_graph is still None")
    rejects(ch01.decision_diagram("digraph {}", decision), "decision_graph is a str, not a graphviz Digraph")
    partial = graphviz.Digraph()
    partial.edge("telemetry", "Kafka")
    rejects(ch01.decision_diagram(partial, decision), "the diagram does not show: clickstream, orders")
