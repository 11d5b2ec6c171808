"""Replayers: telemetry or clickstream events, paced, to a Kafka topic or into a folder.

Events are replayed in file order, dirt included (duplicates, late and out of
order events, corrupt JSON lines): the streaming labs are about handling them.
Both targets stop cleanly at the limit or on Ctrl-C and report what they sent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from lablib.data import build
from lablib.data._io import write_lines
from lablib.data.catalog import TABLES
from lablib.data.manifest import files
from lablib.data.telemetry import COLUMNS, NEW_COLUMN
from lablib.errors import LabError

SOURCES = ("telemetry", "clickstream")
TARGETS = ("kafka", "files")
TELEMETRY_COLUMNS = (*COLUMNS, NEW_COLUMN)
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")


class Event:
    __slots__ = ("key", "value", "ms", "line")

    def __init__(self, key: str | None, value: bytes, ms: int | None, line: str):
        self.key, self.value, self.ms, self.line = key, value, ms, line


def event_ms(text: str | None) -> int | None:
    """Milliseconds since the epoch of a timestamp in any accepted format, else None."""
    if not text:
        return None
    for fmt in _FORMATS:
        try:
            return int(datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    return None


def events(source: str, root: Path) -> Iterator[Event]:
    """Every event of the source, file by file, line by line."""
    for path in files(root, TABLES[source]):
        with open(path, encoding="utf-8") as f:
            if source == "telemetry":
                header = f.readline().rstrip("\n").split(",")
                for line in f:
                    values = line.rstrip("\n").split(",")
                    row = dict(zip(header, values, strict=False))
                    record = {c: (row.get(c) or None) for c in TELEMETRY_COLUMNS}
                    text = ",".join(record[c] or "" for c in TELEMETRY_COLUMNS)
                    key = (record["machine_id"] or "").strip().upper() or None
                    yield Event(key, json.dumps(record, separators=(",", ":")).encode(), event_ms(record["event_time"]), text)
            else:
                for line in f:
                    line = line.rstrip("\n")
                    try:
                        e = json.loads(line)
                        key, ms = e["session"]["session_id"], event_ms(e.get("event_time"))
                    except (ValueError, KeyError, TypeError):
                        # a corrupt line: no reliable key or event time
                        key, ms = None, None
                    yield Event(key, line.encode(), ms, line)


def _check(source: str, to: str, rate: float, limit: int | None) -> None:
    if source not in SOURCES:
        raise LabError(f"unknown stream source {source!r}: use telemetry or clickstream")
    if to not in TARGETS:
        raise LabError(f"unknown stream target {to!r}: use kafka or files")
    if rate is None or rate < 0 or rate != rate:
        raise LabError(f"the rate must be 0 (as fast as possible) or more events per second, not {rate}")
    if limit is not None and limit < 0:
        raise LabError(f"the limit must be 0 or more events, not {limit}")


class _Files:
    """Batch files in a folder, each written to a temp name then renamed."""

    def __init__(self, folder: Path, source: str, batch: int):
        self.folder, self.source, self.batch = Path(folder), source, batch
        self.ext = "csv" if source == "telemetry" else "jsonl"
        self.pending: list[str] = []
        self.files = 0
        existing = [int(m.group(1)) for p in self.folder.glob(f"{source}-*.{self.ext}")
                    if (m := re.fullmatch(rf"{source}-(\d+)\.{self.ext}", p.name))] if self.folder.exists() else []
        self.next = max(existing, default=0) + 1
        self.target = str(self.folder)

    def send(self, e: Event) -> None:
        self.pending.append(e.line)
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        head = [",".join(TELEMETRY_COLUMNS)] if self.ext == "csv" else []
        write_lines(self.folder / f"{self.source}-{self.next:06d}.{self.ext}", head + self.pending)
        self.next += 1
        self.files += 1
        self.pending = []

    def close(self) -> int:
        self.flush()
        return 0


class _Kafka:
    def __init__(self, topic: str):
        from confluent_kafka import KafkaException, Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        from lablib import services

        conf = services.kafka_config()
        self.topic, self.target, self.files = topic, topic, 0
        self.errors: list[str] = []
        self.delivered = 0
        admin = AdminClient({k: v for k, v in conf.items() if k in ("bootstrap.servers", "security.protocol", "client.id")})
        try:
            if topic not in admin.list_topics(timeout=10).topics:
                admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(15)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise LabError(f"cannot create topic {topic}: {exc}") from None
        self.producer = Producer({**conf, "linger.ms": 20, "enable.idempotence": True})

    def _done(self, err, msg) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.errors.append(str(err))

    def send(self, e: Event) -> None:
        kwargs = {"timestamp": e.ms} if e.ms is not None else {}
        while True:
            try:
                self.producer.produce(self.topic, value=e.value, key=e.key.encode() if e.key else None,
                                      on_delivery=self._done, **kwargs)
                break
            except BufferError:
                self.producer.poll(0.2)
        self.producer.poll(0)

    def close(self) -> int:
        left = self.producer.flush(30)
        if left or self.errors:
            raise LabError(f"{left + len(self.errors)} events were not delivered to {self.topic} "
                           f"({(self.errors or ['timeout'])[0]}); is Kafka up? `lab up kafka`")
        return self.delivered


def replay(source: str, to: str = "files", *, topic: str | None = None, folder: str | Path | None = None,
           rate: float = 0.0, limit: int | None = None, scale=None, batch_size: int | None = None,
           quiet: bool = True, stop=None) -> dict:
    """Send up to ``limit`` events of ``source`` at ``rate`` per second; returns a summary.

    ``stop``: a ``threading.Event`` another thread sets to end the replay early, as Ctrl-C does
    (what was sent is delivered and counted; ``stopped`` says "interrupted")."""
    _check(source, to, rate, limit)
    if to == "kafka" and not topic:
        raise LabError("replaying to Kafka needs a topic")
    if to == "files" and not folder:
        raise LabError("replaying to files needs a folder")
    root = build.ensure(scale)
    if to == "files":
        batch = batch_size or (max(1, int(rate)) if rate else 1000)
        sink = _Files(Path(folder), source, batch)
    else:
        sink = _Kafka(topic)
    sent, first, last, stopped = 0, None, None, "end of data"
    t0 = time.monotonic()
    try:
        for e in events(source, root):
            if limit is not None and sent >= limit:
                stopped = "limit"
                break
            if rate:
                ahead = t0 + sent / rate - time.monotonic()
                if ahead > 0:
                    if stop is None:
                        time.sleep(ahead)
                    elif stop.wait(ahead):
                        stopped = "interrupted"
                        break
            if stop is not None and stop.is_set():
                stopped = "interrupted"
                break
            sink.send(e)
            sent += 1
            if e.ms is not None:
                first = e.ms if first is None else min(first, e.ms)
                last = e.ms if last is None else max(last, e.ms)
        else:
            if limit is not None and sent >= limit:
                stopped = "limit"
    except KeyboardInterrupt:
        stopped = "interrupted"
    delivered = sink.close()
    if to == "kafka":
        sent = delivered
    def iso(ms):
        return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    summary = {"source": source, "to": to, "target": sink.target, "sent": sent, "files": sink.files,
               "first_event_time": iso(first), "last_event_time": iso(last),
               "seconds": round(time.monotonic() - t0, 2), "stopped": stopped}
    if not quiet:
        where = f"topic {topic}" if to == "kafka" else f"{sink.files} files in {folder}"
        print(f"lab data stream: sent {sent:,} {source} events to {where} in {summary['seconds']} s "
              f"(event time {summary['first_event_time']} … {summary['last_event_time']}; stopped: {stopped})")
    return summary
