"""Chapter 00's checks accept the right answer and reject wrong or missing ones."""

import json

import pytest
from checking import accepts, rejects
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from lablib.check import ch00, progress
from lablib.config import settings


@pytest.fixture()
def toys(spark):
    return spark.createDataFrame(
        [("A", "a", "Puzzles", 10.0), ("B", "b", "Plush", 20.0), ("C", "c", "Puzzles", 5.0),
         ("D", "d", "Robots", 7.5)],
        "sku string, name string, category string, price double",
    )


def test_puzzles(toys):
    accepts(ch00.puzzles(toys.where("category = 'Puzzles'"), toys))
    rejects(ch00.puzzles(None, toys), "puzzles is still None")
    rejects(ch00.puzzles(toys, toys), "2 row(s) are not puzzles")  # not filtered
    rejects(ch00.puzzles(toys.where("sku = 'A'"), toys), "1 puzzle(s) found, the catalogue has 2")  # one missing
    rejects(ch00.puzzles(toys.where("category = 'Puzzles'").select("sku"), toys),
            "puzzles lacks column(s) name, category, price")  # columns dropped
    rejects(ch00.puzzles([1, 2], toys), "puzzles is a list, not a Spark DataFrame")


def test_delta_table(toys, tmp_path):
    path = str(tmp_path / "toys")
    rejects(ch00.delta_table(path, toys), "there is no _delta_log folder")  # nothing written yet
    toys.write.parquet(path)
    rejects(ch00.delta_table(path, toys), "there is no _delta_log folder")  # parquet, not delta
    path2 = str(tmp_path / "toys2")
    toys.limit(2).write.format("delta").save(path2)
    rejects(ch00.delta_table(path2, toys), "the Delta table has 2 rows, the catalogue 4")  # rows missing
    path4 = str(tmp_path / "toys4")  # as many rows, but one toy swapped for another
    toys.withColumn("sku", F.when(F.col("sku") == toys.first().sku, F.lit("SKU-OTHER")).otherwise(F.col("sku"))) \
        .write.format("delta").save(path4)
    rejects(ch00.delta_table(path4, toys), "1 toy(s) of the catalogue are missing from the table")
    path3 = str(tmp_path / "toys3")
    toys.write.format("delta").save(path3)
    accepts(ch00.delta_table(path3, toys))


def test_plush_price_rise(toys, spark, tmp_path):
    path = str(tmp_path / "t")
    toys.write.format("delta").save(path)
    rejects(ch00.plush_price_rise(path), "the table's history has no UPDATE")  # no update yet
    # a rewrite instead of an update
    toys.withColumn("price", F.when(F.col("category") == "Plush", F.round(F.col("price") * 1.1, 2))
                    .otherwise(F.col("price"))).write.format("delta").mode("overwrite").save(path)
    rejects(ch00.plush_price_rise(path), "the table's history has no UPDATE")
    path2 = str(tmp_path / "t2")
    toys.write.format("delta").save(path2)
    DeltaTable.forPath(spark, path2).update(set={"price": F.col("price") * 1.1})  # everything
    rejects(ch00.plush_price_rise(path2), "3 non-Plush price(s) changed too")
    path4 = str(tmp_path / "t4")
    toys.write.format("delta").save(path4)
    DeltaTable.forPath(spark, path4).update("category = 'Plush'", {"price": F.round(F.col("price") * 1.2, 2)})
    rejects(ch00.plush_price_rise(path4), "Plush price(s) are not 10 % above version 0")
    path3 = str(tmp_path / "t3")
    toys.write.format("delta").save(path3)
    DeltaTable.forPath(spark, path3).update("category = 'Plush'", {"price": F.round(F.col("price") * 1.1, 2)})
    accepts(ch00.plush_price_rise(path3))


def test_time_travel(toys, spark, tmp_path):
    path = str(tmp_path / "t")
    toys.write.format("delta").save(path)
    DeltaTable.forPath(spark, path).update("category = 'Plush'", {"price": F.col("price") * 2})
    accepts(ch00.time_travel(spark.read.format("delta").option("versionAsOf", 0).load(path), path))
    rejects(ch00.time_travel(spark.read.format("delta").load(path), path),
            "this is the latest version, not version 0")
    rejects(ch00.time_travel(None, path), "original_toys is still None")
    rejects(ch00.time_travel(toys.limit(1), path), "these rows are not version 0 of the table")
    version0 = spark.read.format("delta").option("versionAsOf", 0).load(path)
    rejects(ch00.time_travel(version0.withColumn("extra", F.lit(1)), path),  # same rows, other columns
            "these rows are not version 0 of the table")


def _snapshot(path):
    return (path.stat().st_mtime_ns, path.read_bytes()) if path.exists() else None


def test_a_check_in_a_test_records_progress_in_the_test_home(toys, spark, lab_test_home, learner_home):
    learner_progress = learner_home / "progress.json"
    before = _snapshot(learner_progress)
    assert settings().home == lab_test_home != learner_home
    assert str(lab_test_home) in spark.conf.get("spark.sql.warehouse.dir")  # the tables the tests make, too
    recorded = lab_test_home / "progress.json"
    attempts = progress.load().get("00", {}).get("puzzles", {}).get("attempts", 0)
    rejects(ch00.puzzles(toys, toys), "not puzzles")
    accepts(ch00.puzzles(toys.where("category = 'Puzzles'"), toys))
    assert json.loads(recorded.read_text())["00"]["puzzles"]["attempts"] == attempts + 2
    assert _snapshot(learner_progress) == before
