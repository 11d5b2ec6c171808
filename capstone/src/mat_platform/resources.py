"""The platform's resources declared as code: plan what differs, apply it, and again finds nothing.

What the platform needs before its first run, written down once:

* the Delta tables of each layer: their columns, the properties every table carries
  (``settings.TABLE_PROPERTIES`` and the catalog tags of chapter 10, ``mat.*``), and CHECK
  constraints that refuse a bad row from any writer;
* the Kafka topic: partitions, ``retention.ms`` and ``cleanup.policy``;
* the topic's subject in the schema registry (``<topic>-value``): the JSON Schema of a reading as the
  replayer sends it, and the compatibility rule every later version must keep (BACKWARD);
* the MLflow experiment and the registered model's name.

``plan(conf)`` compares that declaration with what exists and returns the changes, one readable
line each; ``apply(conf)`` makes them and returns what it did. A second ``apply`` finds nothing to do,
and a change made by hand (a topic's retention altered, a table property changed) shows up in the
next ``plan`` as drift, which ``apply`` puts back. Terraform does the same with a state file; here the
state is the services themselves, read each time, so nothing can fall out of step with them.

Some differences cannot be applied in place (fewer partitions than a topic has, a column of another
type, a schema the registry finds incompatible with the version it holds): the plan says so and
``apply`` refuses them rather than dropping data or breaking a consumer.

The gold tables are replaced by the pipeline in each run with their full shape (31 feature columns),
so only the columns others rely on are declared for them and ``apply`` does not create them: it
keeps their properties and constraints once the pipeline has written them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import lablib

from mat_platform.settings import TABLE_PROPERTIES, Settings

#: the kinds of resource, in the order apply makes them
KINDS = ("topic", "subject", "table", "experiment", "model")
#: who answers for the platform's data (chapter 10's catalog tag)
OWNER = "platform-team@megaawesometoys.example"


@dataclass(frozen=True)
class Table:
    layer: str
    name: str
    columns: tuple[tuple[str, str, bool], ...]  # (name, Delta type, nullable)
    constraints: dict[str, str] = field(default_factory=dict)  # CHECK name -> SQL expression
    classification: str = "internal"
    created_by_pipeline: bool = False  # gold: the pipeline writes the whole shape, apply only keeps the rest

    @property
    def label(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def properties(self) -> dict[str, str]:
        return {
            **TABLE_PROPERTIES,
            "mat.layer": self.layer,
            "mat.owner": OWNER,
            "mat.classification": self.classification,
        }


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    config: dict[str, str]


@dataclass(frozen=True)
class Subject:
    name: str  # <topic>-value: the registry's topic-name strategy, what Confluent's serializers look up
    schema: dict  # a JSON Schema
    compatibility: str  # what each new version must keep with the one before (BACKWARD: new readers read old data)


@dataclass(frozen=True)
class Change:
    """One difference between the declaration and what exists."""

    action: str  # "create", "update" or "refuse" (cannot be applied in place)
    resource: str  # "topic capstone.ci.telemetry", "table silver.telemetry", ...
    detail: str

    def __str__(self) -> str:
        sign = {"create": "+", "update": "~", "refuse": "!"}[self.action]
        return f"{sign} {self.resource}: {self.detail}"


def experiment_name(conf: Settings) -> str:
    """The MLflow experiment of this environment and scale (model.py logs its training runs there)."""
    return model_name(conf)


def model_name(conf: Settings) -> str:
    """The registered model that scores machine risk in this environment and scale (model.py's name)."""
    from mat_platform import model

    return model.model_name(conf)


def topic(conf: Settings) -> Topic:
    # retention -1: the replay dates its events in 2024, and the topic is the record the counts are
    # checked against, so the broker's time retention must never remove them
    return Topic(conf.topic, partitions=3, config={"retention.ms": "-1", "cleanup.policy": "delete"})


def subject(conf: Settings) -> Subject:
    """The topic's value subject: a reading as the replayer sends it, every field as JSON text or null.

    The fields are the telemetry dataset's own (``lablib.data.schema``), the list silver parses from;
    types are text because the replayer sends the factory's values as they came, dirt included, and
    silver casts them (a malformed number becomes null, never a lost row).
    """
    fields = [f.split()[0] for f in lablib.data.schema("telemetry").split(", ")]
    return Subject(
        f"{conf.topic}-value",
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "factory telemetry reading",
            "type": "object",
            "properties": {name: {"type": ["string", "null"]} for name in fields},
            "required": fields,
        },
        "BACKWARD",
    )


