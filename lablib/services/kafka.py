"""The embedded Apache Kafka broker: one KRaft node (broker + controller) from Maven jars.

Storage lives in ``$LAB_HOME/kafka/data`` and is formatted on the first start;
both listeners bind 127.0.0.1 only; the heap is capped so Spark keeps its
memory. Ready means an AdminClient metadata request answers.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from lablib import jvm
from lablib.config import ensure_dir, settings
from lablib.errors import LabError
from lablib.services import _process, class_data
from lablib.services._service import Service

HEAP = "512m"

_LOG4J2 = """\
# the embedded broker's log: INFO from Kafka, the chatty parts at WARN
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c{1})%n
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = org.apache.kafka.common.network
logger.network.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
"""


def _java() -> str:
    java = jvm.java_path()
    if java is None:
        raise LabError("Java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
    return str(java)


def cluster_uuid() -> str:
    """A new KRaft cluster id, as Kafka's ``Uuid.randomUuid()`` makes one: 16 random bytes, URL-safe
    base64 without padding (22 characters), never all zeros, the metadata topic's id (1) or
    starting with '-' (a command line would read it as an option)."""
    import base64
    import uuid

    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        if int.from_bytes(raw, "big") > 1 and not text.startswith("-"):
            return text


def _quiet_logger() -> logging.Logger:
    # librdkafka reports every refused connection; a probe must stay silent
    logger = logging.getLogger("lablib.services.kafka.probe")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def metadata_answers(bootstrap: str, timeout: float) -> bool:
    """An AdminClient metadata request answers within ``timeout`` seconds."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": _quiet_logger(),
                         "socket.connection.setup.timeout.ms": int(timeout * 1000)})
    try:
        admin.list_topics(timeout=timeout)
        return True
    except KafkaException:
        return False


def producer_ids_issued(bootstrap: str, timeout: float) -> bool:
    """The broker hands out a producer id within ``timeout`` seconds.

    A restarted broker asks its controller for a fresh block of producer ids on the first
    idempotent or transactional producer; until the block arrives it answers "coordinator load in
    progress", and a producer that meets that state in a lab cell was once seen retrying for half
    an hour. Asking here (one transactional init, which draws an id from the same block) moves the
    wait into the start, where it has a deadline and a clear error."""
    from confluent_kafka import KafkaException, Producer

    producer = Producer({"bootstrap.servers": bootstrap, "logger": _quiet_logger(), "log_level": 0,
                         "transactional.id": "lablib.ready-probe", "transaction.timeout.ms": 10_000})
    try:
        producer.init_transactions(timeout)
        return True
    except KafkaException:
        return False


class Kafka(Service):
    name = "kafka"
    title = "Kafka broker"
    env_var = "KAFKA_BOOTSTRAP_SERVERS"

    def external(self) -> str | None:
        return settings().kafka_bootstrap

    port_names = ("kafka", "kafka_controller")

    def address_on(self, port: int) -> str:
        return f"127.0.0.1:{port}"

    def bootstrap(self) -> str:
        return self.external() or self.address()

    @property
    def folder(self) -> Path:
        return settings().home / "kafka"

    def _properties(self) -> str:
        port, controller = self.ports()
        data = self.folder / "data"
        return "\n".join([
            "# written by lablib on every start: edit lablib/services/kafka.py, not this file",
            "process.roles=broker,controller",
            "node.id=1",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
            f"log.dirs={data}",
            # one node: every internal topic has one replica
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",  # the default 50 slows the first consumer group on 2 cores
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "num.partitions=1",
            "auto.create.topics.enable=true",
            "delete.topic.enable=true",
            "group.initial.rebalance.delay.ms=0",  # labs start a consumer and expect data now
            "log.retention.hours=168",
            # the labs produce events dated by the course's calendar (2024): time retention, measured
            # from each message's own timestamp, deletes them at the broker's first check, 30 s after
            # it starts by default, so a fast run of 05 lost its payments between two cells. Checks
            # start 5 minutes after the broker and run hourly (per-topic retention is still honoured)
            "log.initial.task.delay.ms=300000",
            "log.retention.check.interval.ms=3600000",
            "log.segment.bytes=67108864",
            "",
        ])

    def _classpath(self) -> str:
        return os.pathsep.join(str(p) for p in jvm.jars("kafka"))

    def java_command(self, main: str, *args: str, heap: str = HEAP, c1_only: bool = False) -> list[str]:
        """A JVM on the kafka jar set (the broker, StorageTool, ProducerPerformance, Connect); ``c1_only``
        where the C2 compiler's work would never pay back: a tool that ends in seconds, and the broker
        (below)."""
        return [
            _java(), *(["-XX:TieredStopAtLevel=1"] if c1_only else []),
            f"-Xms{min(128, int(heap.rstrip('m')))}m", f"-Xmx{heap}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
            "-cp", self._classpath(), main, *args,
        ]

    def prepare(self) -> None:
        folder = ensure_dir(self.folder)
        props = folder / "server.properties"
        props.write_text(self._properties())
        (folder / "log4j2.properties").write_text(_LOG4J2)
        if (folder / "data" / "meta.properties").exists():
            return
        # first start: format the KRaft storage with a fresh cluster id (made here: StorageTool's
        # random-uuid would cost a JVM start of its own)
        tool = "kafka.tools.StorageTool"
        cluster_id = cluster_uuid()
        fmt = subprocess.run(
            self.java_command(tool, "format", "--standalone", "-t", cluster_id, "-c", str(props),
                              "--ignore-formatted", heap="256m", c1_only=True),
            capture_output=True, text=True, timeout=120,
        )
        with open(self.log, "a") as log:
            log.write(fmt.stdout + fmt.stderr)
        if fmt.returncode != 0:
            raise LabError(f"formatting Kafka storage in {folder / 'data'} failed; read {self.rel_log()}")

    def command(self) -> list[str]:
        # the broker maps its classes from the file `lab setup` recorded (lablib/services/class_data.py).
        # C1 only: a lab's trickle of messages never pays back C2's compiling, which took 1.3 s of the
        # 3.0 s of CPU a fresh broker used in its first 13 s, on the cores the notebook's Spark needs
        # (benchmarks/PROFILE.md, stop 44); it answered 0.3-0.6 s sooner too
        cmd = self.java_command("kafka.Kafka", str(self.folder / "server.properties"), c1_only=True)
        cmd[1:1] = class_data.options(self.name, *self.jvm_files())
        return cmd

    def jvm_files(self) -> tuple[Path, list[Path]]:
        """The java binary and the jars the broker runs: what its class-data cache is valid for."""
        return Path(_java()), jvm.jars("kafka")

    def leftovers(self, prefix: str) -> bool:
        """A broker that has never been formatted holds nothing; one that has may hold the chapter's
        topics or its groups' offsets (those live in __consumer_offsets, unreadable from outside)."""
        return (self.folder / "data" / "meta.properties").exists()

    def ready(self) -> bool:
        return (_process.port_open(self.ports()[0]) and metadata_answers(self.address(), timeout=3)
                and producer_ids_issued(self.address(), timeout=5))

    def check_external(self) -> None:
        bootstrap = self.external()
        if not metadata_answers(bootstrap, timeout=8):
            raise LabError(
                f"Kafka at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS) did not answer within 8 s; start it or "
                "fix the address, or unset KAFKA_BOOTSTRAP_SERVERS to use the embedded broker"
            )
