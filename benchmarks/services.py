"""Measure the embedded services: start times, memory, and Kafka producer throughput.

    .venv/bin/python benchmarks/services.py [--records 500000]

Runs in a throw-away LAB_HOME (sharing the resolved jars), so your own topics,
runs and schemas are never touched, and stops everything it started. Prints a
markdown table. Needs `lab setup` and free service ports.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _start(svc) -> float:
    from lablib.services import _service

    began = time.monotonic()
    _service.up([svc], log=lambda line: None)
    return time.monotonic() - began


def starts_and_memory(services) -> list[tuple[str, float, float, float]]:
    """(service, cold s, warm s, RSS MB): cold = empty storage, warm = a restart on it."""
    from lablib.services import _process, _service

    rows = []
    for svc in services:
        cold = _start(svc)
        time.sleep(3)  # let background start-up work settle before measuring memory
        rss = _process.rss_bytes(_process.read_pid(svc.name).pid) / 1e6
        _service.down([svc], log=lambda line: None)
        warm = _start(svc)
        rows.append((svc.name, cold, warm, rss))
    return rows


def confluent_throughput(bootstrap: str, topic: str, records: int, size: int) -> tuple[float, float]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "log_level": 0,
                         "queue.buffering.max.messages": 1_000_000})
    payload = b"x" * size
    began = time.monotonic()
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, payload)
                break
            except BufferError:  # the local queue is full: let librdkafka send
                producer.poll(0.01)
        producer.poll(0)
    assert producer.flush(120) == 0
    seconds = time.monotonic() - began
    return records / seconds, records * size / seconds / 2**20


def java_throughput(kafka, topic: str, records: int, size: int, *props: str) -> tuple[float, float]:
    cmd = kafka.java_command(
        "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
        "--num-records", str(records), "--record-size", str(size), "--throughput", "-1",
        "--producer-props", f"bootstrap.servers={kafka.bootstrap()}", "acks=all", "linger.ms=5",
        *props, heap="512m",
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    m = re.findall(r"records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", out)
    if not m:
        raise SystemExit(f"ProducerPerformance printed no summary:\n{out[-2000:]}")
    return float(m[-1][0]), float(m[-1][1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()

    from lablib.config import settings

    real = settings()
    home = Path(tempfile.mkdtemp(prefix="bench-", dir=real.home))
    (home / "jars").symlink_to(real.jars, target_is_directory=True)
    os.environ["LAB_HOME"] = str(home)
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "SCHEMA_REGISTRY_URL"):
        os.environ.pop(var, None)

    from confluent_kafka.admin import AdminClient, NewTopic

    from lablib.services import SERVICES, _service

    services = [SERVICES["kafka"], SERVICES["registry"], SERVICES["mlflow"]]
    try:
        rows = starts_and_memory(services)
        kafka = SERVICES["kafka"]
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap(), "log_level": 0})
        names = ("bench.java", "bench.java-batch", "bench.python")
        topics = [NewTopic(t, num_partitions=1, replication_factor=1) for t in names]
        for future in admin.create_topics(topics).values():
            future.result(30)
        java = java_throughput(kafka, "bench.java", args.records, args.size)
        # librdkafka batches up to 1 MB per partition by default, the Java client 16 KB
        java_batch = java_throughput(kafka, "bench.java-batch", args.records, args.size, "batch.size=1000000")
        py = confluent_throughput(kafka.bootstrap(), "bench.python", args.records, args.size)
    finally:
        _service.down(services, log=lambda line: None)
        shutil.rmtree(home, ignore_errors=True)

    print(f"Embedded services on this machine ({os.cpu_count()} cores, Python {sys.version.split()[0]}):\n")
    print("| service | cold start (s) | warm start (s) | resident memory (MB) |")
    print("|---|---:|---:|---:|")
    for name, cold, warm, rss in rows:
        print(f"| {name} | {cold:.1f} | {warm:.1f} | {rss:.0f} |")
    print(f"\nProducer throughput, {args.records:,} messages of {args.size} bytes, one partition, acks=all, linger.ms=5:\n")
    print("| producer | msgs/s | MB/s |")
    print("|---|---:|---:|")
    print(f"| confluent-kafka (Python, librdkafka) | {py[0]:,.0f} | {py[1]:.1f} |")
    print(f"| Kafka ProducerPerformance (Java, default batch.size 16 KB) | {java[0]:,.0f} | {java[1]:.1f} |")
    print(f"| Kafka ProducerPerformance (Java, batch.size 1 MB like librdkafka) | {java_batch[0]:,.0f} | {java_batch[1]:.1f} |")
    print(f"| ratio Python / Java (default) | {py[0] / java[0]:.2f} | {py[1] / java[1]:.2f} |")
    print(f"| ratio Python / Java (same batch size) | {py[0] / java_batch[0]:.2f} | {py[1] / java_batch[1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
