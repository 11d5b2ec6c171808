"""Small helpers the chapter checks share (not part of the public API).

Every check module takes the SparkSession from :func:`spark_session` and turns
locations into paths with :func:`lablib.paths.local_path`, never by hand.
"""

from __future__ import annotations

from lablib.check import fail
from lablib.paths import local_path, rel
from lablib.session import spark


def spark_session():
    """The notebook's SparkSession (``lablib.spark()``, built on first use), the one way a
    check reaches Spark."""
    return spark()


def need_dataframe(obj, what: str = "your answer"):
    """Fail clearly unless ``obj`` is a Spark DataFrame (classic or Connect)."""
    if obj is None:
        fail(f"{what} is still None", "assign your DataFrame to the variable the exercise names")
    names = {cls.__name__ for cls in type(obj).__mro__}
    if "DataFrame" not in names or not hasattr(obj, "schema"):
        kind = type(obj).__name__
        if type(obj).__module__.split(".")[0] == "pandas":
            kind = f"pandas {kind}"  # "a DataFrame, not a Spark DataFrame" would say nothing
        fail(f"{what} is a {kind}, not a Spark DataFrame",
             "spark.createDataFrame(frame) makes one from pandas" if kind.startswith("pandas") else None)
    return obj


def need_columns(df, columns: list[str], what: str = "your DataFrame"):
    missing = [c for c in columns if c not in df.columns]
    if missing:
        fail(f"{what} lacks column(s) {', '.join(missing)}; it has {', '.join(df.columns)}")


def need_delta(path, spark):
    """A DeltaTable at ``path``, or a clear failure."""
    from delta.tables import DeltaTable

    if path is None:
        fail("the table path is still None")
    text = str(path)
    if not (local_path(text) / "_delta_log").is_dir():
        fail(f"no Delta table at {rel(text)} (there is no _delta_log folder)",
             "write with .format(\"delta\") to that path")
    return DeltaTable.forPath(spark, text)


def history(table) -> list[dict]:
    """The commits of a DeltaTable, oldest first, as plain dicts (with each commit's own metrics: reading
    an older version to count it costs a log replay, the metrics are already in the history)."""
    rows = table.history().select("version", "operation", "operationParameters", "operationMetrics").collect()
    return sorted((r.asDict() for r in rows), key=lambda r: r["version"])


def plan_text(df, mode: str = "simple") -> str:
    """The text ``df.explain(mode)`` prints, as a string (for checks that look at the plan)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        df.explain(mode)
    return buf.getvalue()


def table_properties(spark, name: str) -> dict[str, str]:
    """A catalog table's properties (SHOW TBLPROPERTIES) as a dict."""
    return {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}


def need_table(spark, name: str):
    """Fail clearly unless the catalog knows table ``name``."""
    if not name or not spark.catalog.tableExists(name):
        fail(f"there is no table {name} in the catalog", "create it with saveAsTable or CREATE TABLE")
