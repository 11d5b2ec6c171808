"""Chapter 03's checks accept the right answer and reject wrong or missing ones."""

from decimal import Decimal

import pytest
from checking import accepts, rejects
from delta.tables import DeltaTable
from pyspark.sql import functions as F

import lablib
from lablib.check import ch03

DB = "test_ch03_checks"


@pytest.fixture()
def lines(spark):
    return spark.createDataFrame(
        [("O-1", 1, "P-1", 2), ("O-1", 2, "P-2", 1), ("O-2", 1, "P-9", 5), ("O-3", 1, "P-1", 0),
         ("O-4", 1, "P-2", 1000)],
        "order_id string, line_no int, product_id string, quantity int",
    )


@pytest.fixture()
def products(spark):
    return spark.createDataFrame([("P-1", "plush"), ("P-2", "puzzles")], "product_id string, category string")


def test_broadcast_join(lines, products):
    accepts(ch03.broadcast_join(lines.join(F.broadcast(products), "product_id"), lines, products))
    rejects(ch03.broadcast_join(None, lines, products), "lines_with_products is still None")
    rejects(ch03.broadcast_join(lines.join(products, "product_id"), lines, products),
            "your join plans as a shuffle join")  # no hint
    rejects(ch03.broadcast_join(lines.join(F.broadcast(products), "product_id", "left"), lines, products),
            "5 rows, the inner join of lines and products has 4")  # an outer join keeps the orphan
    rejects(ch03.broadcast_join(lines, lines, products),
            "lines_with_products lacks column(s) category")  # no join at all


def test_pruned_month(spark, tmp_path):
    path = str(tmp_path / "orders")
    orders = spark.createDataFrame(
        [("O-1", "2024-10-05 10:00:00"), ("O-2", "2024-11-02 11:00:00"), ("O-3", "2024-11-29 12:00:00"),
         ("O-4", "2024-12-24 09:00:00")], "order_id string, order_ts string",
    ).select("order_id", F.to_timestamp("order_ts").alias("order_ts"))
    (orders.withColumn("order_year", F.year("order_ts")).withColumn("order_month", F.month("order_ts"))
        .repartition("order_year", "order_month")
        .write.partitionBy("order_year", "order_month").parquet(path))
    data = spark.read.parquet(path)
    accepts(ch03.pruned_month(data.where("order_year = 2024 AND order_month = 11"), path, 2024, 11))
    rejects(ch03.pruned_month(None, path, 2024, 11), "november is still None")
    # a filter on order_ts reads every file (measured with the Spark UI's metrics, which local sessions have)
    rejects(ch03.pruned_month(data.where("order_ts >= '2024-11-01' AND order_ts < '2024-12-01'"), path, 2024, 11),
            "the query read 3 of 3 files; pruning would read 1")
    rejects(ch03.pruned_month(data.where("order_year = 2024 AND order_month = 12"), path, 2024, 11),
            "1 rows, the orders of 2024-11 are 2")


def test_external_table(spark, tmp_path):
    stores = lablib.data.read("stores")
    path = str(tmp_path / "stores")
    name = f"{DB}.stores"
    rejects(ch03.external_table(name, path), f"there is no table {name} in the catalog")  # not there yet
    stores.write.format("delta").saveAsTable(f"{DB}.stores_managed")
    rejects(ch03.external_table(f"{DB}.stores_managed", path), "is a MANAGED table, not EXTERNAL")
    stores.write.format("delta").option("path", path).saveAsTable(name)
    rejects(ch03.external_table(name, path), f"{name} has no comment")  # no comment, no property
    spark.sql(f"COMMENT ON TABLE {name} IS 'channels'")
    spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ('data_owner' = 'someone-else')")
    rejects(ch03.external_table(name, path), "property data_owner is 'someone-else', expected 'retail-ops'")
    spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ('data_owner' = 'retail-ops')")
    accepts(ch03.external_table(name, path))
    rejects(ch03.external_table(name, str(tmp_path / "elsewhere")), f"{name} lives at")


def _catalogue(spark, name):
    spark.createDataFrame(
        [("P-1", Decimal("10.00"), "plush"), ("P-2", Decimal("20.00"), "puzzles"), ("P-3", Decimal("30.00"), "dolls")],
        "product_id string, list_price decimal(10,2), category string",
    ).write.format("delta").mode("overwrite").saveAsTable(name)


