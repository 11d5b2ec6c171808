"""Chapter 07's checks accept the right answer and reject wrong or missing ones, for the reason the
learner reads (real Spark, the gold tables built by lablib.gold, the real dashboard under AppTest)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from checking import accepts, rejects  # noqa: E402

from lablib import gold  # noqa: E402
from lablib.check import ch07  # noqa: E402

SQL = """
SELECT region, channel, count(*) AS orders, sum(revenue) AS revenue,
       round(sum(revenue) / count(*), 2) AS avg_order_value
FROM {t} WHERE year = 2024 GROUP BY region, channel ORDER BY region, channel"""
PANEL = '''
def panel(st, con, where):
    revenue, orders = con.execute(f"SELECT sum(revenue), count(*) FROM sales_orders WHERE {where}").fetchone()
    st.metric("Average order value", f"{float(revenue) / orders:,.2f}")
'''


@pytest.fixture(scope="module")
def built(spark):
    """The gold tables of this test home, at CI scale, and a DuckDB connection on them."""
    gold.build(quiet=True)
    return gold.duckdb()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- 1. truncated axis ---------------------------------------------------------------

@pytest.fixture(scope="module")
def regions(built):
    return built.execute("SELECT region, CAST(sum(revenue) AS DOUBLE) AS revenue FROM sales_orders "
                         "WHERE year = 2024 GROUP BY 1 ORDER BY 1").df()


def _bars(regions, bottom=None, horizontal=False, values=None):
    fig, ax = plt.subplots()
    values = regions.revenue if values is None else values
    (ax.barh if horizontal else ax.bar)(regions.region, values)
    if bottom is not None:
        (ax.set_xlim if horizontal else ax.set_ylim)(bottom, max(values) * 1.05)
    return fig


def test_honest_axis_accepts_bars_from_zero_also_horizontal(regions):
    accepts(ch07.honest_axis(_bars(regions)))
    accepts(ch07.honest_axis(_bars(regions, horizontal=True)))


def test_honest_axis_rejects_a_truncated_axis(regions):
    rejects(ch07.honest_axis(_bars(regions, bottom=regions.revenue.min() * 0.9)), "not at zero")
    rejects(ch07.honest_axis(_bars(regions, bottom=regions.revenue.min() * 0.9, horizontal=True)), "not at zero")


def test_honest_axis_rejects_other_numbers_no_bars_and_nothing(regions):
    rejects(ch07.honest_axis(_bars(regions, values=regions.revenue / 1000)), "revenue per region in 2024 is")
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    rejects(ch07.honest_axis(fig), "no bar chart")
    rejects(ch07.honest_axis(None), "still None")
    rejects(ch07.honest_axis("a chart"), "should be a matplotlib Figure")


# -- 2. dual axes ------------------------------------------------------------------

@pytest.fixture(scope="module")
def monthly(built):
    return built.execute("SELECT date_trunc('month', order_date) AS month, channel, "
                         "CAST(sum(revenue) AS DOUBLE) AS revenue FROM sales_orders "
                         "WHERE channel IN ('store', 'web') GROUP BY ALL ORDER BY ALL").df() \
        .pivot(index="month", columns="channel", values="revenue")


def test_one_axis_accepts_both_lines_on_one_axis(monthly):
    fig, ax = plt.subplots()
    for channel in ("store", "web"):
        ax.plot(monthly.index, monthly[channel], label=channel)
    ax.set_ylim(bottom=0)
    accepts(ch07.one_axis(fig))


def test_one_axis_rejects_twin_axes(monthly):
    fig, left = plt.subplots()
    left.plot(monthly.index, monthly["store"])
    left.twinx().plot(monthly.index, monthly["web"])
    rejects(ch07.one_axis(fig), "two value axes are drawn over each other")


def test_one_axis_rejects_a_missing_line_two_panels_and_a_floating_axis(monthly):
    fig, ax = plt.subplots()
    ax.plot(monthly.index, monthly["store"])
    rejects(ch07.one_axis(fig), "no line shows the web channel")
    fig, (a, b) = plt.subplots(2, 1)
    a.plot(monthly.index, monthly["store"])
    b.plot(monthly.index, monthly["web"])
    rejects(ch07.one_axis(fig), "spread over 2 charts")
    fig, ax = plt.subplots()
    for channel in ("store", "web"):
        ax.plot(monthly.index, monthly[channel])
    ax.set_ylim(monthly.min().min() * 0.9, monthly.max().max())
    rejects(ch07.one_axis(fig), "start it at zero")
    rejects(ch07.one_axis(None), "still None")


# -- 3. SQL in two engines -----------------------------------------------------------

def test_both_engines_accepts_the_same_sql_in_spark_and_duckdb(spark, built):
    accepts(ch07.both_engines(spark.sql(SQL.format(t="ch07.sales_orders")), built.execute(SQL.format(t="sales_orders")).df()))


def test_both_engines_rejects_each_engine_for_its_own_mistake(spark, built):
    every_year = SQL.replace("WHERE year = 2024 ", "")
    rejects(ch07.both_engines(spark.sql(every_year.format(t="ch07.sales_orders")),
                              built.execute(SQL.format(t="sales_orders")).df()),
            "spark_answer: AMER/marketplace has orders")
    unordered = SQL.replace("ORDER BY region, channel", "ORDER BY channel, region")
    rejects(ch07.both_engines(spark.sql(SQL.format(t="ch07.sales_orders")),
                              built.execute(unordered.format(t="sales_orders")).df()),
            "duck_answer: rows are not ordered by region, channel")
    floored = SQL.replace("round(sum(revenue) / count(*), 2)", "floor(sum(revenue) / count(*))")
    rejects(ch07.both_engines(spark.sql(SQL.format(t="ch07.sales_orders")),
                              built.execute(floored.format(t="sales_orders")).df()),
            "duck_answer: AMER/marketplace has orders")


def test_both_engines_rejects_missing_answers_and_columns(spark, built):
    rejects(ch07.both_engines(None, built.execute(SQL.format(t="sales_orders")).df()), "spark_answer is still None")
    rejects(ch07.both_engines(spark.sql(SQL.format(t="ch07.sales_orders")), None), "duck_answer is still None")
    no_aov = SQL.replace(",\n       round(sum(revenue) / count(*), 2) AS avg_order_value", "")
    rejects(ch07.both_engines(spark.sql(SQL.format(t="ch07.sales_orders")),
                              built.execute(no_aov.format(t="sales_orders")).df()),
            "duck_answer lacks column(s) avg_order_value")


# -- 4. a dashboard panel --------------------------------------------------------------

@pytest.fixture
def panels(built):
    folder = gold.panels_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.py"):
        old.unlink()
    yield folder
    for old in folder.glob("*.py"):
        old.unlink()


def test_dashboard_panel_accepts_a_kpi_that_follows_the_filters(panels):
    path = panels / "aov.py"
    path.write_text(PANEL)
    accepts(ch07.dashboard_panel(path))


def test_dashboard_panel_rejects_a_kpi_that_ignores_the_filters(panels):
    path = panels / "aov.py"
    path.write_text(PANEL.replace(" WHERE {where}", ""))
    rejects(ch07.dashboard_panel(path), "use the `where` the dashboard passes")


def test_dashboard_panel_rejects_a_wrong_label_a_wrong_value_a_crash_and_nothing(panels):
    path = panels / "aov.py"
    path.write_text(PANEL.replace("Average order value", "AOV"))
    rejects(ch07.dashboard_panel(path), "no metric labelled 'Average order value'")
    path.write_text(PANEL.replace("float(revenue) / orders", "float(revenue)"))
    rejects(ch07.dashboard_panel(path), "revenue / orders there is")
    path.write_text(PANEL.replace("sales_orders WHERE", "no_such_table WHERE"))
    rejects(ch07.dashboard_panel(path), "the dashboard ran your panel and it failed")
    rejects(ch07.dashboard_panel(None), "panel_file is still None")
    rejects(ch07.dashboard_panel(panels / "never-written.py"), "there is no panel file never-written.py")
