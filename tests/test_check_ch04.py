"""Chapter 04's checks accept the right answer and reject wrong or missing ones."""

import pytest
from checking import accepts, rejects
from delta.tables import DeltaTable
from pyspark.sql import Window
from pyspark.sql import functions as F

import lablib
from lablib.check import ch04

TIME_FORMATS = ["yyyy-MM-dd HH:mm:ss", "MM/dd/yyyy HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss'Z'"]
SCHEMA = lablib.data.schema("telemetry")
KEY = ["machine_id", "event_time"]


def clean_telemetry(raw, formats=TIME_FORMATS):
    temperature = F.expr("try_cast(temperature_c AS DOUBLE)")
    return (raw.withColumn("event_time", F.coalesce(*[F.try_to_timestamp("event_time", F.lit(f)) for f in formats]))
            .where(F.col("event_time").isNotNull())
            .withColumn("machine_id", F.upper(F.trim("machine_id")))
            .withColumn("status", F.upper(F.trim("status")))
            .withColumn("temperature_c", F.when(temperature.between(-20, 150), temperature)))


@pytest.fixture(scope="module")
def telemetry(spark):
    return clean_telemetry(lablib.data.read("telemetry")).cache()


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("landing")
    per_day = 96 * lablib.data.read("machines").count()
    events = 2 * per_day + per_day // 32
    lablib.data.replay("telemetry", to="files", dir=folder, limit=events, batch_size=events // 4)
    return folder


def stream(spark, landing, files_per_batch):
    return (spark.readStream.schema(SCHEMA).option("header", True)
            .option("maxFilesPerTrigger", files_per_batch).csv(str(landing)))


def test_clean(telemetry, spark):
    accepts(ch04.clean(telemetry))
    rejects(ch04.clean(None), "telemetry is still None")
    rejects(ch04.clean(clean_telemetry(lablib.data.read("telemetry"), TIME_FORMATS[:1])),
            "reading(s) fewer; the mixed-format times must parse")  # one format only
    no_trim = lablib.data.read("telemetry").withColumn("event_time", F.try_to_timestamp("event_time", F.lit(TIME_FORMATS[0])))
    rejects(ch04.clean(no_trim), "temperature_c is string, it should be double")
    outliers_kept = clean_telemetry(lablib.data.read("telemetry")).withColumn(
        "temperature_c", F.expr("coalesce(temperature_c, 999.9)"))
    rejects(ch04.clean(outliers_kept), "0 temperatures are null, expected")


def test_hottest(telemetry):
    machines = lablib.data.read("machines")
    per_machine = (telemetry.groupBy("machine_id").agg(F.avg("temperature_c").alias("avg_temperature_c"))
                   .join(machines.select("machine_id", "factory_id"), "machine_id"))
    hot = Window.partitionBy("factory_id").orderBy(F.desc("avg_temperature_c"))
    right = per_machine.withColumn("rank", F.dense_rank().over(hot)).where("rank <= 2")
    accepts(ch04.hottest(right))
    rejects(ch04.hottest(None), "hottest is still None")
    cold = Window.partitionBy("factory_id").orderBy("avg_temperature_c")
    rejects(ch04.hottest(per_machine.withColumn("rank", F.dense_rank().over(cold)).where("rank <= 2")),
            "Hint: rank by the average temperature, highest first")
    rejects(ch04.hottest(per_machine.withColumn("rank", F.dense_rank().over(hot)).where("rank <= 3")),
            "(the top 2 of each of")


def test_partitioned(telemetry, tmp_path):
    dated = telemetry.withColumn("event_date", F.to_date("event_time"))
    right = str(tmp_path / "right")
    dated.repartition("event_date").write.partitionBy("event_date").parquet(right)
    accepts(ch04.partitioned(right))
    rejects(ch04.partitioned(None), "by_day_path is still None")
    rejects(ch04.partitioned(str(tmp_path / "missing")), "nothing written at")
    many = str(tmp_path / "many")
    dated.repartition(3).write.partitionBy("event_date").parquet(many)
    rejects(ch04.partitioned(many), "date folder(s) do not hold exactly one file")  # three files per date
    flat = str(tmp_path / "flat")
    dated.coalesce(1).write.parquet(flat)
    rejects(ch04.partitioned(flat), "no event_date=… folders")  # not partitioned


def _windows(spark, landing, tmp_path, name, files_per_batch, delay="10 minutes"):
    path, checkpoint = str(tmp_path / name), str(tmp_path / f"{name}-checkpoint")
    hourly = (clean_telemetry(stream(spark, landing, files_per_batch))
              .withWatermark("event_time", delay)
              .groupBy(F.window("event_time", "1 hour"), "machine_id")
              .agg(F.count("*").alias("readings"), F.avg("temperature_c").alias("avg_temperature_c"))
              .select(F.col("window.start").alias("window_start"), "machine_id", "readings", "avg_temperature_c"))
    q = (hourly.writeStream.format("delta").outputMode("append").option("checkpointLocation", checkpoint)
         .trigger(availableNow=True).start(path))
    q.awaitTermination()
    return path, checkpoint


def test_watermark(spark, landing, tmp_path):
    path, checkpoint = _windows(spark, landing, tmp_path, "right", 1)
    accepts(ch04.watermark(path, checkpoint, delay="10 minutes"))
    rejects(ch04.watermark(None, checkpoint), "the table path is still None")
    one, one_cp = _windows(spark, landing, tmp_path, "one-batch", 4)
    rejects(ch04.watermark(one, one_cp), "the query read everything in one micro-batch")
    # every window counted, as a batch job would: the late readings were not dropped
    batch = str(tmp_path / "batch")
    (clean_telemetry(spark.read.schema(SCHEMA).option("header", True).csv(str(landing)))
        .groupBy(F.window("event_time", "1 hour"), "machine_id")
        .agg(F.count("*").alias("readings"), F.avg("temperature_c").alias("avg_temperature_c"))
        .select(F.col("window.start").alias("window_start"), "machine_id", "readings", "avg_temperature_c")
        .write.format("delta").save(batch))
    rejects(ch04.watermark(batch, checkpoint),
            "in append mode a window appears only once the watermark has passed its end")


def _bronze(spark, landing, path, checkpoint):
    q = (stream(spark, landing, 2)
         .withColumn("_source_file", F.col("_metadata.file_name"))
         .withColumn("_ingested_at", F.current_timestamp())
         .writeStream.format("delta").option("checkpointLocation", checkpoint)
         .trigger(availableNow=True).start(path))
    q.awaitTermination()


def test_recovery(spark, landing, tmp_path):
    path = str(tmp_path / "bronze")
    _bronze(spark, landing, path, str(tmp_path / "cp"))
    accepts(ch04.recovery(path, landing))
    rejects(ch04.recovery(None, landing), "the table path is still None")
    # a restart with a fresh checkpoint reads every file again: duplicates
    _bronze(spark, landing, path, str(tmp_path / "cp2"))
    rejects(ch04.recovery(path, landing), "a restarted query must resume from its checkpoint")
    # a batch copy, not a stream
    copy = str(tmp_path / "copy")
    (spark.read.schema(SCHEMA).option("header", True).csv(str(landing))
        .withColumn("_source_file", F.col("_metadata.file_name")).withColumn("_ingested_at", F.current_timestamp())
        .write.format("delta").save(copy))
    rejects(ch04.recovery(copy, landing), "the table was not written by a streaming query")


def to_gold(silver, machines):
    return (silver.join(machines.select("machine_id", "factory_id", "machine_type"), "machine_id")
            .groupBy("machine_id", "factory_id", "machine_type", F.date_trunc("hour", "event_time").alias("hour"))
            .agg(F.count("*").alias("readings"),
                 F.sum(F.when(F.col("status") == "WARNING", 1).otherwise(0)).alias("warnings"),
                 F.avg("temperature_c").alias("avg_temperature_c"),
                 F.max("vibration_mm_s").alias("max_vibration_mm_s")))


def test_medallion(spark, landing, tmp_path):
    machines = lablib.data.read("machines")
    bronze, silver, gold = (str(tmp_path / n) for n in ("bronze", "silver", "gold"))
    _bronze(spark, landing, bronze, str(tmp_path / "cp-bronze"))
    to_silver = clean_telemetry(spark.readStream.format("delta").load(bronze))
    spark.createDataFrame([], to_silver.schema).write.format("delta").save(silver)

    def merge(batch, _):
        (DeltaTable.forPath(spark, silver).alias("t")
            .merge(batch.dropDuplicates(KEY).alias("s"), "t.machine_id = s.machine_id AND t.event_time = s.event_time")
            .whenNotMatchedInsertAll().execute())

    (to_silver.writeStream.foreachBatch(merge).option("checkpointLocation", str(tmp_path / "cp-silver"))
        .trigger(availableNow=True).start().awaitTermination())
    (to_gold(spark.readStream.format("delta").load(silver), machines).writeStream.format("delta")
        .outputMode("complete").option("checkpointLocation", str(tmp_path / "cp-gold"))
        .trigger(availableNow=True).start(gold).awaitTermination())
    silver_batch = clean_telemetry(spark.read.format("delta").load(bronze)).dropDuplicates(KEY)
    gold_batch = to_gold(silver_batch, machines)
    accepts(ch04.medallion(gold, gold_batch, silver, landing))
    rejects(ch04.medallion(gold, None, silver, landing), "gold_batch is still None")
    # no deduplication: the duplicate readings are counted twice
    rejects(ch04.medallion(gold, to_gold(clean_telemetry(spark.read.format("delta").load(bronze)), machines),
                           silver, landing), "gold_batch: readings of")
    # warnings counted wrong
    rejects(ch04.medallion(gold, gold_batch.withColumn("warnings", F.lit(0)), silver, landing),
            "gold_batch: warnings of")
    # gold written by a batch job, not a stream
    batch_gold = str(tmp_path / "batch-gold")
    gold_batch.write.format("delta").save(batch_gold)
    rejects(ch04.medallion(batch_gold, gold_batch, silver, landing),
            "the gold table was not written by a streaming query")
