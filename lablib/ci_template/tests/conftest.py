"""One SparkSession for the whole test run, sized for tests, not for data."""

import os
import time

import pytest
from pyspark.sql import SparkSession

# The tests compare collected timestamps with literals, and PySpark hands timestamps to Python in
# this process's zone: pin it to UTC, the session's zone below, so a laptop in Berlin agrees with CI.
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(scope="session")
def spark():
    remote = os.environ.get("SPARK_REMOTE")  # a Spark Connect server already running: borrow it
    if remote:
        session = SparkSession.builder.remote(remote).getOrCreate()
        session.conf.set("spark.sql.shuffle.partitions", "1")
        session.conf.set("spark.sql.session.timeZone", "UTC")
        yield session
        session.stop()  # ends this client's session, not the server
        return
    session = (
        SparkSession.builder.master("local[1]")  # one core: tests are small, and CI runners are too
        .appName("mat-orders-tests")
        .config("spark.sql.shuffle.partitions", "1")  # not 200 tasks for ten rows
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        # a short-lived JVM on a handful of rows: compiling pays less than it costs
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    yield session
    session.stop()
