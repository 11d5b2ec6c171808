"""Chapter 07's gold tables: built with Spark, read without it (delta-rs + DuckDB).

On the face as ``lablib.gold``::

    lablib.gold.build()                       # the three gold tables as Delta tables (ch07.*), from the datasets
    lablib.gold.location("sales_orders")      # where a gold table lives (a folder under LAB_HOME)
    con = lablib.gold.duckdb()                # a DuckDB connection with every gold table as a view (delta-rs)
    con.execute("SELECT region, sum(revenue) FROM sales_orders GROUP BY ALL")

The tables (docs in :data:`TABLES`) are what chapters 02 and 04 teach learners to build (cleaned
orders joined to their lines, machines' telemetry per day), rebuilt here from the raw datasets so
chapter 07 runs alone on a fresh LAB_HOME. They are written for readers outside Spark: no deletion
vectors, no column mapping (delta-rs 1.6 refuses deletion vectors). The dashboard
(``dashboards/sales.py``) imports only the reading half of this module, which never starts Spark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lablib.config import settings
from lablib.errors import LabError

DATABASE = "ch07"
#: gold table -> what one row is
TABLES = {
    "sales_orders": "one completed order: date, season, channel, store, customer, country and region, units, revenue",
    "sales_by_category": "one day x channel x region x country x product category: orders, units, revenue",
    "machine_days": "one machine and day: factory, country, region, readings, readings while down, "
                    "warnings, availability, failures and their downtime",
}
#: how to build a missing gold table, for messages (the dashboard shows it on its page)
BUILD_HINT = "run chapter 07 (`lab run 07a`) or `lab dashboard build`"
#: every Delta property the tables are created with: what keeps them readable by delta-rs
READER_FRIENDLY = {"delta.enableDeletionVectors": "false", "delta.columnMapping.mode": "none"}
_ORDER_TS_FORMATS = ("yyyy-MM-dd HH:mm:ss", "MM/dd/yyyy HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ssX")


def location(name: str) -> Path:
    """The folder of gold table ``name`` (a managed table of the ``ch07`` database)."""
    if name not in TABLES:
        raise LabError(f"unknown gold table {name!r}; the gold tables are: {', '.join(TABLES)}")
    return settings().warehouse / f"{DATABASE}.db" / name


def season_of(month):
    """A Spark column: the meteorological season of a month column (as chapter 02's dim_date)."""
    from pyspark.sql import functions as F

    return (F.when(month.isin(12, 1, 2), "winter").when(month.isin(3, 4, 5), "spring")
            .when(month.isin(6, 7, 8), "summer").otherwise("autumn"))


def _orders():
    """Completed orders, one row per order_id (the last in the file), with a parsed timestamp."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from lablib import data

    raw = data.read("orders").withColumn("_pos", F.monotonically_increasing_id())
    ts = F.coalesce(*[F.try_to_timestamp(F.trim("order_ts"), F.lit(f)) for f in _ORDER_TS_FORMATS])
    clean = raw.select(
        F.trim("order_id").alias("order_id"), ts.alias("order_ts"),
        F.upper(F.trim("customer_id")).alias("customer_id"), F.upper(F.trim("store_id")).alias("store_id"),
        F.lower(F.trim("channel")).alias("channel"), F.lower(F.trim("status")).alias("status"), "_pos")
    last = Window.partitionBy("order_id").orderBy(F.col("_pos").desc())
    return (clean.withColumn("_n", F.row_number().over(last)).where("_n = 1")
            .where("status = 'completed' AND order_ts IS NOT NULL").drop("_n", "_pos", "status"))


def _lines():
    """Order lines of known products with a plausible quantity, and their net revenue."""
    from pyspark.sql import functions as F

    from lablib import data

    products = data.read("products").select("product_id", "category")
    net = (F.col("quantity") * F.col("unit_price") * (1 - F.coalesce(F.col("discount_pct"), F.lit(0.0))))
    return (data.read("order_lines").where(F.col("quantity").between(1, 100))
            .join(products, "product_id")
            .select("order_id", "category", "quantity", F.round(net, 2).cast("decimal(12,2)").alias("revenue")))


def _regions(spark):
    from lablib.data._ref import CITIES

    return spark.createDataFrame(sorted({(c[1], c[2]) for c in CITIES}), "country STRING, region STRING")


def _where_sold(spark):
    """Each order's country and region: the store's, or for online orders the customer's."""
    from pyspark.sql import functions as F

    from lablib import data

    stores = data.read("stores").select(F.upper(F.trim("store_id")).alias("store_id"),
                                        F.upper(F.trim("country")).alias("store_country"))
    customers = (data.read("customers").select(F.upper(F.trim("customer_id")).alias("customer_id"),
                                               F.upper(F.trim("country")).alias("customer_country"))
                 .dropDuplicates(["customer_id"]))
    return stores, customers, _regions(spark)


def _sales(spark):
    from pyspark.sql import functions as F

    stores, customers, regions = _where_sold(spark)
    orders = (_orders().join(stores, "store_id", "left").join(customers, "customer_id", "left")
              .withColumn("country", F.coalesce("store_country", "customer_country", F.lit("UNKNOWN")))
              .join(regions, "country", "left")
              .withColumn("region", F.coalesce("region", F.lit("UNKNOWN")))
              .drop("store_country", "customer_country"))
    lines = _lines()
    per_order = lines.groupBy("order_id").agg(F.sum("quantity").cast("int").alias("units"),
                                              F.sum("revenue").cast("decimal(12,2)").alias("revenue"))
    dated = (orders.withColumn("order_date", F.to_date("order_ts"))
             .withColumn("year", F.year("order_ts")).withColumn("month", F.month("order_ts"))
             .withColumn("season", season_of(F.month("order_ts"))))
    sales_orders = dated.join(per_order, "order_id").select(
        "order_id", "order_date", "order_ts", "year", "month", "season", "channel", "store_id", "customer_id",
        "country", "region", "units", "revenue")
    by_category = (dated.join(lines, "order_id")
                   .groupBy("order_date", "year", "month", "season", "channel", "region", "country", "category")
                   .agg(F.countDistinct("order_id").cast("int").alias("orders"),
                        F.sum("quantity").cast("int").alias("units"),
                        F.sum("revenue").cast("decimal(14,2)").alias("revenue")))
    return sales_orders, by_category


def _machine_days(spark):
    from pyspark.sql import functions as F

    from lablib import data
    from lablib.ml import silver_telemetry

    readings = silver_telemetry().withColumn("day", F.to_date("event_time"))
    per_day = readings.groupBy("machine_id", "day").agg(
        F.count("*").cast("int").alias("readings"),
        F.sum(F.col("status").isin("FAILURE", "MAINTENANCE").cast("int")).cast("int").alias("down_readings"),
        F.sum((F.col("status") == "WARNING").cast("int")).cast("int").alias("warnings"))
    failures = (data.read("failures").withColumn("day", F.to_date("failure_time"))
                .groupBy(F.upper(F.trim("machine_id")).alias("machine_id"), "day")
                .agg(F.count("*").cast("int").alias("failures"),
                     F.sum("downtime_minutes").cast("int").alias("downtime_minutes")))
    machines = data.read("machines").select(F.upper(F.trim("machine_id")).alias("machine_id"),
                                            "machine_type", "factory_id")
    factories = data.read("factories").select("factory_id", F.col("name").alias("factory"), "country", "region")
    return (per_day.join(machines, "machine_id").join(factories, "factory_id")
            .join(failures, ["machine_id", "day"], "left")
            .select("day", "machine_id", "machine_type", "factory_id", "factory", "country", "region",
                    "readings", "down_readings", "warnings",
                    F.round(1 - F.col("down_readings") / F.col("readings"), 4).alias("availability"),
                    F.coalesce("failures", F.lit(0)).alias("failures"),
                    F.coalesce("downtime_minutes", F.lit(0)).alias("downtime_minutes")))


def build(quiet: bool = False) -> dict[str, int]:
    """Build (or rebuild) every gold table as a Delta table ``ch07.<name>`` from the datasets at the
    kernel's scale; returns {table: rows}. Deletion vectors and column mapping stay off."""
    from lablib.session import spark as spark_session

    spark = spark_session()
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    sales_orders, by_category = _sales(spark)
    frames = {"sales_orders": sales_orders, "sales_by_category": by_category, "machine_days": _machine_days(spark)}
    props = ", ".join(f"'{k}' = '{v}'" for k, v in READER_FRIENDLY.items())
    rows = {}
    for name, frame in frames.items():
        view = f"_gold_{name}"
        frame.createOrReplaceTempView(view)
        # dropped, not replaced: a REPLACE keeps the protocol's features (deletion vectors once on stay on)
        spark.sql(f"DROP TABLE IF EXISTS {DATABASE}.{name}")
        shutil.rmtree(location(name), ignore_errors=True)  # files a lost metastore entry left behind
        spark.sql(f"CREATE TABLE {DATABASE}.{name} USING DELTA TBLPROPERTIES ({props}) "
                  f"AS SELECT * FROM {view}")
        spark.catalog.dropTempView(view)
        # the row count from the commit's own metrics, read by delta-rs from the commit file: no job
        # over the table, and none over its log either (DESCRIBE HISTORY is a Spark query)
        rows[name] = int(delta_table(name).history(1)[0]["operationMetrics"]["numOutputRows"])
    if not quiet:
        print("gold tables: " + ", ".join(f"{DATABASE}.{n} ({r:,} rows)" for n, r in rows.items()))
    return rows


# -- reading without Spark -------------------------------------------------------

class MissingTable(LabError):
    """A gold table that is not there (yet): the message says how to build it."""


def delta_table(name: str):
    """Gold table ``name`` opened by delta-rs; a LabError naming the table (and, when delta-rs
    refuses it, the feature it lacks) instead of a Rust traceback."""
    from deltalake import DeltaTable

    path = location(name)
    if not (path / "_delta_log").is_dir():
        raise MissingTable(f"gold table {DATABASE}.{name} is missing (no Delta table at "
                           f"$LAB_HOME/{path.relative_to(settings().home)}); {BUILD_HINT}")
    try:
        return DeltaTable(str(path))
    except Exception as exc:  # delta-rs raises its own exception types
        raise LabError(f"delta-rs cannot read gold table {DATABASE}.{name}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def unsupported_features(table) -> list[str]:
    """The reader features of a delta-rs DeltaTable that this delta-rs cannot read (e.g. deletionVectors)."""
    protocol = table.protocol()
    features = list(protocol.reader_features or [])
    readable = {"timestampNtz", "columnMapping", "v2Checkpoint", "vacuumProtocolCheck"}
    return [f for f in features if f not in readable]


def dataset(name: str):
    """Gold table ``name`` as a pyarrow dataset (lazy: DuckDB reads only the columns and files it needs)."""
    table = delta_table(name)
    lacking = unsupported_features(table)
    if lacking:
        raise LabError(f"delta-rs cannot read gold table {DATABASE}.{name}: it uses the reader feature(s) "
                       f"{', '.join(lacking)}; rebuild it with lablib.gold.build(), which writes them off")
    try:
        return table.to_pyarrow_dataset()
    except Exception as exc:  # noqa: BLE001 - one sentence naming the table
        raise LabError(f"delta-rs cannot read gold table {DATABASE}.{name}: {_first_line(exc)}") from None


def duckdb(names: list[str] | tuple[str, ...] | None = None):
    """An in-memory DuckDB connection on which every gold table (or those named) is a view over its
    delta-rs Arrow dataset. No DuckDB extension is loaded (its delta extension would be downloaded)."""
    import duckdb as _duckdb

    con = _duckdb.connect()
    for name in names or TABLES:
        con.register(name, dataset(name))
    return con


def panels_dir() -> Path:
    """Where a learner's extra dashboard panels live (``<name>.py`` files, each defining
    ``panel(st, con, where)``); the dashboard draws each below its own charts."""
    return settings().scratch / DATABASE / "panels"


def sql_list(values) -> str:
    """Values as a SQL list of string literals (quotes doubled): ``('EMEA', 'AMER')``."""
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"


def serve_dashboard(app=None, args: tuple[str, ...] = (), paths=()) -> str:
    """Serve the dashboard (dashboards/sales.py) on 127.0.0.1 for this kernel and return its URL; it
    stops with the kernel, `lab dashboard down` and chapter 07's reset (`lab dashboard up` keeps one
    running on its own). ``app``, ``args``, ``paths``: another Streamlit script, its arguments and the
    folders it imports from, served the same way."""
    from lablib import services

    return services.serve_dashboard(app, args, paths)


def stop_dashboard() -> bool:
    """Stop this home's dashboard; True when one was running."""
    from lablib import services

    return services.stop_dashboard(log=lambda line: None)


def dashboard_app() -> Path:
    """The dashboard's Streamlit script."""
    from lablib.config import REPO

    return REPO / "dashboards" / "sales.py"


def app_test(timeout: float = 120):
    """The dashboard as a Streamlit ``AppTest`` (not run yet: call ``.run()``): the script run in this
    process, no server and no browser, every element it draws readable (``.metric``, ``.warning``, …)."""
    import logging

    from streamlit.testing.v1 import AppTest

    # outside a served page Streamlit logs "missing ScriptRunContext" (harmless, with a clock) on import
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context",
                 "streamlit.runtime.caching.cache_data_api", "streamlit"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return AppTest.from_file(str(dashboard_app()), default_timeout=timeout)
