"""The session helper: one Delta-enabled session, everything under LAB_HOME."""

import subprocess
import sys

import lablib
from lablib import spark as get_spark
from tests.homes import fresh_process_env


def test_same_session_twice_with_delta_and_small_machine_settings():
    spark = get_spark()
    assert lablib.spark() is spark
    conf = spark.conf
    assert conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf.get("spark.sql.catalog.spark_catalog").endswith("DeltaCatalog")
    assert int(conf.get("spark.sql.shuffle.partitions")) <= 8
    assert str(lablib.home()) in conf.get("spark.sql.warehouse.dir")


def test_delta_round_trip_with_time_travel(tmp_path):
    spark = get_spark()
    path = str(tmp_path / "t")
    spark.range(5).write.format("delta").save(path)
    spark.range(5, 8).write.format("delta").mode("append").save(path)
    assert spark.read.format("delta").load(path).count() == 8
    assert spark.read.format("delta").option("versionAsOf", 0).load(path).count() == 5


def test_kafka_and_avro_connectors_are_on_the_classpath():
    spark = get_spark()
    jvm = spark.sparkContext._jvm
    for cls in ("org.apache.spark.sql.kafka010.KafkaSourceProvider",
                "org.apache.spark.sql.avro.AvroFileFormat"):
        assert jvm.java.lang.Class.forName(cls) is not None


CODE = """
import lablib
s = lablib.spark()
p = str(lablib.workdir('00') / 'x y')
s.range(3).write.format('delta').mode('overwrite').save(p)
print(s.read.format('delta').load(p).count(), lablib.rel(p))
"""


def test_a_lab_home_with_spaces_works(tmp_path, capsys):
    # The tests' session is built in "$LAB_TEST_HOMES/home tests" (tests/fixtures_checks.py): its JVM
    # started with a space in the warehouse, metastore and log paths, so the proof needs no second
    # JVM. Built elsewhere (a test moved LAB_HOME first), a fresh process in a home with a space gives it.
    spark = get_spark()
    home = lablib.home()
    if " " in str(home) and lablib.local_path(spark.conf.get("spark.sql.warehouse.dir")) == home / "warehouse":
        assert f"'-Dderby.system.home={home / 'derby'}'" in spark.conf.get("spark.driver.extraJavaOptions")
        exec(CODE, {})
        out = capsys.readouterr().out
    else:
        home = tmp_path / "my lab home"
        env = fresh_process_env(home)
        proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = proc.stdout
    assert out.strip() == "3 $LAB_HOME/scratch/ch00/x y"
    assert (home / "scratch" / "ch00" / "x y" / "_delta_log").is_dir()


def test_rel_hides_the_home():
    assert lablib.rel(lablib.home() / "data" / "x.csv") == "$LAB_HOME/data/x.csv"
    assert lablib.rel("/elsewhere/x") == "/elsewhere/x"


def test_spark_conf_holds_for_the_block_only_even_when_it_raises():
    spark = get_spark()
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        with lablib.spark_conf({"spark.sql.shuffle.partitions": 7, "spark.lab.test.unset": "x"}):
            assert spark.conf.get("spark.sql.shuffle.partitions") == "7"
            assert spark.conf.get("spark.lab.test.unset") == "x"
            raise RuntimeError("inside the block")
    except RuntimeError:
        pass
    assert spark.conf.get("spark.sql.shuffle.partitions") == before
    assert spark.conf.get("spark.lab.test.unset", None) is None
