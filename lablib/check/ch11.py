"""Checks of chapter 11, the capstone's groundwork: they read the broker's topic configuration and the
Delta log of the tables themselves, never the learner's declaration.

The truths are the chapter's policy (below): the retention and owner the platform declares, the hand
changes the notebook makes, and what a quarantine table of rejected readings must hold.
"""

from __future__ import annotations

from pathlib import Path

from lablib.check import exercise, fail

#: the platform's declared topic retention (keep every replayed event) and owner tag (chapter 10's mat.*)
RETENTION_MS = "-1"
OWNER = "platform-team@megaawesometoys.example"
#: the Delta properties every capstone table carries (delta-rs readable)
READABLE = {"delta.enableDeletionVectors": "false"}
#: the quarantine's columns: which reading, and why it was turned away
REJECT_COLUMNS = {"machine_id": "string", "event_time": "timestamp", "reason": "string"}


def _topic_config(topic: str) -> dict[str, str] | None:
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    from lablib.services import kafka_config

    conf = {k: v for k, v in kafka_config().items() if k in ("bootstrap.servers", "client.id")}
    admin = AdminClient({**conf, "log_level": 3})
    if topic not in admin.list_topics(timeout=10).topics:
        return None
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return {k: e.value for k, e in admin.describe_configs([resource])[resource].result(timeout=15).items()}


def _delta(path):
    from deltalake import DeltaTable

    if path is None:
        fail("the table's path is still None")
    if not DeltaTable.is_deltatable(str(path)):
        fail(f"there is no Delta table at {_shown(path)}", "apply your declaration first (resources.apply)")
    return DeltaTable(str(path))


def _shown(path) -> str:
    from lablib.paths import rel

    return rel(Path(path))


# --------------------------------------------------------------------------- 1. drift found and repaired
@exercise("11", hint="drift = resources.plan(conf) after the hand changes, then resources.apply(conf); the plan "
                     "must come before the apply, or it has nothing left to show")
def drift(changes, topic: str, table):
    """``changes``: the plan made after the hand changes; ``topic``/``table``: the platform's, repaired."""
    if changes is None:
        fail("drift is still None", "keep what resources.plan(conf) returned")
    if not isinstance(changes, list):
        fail(f"drift should be the list plan() returns, not a {type(changes).__name__}")
    lines = [str(c) for c in changes]
    if not lines:
        fail("your plan is empty: it was made after apply (or before the hand changes)",
             "plan between the hand changes and apply")
    for needed in ("retention.ms", "mat.owner"):
        if not any(needed in line for line in lines):
            fail(f"your plan does not mention {needed}, which was changed by hand",
                 "plan the whole platform: resources.plan(conf)")
    config = _topic_config(topic)
    if config is None:
        fail(f"topic {topic} does not exist", "apply the plan: resources.apply(conf)")
    if config.get("retention.ms") != RETENTION_MS:
        fail(f"topic {topic} still has retention.ms={config.get('retention.ms')}, the platform declares "
             f"{RETENTION_MS}", "apply the plan: resources.apply(conf)")
    owner = _delta(table).metadata().configuration.get("mat.owner")
    if owner != OWNER:
        fail(f"{_shown(table)} still has mat.owner={owner}", "apply the plan: resources.apply(conf)")
    return f"{len(lines)} drifted setting(s) found and put back: {topic} keeps its events, owner restored"


# --------------------------------------------------------------------------- 2. a declared quarantine table
@exercise("11", hint="resources.Table('silver', 'telemetry_rejects', columns=((name, type, nullable), …), "
                     "constraints={…}), then resources.apply(conf, declared=[*resources.tables(), REJECTS])")
def rejects_table(path):
    """``path``: the quarantine table of rejected readings, made by applying its declaration."""
    table = _delta(path)
    fields = {f.name: f for f in table.schema().fields}
    for name, kind in REJECT_COLUMNS.items():
        have = fields.get(name)
        if have is None:
            fail(f"{_shown(path)} has no column {name}", f"declare ({name!r}, {kind!r}, …)")
        have_kind = getattr(have.type, "type", str(have.type))
        if have_kind != kind:
            fail(f"column {name} is {have_kind}, it should be {kind}")
    config = table.metadata().configuration
    for key, value in READABLE.items():
        if config.get(key) != value:
            fail(f"{_shown(path)} lacks {key}={value}: delta-rs readers (the dashboard) need it",
                 "declare it as resources.Table, whose properties include settings.TABLE_PROPERTIES")
    if config.get("mat.layer") != "silver":
        fail(f"mat.layer is {config.get('mat.layer')}, the quarantine sits in silver", "declare it in layer 'silver'")
    guarded = not fields["reason"].nullable or any(
        k.startswith("delta.constraints.") and "reason" in v for k, v in config.items())
    if not guarded:
        fail("a rejected reading may be stored without a reason",
             "make reason NOT NULL, or add a CHECK constraint on it")
    return f"{_shown(path)}: {len(fields)} columns, a reason always given, readable by delta-rs"