def tables() -> list[Table]:
    """The declared tables, in layer order."""
    return [
        Table(
            "bronze",
            "telemetry",
            (
                ("key", "string", True),
                ("value", "string", True),
                ("topic", "string", True),
                ("partition", "integer", True),
                ("offset", "long", True),
                ("kafka_ts", "timestamp", True),
            ),
            {"payload_present": "value IS NOT NULL"},
        ),
        Table(
            "silver",
            "telemetry",
            (
                ("event_time", "timestamp", False),
                ("machine_id", "string", False),
                ("temperature_c", "double", True),
                ("vibration_mm_s", "double", True),
                ("rpm", "double", True),
                ("power_kw", "double", True),
                ("status", "string", True),
            ),
            {"rpm_not_negative": "rpm IS NULL OR rpm >= 0"},
        ),
        Table(
            "gold",
            "machine_hour_features",
            (("machine_id", "string", True), ("hour", "timestamp", True)),
            {"keyed": "machine_id IS NOT NULL AND hour IS NOT NULL"},
            created_by_pipeline=True,
        ),
        Table(
            "gold",
            "daily_sales",
            (("order_date", "date", True), ("channel", "string", True), ("revenue", "double", True)),
            {"revenue_not_negative": "revenue >= 0"},
            created_by_pipeline=True,
        ),
    ]


# --------------------------------------------------------------------------- plan
def plan(conf: Settings, kinds: tuple[str, ...] = KINDS, declared: list[Table] | None = None) -> list[Change]:
    """What differs between the declaration and the services, one change per difference.

    ``declared``: the tables to compare (default :func:`tables`; a project adds its own to that list).
    """
    changes: list[Change] = []
    if "topic" in kinds:
        changes += _plan_topic(conf)
    if "subject" in kinds:
        changes += _plan_subject(conf)
    if "table" in kinds:
        for table in tables() if declared is None else declared:
            changes += _plan_table(conf, table)
    if "experiment" in kinds or "model" in kinds:
        changes += _plan_mlflow(conf, kinds)
    return changes


def apply(conf: Settings, kinds: tuple[str, ...] = KINDS, declared: list[Table] | None = None) -> list[Change]:
    """Make every change of the plan; returns them. A change that needs data removed is refused (LabError)."""
    changes = plan(conf, kinds, declared)
    refused = [str(c) for c in changes if c.action == "refuse"]
    if refused:
        raise lablib.LabError("cannot apply in place: " + "; ".join(refused) + " (remove the resource to recreate it)")
    steps = {
        "topic": _apply_topic,
        "subject": _apply_subject,
        "table": _apply_table,
        "experiment": _apply_mlflow,
        "model": _apply_mlflow,
    }
    done = set()
    for change in changes:  # each kind's step makes all of that kind's changes at once
        step = steps[change.resource.split(" ", 1)[0]]
        if step not in done:
            step(conf, declared) if step is _apply_table else step(conf)
            done.add(step)
    return changes


# --------------------------------------------------------------------------- the topic
def _admin():
    from confluent_kafka.admin import AdminClient

    # log_level 3: errors only (librdkafka's notices, e.g. about purged background events, are not ours)
    conf = {k: v for k, v in lablib.kafka_config().items() if k in ("bootstrap.servers", "client.id")}
    return AdminClient({**conf, "log_level": 3})


