"""Determinism, the manifest, the documented schemas, and clear errors for bad input."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lablib.data import manifest, schema, tables
from lablib.data.catalog import TABLES
from lablib.data.scales import resolve
from lablib.errors import LabError

_BUILD = "import sys; from lablib.data import build; build.build('ci', 42, quiet=True, dest=__import__('pathlib').Path(sys.argv[1]))"



def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_processes_write_identical_bytes(tmp_path, ci_data):
    # another process, another hash seed: dict/set order or stray timestamps would show here
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", _BUILD, str(tmp_path / "other")], check=True, env=env, timeout=120)
    a, b = digests(ci_data), digests(tmp_path / "other")
    assert len(a) > 30
    assert a == b


def test_manifest_matches_ci(ci_data):
    recorded = manifest.load()["scales"]["ci"]
    actual = manifest.describe(ci_data)
    assert actual == recorded


def test_manifest_records_every_named_scale():
    scales = manifest.load()["scales"]
    assert set(scales) == {"ci", "small", "full"}
    for entry in scales.values():
        assert set(entry) == set(TABLES) | {"_dirt"}
    sizes = sum(p.stat().st_size for p in manifest.SAMPLES.rglob("*") if p.is_file())
    assert 0 < sizes <= 5_000_000
    for name, table in TABLES.items():  # a committed sample of every table
        assert any(manifest.SAMPLES.glob(table.path + ("/*" if table.batched else ""))), name


def _ddl_names(ddl: str) -> list[str]:
    names, depth, token = [], 0, ""
    for ch in ddl + ",":
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            names.append(token.strip().split(" ")[0])
            token = ""
        else:
            token += ch
    return names


@pytest.mark.parametrize("name", list(TABLES))
def test_files_have_the_documented_columns(ci_data, name):
    table = TABLES[name]
    documented = [c for c in _ddl_names(schema(name)) if c != "_corrupt_record"]
    for path in manifest.files(ci_data, table):
        if table.format == "parquet":
            assert pq.read_schema(path).names == documented
        elif table.format == "csv":
            header = path.read_text().split("\n", 1)[0].split(",")
            # a batch before a schema change lacks only the trailing new column
            assert header == documented[:len(header)] and len(header) >= len(documented) - 1
        else:
            import json

            first = json.loads(path.read_text().split("\n", 1)[0])
            assert list(first) == documented


def test_parquet_types(ci_data):
    s = pq.read_schema(ci_data / "ledger.parquet")
    assert str(s.field("debit").type) == "decimal128(14, 2)"
    assert str(pq.read_schema(ci_data / "products.parquet").field("launch_date").type) == "date32[day]"
    ledger = pq.read_table(ci_data / "ledger.parquet").to_pandas()
    by_journal = ledger.groupby("journal_id")[["debit", "credit"]].sum()
    assert (by_journal["debit"] == by_journal["credit"]).all()  # every journal balances


def test_orders_link_to_sessions_and_failures_to_telemetry(ci_data):
    import json

    import pandas as pd

    orders = pd.read_csv(ci_data / "orders.csv", dtype=str, keep_default_na=False)
    sessions = set(orders.loc[orders.session_id != "", "session_id"])
    purchases = set()
    for f in (ci_data / "clickstream").glob("*.jsonl"):
        for line in f.read_text().splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e["action"] == "purchase":
                purchases.add(e["session"]["session_id"])
    assert sessions and sessions <= purchases | set()  # every linked order has its purchase event
    assert len(purchases - sessions) <= 2  # a purchase line may only be lost to a corrupt line


def _fingerprint(value) -> str:
    """A digest of a generator's input (dicts of numpy arrays and lists), to see it change."""
    import pickle

    return hashlib.sha256(pickle.dumps(value, protocol=5)).hexdigest()


def test_generators_leave_their_inputs_alone(tmp_path):
    # each table's generator is a function of its inputs: it returns what it derives (signup
    # days, the session of each web order) instead of writing into another table's arrays, so
    # the order in which build.write_all calls them cannot change a file
    from lablib.data import clickstream, dims, finance, sales

    s = resolve("ci")
    people = dims.customers(42, s.customers)
    _, prod = dims.products(42, s.products)
    before = {"people": _fingerprint(people), "prod": _fingerprint(prod)}
    o, signup = sales.generate(42, s, people, prod, s.stores)
    assert _fingerprint(people) == before["people"] and _fingerprint(prod) == before["prod"]
    assert len(signup) == s.customers and "session" not in o
    before["orders"] = _fingerprint(o)
    _, sessions = clickstream.generate(42, s, o, prod, s.customers, tmp_path)
    sales.orders_table(42, o, sessions, s.stores)
    sales.lines_table(42, o, s.products)
    finance.generate(42, o)
    dims.customers_table(42, people, signup)
    dims.customer_updates(42, people)
    assert _fingerprint(o) == before["orders"]
    assert _fingerprint(people) == before["people"] and _fingerprint(prod) == before["prod"]
    assert sum(x is not None for x in sessions) > 0  # the web orders of the window got their sessions


def test_tables_and_scales():
    assert tables() == list(TABLES) and "telemetry" in tables()
    assert resolve("ci").orders < resolve("small").orders < resolve("full").orders
    assert resolve("2").orders == 2 * resolve("small").orders
    assert resolve("full").telemetry_rows > 10_000_000


@pytest.mark.parametrize("bad", ["huge", "-1", "0", "nan"])
def test_unknown_scale_is_one_sentence(bad):
    with pytest.raises(LabError, match="unknown dataset scale"):
        resolve(bad)


def test_cli_reports_bad_scale_and_rate(capsys):
    from lablib.cli import main

    assert main(["data", "--scale", "medium"]) == 1
    assert "unknown dataset scale 'medium'" in capsys.readouterr().err
    assert main(["data", "stream", "--source", "telemetry", "--to", "files", "--dir", "x", "--rate=-3/s"]) == 1
    assert "the rate must be 0" in capsys.readouterr().err


def test_unwritable_target_is_a_clear_error_and_leaves_nothing(tmp_path):
    from lablib.data import build

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(LabError, match="cannot|permission"):
            build.build("ci", 42, quiet=True, dest=locked / "ci")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_failed_write_leaves_no_half_file(tmp_path):
    from lablib.data import _io

    def half(tmp):  # the disk fills up half-way through the file
        tmp.write_bytes(b"half,a,row")
        raise OSError(28, "No space left on device")

    with pytest.raises(LabError, match="disk full"):
        _io.atomic(tmp_path / "t.csv", half)
    assert list(tmp_path.iterdir()) == []


def test_target_that_is_not_a_folder_is_a_clear_error(tmp_path):
    from lablib.data import build

    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(LabError, match="cannot create"):
        build.build("ci", 42, quiet=True, dest=tmp_path / "file" / "ci")


def test_dirt_report_names_every_table(ci_dirt):
    assert set(ci_dirt) == set(TABLES)
