"""The capstone's resources as code (capstone/src/mat_platform/resources.py), on the real services.

One platform per module in a folder of its own, with a topic and MLflow names no other run uses
(the broker, the registry and the tracking server are this session's, and may be durable): plan ->
apply -> no change; hand changes found as drift and put back; what cannot be changed in place refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import sys
import uuid
from pathlib import Path

import pytest

import lablib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "capstone" / "src"))
from mat_platform import pipeline, resources  # noqa: E402 - the capstone's package, from its folder
from mat_platform.settings import TABLE_PROPERTIES, Settings  # noqa: E402

pytestmark = pytest.mark.services


def _platform(root: Path) -> Settings:
    unique = uuid.uuid4().hex[:8]
    # the scale is only a name here: it keeps the experiment and model names of this run apart
    return Settings(env="dev", scale=f"test{unique}", root=root, topic=f"ch99.capstone-{unique}")


@pytest.fixture(scope="module")
def applied(lab_services, tmp_path_factory):
    conf = _platform(tmp_path_factory.mktemp("capstone resources"))
    first_plan = resources.plan(conf)
    done = resources.apply(conf)
    yield {"conf": conf, "plan": first_plan, "done": done}
    pipeline.reset(conf)  # the last test asserts what it removes; a second reset removes nothing


def _table(conf, layer, name):
    from deltalake import DeltaTable

    return DeltaTable(str(conf.table(layer, name)))


def test_a_fresh_platform_is_created_then_nothing_is_left_to_do(applied):
    conf = applied["conf"]
    created = sorted(c.resource for c in applied["plan"])
    assert created == sorted([f"topic {conf.topic}", f"subject {conf.topic}-value",
                              "table bronze.telemetry", "table silver.telemetry",
                              f"experiment {resources.experiment_name(conf)}",
                              f"model {resources.model_name(conf)}"]), applied["plan"]
    assert all(c.action == "create" for c in applied["plan"])
    assert applied["done"] == applied["plan"]
    assert resources.plan(conf) == []
    assert resources.apply(conf) == []


def test_tables_carry_the_properties_and_refuse_a_bad_row(applied):
    import pyarrow as pa
    from deltalake import write_deltalake

    conf = applied["conf"]
    silver = _table(conf, "silver", "telemetry")
    config = silver.metadata().configuration
    assert TABLE_PROPERTIES.items() <= config.items()
    assert config["mat.layer"] == "silver" and config["mat.owner"] == resources.OWNER
    assert config["delta.constraints.rpm_not_negative"] == "rpm IS NULL OR rpm >= 0"
    nullable = {f.name: f.nullable for f in silver.schema().fields}
    assert nullable["machine_id"] is False and nullable["event_time"] is False and nullable["rpm"] is True
    row = pa.Table.from_pylist(
        [{"event_time": dt.datetime(2024, 3, 1, tzinfo=dt.UTC), "machine_id": "M-001", "temperature_c": 20.0, "vibration_mm_s": 1.0, "rpm": -5.0,
          "power_kw": 1.0, "status": "running"}],
        schema=pa.schema(silver.schema().to_arrow()),
    )
    with pytest.raises(Exception, match="1 rows failed validation check"):
        write_deltalake(str(conf.table("silver", "telemetry")), row, mode="append")
    assert _table(conf, "silver", "telemetry").version() == silver.version()


def test_hand_changes_are_drift_and_apply_puts_them_back(applied):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    conf = applied["conf"]
    admin = resources._admin()
    entry = ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ResourceType.TOPIC, conf.topic, incremental_configs=[entry])
    admin.incremental_alter_configs([res])[res].result(timeout=30)
    bronze = _table(conf, "bronze", "telemetry")
    bronze.alter.set_table_properties({"mat.owner": "someone@else.example"}, raise_if_not_exists=False)
    bronze.alter.drop_constraint("payload_present")

    drift = [str(c) for c in resources.plan(conf)]
    assert drift == [
        f"~ topic {conf.topic}: retention.ms 86400000 -> -1",
        f"~ table bronze.telemetry: property mat.owner someone@else.example -> {resources.OWNER}",
        "~ table bronze.telemetry: add constraint payload_present CHECK (value IS NOT NULL)",
    ]
    assert [str(c) for c in resources.apply(conf)] == drift
    assert resources.plan(conf) == []
    assert resources._topic_config(admin, conf.topic)["retention.ms"] == "-1"
    assert _table(conf, "bronze", "telemetry").metadata().configuration["mat.owner"] == resources.OWNER


def test_the_subject_holds_the_declared_schema_and_every_replayed_reading_keeps_it(applied):
    import jsonschema

    from lablib.data import streams

    conf = applied["conf"]
    registry = resources._registry()
    name = resources.subject(conf).name
    assert registry.get_compatibility(name) == "BACKWARD"
    held = json.loads(registry.get_latest_version(name).schema.schema_str)
    assert held == resources.subject(conf).schema
    # the replayer's own events, dirt included: each one a valid instance of what the registry holds
    events = list(itertools.islice(streams.events("telemetry", lablib.data.build.ensure("ci")), 2000))
    validator = jsonschema.Draft7Validator(held)
    assert all(not list(validator.iter_errors(json.loads(e.value))) for e in events)
    # and the schema is not a blank cheque: a reading without its machine, or with a number for text, is not
    first = json.loads(events[0].value)
    assert not validator.is_valid({k: v for k, v in first.items() if k != "machine_id"})
    assert not validator.is_valid({**first, "rpm": 1200})


def test_a_subject_changed_by_hand_is_drift_and_apply_puts_it_back(applied):
    from confluent_kafka.schema_registry import Schema

    conf = applied["conf"]
    registry = resources._registry()
    want = resources.subject(conf)
    # a compatible edit and a loosening registered by hand, then the rule switched off
    registry.register_schema(want.name, Schema(json.dumps({**want.schema, "title": "edited by hand"}), "JSON"))
    looser = {**want.schema, "required": want.schema["required"][:-1]}
    registry.register_schema(want.name, Schema(json.dumps(looser), "JSON"))
    registry.set_compatibility(want.name, "NONE")

    drift = [str(c) for c in resources.plan(conf, kinds=("subject",))]
    assert drift == [
        f"~ subject {want.name}: version(s) 2, 3 registered after the declared version 1: retire them (a soft "
        "delete: records written with them still resolve their schema)",
        f"~ subject {want.name}: compatibility NONE -> BACKWARD",
    ]
    assert [str(c) for c in resources.apply(conf, kinds=("subject",))] == drift
    assert resources.plan(conf) == []
    fresh = resources._registry()
    assert fresh.get_versions(want.name) == [1] and fresh.get_compatibility(want.name) == "BACKWARD"


def test_a_declaration_the_registry_finds_incompatible_is_refused(applied, monkeypatch):
    conf = applied["conf"]
    declared = resources.subject(conf)
    # rpm declared a number: readers of the new version could not read the text every record so far holds
    narrower = {**declared.schema, "properties": {**declared.schema["properties"], "rpm": {"type": "integer"}}}
    monkeypatch.setattr(resources, "subject", lambda conf: dataclasses.replace(declared, schema=narrower))
    refused = [str(c) for c in resources.plan(conf, kinds=("subject",))]
    assert refused == [f"! subject {declared.name}: version 1 differs and the declared schema is not compatible "
                       "with it (consumers of that version could not read the new one)"]
    with pytest.raises(lablib.LabError, match=f"cannot apply in place: ! subject {declared.name}: version 1"):
        resources.apply(conf, kinds=("subject",))
    assert resources._registry().get_versions(declared.name) == [1]


def test_what_cannot_change_in_place_is_refused(lab_services, tmp_path):
    from confluent_kafka.admin import NewTopic

    conf = _platform(tmp_path)
    admin = resources._admin()
    admin.create_topics([NewTopic(conf.topic, num_partitions=5, replication_factor=1)])[conf.topic].result(30)
    try:
        refused = [c for c in resources.plan(conf, kinds=("topic",)) if c.action == "refuse"]
        assert [str(c) for c in refused] == [
            f"! topic {conf.topic}: has 5 partitions, 3 declared (Kafka cannot remove partitions)"]
        with pytest.raises(lablib.LabError, match="cannot apply in place: ! topic .* has 5 partitions"):
            resources.apply(conf, kinds=("topic",))
    finally:
        admin.delete_topics([conf.topic])[conf.topic].result(timeout=30)


def test_reset_removes_the_topic_its_subject_and_the_tables(applied):
    conf = applied["conf"]
    assert pipeline.reset(conf) == [f"topic {conf.topic}", f"subject {conf.topic}-value",
                                    f"tables, checkpoints and records in {lablib.rel(conf.root)}"]
    assert f"{conf.topic}-value" not in resources._registry().get_subjects()
    assert [c.action for c in resources.plan(conf, kinds=("topic", "subject"))] == ["create", "create"]
