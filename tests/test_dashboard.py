"""The dashboard (dashboards/sales.py) without a browser: Streamlit's AppTest runs the script and its KPIs
are compared with Spark's own aggregates of the gold tables; filters, an empty selection, a missing gold
table; and the service: `lab dashboard up/status/down` on 127.0.0.1, stopped by chapter 07's reset."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pyspark.sql import functions as F

from lablib import cli, gold, services
from lablib.errors import LabError

EMPTY = "No data for this selection"


@pytest.fixture(scope="module")
def built(spark):
    gold.build(quiet=True)
    return spark.table("ch07.sales_orders")


def _truth(orders, **where):
    for column, value in where.items():
        orders = orders.where(F.col(column) == value)
    row = orders.agg(F.sum("revenue").alias("revenue"), F.count("*").alias("orders")).first()
    per = orders.where("customer_id IS NOT NULL").groupBy("customer_id").count()
    repeat = per.where("count >= 2").count() / per.count()
    return {"Revenue": f"{row.revenue:,.2f}", "Orders": f"{row.orders:,}", "Repeat customers": f"{repeat:.1%}"}


def _shown(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_the_kpis_equal_sparks_aggregates_and_follow_the_filters(built):
    at = gold.app_test().run()
    assert not at.exception
    shown = _shown(at)
    assert {k: shown[k] for k in ("Revenue", "Orders", "Repeat customers")} == _truth(built)
    assert shown["Machine availability"].endswith("%")
    at.selectbox(key="region").select("EMEA").run()
    shown = _shown(at)
    assert {k: shown[k] for k in ("Revenue", "Orders", "Repeat customers")} == _truth(built, region="EMEA")
    at.multiselect(key="channel").set_value(["web"]).run()
    shown = _shown(at)
    assert {k: shown[k] for k in ("Revenue", "Orders", "Repeat customers")} == _truth(built, region="EMEA",
                                                                                       channel="web")
    assert len(at.subheader) >= 4  # the four charts' titles


def test_a_selection_with_no_rows_says_so(built):
    at = gold.app_test().run()
    at.multiselect(key="season").set_value([]).run()
    assert [w.value for w in at.warning] == [EMPTY] and not at.metric and not at.exception
    at = gold.app_test().run()
    at.multiselect(key="channel").set_value(["marketplace"]).run()
    at.multiselect(key="season").set_value(["summer"]).run()
    first = built.agg(F.min("order_date")).first()[0]
    # one day without a marketplace order in summer: the first day of the data is 1 January
    at.date_input(key="dates").set_value((first, first)).run()
    assert [w.value for w in at.warning] == [EMPTY] and not at.exception


def test_a_missing_gold_table_names_the_command_that_builds_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    at = gold.app_test().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "gold table ch07.sales_orders is missing" in error and "lab run 07a" in error
    assert "lab dashboard build" in error


def test_delta_rs_refusing_a_table_names_the_table_and_the_feature(built, spark):
    path = gold.location("machine_days")
    spark.sql("ALTER TABLE ch07.machine_days SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    try:
        first = spark.table("ch07.machine_days").agg(F.min("machine_id")).first()[0]
        spark.sql(f"DELETE FROM ch07.machine_days WHERE machine_id = '{first}'")
        with pytest.raises(Exception) as refused:
            gold.dataset("machine_days")
        assert "ch07.machine_days" in str(refused.value) and "deletionVectors" in str(refused.value)
    finally:
        gold.build(quiet=True)
    assert (path / "_delta_log").is_dir()


def test_lab_dashboard_up_status_down_and_the_reset_stops_it(built, capsys):
    assert cli.main(["dashboard", "up"]) == 0
    try:
        url = services.SERVED["dashboard"].address()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_stcore/health", timeout=10).text == "ok"
        assert cli.main(["dashboard", "status"]) == 0
        assert "running" in capsys.readouterr().out
        assert cli.main(["dashboard", "up"]) == 0  # idempotent
        assert "already running" in capsys.readouterr().out
        with pytest.raises(LabError) as other:  # one port per home: another script is not handed this one
            services.start_dashboard(log=lambda line: None, app=Path(__file__))
        assert other.value.message == ("this home's dashboard serves dashboards/sales.py, not tests/test_dashboard.py: "
                                       "`lab dashboard down` stops it first")
        assert cli.main(["down", "dashboard"]) == 0
        assert "dashboard: stopped" in capsys.readouterr().out
        services.serve_dashboard()
        assert services.reset_chapter("07") == ["dashboard (Streamlit)"]
        assert services.SERVED["dashboard"].ports()[0] and not services.stop_dashboard()
    finally:
        services.stop_dashboard(log=lambda line: None)
