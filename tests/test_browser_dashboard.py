"""Chapter 07's dashboard in a real browser: served on 127.0.0.1 (lablib.gold.serve_dashboard), opened in
headless Chromium (tests/browser.py); the KPIs the page shows equal Spark's own aggregates of the gold
table, before and after a filter changes; a screenshot is saved in the run folder; nothing leaves the machine."""

from __future__ import annotations

import re
import time

import pytest
from pyspark.sql import functions as F

from lablib import gold

pytestmark = [pytest.mark.browser]


def _kpis(orders, region=None):
    if region:
        orders = orders.where(F.col("region") == region)
    row = orders.agg(F.sum("revenue").alias("revenue"), F.count("*").alias("orders")).first()
    return f"{row.revenue:,.2f}", f"{row.orders:,}"


def _shown(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_the_dashboard_shows_the_gold_kpis_and_follows_a_filter(spark, tab, cu):
    gold.build(quiet=True)
    orders = spark.table("ch07.sales_orders")
    started = time.perf_counter()
    url = gold.serve_dashboard()
    try:
        page = tab.page
        page.goto(url, timeout=cu * 2000)
        page.get_by_text("Mega Awesome Toys: sales and factories").wait_for()
        page.locator('[data-testid="stMetricValue"]').first.wait_for()
        first_render = time.perf_counter() - started
        revenue, count = _kpis(orders)
        assert (_shown(page, "Revenue"), _shown(page, "Orders")) == (revenue, count)
        # served in viewer mode: no Deploy button offering Streamlit's cloud
        assert page.get_by_role("button", name="Deploy").count() == 0

        page.locator('[data-testid="stSelectbox"]').filter(has_text="Region").click()
        page.get_by_role("option", name="EMEA", exact=True).click()
        revenue, count = _kpis(orders, "EMEA")
        page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(f"^{re.escape(revenue)}$")).wait_for()
        assert (_shown(page, "Revenue"), _shown(page, "Orders")) == (revenue, count)
        page.get_by_text("Machine availability by factory").wait_for()
        time.sleep(1)  # the charts' last frame
        shot = tab.screenshot("dashboard-emea")
        assert shot.stat().st_size > 10_000
        assert tab.offsite == [], f"the dashboard called out: {tab.offsite}"
        print(f"\ndashboard: first render {first_render:.1f} s (1 c.u. = {cu:.1f} s); screenshot {shot.name}")
    finally:
        gold.stop_dashboard()
