"""The platform's dashboard: sales from gold.daily_sales, at-risk machines from gold.machine_risk.

Chapter 07's way: the Delta tables read with delta-rs (no Spark, no JVM) and queried with DuckDB,
drawn by Streamlit, served on 127.0.0.1 by the course's dashboard service (``serve(conf)``, or
``lab capstone dashboard``; ``lab capstone down`` stops it). Each page load reads the tables' latest
versions, so a reload after a pipeline run shows the hours it scored.

    streamlit run dashboard.py -- --env dev     # what serve() runs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mat_platform.settings import Settings, committed

TITLE = "Mega Awesome Toys: platform dashboard"
#: how many machines the at-risk table lists
TOP = 10


def connect(conf: Settings):
    """DuckDB with the gold tables this page reads as views over their delta-rs datasets (a table
    not built yet is absent: the page says which run builds it)."""
    import duckdb

    con = duckdb.connect()
    for name in ("daily_sales", "machine_risk"):
        table = committed(conf.table("gold", name))  # live may be writing its first commit right now
        if table is not None:
            con.register(name, table.to_pyarrow_dataset())
    return con


def tables(con) -> set[str]:
    return {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def sales(con) -> dict:
    """Revenue, orders and units over every day of gold.daily_sales."""
    revenue, orders, units = con.execute("SELECT sum(revenue), sum(orders), sum(units) FROM daily_sales").fetchone()
    return {"revenue": float(revenue or 0), "orders": int(orders or 0), "units": int(units or 0)}


#: the recent past the at-risk machines are counted over: the last day of scored hours
RECENT = "hour > (SELECT max(hour) FROM machine_risk) - INTERVAL 24 HOURS"


def risk(con) -> dict:
    """Machine-hours scored, those at risk, and the machines with an at-risk hour in the last day."""
    hours, at_risk, machines = con.execute(
        "SELECT count(*), count_if(at_risk), "
        f"count(DISTINCT machine_id) FILTER (WHERE at_risk AND {RECENT}) FROM machine_risk"
    ).fetchone()
    return {"hours": int(hours), "at_risk_hours": int(at_risk), "recent_machines": int(machines or 0)}


def riskiest(con, limit: int = TOP):
    """The machines with the highest risk in the last day of scored hours, with their at-risk hours there."""
    return con.execute(
        "SELECT machine_id, round(max(risk), 4) AS highest_risk, count_if(at_risk) AS at_risk_hours, "
        "max(hour) AS latest_hour, any_value(model_version) AS model_version FROM machine_risk "
        f"WHERE {RECENT} GROUP BY machine_id ORDER BY highest_risk DESC, machine_id LIMIT {int(limit)}"
    ).df()


def main(conf: Settings) -> None:
    import streamlit as st

    st.set_page_config(page_title=TITLE, layout="wide")
    st.title(TITLE)
    con = connect(conf)
    missing = {"daily_sales", "machine_risk"} - tables(con)
    if missing:
        st.warning(f"not built yet: gold.{', gold.'.join(sorted(missing))}; `lab capstone run` builds them")
        st.stop()
    s, r = sales(con), risk(con)
    cols = st.columns(5)
    cols[0].metric("Revenue", f"{s['revenue']:,.2f}")
    cols[1].metric("Orders", f"{s['orders']:,}")
    cols[2].metric("Machine-hours scored", f"{r['hours']:,}")
    cols[3].metric("At-risk machine-hours", f"{r['at_risk_hours']:,}")
    cols[4].metric("Machines at risk (last 24 h)", f"{r['recent_machines']:,}")
    st.caption(
        f"{s['units']:,} units sold; at risk: the champion model's probability of a failure within 24 h "
        "is at least the alert threshold (gold.machine_risk, one row per machine-hour)"
    )
    left, right = st.columns(2)
    daily = con.execute(
        "SELECT order_date, CAST(sum(revenue) AS DOUBLE) AS revenue FROM daily_sales GROUP BY 1 ORDER BY 1"
    ).df()
    left.subheader("Revenue by day")
    left.line_chart(daily, x="order_date", y="revenue")
    right.subheader("Machines most at risk (last 24 scored hours)")
    right.dataframe(riskiest(con), hide_index=True)


def serve(conf: Settings) -> str:
    """Serve this page on 127.0.0.1 with the course's dashboard service (the port and PID file of
    `lab dashboard`); it keeps running until `lab capstone down`. Returns its URL."""
    from lablib import services

    here = Path(__file__).resolve()
    # the Streamlit process imports this package: its src folder goes on the path the service hands down
    return services.start_dashboard(
        log=lambda line: None, app=here, args=("--env", conf.env), paths=(here.parent.parent,)
    )


if __name__ == "__main__":  # run by Streamlit
    from mat_platform import settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--env", choices=settings.ENVIRONMENTS, default="dev")
    main(settings.load(parser.parse_args().env))
