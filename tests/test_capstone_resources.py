"""The capstone's resources as code (capstone/src/mat_platform/resources.py), on the real services.

One platform per module in a folder of its own, with a topic and MLflow names no other run uses
(the broker and the tracking server are this session's, and may be durable): plan -> apply -> no
change; hand changes found as drift and put back; what cannot be changed in place refused.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path

import pytest

import lablib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "capstone" / "src"))
from mat_platform import resources  # noqa: E402 - the capstone's package, from its folder
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
    admin = resources._admin()
    for future in admin.delete_topics([conf.topic]).values():
        future.result(timeout=30)


def _table(conf, layer, name):
    from deltalake import DeltaTable

    return DeltaTable(str(conf.table(layer, name)))


def test_a_fresh_platform_is_created_then_nothing_is_left_to_do(applied):
    conf = applied["conf"]
    created = sorted(c.resource for c in applied["plan"])
    assert created == sorted([f"topic {conf.topic}", "table bronze.telemetry", "table silver.telemetry",
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
