"""Chapter 00's checks accept the right answer and reject wrong or missing ones."""

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from lablib.check import ch00


@pytest.fixture()
def toys(spark):
    return spark.createDataFrame(
        [("A", "a", "Puzzles", 10.0), ("B", "b", "Plush", 20.0), ("C", "c", "Puzzles", 5.0),
         ("D", "d", "Robots", 7.5)],
        "sku string, name string, category string, price double",
    )


def test_puzzles(toys):
    assert ch00.puzzles(toys.where("category = 'Puzzles'"), toys)
    assert not ch00.puzzles(None, toys)
    assert not ch00.puzzles(toys, toys)  # not filtered
    assert not ch00.puzzles(toys.where("sku = 'A'"), toys)  # one missing
    assert not ch00.puzzles(toys.where("category = 'Puzzles'").select("sku"), toys)  # columns dropped
    assert not ch00.puzzles([1, 2], toys)


def test_delta_table(toys, tmp_path):
    path = str(tmp_path / "toys")
    assert not ch00.delta_table(path, toys)  # nothing written yet
    toys.write.parquet(path)
    assert not ch00.delta_table(path, toys)  # parquet, not delta
    path2 = str(tmp_path / "toys2")
    toys.limit(2).write.format("delta").save(path2)
    assert not ch00.delta_table(path2, toys)  # rows missing
    path3 = str(tmp_path / "toys3")
    toys.write.format("delta").save(path3)
    assert ch00.delta_table(path3, toys)


def test_plush_price_rise(toys, spark, tmp_path):
    path = str(tmp_path / "t")
    toys.write.format("delta").save(path)
    assert not ch00.plush_price_rise(path)  # no update yet
    # a rewrite instead of an update
    toys.withColumn("price", F.when(F.col("category") == "Plush", F.round(F.col("price") * 1.1, 2))
                    .otherwise(F.col("price"))).write.format("delta").mode("overwrite").save(path)
    assert not ch00.plush_price_rise(path)
    path2 = str(tmp_path / "t2")
    toys.write.format("delta").save(path2)
    DeltaTable.forPath(spark, path2).update(set={"price": F.col("price") * 1.1})  # everything
    assert not ch00.plush_price_rise(path2)
    path3 = str(tmp_path / "t3")
    toys.write.format("delta").save(path3)
    DeltaTable.forPath(spark, path3).update("category = 'Plush'", {"price": F.round(F.col("price") * 1.1, 2)})
    assert ch00.plush_price_rise(path3)


def test_time_travel(toys, spark, tmp_path):
    path = str(tmp_path / "t")
    toys.write.format("delta").save(path)
    DeltaTable.forPath(spark, path).update("category = 'Plush'", {"price": F.col("price") * 2})
    assert ch00.time_travel(spark.read.format("delta").option("versionAsOf", 0).load(path), path)
    assert not ch00.time_travel(spark.read.format("delta").load(path), path)  # latest
    assert not ch00.time_travel(None, path)
    assert not ch00.time_travel(toys.limit(1), path)
