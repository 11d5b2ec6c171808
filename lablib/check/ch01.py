"""Checks of chapter 01, modern data architecture."""

from __future__ import annotations

from decimal import Decimal

from lablib.check import exercise, fail
from lablib.check._spark import history, need_columns, need_dataframe, need_delta, spark_session

#: the Mega Awesome Toys sources of the architecture decision, and the facts the check holds them to
SOURCES = {
    "telemetry": {"arrives": "stream", "pii": False},
    "clickstream": {"arrives": "stream", "pii": False},
    "orders": {"arrives": "batch", "pii": False},
    "customers": {"arrives": "batch", "pii": True},
    "ledger": {"arrives": "batch", "pii": False},
}
CONSUMERS = ("dashboards", "failure_prediction")
STAGES = ("sources", "ingestion", "storage", "processing", "serving", "governance")
OPEN_TABLE_FORMATS = ("delta", "iceberg", "hudi")
_PLACEHOLDERS = {"", "...", "todo", "tbd", "?"}


@exercise("01", hint='spark.read.schema(orders.schema).option("header", True).csv(csv_path)')
def typed_csv(answer, csv_path, reference):
    """``answer`` reads the CSV copy back with every column's type as in ``reference``."""
    from pyspark.sql import functions as F

    need_dataframe(answer, "orders_from_csv")
    need_columns(answer, reference.columns, "orders_from_csv")
    got = dict(answer.dtypes)
    wrong = [f"{c} is {got[c]}, not {t}" for c, t in reference.dtypes if got[c] != t]
    if wrong:
        fail("type(s) lost: " + "; ".join(wrong), "give the reader the schema instead of letting it guess")
    files = {f.rsplit("/", 1)[-1] for f in answer.inputFiles()}
    csv_files = {f.rsplit("/", 1)[-1] for f in spark_session().read.option("header", True).csv(str(csv_path)).inputFiles()}
    if not files or files != csv_files:
        fail("this DataFrame was not read from the CSV copy", "read the files at csv_path")
    # one query per side answers the three questions below
    n, nulls, total = answer.agg(F.count("*"), F.count_if(F.col("order_ts").isNull() | F.col("total_amount").isNull()),
                                 F.sum("total_amount")).first()
    expected, truth = reference.agg(F.count("*"), F.sum("total_amount")).first()
    if n != expected:
        fail(f"{n:,} rows read, the orders have {expected:,}")
    if nulls:
        fail(f"{nulls} row(s) have a null order_ts or total_amount after reading", "check the header option")
    if total != truth:
        fail(f"the amounts sum to {total}, the orders to {truth}")
    return f"{n:,} orders read from CSV with {len(reference.columns)} typed columns; amounts sum exactly to {truth}"


@exercise("01", hint="drop the extra column and cast total_amount back to the table's type, then append")
def fit_bad_append(delta_path, batch):
    """The rejected ``batch`` was made to fit and appended once; the table's schema did not change."""
    need_dataframe(batch, "bad_batch")
    spark = spark_session()
    table = need_delta(delta_path, spark)
    commits = history(table)
    appends = [c for c in commits[1:] if c["operation"] == "WRITE"
               and (c["operationParameters"] or {}).get("mode") == "Append"]
    if not appends:
        fail("the table's history has no append after version 0", 'write with .mode("append")')
    v0 = spark.read.format("delta").option("versionAsOf", 0).load(str(delta_path))
    v1 = spark.read.format("delta").option("versionAsOf", appends[0]["version"]).load(str(delta_path))
    if [(f.name, f.dataType) for f in v1.schema] != [(f.name, f.dataType) for f in v0.schema]:
        fail("the table's schema changed: " + ", ".join(f"{c} {t}" for c, t in v1.dtypes),
             "make the batch fit the table, do not evolve the table to fit the batch")
    # the append's own record of the rows it wrote: counting versions 0 and 1 would replay the log twice
    added = int((appends[0]["operationMetrics"] or {}).get("numOutputRows", -1))
    expected = batch.count()
    if added != expected:
        fail(f"the append added {added} row(s), the batch has {expected}")
    return f"{added} rows appended in version {appends[0]['version']}, schema unchanged ({len(v0.columns)} columns)"


