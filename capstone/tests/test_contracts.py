"""The data contracts at work on a handful of rows: a clean table keeps its contract, and a renamed
column, a value out of its range or a second row for a key is named in the sentence the gate stops
with. Each test asserts the sentence: a contract that could not run is said so, never taken for a
rejection."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from mat_platform import contracts
from mat_platform.settings import Settings

HOUR = dt.datetime(2024, 12, 30, 8, 0)
SCORED = dt.datetime(2024, 12, 31, 0, 0)
DAY = dt.date(2024, 12, 30)
RISK = "gold.machine_risk"
SALES = "gold.daily_sales"
SILVER = "silver.telemetry"


def risk_rows(spark, rows=None):
    rows = rows or [("M-00001", HOUR, 0.02, False), ("M-00002", HOUR, 0.61, True)]
    return spark.createDataFrame(
        [(m, h, r, a, "3", SCORED) for m, h, r, a in rows],
        "machine_id string, hour timestamp, risk double, at_risk boolean, model_version string, scored_at timestamp",
    )


def sales_rows(spark, rows=None):
    rows = rows or [(DAY, "web", 12, 30, 410.5), (DAY, "store", 20, 41, 800.0)]
    return spark.createDataFrame(rows, "order_date date, channel string, orders long, units long, revenue double")


def silver_rows(spark, rows=None):
    rows = rows or [
        (HOUR, "M-00001", 71.5, 2.5, 1500.0, 12.0, "RUNNING"),
        (HOUR, "M-00002", None, 0.1, 0.0, 0.4, "IDLE"),
    ]
    return spark.createDataFrame(
        rows,
        "event_time timestamp, machine_id string, temperature_c double, vibration_mm_s double, rpm double, "
        "power_kw double, status string",
    )


def test(label, frame):
    return contracts.test_frame(contracts.load(label), frame, label)


test.__test__ = False  # a helper, not a test


def test_clean_tables_keep_their_contracts_and_leave_no_view_behind(spark):
    assert test(RISK, risk_rows(spark)) == []
    assert test(SALES, sales_rows(spark)) == []
    assert test(SILVER, silver_rows(spark)) == []
    views = {t.name for t in spark.catalog.listTables() if t.isTemporary}
    assert views.isdisjoint({"machine_risk", "daily_sales", "silver_telemetry"})
    # datacontract-cli's Spark backend sets these on the session: put back as they were
    assert spark.conf.get("spark.sql.mapKeyDedupPolicy") == "EXCEPTION"


def test_a_renamed_required_column_is_named(spark):
    problems = test(RISK, risk_rows(spark).withColumnRenamed("risk", "risk_score"))
    assert problems[0] == (
        "contract gold.machine_risk fails the check 'Check that field 'risk' is present': "
        "Required column 'risk' is missing"
    )
    assert all(p.startswith("contract gold.machine_risk fails the check") for p in problems)


def test_a_risk_above_one_breaks_the_range_rule(spark):
    # at_risk True: the flag agrees with the threshold, so only the range is broken
    problems = test(RISK, risk_rows(spark, [("M-00001", HOUR, 1.5, True), ("M-00002", HOUR, 0.3, True)]))
    assert problems == [
        (
            "contract gold.machine_risk fails the check 'Check that field risk has a maximum of 1': "
            "Actual invalid_count(risk) was 1, expected = 0"
        )
    ]


def test_an_at_risk_flag_against_the_threshold_breaks_the_sql_rule(spark):
    problems = test(RISK, risk_rows(spark).withColumn("at_risk", ~F.col("at_risk")))
    assert problems == [
        (
            "contract gold.machine_risk fails the check 'at_risk agrees with risk >= 150 / 1050': "
            "Actual custom_sql(at_risk) was 2, expected = 0"
        )
    ]


def test_a_second_row_for_a_day_and_channel_breaks_the_key(spark):
    frame = sales_rows(spark)
    problems = test(SALES, frame.unionByName(frame.limit(1)))
    assert problems == [
        (
            "contract gold.daily_sales fails the check 'Check that primary key (order_date, channel) has no duplicate "
            "values': Actual duplicate_count(daily_sales) was 1, expected = 0"
        )
    ]


def test_a_negative_revenue_and_an_unknown_channel_are_named(spark):
    problems = test(SALES, sales_rows(spark, [(DAY, "web", 1, 1, -3.0), (DAY, "fax", 1, 1, 3.0)]))
    assert problems == [
        (
            "contract gold.daily_sales fails the check 'Check that field channel has invalid_count = 0': "
            "Actual invalid_count(channel) was 1, expected = 0"
        ),
        (
            "contract gold.daily_sales fails the check 'Check that field revenue has a minimum of 0': "
            "Actual invalid_count(revenue) was 1, expected = 0"
        ),
    ]


def test_a_null_event_time_in_silver_breaks_required(spark):
    problems = test(SILVER, silver_rows(spark, [(None, "M-00001", 71.5, 2.5, 1500.0, 12.0, "RUNNING")]))
    assert problems == [
        (
            "contract silver.telemetry fails the check 'Check that field event_time has no missing values': "
            "Actual missing_count(event_time) was 1, expected = 0"
        )
    ]


def test_a_contract_that_cannot_run_is_said_so_not_taken_for_a_rejection(spark):
    broken = contracts.load(RISK).replace("kind: DataContract", "kind: Something")
    problems = contracts.test_frame(broken, risk_rows(spark), RISK)
    assert len(problems) == 1
    assert problems[0].startswith("contract gold.machine_risk could not run the check 'Test Data Contract' (error): ")


# --------------------------------------------------------------------------- check(): the table as written
def conf(tmp_path) -> Settings:
    return Settings(env="dev", scale="ci", root=tmp_path, topic="capstone.ci.telemetry")


def test_check_says_when_the_table_is_missing(tmp_path):
    assert contracts.check(conf(tmp_path), None, RISK) == [
        "contract gold.machine_risk: the table does not exist, so it cannot keep its contract"
    ]


class Reader:
    """Enough of a SparkSession for check() to name the table version it would read."""

    def __init__(self):
        self.read, self.options = self, {}

    def format(self, name):
        return self

    def option(self, key, value):
        self.options[key] = value
        return self

    def load(self, where):
        return ("frame", self.options["versionAsOf"])


def test_check_tests_a_table_version_once_per_contract_text(tmp_path, monkeypatch):
    import pyarrow as pa
    from deltalake import write_deltalake

    settings, tested = conf(tmp_path), []
    write_deltalake(str(settings.table("gold", "daily_sales")), pa.table({"order_date": [DAY]}))
    verdicts = iter([["contract gold.daily_sales fails the check 'x': y"], [], []])
    monkeypatch.setattr(contracts, "test_frame", lambda text, frame, label: tested.append(frame) or next(verdicts))

    assert contracts.check(settings, Reader(), SALES) == ["contract gold.daily_sales fails the check 'x': y"]
    assert not (settings.state / "contracts.json").exists()  # a failed version is not recorded
    assert contracts.check(settings, Reader(), SALES) == []  # tested again, kept this time: recorded
    assert contracts.check(settings, Reader(), SALES) == []  # the same version and text: not tested again
    assert tested == [("frame", 0), ("frame", 0)]
    edited = contracts.load(SALES) + "# edited\n"
    monkeypatch.setattr(contracts, "load", lambda label: edited)
    assert contracts.check(settings, Reader(), SALES) == [] and len(tested) == 3  # another text: tested again
    assert contracts._read(settings.state / "contracts.json")[SALES]["table_version"] == 0
