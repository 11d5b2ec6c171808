"""Mega Awesome Toys: sales and factories, a Streamlit dashboard over chapter 07's gold tables.

Served by `lab dashboard up` on 127.0.0.1 (lablib/services/dashboard.py); tested with Streamlit's
AppTest (tests/test_dashboard.py) and in headless Chromium (tests/test_browser_dashboard.py).
It reads the Delta gold tables with delta-rs and queries them with DuckDB (lablib.gold.duckdb()):
no Spark, no JVM, so it starts in seconds. Every chart is drawn by Streamlit's own bundled
Vega-Lite: the page loads nothing from the internet.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from lablib import gold
from lablib.errors import LabError

SEASONS = ["winter", "spring", "summer", "autumn"]
ALL_REGIONS = "All regions"
NO_DATA = "No data for this selection"


def where_clause(region: str, channels: list[str], seasons: list[str], start: dt.date, end: dt.date) -> str:
    """The filters as one SQL condition on sales_orders / sales_by_category."""
    parts = [f"channel IN {gold.sql_list(channels)}", f"season IN {gold.sql_list(seasons)}",
             f"order_date BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}'"]
    if region != ALL_REGIONS:
        parts.insert(0, f"region = {gold.sql_list([region])[1:-1]}")
    return " AND ".join(parts)


def kpis(con, where: str) -> dict:
    """Revenue, orders, customers, repeat customers (two orders or more) of the selection."""
    revenue, orders = con.execute(f"SELECT sum(revenue), count(*) FROM sales_orders WHERE {where}").fetchone()
    customers, repeat = con.execute(
        f"SELECT count(*), count_if(n >= 2) FROM (SELECT customer_id, count(*) AS n FROM sales_orders "
        f"WHERE {where} AND customer_id IS NOT NULL GROUP BY customer_id)").fetchone()
    return {"revenue": float(revenue or 0), "orders": int(orders or 0), "customers": int(customers or 0),
            "repeat_customers": int(repeat or 0)}


def availability(con, region: str) -> float | None:
    cond = "" if region == ALL_REGIONS else f"WHERE region = {gold.sql_list([region])[1:-1]}"
    up, total = con.execute(f"SELECT sum(readings - down_readings), sum(readings) FROM machine_days {cond}").fetchone()
    return None if not total else up / total


def main() -> None:
    st.set_page_config(page_title="Mega Awesome Toys dashboard", layout="wide")
    st.title("Mega Awesome Toys: sales and factories")
    try:
        con = gold.duckdb()
    except LabError as exc:
        st.error(exc.message)
        st.stop()

    regions = [r for (r,) in con.execute("SELECT DISTINCT region FROM sales_orders ORDER BY 1").fetchall()]
    channels = [c for (c,) in con.execute("SELECT DISTINCT channel FROM sales_orders ORDER BY 1").fetchall()]
    first, last = con.execute("SELECT min(order_date), max(order_date) FROM sales_orders").fetchone()
    if first is None:
        st.warning(f"{NO_DATA}: the gold table ch07.sales_orders is empty; {gold.BUILD_HINT}")
        st.stop()

    side = st.sidebar
    side.header("Filters")
    region = side.selectbox("Region", [ALL_REGIONS, *regions], key="region")
    chosen_channels = side.multiselect("Channel", channels, default=channels, key="channel")
    seasons = side.multiselect("Season", SEASONS, default=SEASONS, key="season")
    dates = side.date_input("Order dates", (first, last), min_value=first, max_value=last, key="dates")
    start, end = (dates[0], dates[-1]) if isinstance(dates, tuple | list) and dates else (first, last)

    if not chosen_channels or not seasons:
        st.warning(NO_DATA)
        st.stop()
    where = where_clause(region, chosen_channels, seasons, start, end)
    k = kpis(con, where)
    avail = availability(con, region)
    if k["orders"] == 0:
        st.warning(NO_DATA)
        st.stop()

    cols = st.columns(4)
    cols[0].metric("Revenue", f"{k['revenue']:,.2f}")
    cols[1].metric("Orders", f"{k['orders']:,}")
    cols[2].metric("Repeat customers", f"{k['repeat_customers'] / k['customers']:.1%}" if k["customers"] else "-")
    cols[3].metric("Machine availability", "-" if avail is None else f"{avail:.2%}")
    st.caption(f"{k['customers']:,} customers, {k['repeat_customers']:,} of them with two orders or more; "
               "availability: share of the machines' telemetry readings not in FAILURE or MAINTENANCE "
               "(the telemetry window, by region)")

    left, right = st.columns(2)
    monthly = con.execute(f"SELECT date_trunc('month', order_date) AS month, CAST(sum(revenue) AS DOUBLE) AS revenue "
                      f"FROM sales_orders WHERE {where} GROUP BY 1 ORDER BY 1").df()
    left.subheader("Revenue by month")
    left.line_chart(monthly, x="month", y="revenue")
    by_channel = con.execute(f"SELECT channel, CAST(sum(revenue) AS DOUBLE) AS revenue FROM sales_orders "
                         f"WHERE {where} GROUP BY 1 ORDER BY 2 DESC").df()
    right.subheader("Revenue by channel")
    right.bar_chart(by_channel, x="channel", y="revenue", horizontal=True, sort="-revenue")
    left, right = st.columns(2)
    by_category = con.execute(f"SELECT category, CAST(sum(revenue) AS DOUBLE) AS revenue FROM sales_by_category "
                          f"WHERE {where} GROUP BY 1 ORDER BY 2 DESC").df()
    left.subheader("Revenue by toy category")
    left.bar_chart(by_category, x="category", y="revenue", horizontal=True, sort="-revenue")
    cond = "" if region == ALL_REGIONS else f"WHERE region = {gold.sql_list([region])[1:-1]}"
    factories = con.execute(f"SELECT factory, sum(readings - down_readings) / sum(readings) AS availability "
                        f"FROM machine_days {cond} GROUP BY 1 ORDER BY 2").df()
    right.subheader("Machine availability by factory")
    right.bar_chart(factories, x="factory", y="availability", horizontal=True, sort="availability")

    for path in sorted(gold.panels_dir().glob("*.py")):
        namespace: dict = {}
        try:
            exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the learner's own panel
            namespace["panel"](st, con, where)
        except Exception as exc:  # noqa: BLE001 - a broken panel must not take the page down
            st.error(f"panel {path.name} failed: {type(exc).__name__}: {exc}")


main()