def _as_pairs(rows, what: str) -> dict[str, Decimal]:
    pairs: dict[str, Decimal] = {}
    for row in rows:
        try:
            channel, revenue = row[0], row[1]
        except (TypeError, IndexError, KeyError):
            fail(f"{what} has a row that is not (channel, revenue): {row!r}")
        if revenue is None:
            fail(f"{what} has no revenue for {channel}")
        pairs[str(channel)] = Decimal(str(revenue))
    return pairs


@exercise("01", hint="completed orders of 2024, sum of total_amount per channel; in sqlite divide cents by 100")
def same_question(sqlite_answer, spark_answer, parquet_path):
    """Both stores answer: revenue of completed 2024 orders per channel (checked against the Parquet copy)."""
    from pyspark.sql import functions as F

    if sqlite_answer is None:
        fail("sqlite_answer is still None", "fetch the rows of your SQL query with .fetchall()")
    need_dataframe(spark_answer, "spark_answer")
    need_columns(spark_answer, ["channel", "revenue"], "spark_answer")
    truth_rows = (spark_session().read.parquet(str(parquet_path))
                  .where((F.col("status") == "completed") & (F.year("order_ts") == 2024))
                  .groupBy("channel").agg(F.sum("total_amount").alias("revenue")).collect())
    truth = {r.channel: Decimal(str(r.revenue)) for r in truth_rows}
    for what, got in (("sqlite_answer", _as_pairs(list(sqlite_answer), "sqlite_answer")),
                      ("spark_answer", _as_pairs(spark_answer.select("channel", "revenue").collect(),
                                                 "spark_answer"))):
        if set(got) != set(truth):
            fail(f"{what} has channels {sorted(got)}, expected {sorted(truth)}")
        for channel, value in truth.items():
            if abs(got[channel] - value) > Decimal("0.01"):
                fail(f"{what}: {channel} revenue {got[channel]}, expected {value}",
                     "only completed orders, only 2024")
    best = max(truth, key=truth.get)
    return f"sqlite and Spark agree on {len(truth)} channels; {best} leads with {truth[best]:,.2f} EUR"


def _need_reason(entry, where: str) -> None:
    if not isinstance(entry, dict):
        fail(f"{where} should be a dict with 'tech' and 'why', not {type(entry).__name__}")
    tech = str(entry.get("tech") or "").strip()
    why = str(entry.get("why") or "").strip()
    if tech.lower() in _PLACEHOLDERS:
        fail(f"{where} names no technology ('tech')")
    if why.lower() in _PLACEHOLDERS or len(why.split()) < 4:
        fail(f"{where}: say why {tech} (a reason of a few words in 'why')")


def _techs(decision: dict) -> list[str]:
    found = []
    for stage in STAGES[1:]:
        part = decision.get(stage) or {}
        entries = [part] if "tech" in part else list(part.values())
        found += [str(e["tech"]).strip() for e in entries if isinstance(e, dict) and e.get("tech")]
    return found


