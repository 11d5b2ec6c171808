"""A local Spark Connect server: one long-lived Spark JVM that notebooks attach to with ``SPARK_REMOTE``.

Started by ``lab up connect`` (never by ``lab up`` alone: it holds a Spark driver, about 1 GB),
stopped by ``lab down connect`` or ``lab down all``. It is pip's pyspark running its own
``SparkConnectServer`` class (the jar ships in ``pyspark/jars``) with the same Delta jars and
small-machine settings as ``lablib.spark()``'s local session (lablib/session.py), on 127.0.0.1 at
this home's ``connect`` port; its log is ``$LAB_HOME/logs/connect.log``.

Delta works server-side (``format("delta")``, SQL on Delta tables); Delta's Python ``DeltaTable``
API over Connect needs Delta's own Connect plugin, which Maven Central does not serve for Delta
4.4.0 on Spark 4.2, so it is not there. Which chapters need the classic session: lablib.chapters.
"""

from __future__ import annotations

import os
import sys

from lablib import jvm, ports
from lablib.config import settings
from lablib.services import _process
from lablib.services._service import Service

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _host_port(url: str) -> tuple[str, int | None]:
    rest = url.split("://", 1)[-1].split("/", 1)[0].split(";", 1)[0]
    host, _, port = rest.rpartition(":")
    try:
        return host, int(port)
    except ValueError:
        return rest, None


def is_embedded(url: str) -> bool:
    """``url`` (sc://host:port) is this home's own ``lab up connect`` server."""
    host, port = _host_port(url)
    return host in _LOOPBACK and port == ports.port("connect")


class Connect(Service):
    name = "connect"
    title = "Spark Connect server"
    env_var = "SPARK_REMOTE"
    start_timeout = 180.0  # ~30 s on a quiet 2-core machine: a whole Spark driver starts
    stop_grace = 20.0
    port_names = ("connect",)

    def external(self) -> str | None:
        remote = settings().spark_remote
        if remote is None or is_embedded(remote):
            return None
        return remote

    def address_on(self, port: int) -> str:
        return f"sc://127.0.0.1:{port}"

    def command(self) -> list[str]:
        from lablib.session import _local_conf

        conf = _local_conf()
        conf["spark.app.name"] = "mega-awesome-toys-connect"
        conf["spark.connect.grpc.binding.address"] = "127.0.0.1"
        conf["spark.connect.grpc.binding.port"] = str(self.ports()[0])
        submit = str(jvm.pyspark_home() / "bin" / "spark-submit")
        args = [submit, "--class", SERVER_CLASS]
        for key, value in conf.items():
            args += ["--conf", f"{key}={value}"]
        return [*args, "spark-internal"]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("SPARK_REMOTE", None)  # the server is the classic session; it must not attach to itself
        env["SPARK_HOME"] = str(jvm.pyspark_home())
        env["SPARK_LOCAL_IP"] = settings().spark_local_ip  # the UI binds every interface without it
        env["PYSPARK_PYTHON"] = sys.executable  # Python UDFs run in this venv's Python, as the client's
        return env

    def ready(self) -> bool:
        return _process.port_open(self.ports()[0], timeout=1.0)

    def check_external(self) -> None:  # lablib.spark() says it when SPARK_REMOTE does not answer
        return None