def _topic_config(admin, name: str) -> dict[str, str]:
    from confluent_kafka.admin import ConfigResource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, name)
    entries = admin.describe_configs([resource])[resource].result(timeout=15)
    return {key: entry.value for key, entry in entries.items()}


def _plan_topic(conf: Settings) -> list[Change]:
    want = topic(conf)
    admin = _admin()
    have = admin.list_topics(timeout=10).topics.get(want.name)
    label = f"topic {want.name}"
    if have is None:
        settings = ", ".join(f"{k}={v}" for k, v in want.config.items())
        return [Change("create", label, f"{want.partitions} partitions, {settings}")]
    changes = []
    if len(have.partitions) < want.partitions:
        changes.append(Change("update", label, f"partitions {len(have.partitions)} -> {want.partitions}"))
    elif len(have.partitions) > want.partitions:
        changes.append(
            Change(
                "refuse",
                label,
                f"has {len(have.partitions)} partitions, {want.partitions} declared (Kafka cannot remove partitions)",
            )
        )
    config = _topic_config(admin, want.name)
    for key, value in want.config.items():
        if config.get(key) != value:
            changes.append(Change("update", label, f"{key} {config.get(key)} -> {value}"))
    return changes


def _apply_topic(conf: Settings) -> None:
    from confluent_kafka.admin import (
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
        ResourceType,
    )

    want = topic(conf)
    admin = _admin()
    have = admin.list_topics(timeout=10).topics.get(want.name)
    if have is None:
        new = NewTopic(want.name, num_partitions=want.partitions, replication_factor=1, config=dict(want.config))
        admin.create_topics([new])[want.name].result(timeout=30)
        _await_leaders(admin, want.name, want.partitions)
        return
    if len(have.partitions) < want.partitions:
        admin.create_partitions([NewPartitions(want.name, want.partitions)])[want.name].result(timeout=30)
        _await_leaders(admin, want.name, want.partitions)
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in want.config.items()]
    resource = ConfigResource(ResourceType.TOPIC, want.name, incremental_configs=entries)
    admin.incremental_alter_configs([resource])[resource].result(timeout=30)


def _await_leaders(admin, name: str, partitions: int, timeout: float = 30) -> None:
    # a topic is usable once each partition has a leader that answers: asked too early, the broker says
    # NOT_LEADER_FOR_PARTITION, and the replay's first watermark query (pipeline.topic_size) would fail
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({**lablib.kafka_config(), "group.id": "mat-platform-resources", "log_level": 3})
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            meta = admin.list_topics(name, timeout=10).topics.get(name)
            ready = meta is not None and meta.error is None and len(meta.partitions) >= partitions
            try:
                if ready and all(
                    consumer.get_watermark_offsets(TopicPartition(name, p), timeout=5) for p in meta.partitions
                ):
                    return
            except KafkaException:
                pass  # not led yet: ask again
            time.sleep(0.2)
    finally:
        consumer.close()
    raise lablib.LabError(f"topic {name} was created but its partitions have no leader after {timeout:.0f} s")


# --------------------------------------------------------------------------- the registry subject
def _registry():
    from confluent_kafka.schema_registry import SchemaRegistryClient

    # a new client each time: the client keeps the latest version it read, and drift is what changed since
    return SchemaRegistryClient({"url": lablib.registry_url()})


def _unless_absent(ask, *args):
    """``ask(*args)`` of the registry, or None when it answers 404 (no such subject, version or rule)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        return ask(*args)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return None
        raise


def _registered(client, name: str):
    """The subject's latest version, or None when the registry has no such subject."""
    return _unless_absent(client.get_latest_version, name)


def _compatibility(client, name: str) -> str | None:
    """The subject's own compatibility rule (None: it has none and the registry's global rule applies)."""
    return _unless_absent(client.get_compatibility, name)


def _json_schema(want: Subject):
    from confluent_kafka.schema_registry import Schema

    return Schema(json.dumps(want.schema, sort_keys=True), "JSON")


