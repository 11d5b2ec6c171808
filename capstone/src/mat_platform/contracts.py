"""Chapter 10's data contracts on the platform's tables: one ODCS v3 contract per published table,
tested with datacontract-cli after the stage that writes it.

The contracts live in ``capstone/contracts/<layer>.<name>.odcs.yaml``: the promise each table makes
to its consumers (its columns and types, what is never null, its key, the ranges of its values, its
owner and service levels). :func:`check` runs one on a table as written, the table registered as the
temporary view the contract's schema names, and returns its failed checks as sentences; the quality
gates (:func:`mat_platform.quality.gate`) add them to their own.

A contract is tested once per table version: the Delta version that last kept it (and the contract
text's sha256) is recorded in ``state/contracts.json``, and that version is not tested again with that
text (datacontract-cli costs a few Spark jobs per table, and a run that changes no table should cost
nothing here). A version that failed is not recorded, so it is tested again; so is any edited contract.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from mat_platform.settings import Settings

#: where the contracts live: capstone/contracts (beside src/, in the project, not in the package)
FOLDER = Path(__file__).resolve().parents[2] / "contracts"
#: the tables with a contract, in the order the stages write them, by the gate layer that checks them
TABLES = {
    "silver": ("silver.telemetry",),
    "gold": ("gold.machine_hour_features", "gold.daily_sales"),
    "risk": ("gold.machine_risk",),
}
#: declared tables without a contract, and why: no consumer outside the platform reads them
UNPUBLISHED = {
    "bronze.telemetry": "the topic's records as landed, read only by the silver stage; its gate checks it "
    "against the broker's offsets",
}


#: what datacontract-cli's Spark backend (ibis) sets on the session it is given; put back after each test
_SESSION_SETTINGS = ("spark.sql.session.timeZone", "spark.sql.mapKeyDedupPolicy")


def path(table_label: str) -> Path:
    return FOLDER / f"{table_label}.odcs.yaml"


def load(table_label: str) -> str:
    """The contract of ``table_label`` (e.g. ``gold.daily_sales``) as YAML text."""
    try:
        return path(table_label).read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"no contract for {table_label}: expected {path(table_label)}") from None


def spec(table_label: str) -> dict:
    """The contract parsed (a dict of the YAML)."""
    import yaml

    return yaml.safe_load(load(table_label))


def view_name(text: str) -> str:
    """The temporary view a contract's checks read: its one schema entry's name."""
    import yaml

    return yaml.safe_load(text)["schema"][0]["name"]


def test_frame(text: str, frame, label: str) -> list[str]:
    """datacontract-cli's test of contract ``text`` on ``frame``: the failed checks, one sentence each.

    The frame is registered as the view the contract names for the test, and the view is dropped after.
    A check datacontract-cli could not run (the contract did not parse, a rule it cannot evaluate) is a
    problem too, said as such: an untested promise never passes.
    """
    from datacontract.data_contract import DataContract
    from lablib import governance

    view = view_name(text)
    spark = frame.sparkSession
    before = {key: spark.conf.get(key, None) for key in _SESSION_SETTINGS}
    frame.createOrReplaceTempView(view)
    try:
        with governance.quiet_sql_errors():  # a failing SQL rule is reported below, not as a stack trace
            run = DataContract(data_contract_str=text, spark=spark).test()
    finally:
        spark.catalog.dropTempView(view)
        for key, value in before.items():  # the platform's session as it was
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    problems = []
    for c in run.checks:
        result = str(getattr(c.result, "value", c.result))
        if result in ("passed", "info"):
            continue
        reason = _first_line(c.reason) or result
        if result == "failed":
            problems.append(f"contract {label} fails the check '{c.name}': {reason}")
        else:  # error, or warning (a rule datacontract-cli could not run): the promise went untested
            problems.append(f"contract {label} could not run the check '{c.name}' ({result}): {reason}")
    if not problems and str(getattr(run.result, "value", run.result)) not in ("passed", "info"):
        problems.append(f"contract {label}: datacontract-cli's test ended {run.result} without a failed check")
    return problems


def _first_line(text: str | None, limit: int = 240) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check(conf: Settings, spark, table_label: str, *, force: bool = False) -> list[str]:
    """The problems of ``table_label`` (e.g. ``gold.machine_risk``) against its contract, as the table is
    now: one sentence each, naming the contract check that failed and why; empty when it keeps it.

    A table version that already kept its contract (``state/contracts.json``) is not tested again unless
    ``force``.
    """
    from deltalake import DeltaTable

    layer, name = table_label.split(".", 1)
    location = conf.table(layer, name)
    if not DeltaTable.is_deltatable(str(location)):
        return [f"contract {table_label}: the table does not exist, so it cannot keep its contract"]
    version = DeltaTable(str(location)).version()
    text = load(table_label)
    record = conf.state / "contracts.json"
    kept = _read(record)
    passed = {"table_version": version, "contract_sha256": hashlib.sha256(text.encode()).hexdigest()}
    if not force and {k: kept.get(table_label, {}).get(k) for k in passed} == passed:
        return []  # this version of the table kept this text of the contract already
    frame = spark.read.format("delta").option("versionAsOf", version).load(str(location))
    t0 = time.monotonic()
    problems = test_frame(text, frame, table_label)
    if not problems:  # with what the test cost, for the record (README's measurements come from it)
        _write(record, {**_read(record), table_label: {**passed, "seconds": round(time.monotonic() - t0, 2)}})
    return problems


def _read(record: Path) -> dict:
    return json.loads(record.read_text()) if record.exists() else {}


def _write(record: Path, data: dict) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(record)
