"""The kernel's clock runs in UTC, as Spark's session, the Spark JVM and the course's data do.

PySpark turns the timestamps a notebook collects into naive Python datetimes in the *Python
process's* zone, while Spark computes in UTC. In a kernel set to another zone (a laptop in Berlin),
a collected ``order_ts`` is off by the zone's offset: checks reject correct answers, and a lesson's
"hours since" moves. Setting the process's zone once, as lablib loads, makes what Python reads the
same as what Spark shows. The processes the kernel starts (pytest, Dagster, the Spark JVM) inherit it.
"""

from __future__ import annotations

import os
import time

ZONE = "UTC"


def use_utc() -> None:
    """Run this process, and the processes it starts, in UTC (``TZ=UTC`` and ``time.tzset()``)."""
    os.environ["TZ"] = ZONE  # a write: handed on to child processes, and read by tzset() below
    if hasattr(time, "tzset"):  # Unix only (Linux, macOS, WSL: where the course runs)
        time.tzset()
