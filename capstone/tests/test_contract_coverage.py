"""The contracts agree with the code: every published table has one, its owner is the platform's, its
columns are what the stages produce (the transforms on a handful of rows), and the rules repeat the
gates' and the model's numbers rather than numbers of their own."""

from __future__ import annotations

import json
import re
from datetime import datetime

import lablib.ml
import pytest

from mat_platform import contracts, model, quality, resources, transforms

PUBLISHED = [label for labels in contracts.TABLES.values() for label in labels]
#: Delta's type names (resources.py) as Spark prints them (the contracts' physicalType)
SPARK_TYPE = {"long": "bigint", "integer": "int"}


def properties(label: str) -> dict[str, dict]:
    return {p["name"]: p for p in contracts.spec(label)["schema"][0]["properties"]}


def test_every_declared_table_and_the_predictions_have_a_contract_or_a_reason():
    declared = {t.label for t in resources.tables()} | {"gold.machine_risk"}
    assert declared - set(contracts.UNPUBLISHED) == set(PUBLISHED)
    assert sorted(p.name.removesuffix(".odcs.yaml") for p in contracts.FOLDER.glob("*.odcs.yaml")) == sorted(PUBLISHED)


@pytest.mark.parametrize("label", PUBLISHED)
def test_each_contract_is_odcs_v3_owned_by_the_platform_and_names_its_view(label):
    spec = contracts.spec(label)
    assert spec["kind"] == "DataContract" and spec["apiVersion"].startswith("v3")
    assert spec["id"] == f"urn:mat:platform:{label}" and spec["version"] and spec["status"] == "active"
    owners = [m["username"] for m in spec["team"]["members"] if m["role"] == "owner"]
    assert owners == [resources.OWNER]
    assert {s["property"] for s in spec["slaProperties"]} >= {"frequency", "freshness"}
    assert len(spec["schema"]) == 1 and contracts.view_name(contracts.load(label)) == spec["schema"][0]["name"]
    from datacontract.data_contract import DataContract

    lint = DataContract(data_contract_str=contracts.load(label)).lint()  # valid against the ODCS schema
    assert [c.reason for c in lint.checks if str(c.result.value) != "passed"] == []


def test_the_declared_columns_are_in_the_contracts_with_their_type_and_nullability():
    for table in resources.tables():
        if table.label in contracts.UNPUBLISHED:
            continue
        props = properties(table.label)
        for name, kind, nullable in table.columns:
            assert props[name]["physicalType"] == SPARK_TYPE.get(kind, kind), (table.label, name)
            if not nullable:
                assert props[name].get("required") is True, (table.label, name)


def kafka_rows(spark):
    value = {
        "event_time": "2024-12-30 08:00:00",
        "machine_id": " m-00001 ",
        "temperature_c": "71.5",
        "vibration_mm_s": "2.5",
        "rpm": "1500",
        "power_kw": "12.0",
        "status": "running",
        "firmware_version": None,
    }
    rows = [(b"M-00001", json.dumps(value).encode(), "t", 0, 0, datetime(2024, 12, 30, 8))]
    return spark.createDataFrame(
        rows, "key BINARY, value BINARY, topic STRING, partition INT, offset LONG, timestamp TIMESTAMP"
    )


DDL = (
    "event_time STRING, machine_id STRING, temperature_c STRING, vibration_mm_s DOUBLE, rpm INT, "
    "power_kw DOUBLE, status STRING, firmware_version STRING"
)


@pytest.fixture
def produced(spark, monkeypatch):
    """What each stage writes, built by the transforms from a few rows (no dataset, no table)."""
    import lablib.data

    machines = spark.createDataFrame([("M-00001", "F-01")], "machine_id string, factory_id string")
    monkeypatch.setattr(lablib.data, "read", lambda name, *a, **k: machines)  # machine_hours joins the factories
    silver = transforms.silver(transforms.parse(transforms.bronze(kafka_rows(spark)), DDL))
    orders = spark.createDataFrame(
        [("o1", "2024-12-30 10:00:00", "web", "completed")],
        "order_id STRING, order_ts STRING, channel STRING, status STRING",
    )
    lines = spark.createDataFrame(
        [("o1", 2, 10.0, None)], "order_id STRING, quantity INT, unit_price DOUBLE, discount_pct DOUBLE"
    )
    return {
        "silver.telemetry": silver,
        "gold.machine_hour_features": transforms.machine_hour_features(silver),
        "gold.daily_sales": transforms.daily_sales(orders, lines),
    }


@pytest.mark.parametrize("label", ["silver.telemetry", "gold.machine_hour_features", "gold.daily_sales"])
def test_each_contract_describes_every_column_the_stage_produces_with_its_type(produced, label):
    frame = produced[label]
    have = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    props = properties(label)
    assert list(props) == list(have)  # every column, in the table's order: none undescribed, none missing
    assert {n: p["physicalType"] for n, p in props.items()} == have


def test_the_risk_contract_describes_the_predictions_columns():
    assert tuple(properties("gold.machine_risk")) == model.RISK_COLUMNS
    assert all(p.get("required") for p in properties("gold.machine_risk").values())


def test_the_feature_ranges_are_the_gates_ranges():
    props = properties("gold.machine_hour_features")
    for name, prop in props.items():
        base = name.split("_mean_")[0] if "_mean_" in name else name.split("_24h")[0]
        if base in quality.RANGES:  # the columns the gold gate bounds: the contract bounds them alike
            options = prop["logicalTypeOptions"]
            assert (options["minimum"], options["maximum"]) == quality.RANGES[base], name
    # the model's inputs are all described
    assert set(lablib.ml.feature_columns()) <= set(props)


def test_the_at_risk_rule_uses_the_models_threshold():
    at_risk = properties("gold.machine_risk")["at_risk"]
    (query,) = [q["query"] for q in at_risk["quality"] if q["type"] == "sql"]
    low, high = map(float, re.search(r"risk >= (\d+)D / (\d+)D", query).groups())
    assert low / high == model.RISK_THRESHOLD
