"""Reading a table beside its writer: a ``_delta_log/`` folder without a commit is not a table yet."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from mat_platform import dashboard, pipeline
from mat_platform.settings import Settings, committed


def _half_created(path):
    """The state a streaming query leaves for a moment: the log's folder, no commit in it."""
    (path / "_delta_log").mkdir(parents=True)
    return path


def test_a_log_folder_without_a_commit_reads_as_no_table(tmp_path):
    path = _half_created(tmp_path / "bronze")
    assert committed(path) is None
    assert committed(tmp_path / "absent") is None
    assert pipeline._version(path) is None  # live's cycle: nothing moved yet, no crash
    assert pipeline._rows(path) == 0


def test_the_first_commit_makes_it_a_table(tmp_path):
    path = _half_created(tmp_path / "bronze")
    write_deltalake(str(path), pa.table({"x": [1, 2, 3]}))
    assert committed(path).version() == 0
    assert pipeline._version(path) == 0
    assert pipeline._rows(path) == 3


def test_the_dashboard_leaves_out_a_gold_table_still_being_created(tmp_path):
    conf = Settings(env="dev", scale="ci", root=tmp_path, topic="factory")
    _half_created(conf.table("gold", "machine_risk"))
    write_deltalake(str(conf.table("gold", "daily_sales")), pa.table({"revenue": [1.5], "orders": [1], "units": [2]}))
    assert dashboard.tables(dashboard.connect(conf)) == {"daily_sales"}
