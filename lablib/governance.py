"""Chapter 10's plumbing: statements the engine refuses, and OpenLineage events captured to a file.

On the face as ``lablib.governance``::

    lablib.governance.refused("GRANT SELECT ON TABLE t TO analysts")   # "INVALID_STATEMENT_OR_CLAUSE"
    with lablib.governance.lineage(path):                             # the listener, for this block only
        ...                                                           # Spark jobs write events to path
    events = lablib.governance.read_events(path)                      # the run events, as dicts
    lablib.governance.lineage_edges(events)                           # table and column edges

The OpenLineage Spark listener (``lablib/jvm/lineage``) sits on the classpath of every local session
but is registered only inside :func:`lineage`, with the file transport: nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

from lablib import jvm
from lablib.errors import LabError
from lablib.session import spark


@contextlib.contextmanager
def quiet_sql_errors():
    """Inside the block, pyspark does not log each SQL error with its stack trace before raising it
    (the error itself still raises, with its message): for code that expects refusals."""
    from pyspark.logger import PySparkLogger

    # pyspark's own logger class: its callers pass it keywords (errorClass=…) a plain Logger refuses
    quiet = [PySparkLogger.getLogger(n) for n in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")]
    before = [lg.disabled for lg in quiet]
    for lg in quiet:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(quiet, before, strict=True):
            lg.disabled = was


def refused(statement) -> str | None:
    """Run ``statement`` (SQL text, or a function doing a write); return the error condition Spark
    refused it with (no log noise, no stack trace), or None when it ran."""
    try:
        with quiet_sql_errors():
            if callable(statement):
                statement()
            else:
                spark().sql(statement).collect()
    except Exception as exc:  # noqa: BLE001 - what it was refused with is the answer
        condition = getattr(exc, "getCondition", lambda: None)()
        if not condition:  # a JVM error pyspark does not convert (e.g. a Delta constraint): its [CLASS]
            found = re.search(r"\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\]", str(exc))
            condition = found.group(1) if found else None
        return condition or type(exc).__name__
    return None


# --------------------------------------------------------------------------- lineage
LISTENER = "io.openlineage.spark.agent.OpenLineageSparkListener"


@contextlib.contextmanager
def lineage(path, namespace: str = "mega-awesome-toys", settle: float = 30.0):
    """Register the OpenLineage listener for the block; its events are appended to ``path`` (JSON lines).

    The listener is added to the running SparkContext and removed after the block, so only the jobs
    inside it are recorded. ``settle``: at most this many seconds to let the listener's last events
    reach the file (it writes each one as Spark's listener bus hands it over).
    """
    if not jvm.is_resolved("lineage"):
        raise LabError("the OpenLineage Spark listener is not resolved: run `lab setup`")
    session = spark()
    sc = session.sparkContext
    conf = sc._jsc.sc().conf().clone()
    for key, value in {
        "spark.openlineage.transport.type": "file",
        "spark.openlineage.transport.location": str(Path(path)),
        "spark.openlineage.namespace": namespace,
        # file transport only; no facet that reaches for a cloud metadata endpoint
        "spark.openlineage.facets.disabled": "[spark_unknown;spark.logicalPlan;debug]",
    }.items():
        conf.set(key, value)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        listener = sc._jvm.io.openlineage.spark.agent.OpenLineageSparkListener(conf)
    except Exception as exc:  # noqa: BLE001
        raise LabError(f"the OpenLineage listener is not on this session's classpath ({type(exc).__name__}); "
                       "run `lab setup`, then restart the kernel") from None
    # The listener reads the warehouse folder from the running context's conf and parses it with
    # URI.create: Spark keeps it there as a plain path ("file:/…/home 10b/warehouse"), which a space
    # makes an illegal URI, and every catalog table (saveAsTable, spark.table) then loses its dataset.
    # For the block, the conf holds the same folder as a quoted URI (Spark read its own copy at start).
    # (The listener's other unquoted round trip is patched in lablib/jvm/lineage/patch.)
    live = sc._jsc.sc().conf()
    warehouse = live.get(_WAREHOUSE) if live.contains(_WAREHOUSE) else None
    if warehouse:
        live.set(_WAREHOUSE, _quoted(warehouse))
    sc._jsc.sc().addSparkListener(listener)
    try:
        yield Path(path)
    finally:
        _deliver(sc, settle)
        sc._jsc.sc().removeSparkListener(listener)
        if warehouse:
            live.set(_WAREHOUSE, warehouse)


_WAREHOUSE = "spark.sql.warehouse.dir"


def _deliver(sc, seconds: float) -> None:
    """Wait until Spark's listener bus has handed every event posted so far to its listeners (it
    delivers asynchronously), at most ``seconds``: a fixed sleep waited for nothing most of the time."""
    from py4j.protocol import Py4JJavaError

    try:
        sc._jsc.sc().listenerBus().waitUntilEmpty(int(seconds * 1000))
    except Py4JJavaError as exc:
        if "TimeoutException" not in exc.java_exception.getClass().getName():
            raise
        # still busy after `seconds`: the block's events that arrived are in the file


def _quoted(location: str) -> str:
    """A local folder as Spark keeps it (``file:/a b/w`` or ``/a b/w``) as a URI (``file:///a%20b/w``);
    any other location (another scheme, already quoted) unchanged."""
    if location.startswith("file:") and "%" not in location:
        return Path(location.removeprefix("file:").removeprefix("//")).as_uri()
    if location.startswith("/"):
        return Path(location).as_uri()
    return location


def read_events(path) -> list[dict]:
    """The OpenLineage run events in ``path`` (one JSON object a line), in file order."""
    file = Path(path)
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


def _short(name: str) -> str:
    """A dataset's last path part: `/…/warehouse/ch10.db/customers` -> `customers`."""
    return name.rstrip("/").rsplit("/", 1)[-1]


def lineage_edges(events: list[dict]) -> tuple[set[tuple[str, str]], set[tuple[str, str, str, str]]]:
    """Table edges ``(input, output)`` and column edges ``(in_table, in_column, out_table, out_column)``
    read from the COMPLETE events (tables named by their folder's name)."""
    tables, columns = set(), set()
    for e in events:
        if e.get("eventType") != "COMPLETE":
            continue
        outputs = e.get("outputs") or []
        for o in outputs:
            out = _short(o["name"])
            for i in e.get("inputs") or []:
                if _short(i["name"]) != out:
                    tables.add((_short(i["name"]), out))
            fields = ((o.get("facets") or {}).get("columnLineage") or {}).get("fields") or {}
            for out_col, spec in fields.items():
                for src in spec.get("inputFields") or []:
                    if _short(src["name"]) != out:
                        columns.add((_short(src["name"]), src["field"], out, out_col))
    return tables, columns


def downstream(columns: set[tuple[str, str, str, str]], table: str, column: str) -> set[tuple[str, str]]:
    """Every ``(table, column)`` that depends on ``table.column``, directly or through others."""
    found: set[tuple[str, str]] = set()
    todo = [(table, column)]
    while todo:
        t, c = todo.pop()
        for it, ic, ot, oc in columns:
            if (it, ic) == (t, c) and (ot, oc) not in found:
                found.add((ot, oc))
                todo.append((ot, oc))
    return found
