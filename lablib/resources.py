"""Chapter 08's local resources as commands: a Kafka topic and a Delta table, created, deleted, looked at.

Terraform drives them through ``local-exec`` provisioners (no provider is downloaded), so each
action is a small command that exits 0 only when the resource really is in the state asked for::

    python -m lablib.resources topic create ch08.machine-events --partitions 3
    python -m lablib.resources topic delete ch08.machine-events
    python -m lablib.resources table create "$LAB_HOME/warehouse/ch08.db/machine_events"
    python -m lablib.resources table delete "$LAB_HOME/warehouse/ch08.db/machine_events"
    python -m lablib.resources show ch08.machine-events "$LAB_HOME/warehouse/ch08.db/machine_events"

The topic lives on the course's broker (embedded: started if down, like ``lab up kafka``); the table
is written by delta-rs (no Spark, so a command takes about a second), a standard Delta table that
Spark reads too.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

#: the columns of every table these commands create: one machine event
SCHEMA = (("machine_id", "string"), ("event_time", "timestamp"), ("kind", "string"), ("value", "double"))


def _admin():
    from confluent_kafka.admin import AdminClient

    from lablib.services import kafka_config
    from lablib.services.kafka import _quiet_logger

    return AdminClient({**kafka_config(), "logger": _quiet_logger()})


def topics() -> dict[str, int]:
    """The broker's topics and their partition counts (internal ones left out)."""
    meta = _admin().list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in meta.topics.items() if not name.startswith("__")}


def _wait(admin, name: str, present: bool, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (name in admin.list_topics(timeout=10).topics) == present:
            return True
        time.sleep(0.2)
    return False


def create_topic(name: str, partitions: int = 1) -> str:
    """Create the topic (an existing one with the same partition count is fine)."""
    from confluent_kafka.admin import NewTopic

    admin = _admin()
    have = admin.list_topics(timeout=10).topics.get(name)
    if have is not None:
        if len(have.partitions) != partitions:
            raise SystemExit(f"topic {name} exists with {len(have.partitions)} partitions, not {partitions}")
        return f"topic {name} already exists ({partitions} partitions)"
    for _, future in admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30).items():
        future.result()
    if not _wait(admin, name, True):
        raise SystemExit(f"topic {name} was created but the broker does not list it")
    return f"created topic {name} ({partitions} partitions)"


def delete_topic(name: str) -> str:
    """Delete the topic (a missing one is fine: the goal is that it is gone)."""
    admin = _admin()
    if name not in admin.list_topics(timeout=10).topics:
        return f"topic {name} was already gone"
    for _, future in admin.delete_topics([name], operation_timeout=30).items():
        future.result()
    if not _wait(admin, name, False):
        raise SystemExit(f"topic {name} is still listed after its deletion")
    return f"deleted topic {name}"


def table_exists(path: str | Path) -> bool:
    return (Path(path) / "_delta_log").is_dir() and any((Path(path) / "_delta_log").glob("*.json"))


def create_table(path: str | Path) -> str:
    """An empty Delta table with :data:`SCHEMA` (an existing Delta table is left as it is)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    path = Path(path)
    if table_exists(path):
        return f"table {path.name} already exists"
    kinds = {"string": pa.string(), "timestamp": pa.timestamp("us", tz="UTC"), "double": pa.float64()}
    schema = pa.schema([(name, kinds[kind]) for name, kind in SCHEMA])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), schema.empty_table(), mode="error")
    return f"created Delta table {path.name} (empty, {len(SCHEMA)} columns)"


def delete_table(path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        return f"table {path.name} was already gone"
    shutil.rmtree(path)
    return f"deleted Delta table {path.name}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lablib.resources", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="kind", required=True)
    t = sub.add_parser("topic")
    t.add_argument("action", choices=["create", "delete"])
    t.add_argument("name")
    t.add_argument("--partitions", type=int, default=1)
    d = sub.add_parser("table")
    d.add_argument("action", choices=["create", "delete"])
    d.add_argument("path")
    s = sub.add_parser("show")
    s.add_argument("topic")
    s.add_argument("table")
    args = p.parse_args(argv)
    try:
        if args.kind == "topic":
            print(create_topic(args.name, args.partitions) if args.action == "create" else delete_topic(args.name))
        elif args.kind == "table":
            print(create_table(args.path) if args.action == "create" else delete_table(args.path))
        else:
            print(f"topic {args.topic}: {'present' if args.topic in topics() else 'missing'}; "
                  f"table {Path(args.table).name}: {'present' if table_exists(args.table) else 'missing'}")
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - one sentence for terraform's log, not a traceback
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
