"""Checks of chapter 07, visualization: figures inspected as objects, SQL answers compared with the
gold tables, the learner's dashboard panel run with Streamlit's AppTest.

The truths come from the gold tables (lablib.gold: Spark for one, DuckDB over delta-rs for the
others), never from the learner's code.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from lablib.check import exercise, fail
from lablib.check._spark import need_columns, need_dataframe, spark_session

YEAR = 2024
CHANNELS = ("store", "web")
PANEL_LABEL = "Average order value"


# --------------------------------------------------------------------------- shared
def _figure(fig, what: str):
    from matplotlib.figure import Figure

    if fig is None:
        fail(f"{what} is still None", "assign the matplotlib Figure you drew (fig, ax = plt.subplots())")
    if not isinstance(fig, Figure):
        fail(f"{what} should be a matplotlib Figure, not a {type(fig).__name__}")
    return fig


def _duck():
    from lablib import gold

    return gold.duckdb()


def region_revenue(year: int = YEAR) -> dict[str, float]:
    """Revenue per region in ``year`` (the truth of the truncated-axis exercise)."""
    rows = _duck().execute("SELECT region, CAST(sum(revenue) AS DOUBLE) FROM sales_orders WHERE year = ? "
                           "GROUP BY region", [year]).fetchall()
    return dict(rows)


def monthly_channel_revenue() -> dict[str, list[float]]:
    """Revenue per month of the store and web channels, in month order (the dual-axis exercise)."""
    rows = _duck().execute(
        "SELECT channel, date_trunc('month', order_date) AS m, CAST(sum(revenue) AS DOUBLE) FROM sales_orders "
        f"WHERE channel IN {CHANNELS} GROUP BY ALL ORDER BY channel, m").fetchall()
    out: dict[str, list[float]] = {c: [] for c in CHANNELS}
    for channel, _, revenue in rows:
        out[channel].append(revenue)
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=0.01)


def _bar_values(ax) -> tuple[list[float], str]:
    from matplotlib.container import BarContainer

    values, orientation = [], "vertical"
    for container in ax.containers:
        if isinstance(container, BarContainer):
            orientation = getattr(container, "orientation", None) or "vertical"
            values += [p.get_width() if orientation == "horizontal" else p.get_height() for p in container]
    return values, orientation


# --------------------------------------------------------------------------- 1. truncated axis
@exercise("07", hint="a bar's length is its value: let the value axis start at zero (ax.set_ylim(bottom=0))")
def honest_axis(fig):
    """Revenue per region in 2024 as bars whose value axis starts at zero."""
    fig = _figure(fig, "honest_fig")
    charts = [(ax, *_bar_values(ax)) for ax in fig.axes]
    charts = [c for c in charts if c[1]]
    if not charts:
        fail("the figure holds no bar chart", "draw the same bars (ax.bar or sns.barplot), with an honest axis")
    if len(charts) > 1:
        fail(f"the figure holds {len(charts)} bar charts; draw the fixed one alone")
    ax, values, orientation = charts[0]
    truth = region_revenue()
    if len(values) != len(truth) or not all(_close(a, b) for a, b in zip(sorted(values), sorted(truth.values()),
                                                                         strict=True)):
        fail(f"the bars show {', '.join(f'{v:,.0f}' for v in sorted(values))}; revenue per region in {YEAR} is "
             f"{', '.join(f'{v:,.0f}' for v in sorted(truth.values()))}",
             "plot the same numbers as the misleading chart (revenue per region, one bar each)")
    low, high = ax.get_xlim() if orientation == "horizontal" else ax.get_ylim()
    if low > 0:
        share = min(values) / max(values)
        fail(f"the value axis starts at {low:,.0f}, not at zero: the shortest bar looks "
             f"{(min(values) - low) / (max(values) - low):.0%} as long as the longest; it is {share:.0%}")
    if low < -0.05 * max(values):
        fail(f"the value axis starts at {low:,.0f}: far below zero, the bars shrink for nothing",
             "start the axis at 0")
    if any(not _close(getattr(p, "get_x" if orientation == "horizontal" else "get_y")(), 0)
           for c in ax.containers for p in c if hasattr(p, "get_y")):
        fail("some bars do not start at zero", "draw plain bars from 0 (no bottom= or left=)")
    return (f"{len(values)} bars from zero: the smallest region is {min(values) / max(values):.0%} of the largest, "
            "and looks it")


# --------------------------------------------------------------------------- 2. dual axes
@exercise("07", hint="plot both channels' revenue on one axis (same unit, same scale): no ax.twinx()")
def one_axis(fig):
    """Monthly revenue of the store and web channels on one shared value axis."""
    fig = _figure(fig, "one_axis_fig")
    with_lines = [ax for ax in fig.axes if ax.get_lines()]
    if not with_lines:
        fail("the figure holds no line chart", "draw one line per channel with ax.plot")
    positions = [tuple(round(v, 3) for v in ax.get_position().bounds) for ax in fig.axes]
    if len(set(positions)) < len(positions):
        fail("two value axes are drawn over each other (twinx): each line is read on its own scale",
             "draw both lines on the same Axes")
    if len(with_lines) > 1:
        fail(f"the lines are spread over {len(with_lines)} charts; put both channels on one axis to compare them")
    ax = with_lines[0]
    truth = monthly_channel_revenue()
    shown = [list(map(float, line.get_ydata())) for line in ax.get_lines()]
    for channel, values in truth.items():
        if not any(len(s) == len(values) and all(_close(a, b) for a, b in zip(s, values, strict=True))
                   for s in shown):
            fail(f"no line shows the {channel} channel's monthly revenue ({len(values)} months, first "
                 f"{values[0]:,.0f})", "one line per channel: its revenue per month, in month order")
    low = ax.get_ylim()[0]
    if low > 0:
        fail(f"the shared axis starts at {low:,.0f}: start it at zero so the gap between the lines is to scale")
    ratio = sum(truth["store"]) / sum(truth["web"])
    return f"both channels on one axis from zero: stores sold {ratio:.2f}× the web shop over the {len(truth['web'])} months"


# --------------------------------------------------------------------------- 3. SQL in two engines
QUESTION_COLUMNS = ["region", "channel", "orders", "revenue", "avg_order_value"]


def region_channel_truth(year: int = YEAR) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """Orders, revenue and average order value per region and channel in ``year``, with the Spark
    DataFrame API on the Delta gold table (neither of the learner's two SQL engines)."""
    from pyspark.sql import functions as F

    spark = spark_session()
    rows = (spark.table("ch07.sales_orders").where(F.col("year") == year).groupBy("region", "channel")
            .agg(F.count("*").alias("orders"), F.sum("revenue").alias("revenue")).collect())
    cent = Decimal("0.01")
    return {(r.region, r.channel): (r.orders, Decimal(r.revenue).quantize(cent),
                                    (Decimal(r.revenue) / r.orders).quantize(cent, rounding=ROUND_HALF_UP))
            for r in rows}


def _rows_of(answer, engine: str) -> list[dict]:
    import pandas as pd

    if answer is None:
        fail(f"{engine} is still None", "run the same SQL in both engines and assign each result")
    if engine == "spark_answer":
        need_dataframe(answer, engine)
        need_columns(answer, QUESTION_COLUMNS, engine)
        return [r.asDict() for r in answer.select(*QUESTION_COLUMNS).collect()]
    if hasattr(answer, "df") and not isinstance(answer, pd.DataFrame):  # a DuckDB relation
        answer = answer.df()
    if not isinstance(answer, pd.DataFrame):
        fail(f"{engine} should be a pandas DataFrame (DuckDB's .df()), not a {type(answer).__name__}")
    missing = [c for c in QUESTION_COLUMNS if c not in answer.columns]
    if missing:
        fail(f"{engine} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, answer.columns))}")
    return answer[QUESTION_COLUMNS].to_dict("records")


def _compare(rows: list[dict], truth, engine: str) -> None:
    cent = Decimal("0.01")
    if len(rows) != len(truth):
        fail(f"{engine}: {len(rows)} rows, expected {len(truth)} (one per region and channel in {YEAR})")
    keys = [(r["region"], r["channel"]) for r in rows]
    if keys != sorted(truth):
        fail(f"{engine}: rows are not ordered by region, channel (first {keys[0]})", "ORDER BY region, channel")
    for r in rows:
        orders, revenue, aov = truth[(r["region"], r["channel"])]
        got = (int(r["orders"]), Decimal(str(r["revenue"])).quantize(cent),
               Decimal(str(r["avg_order_value"])).quantize(cent))
        if got != (orders, revenue, aov):
            fail(f"{engine}: {r['region']}/{r['channel']} has orders {got[0]}, revenue {got[1]}, avg_order_value "
                 f"{got[2]}; the gold table gives {orders}, {revenue}, {aov}",
                 f"completed orders of {YEAR} only; avg_order_value = revenue / orders, rounded to cents")


@exercise("07", hint="one SQL text, run by spark.sql(...) on ch07.sales_orders and by the DuckDB connection")
def both_engines(spark_answer, duck_answer):
    """The same question answered by Spark SQL and by DuckDB over delta-rs, both equal to the gold table."""
    truth = region_channel_truth()
    spark_rows = _rows_of(spark_answer, "spark_answer")
    duck_rows = _rows_of(duck_answer, "duck_answer")
    _compare(spark_rows, truth, "spark_answer")
    _compare(duck_rows, truth, "duck_answer")
    return f"{len(truth)} region × channel rows, equal to the cent in Spark SQL and in DuckDB"


# --------------------------------------------------------------------------- 4. a dashboard panel
def panel_truth(where: str) -> float:
    revenue, orders = _duck().execute(f"SELECT CAST(sum(revenue) AS DOUBLE), count(*) FROM sales_orders "
                                      f"WHERE {where}").fetchone()
    return revenue / orders


def _metric(at, label: str):
    found = [m for m in at.metric if m.label == label]
    return found[0] if found else None


def _number(text) -> float | None:
    try:
        return float(str(text).replace(",", "").replace("€", "").strip())
    except ValueError:
        return None


@exercise("07", hint=f"a panel(st, con, where) that shows st.metric(\"{PANEL_LABEL}\", ...) = revenue / orders")
def dashboard_panel(path):
    """The learner's panel file, drawn by the real dashboard under AppTest, follows the filters."""
    from pathlib import Path

    from lablib import gold

    if path is None:
        fail("panel_file is still None", "write your panel to lablib.gold.panels_dir() / '<name>.py'")
    path = Path(path)
    if not path.is_file():
        fail(f"there is no panel file {path.name} in the dashboard's panels folder")
    if path.parent.resolve() != gold.panels_dir().resolve():
        fail(f"{path.name} is not in the dashboard's panels folder", "save it in lablib.gold.panels_dir()")
    at = gold.app_test().run()
    broken = [e.value for e in at.error if path.name in str(e.value)]
    if broken:
        fail(f"the dashboard ran your panel and it failed: {broken[0]}")
    if at.exception:
        fail(f"the dashboard raised: {at.exception[0].message}")
    metric = _metric(at, PANEL_LABEL)
    if metric is None:
        fail(f"the dashboard shows no metric labelled {PANEL_LABEL!r} (it shows "
             f"{', '.join(repr(m.label) for m in at.metric)})", "st.metric(label, value) inside panel()")
    regions = [o for o in at.selectbox(key="region").options if o != "All regions"]
    checks = []
    for region in [None, regions[-1]]:
        if region is not None:
            at.selectbox(key="region").select(region).run()
            metric = _metric(at, PANEL_LABEL)
            if metric is None:
                fail(f"with region {region} selected the metric {PANEL_LABEL!r} disappears")
        where = "TRUE" if region is None else f"region = '{region}'"
        want = panel_truth(where)
        got = _number(metric.value)
        if got is None:
            fail(f"{PANEL_LABEL} shows {metric.value!r}, not a number")
        if abs(got - want) > 0.01:
            scope = "all regions" if region is None else f"region {region}"
            fail(f"{PANEL_LABEL} shows {metric.value} for {scope}; revenue / orders there is {want:,.2f}",
                 "use the `where` the dashboard passes to panel(), so the metric follows the filters")
        checks.append(f"{'all' if region is None else region} {want:,.2f}")
    return f"{PANEL_LABEL} on the dashboard follows the region filter ({'; '.join(checks)})"