@exercise("01", hint="fill every stage; streams need a streaming path, personal data a governance control")
def architecture_decision(decision):
    """The decision is complete (every stage, a technology and a reason each) and consistent with the sources."""
    if decision is None:
        fail("decision is still None", "fill the dict of the exercise")
    if not isinstance(decision, dict):
        fail(f"decision is a {type(decision).__name__}, not a dict")
    missing = [s for s in STAGES if not decision.get(s)]
    if missing:
        fail(f"stage(s) missing or empty: {', '.join(missing)}")
    sources = decision["sources"]
    for name, facts in SOURCES.items():
        got = sources.get(name)
        if not isinstance(got, dict):
            fail(f"source {name} is not described in 'sources'")
        if got.get("arrives") != facts["arrives"]:
            fail(f"{name} arrives as a {facts['arrives']}, the decision says {got.get('arrives')!r}",
                 "re-read how each source delivers its data")
        if facts["pii"] and got.get("pii") is not True:
            fail(f"{name} holds personal data (names, emails, phones): mark it pii=True")
    streams = [n for n in SOURCES if SOURCES[n]["arrives"] == "stream"]
    ingestion = decision["ingestion"]
    for name in SOURCES:
        entry = ingestion.get(name)
        _need_reason(entry, f"ingestion of {name}")
        if entry.get("path") not in ("stream", "batch"):
            fail(f"ingestion of {name}: 'path' must be 'stream' or 'batch'")
        if name in streams and entry["path"] != "stream":
            fail(f"{name} arrives continuously but is ingested in batch",
                 "streaming sources need a streaming path (e.g. a log such as Kafka)")
    storage = decision["storage"]
    _need_reason(storage, "storage")
    if str(storage.get("format", "")).lower() not in OPEN_TABLE_FORMATS:
        fail(f"storage format {storage.get('format')!r} is not an open table format "
             f"({', '.join(OPEN_TABLE_FORMATS)})", "a lakehouse keeps its tables in an open, transactional format")
    layers = [str(x).lower() for x in storage.get("layers") or []]
    if len(layers) < 2:
        fail("storage needs at least two layers (raw and refined), e.g. bronze, silver, gold")
    processing = decision["processing"]
    paths = {ingestion[n]["path"] for n in SOURCES}
    for path in sorted(paths):
        if path not in processing:
            fail(f"sources are ingested as {path} but processing has no '{path}' entry")
        _need_reason(processing[path], f"processing ({path})")
    serving = decision["serving"]
    for consumer in CONSUMERS:
        entry = serving.get(consumer)
        _need_reason(entry, f"serving {consumer}")
        if str(entry.get("reads", "")).lower() not in layers:
            fail(f"serving {consumer} reads {entry.get('reads')!r}, which is not one of the layers {layers}")
    governance = decision["governance"]
    if any(SOURCES[n]["pii"] for n in SOURCES):
        if "pii" not in governance:
            fail("customers hold personal data but governance has no 'pii' control",
                 "mask, tokenise or restrict the PII columns")
        _need_reason(governance["pii"], "governance of PII")
    if "access" not in governance:
        fail("governance says nothing about 'access' (who may read what)")
    _need_reason(governance["access"], "governance access")
    for key, entry in governance.items():
        _need_reason(entry, f"governance {key}")
    return (f"{len(SOURCES)} sources, {len(streams)} streamed ({', '.join(streams)}), "
            f"{storage['format']} in {len(layers)} layers, {len(CONSUMERS)} consumers served, PII governed")


@exercise("01", hint="one node per source and per technology, edges in the order sources → … → serving")
def decision_diagram(diagram, decision):
    """The graphviz diagram names every source and every chosen technology and connects them."""
    if diagram is None:
        fail("decision_graph is still None", "build a graphviz.Digraph from your decision")
    source = getattr(diagram, "source", None)
    if not isinstance(source, str):
        fail(f"decision_graph is a {type(diagram).__name__}, not a graphviz Digraph")
    if not isinstance(decision, dict) or not decision.get("sources"):
        fail("the decision is empty; do the previous exercise first")
    text = source.lower()
    absent = [n for n in decision["sources"] if n.lower() not in text]
    absent += [t for t in dict.fromkeys(_techs(decision)) if t.lower() not in text]
    if absent:
        fail(f"the diagram does not show: {', '.join(absent[:5])}")
    edges = text.count("->") if "digraph" in text else text.count("--")
    needed = len(decision["sources"]) + len(decision.get("serving") or {})
    if edges < needed:
        fail(f"only {edges} edge(s); connect each source and each consumer (at least {needed})")
    try:
        diagram.pipe(format="svg")
    except Exception as exc:  # noqa: BLE001 - graphviz not installed, or a syntax error
        fail(f"graphviz could not render it ({type(exc).__name__})", "is the `dot` program installed?")
    return (f"rendered: {len(decision['sources'])} sources, {len(set(_techs(decision)))} technologies, "
            f"{edges} edges")