def _declared_version(client, want: Subject) -> int | None:
    """The version under which the subject holds the declared schema (None: never registered there)."""
    found = _unless_absent(client.lookup_schema, want.name, _json_schema(want))
    return None if found is None else found.version


def _plan_subject(conf: Settings) -> list[Change]:
    want = subject(conf)
    client = _registry()
    label = f"subject {want.name}"
    latest = _registered(client, want.name)
    if latest is None:
        fields = len(want.schema["properties"])
        return [Change("create", label, f"JSON Schema of {fields} fields, compatibility {want.compatibility}")]
    changes = []
    if json.loads(latest.schema.schema_str) != want.schema:
        declared = _declared_version(client, want)
        if declared is not None:
            # registering it again would only return its old id: the later versions must go instead
            later = ", ".join(str(v) for v in client.get_versions(want.name) if v > declared)
            changes.append(
                Change(
                    "update",
                    label,
                    f"version(s) {later} registered after the declared version {declared}: retire them "
                    "(a soft delete: records written with them still resolve their schema)",
                )
            )
        elif client.test_compatibility(want.name, _json_schema(want)):
            # the registry judges the new version against the one it holds, under the subject's rule
            changes.append(Change("update", label, f"version {latest.version} differs: register the declared schema"))
        else:
            changes.append(
                Change(
                    "refuse",
                    label,
                    f"version {latest.version} differs and the declared schema is not compatible with it "
                    "(consumers of that version could not read the new one)",
                )
            )
    have = _compatibility(client, want.name)
    if have != want.compatibility:
        changes.append(Change("update", label, f"compatibility {have or 'the global rule'} -> {want.compatibility}"))
    return changes


def _apply_subject(conf: Settings) -> None:
    want = subject(conf)
    client = _registry()
    latest = _registered(client, want.name)
    if latest is None or json.loads(latest.schema.schema_str) != want.schema:
        declared = _declared_version(client, want)
        if declared is None:
            client.register_schema(want.name, _json_schema(want))
        else:
            for version in sorted(client.get_versions(want.name), reverse=True):
                if version > declared:
                    client.delete_version(want.name, version)
    # after the first version: the registry keeps a rule per subject it already has
    if _compatibility(client, want.name) != want.compatibility:
        client.set_compatibility(want.name, want.compatibility)


# --------------------------------------------------------------------------- the tables
def _delta(conf: Settings, table: Table):
    from deltalake import DeltaTable

    path = conf.table(table.layer, table.name)
    return DeltaTable(str(path)) if DeltaTable.is_deltatable(str(path)) else None


def _type_name(kind) -> str:
    # delta-rs prints a primitive as PrimitiveType("string"); anything nested by its own text
    return getattr(kind, "type", str(kind))


def _plan_table(conf: Settings, table: Table) -> list[Change]:
    label = f"table {table.label}"
    delta = _delta(conf, table)
    if delta is None:
        if table.created_by_pipeline:
            return []  # written whole by the pipeline's gold stage; its properties follow on the next apply
        return [Change("create", label, f"{len(table.columns)} columns, {len(table.constraints)} constraint(s)")]
    changes = []
    fields = {f.name: f for f in delta.schema().fields}
    for name, kind, nullable in table.columns:
        have = fields.get(name)
        if have is None:
            changes.append(Change("update", label, f"add column {name} {kind}"))
        elif _type_name(have.type) != kind:
            changes.append(Change("refuse", label, f"column {name} is {_type_name(have.type)}, {kind} declared"))
        elif have.nullable and not nullable:
            changes.append(Change("refuse", label, f"column {name} allows nulls, NOT NULL declared"))
    config = delta.metadata().configuration
    for key, value in _differing(table, config).items():
        changes.append(Change("update", label, f"property {key} {config.get(key)} -> {value}"))
    for name, rule in table.constraints.items():
        have_rule = config.get(f"delta.constraints.{name}")
        if have_rule is None:
            changes.append(Change("update", label, f"add constraint {name} CHECK ({rule})"))
        elif have_rule != rule:
            changes.append(Change("update", label, f"constraint {name} CHECK ({have_rule}) -> CHECK ({rule})"))
    return changes


