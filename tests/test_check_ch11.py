"""Chapter 11's checks accept the right answer and reject wrong or missing ones (the real broker's topic
configuration, real Delta tables written by delta-rs)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pytest
from checking import accepts, rejects
from deltalake import DeltaTable

from lablib.check import ch11

READABLE = {"delta.enableDeletionVectors": "false", "delta.columnMapping.mode": "none"}


@dataclass
class Line:  # what plan() returns prints as one line; the check reads only that
    text: str

    def __str__(self) -> str:
        return self.text


DRIFT = [Line("~ topic t: retention.ms 86400000 -> -1"), Line("~ table bronze.telemetry: property mat.owner x -> y")]


def _table(path, columns, properties=None, layer="silver", constraints=None):
    schema = pa.schema([pa.field(n, k, nullable=null) for n, k, null in columns])
    table = DeltaTable.create(str(path), schema, configuration=READABLE if properties is None else properties)
    table.alter.set_table_properties({"mat.layer": layer, "mat.owner": ch11.OWNER}, raise_if_not_exists=False)
    for name, rule in (constraints or {}).items():
        table.alter.add_constraint({name: rule})
    return path


REJECTS = (("machine_id", pa.string(), True), ("event_time", pa.timestamp("us", tz="UTC"), True),
           ("reason", pa.string(), False))


@pytest.fixture
def topic(lab_services, topic_name):
    from confluent_kafka.admin import AdminClient, NewTopic

    from lablib import kafka_config

    admin = AdminClient({"bootstrap.servers": kafka_config()["bootstrap.servers"]})
    new = NewTopic(topic_name, num_partitions=1, replication_factor=1, config={"retention.ms": "-1"})
    admin.create_topics([new])[topic_name].result(timeout=30)
    yield topic_name
    admin.delete_topics([topic_name])[topic_name].result(timeout=30)


def _retention(topic: str, value: str) -> None:
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    from lablib import kafka_config

    admin = AdminClient({"bootstrap.servers": kafka_config()["bootstrap.servers"]})
    entry = ConfigEntry("retention.ms", value, incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    admin.incremental_alter_configs([res])[res].result(timeout=30)


def test_drift_found_and_repaired(topic, tmp_path):
    table = _table(tmp_path / "bronze", REJECTS)
    accepts(ch11.drift(DRIFT, topic, table))
    rejects(ch11.drift(None, topic, table), "drift is still None")
    rejects(ch11.drift([], topic, table), "your plan is empty")
    rejects(ch11.drift(DRIFT[:1], topic, table), "does not mention mat.owner")
    _retention(topic, "86400000")
    rejects(ch11.drift(DRIFT, topic, table), f"topic {topic} still has retention.ms=86400000")
    _retention(topic, "-1")
    DeltaTable(str(table)).alter.set_table_properties({"mat.owner": "intern@x"}, raise_if_not_exists=False)
    rejects(ch11.drift(DRIFT, topic, table), "still has mat.owner=intern@x")
    rejects(ch11.drift(DRIFT, topic + "-gone", table), "does not exist")


def test_rejects_table(tmp_path):
    accepts(ch11.rejects_table(_table(tmp_path / "right", REJECTS)))
    nullable_but_checked = [(n, k, True) for n, k, _ in REJECTS]
    accepts(ch11.rejects_table(_table(tmp_path / "checked", nullable_but_checked,
                                      constraints={"has_reason": "reason IS NOT NULL"})))
    rejects(ch11.rejects_table(None), "still None")
    rejects(ch11.rejects_table(tmp_path / "nothing"), "there is no Delta table")
    rejects(ch11.rejects_table(_table(tmp_path / "no_reason", REJECTS[:2])), "has no column reason")
    as_text = [REJECTS[0], ("event_time", pa.string(), True), REJECTS[2]]
    rejects(ch11.rejects_table(_table(tmp_path / "text", as_text)), "column event_time is string")
    rejects(ch11.rejects_table(_table(tmp_path / "bare", REJECTS, properties={})),
            "lacks delta.enableDeletionVectors=false")
    rejects(ch11.rejects_table(_table(tmp_path / "gold", REJECTS, layer="gold")), "the quarantine sits in silver")
    rejects(ch11.rejects_table(_table(tmp_path / "loose", nullable_but_checked)),
            "may be stored without a reason")
