"""One small SparkSession for the whole test run: one core, one shuffle partition, no web UI."""

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark():
    session = (
        SparkSession.builder.master("local[1]")  # one core: the tests are a handful of rows
        .appName("mat-platform-tests")
        .config("spark.sql.shuffle.partitions", "1")  # not 200 tasks for ten rows
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        # a short-lived JVM on a few rows: compiling pays less than it costs
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    yield session
    session.stop()
