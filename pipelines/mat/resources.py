"""The Spark resource: the course's one SparkSession (lablib's settings: Delta, local jars, sizing)."""

from __future__ import annotations

import dagster as dg


class SparkResource(dg.ConfigurableResource):
    """Hands every asset the session ``lablib.spark()`` builds (once per process).

    Runs use the in-process executor, so every step of a run shares this one JVM; the default
    multiprocess executor would start a process, and so a Spark JVM, per step.
    """

    def session(self):
        from lablib.session import spark

        return spark()