#: what a property's absence means (delta-rs cannot set column mapping, and "none" is Delta's default)
_DEFAULTS = {"delta.columnMapping.mode": "none"}


def _differing(table: Table, config: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in table.properties.items() if config.get(k, _DEFAULTS.get(k)) != v}


def _apply_table(conf: Settings, declared: list[Table] | None = None) -> None:
    import pyarrow as pa
    from deltalake import DeltaTable

    arrow = {
        "string": pa.string(),
        "integer": pa.int32(),
        "long": pa.int64(),
        "double": pa.float64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "boolean": pa.bool_(),
    }
    for table in tables() if declared is None else declared:
        if not _plan_table(conf, table):
            continue
        path = conf.table(table.layer, table.name)
        delta = _delta(conf, table)
        if delta is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            schema = pa.schema([pa.field(n, arrow[k], nullable=null) for n, k, null in table.columns])
            # delta-rs creates a table with Delta's own keys only; the mat.* tags follow as an update
            delta = DeltaTable.create(str(path), schema, configuration=dict(TABLE_PROPERTIES))
        missing = [(n, k, null) for n, k, null in table.columns if n not in {f.name for f in delta.schema().fields}]
        if missing:
            from deltalake.schema import Field, PrimitiveType

            delta.alter.add_columns([Field(n, PrimitiveType(k), nullable=True) for n, k, _ in missing])
        config = delta.metadata().configuration
        if _differing(table, config):
            delta.alter.set_table_properties(_differing(table, config), raise_if_not_exists=False)
        for name, rule in table.constraints.items():
            have_rule = config.get(f"delta.constraints.{name}")
            if have_rule == rule:
                continue
            if have_rule is not None:
                delta.alter.drop_constraint(name)
            delta.alter.add_constraint({name: rule})


# --------------------------------------------------------------------------- MLflow
def _client():
    uri = lablib.mlflow_uri()  # first: it quiets MLflow's client (no progress-bar warning) before its import
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _plan_mlflow(conf: Settings, kinds: tuple[str, ...]) -> list[Change]:
    client = _client()
    from mlflow.exceptions import MlflowException

    changes = []
    if "experiment" in kinds:
        found = client.get_experiment_by_name(experiment_name(conf))
        if found is None or found.lifecycle_stage != "active":
            changes.append(Change("create", f"experiment {experiment_name(conf)}", "MLflow experiment"))
        elif found.tags.get("mat.owner") != OWNER:
            changes.append(
                Change(
                    "update",
                    f"experiment {experiment_name(conf)}",
                    f"tag mat.owner {found.tags.get('mat.owner')} -> {OWNER}",
                )
            )
    if "model" in kinds:
        try:
            model = client.get_registered_model(model_name(conf))
        except MlflowException:
            changes.append(Change("create", f"model {model_name(conf)}", "registered model (no version yet)"))
        else:
            if model.tags.get("mat.owner") != OWNER:
                changes.append(
                    Change(
                        "update", f"model {model_name(conf)}", f"tag mat.owner {model.tags.get('mat.owner')} -> {OWNER}"
                    )
                )
    return changes


def _apply_mlflow(conf: Settings) -> None:
    client = _client()
    from mlflow.exceptions import MlflowException

    name = experiment_name(conf)
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage != "active":
        client.restore_experiment(found.experiment_id)
    if found is None:
        client.create_experiment(name, tags={"mat.owner": OWNER})
    else:
        client.set_experiment_tag(found.experiment_id, "mat.owner", OWNER)
    try:
        client.get_registered_model(model_name(conf))
    except MlflowException:
        client.create_registered_model(
            model_name(conf),
            tags={"mat.owner": OWNER},
            description="Risk that a machine fails in the next hours (capstone)",
        )
    else:
        client.set_registered_model_tag(model_name(conf), "mat.owner", OWNER)
