"""The lab session writes tables other Delta readers open; the reader used by the notebook tests can fail.

tests/test_notebooks.py opens every table each chapter leaves with delta-rs (tests/delta_readers.py).
Here: that the session's Parquet timestamps are the standard type, and that the reader reports a
table it cannot read (Spark's legacy INT96 with an SCD2 "forever" date) instead of passing it.
"""

from __future__ import annotations

from delta_readers import delta_tables, read_with_delta_rs

import lablib

FOREVER_ROWS = "SELECT 1 AS id, TIMESTAMP'2024-01-01 00:00:00' AS valid_from, TIMESTAMP'9999-12-31 00:00:00' AS valid_to"


def test_the_session_writes_standard_parquet_timestamps(spark):
    assert spark.conf.get("spark.sql.parquet.outputTimestampType") == "TIMESTAMP_MICROS"


def test_delta_rs_reads_what_the_session_writes_and_reports_what_it_cannot(spark, tmp_path):
    good, legacy = tmp_path / "micros", tmp_path / "int96"
    spark.sql(FOREVER_ROWS).write.format("delta").save(str(good))
    with lablib.spark_conf({"spark.sql.parquet.outputTimestampType": "INT96"}):
        spark.sql(FOREVER_ROWS).write.format("delta").save(str(legacy))
    assert delta_tables(tmp_path) == [legacy, good]
    seen = read_with_delta_rs([good, legacy])
    assert seen[good] == {"version": 0, "rows": 1}
    assert "would lose data" in seen[legacy]["error"], seen[legacy]  # 9999-12-31 overflows nanoseconds