def test_upsert(spark):
    updates = spark.createDataFrame(
        [("P-2", Decimal("19.00"), "EN71"), ("P-9", Decimal("5.00"), "ASTM")],
        "product_id string, list_price decimal(10,2), safety_cert string",
    )
    name = f"{DB}.upsert_ok"
    _catalogue(spark, name)
    rejects(ch03.upsert(name, updates), f"the history of {name} has no MERGE")  # no merge yet
    rejects(ch03.upsert(name, None), "price_updates is still None")
    (DeltaTable.forName(spark, name).alias("t").merge(updates.alias("u"), "t.product_id = u.product_id")
        .whenMatchedUpdate(set={"list_price": "u.list_price", "safety_cert": "u.safety_cert"})
        .whenNotMatchedInsert(values={"product_id": "u.product_id", "list_price": "u.list_price",
                                      "safety_cert": "u.safety_cert"})
        .withSchemaEvolution().execute())
    accepts(ch03.upsert(name, updates))
    # a later commit changes a merged price: the check still reads the MERGE's own version, by time travel
    spark.sql(f"UPDATE {name} SET list_price = 99.00 WHERE product_id = 'P-2'")
    accepts(ch03.upsert(name, updates))

    wrong = f"{DB}.upsert_no_insert"
    _catalogue(spark, wrong)
    (DeltaTable.forName(spark, wrong).alias("t").merge(updates.alias("u"), "t.product_id = u.product_id")
        .whenMatchedUpdate(set={"list_price": "u.list_price", "safety_cert": "u.safety_cert"})
        .withSchemaEvolution().execute())
    rejects(ch03.upsert(wrong, updates), "P-9 is missing after the merge")  # the new toy is missing

    no_cert = f"{DB}.upsert_no_evolution"
    _catalogue(spark, no_cert)
    (DeltaTable.forName(spark, no_cert).alias("t").merge(updates.alias("u"), "t.product_id = u.product_id")
        .whenMatchedUpdate(set={"list_price": "u.list_price"})
        .whenNotMatchedInsert(values={"product_id": "u.product_id", "list_price": "u.list_price"})
        .execute())
    rejects(ch03.upsert(no_cert, updates), "the table has no safety_cert column")


def test_quantity_rule(spark, lines):
    name = f"{DB}.lines"
    spark.sql(f"""CREATE TABLE {name} (order_id STRING, line_no INT, product_id STRING, quantity INT,
                  unit_price DECIMAL(10,2), discount_pct DOUBLE) USING delta""")
    lines.withColumn("unit_price", F.lit(1).cast("decimal(10,2)")).withColumn("discount_pct", F.lit(0.0)) \
        .write.format("delta").mode("append").saveAsTable(name)
    rejects(ch03.quantity_rule(name, lines), f"2 line(s) with a quantity outside 1 … 100 are still in {name}")
    rejects(ch03.quantity_rule(name, None), "lines is still None")
    spark.sql(f"DELETE FROM {name} WHERE quantity NOT BETWEEN 1 AND 100")
    rejects(ch03.quantity_rule(name, lines), "the table has no constraint quantity_range")  # no constraint yet
    spark.sql(f"ALTER TABLE {name} ADD CONSTRAINT quantity_min CHECK (quantity >= -5)")
    rejects(ch03.quantity_rule(name, lines), "no constraint quantity_range (it has quantity_min)")  # wrong name
    spark.sql(f"ALTER TABLE {name} ADD CONSTRAINT quantity_range CHECK (quantity BETWEEN 1 AND 100)")
    accepts(ch03.quantity_rule(name, lines))
    spark.sql(f"DELETE FROM {name} WHERE order_id = 'O-2'")
    rejects(ch03.quantity_rule(name, lines), f"{name} has 2 lines; the raw lines with a valid quantity are 3")


def test_clustered(spark, tmp_path):
    source = str(tmp_path / "telemetry")
    spark.range(400).select(F.format_string("M-%05d", F.col("id") % 40).alias("machine_id"),
                            F.col("id").cast("double").alias("temperature_c")) \
        .write.format("delta").save(source)
    name = f"{DB}.clustered"
    rejects(ch03.clustered(name, source), f"there is no table {name} in the catalog")  # missing
    plain = f"{DB}.not_clustered"
    spark.read.format("delta").load(source).write.format("delta").saveAsTable(plain)
    rejects(ch03.clustered(plain, source), f"{plain} is clustered by nothing, not by machine_id")
    (DeltaTable.create(spark).tableName(name).addColumns(spark.read.format("delta").load(source).schema)
        .clusterBy("machine_id").execute())
    spark.sql(f"INSERT INTO {name} SELECT * FROM delta.`{source}`")
    rejects(ch03.clustered(name, source), f"{name} was never optimized")
    spark.sql(f"OPTIMIZE {name}")
    accepts(ch03.clustered(name, source))
