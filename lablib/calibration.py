"""The calibration unit (c.u.): notebook time budgets measured against the machine, not the clock.

One c.u. is what this machine takes, in a fresh Python process, to start the lab's Spark session,
run a first job and write a first Delta table: the fixed cost every notebook pays, measured in the
same run as the notebooks it judges. A machine 1.6x slower takes about 1.6x longer for both, so a
budget in c.u. means the same on a laptop, a Codespace or a busy CI runner; a budget in seconds
from one fast machine fails every slower one.

    cal = calibration.measure()          # one sample (about 15 s on the README's machine)
    cal = cal.confirmed()                # median of 3: before calling a notebook over budget, and up
                                         # front for CI's session and `lab run --strict` of several notebooks
    verdict(seconds=70, budget_cu=6, calibration=cal)

A machine *faster* than the reference is judged as the reference (``REFERENCE_SECONDS``): part of a
notebook's time is waiting (a streaming trigger, a broker starting, a poll), and waiting does not get
faster with the CPU. Budgets scale up on slower machines, never down below the reference's seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from lablib.config import ensure_dir, settings
from lablib.errors import LabError

#: a notebook should take at most TARGET_CU (reported) and never more than LIMIT_CU (its budget's cap).
#: Budgets are 1.5x (what CI measured with one warm JVM + 1), rounded up to a half (stop 34's rehearsal:
#: 0.9-3.3 c.u.): the one c.u. is the start-up of a notebook run alone in a JVM of its own
#: (`lab run NN --strict`), the 1.5x the noise of one calibration sample.
TARGET_CU = 3.0
LIMIT_CU = 6.0

#: 1 c.u. on the machine the budgets were set on (the README's: 14.9-15.8 s in four quiet CI runs).
#: A faster machine gets no tighter budgets than this: CI's runner on 2026-12-03 measured 1 c.u. =
#: 10.0 s, yet ran 04, 05, 09a and 12 in the same seconds as the reference (ratio 1.00-1.07), so at
#: 10.0 s per c.u. three normal notebooks were "over budget".
REFERENCE_SECONDS = 15.0

#: the measured work, also timed piece by piece by benchmarks/startup.py
SCRIPT = r"""
import json, time
t0 = time.perf_counter()
import lablib
spark = lablib.spark()
t1 = time.perf_counter()
spark.range(1000).selectExpr("sum(id)").collect()
t2 = time.perf_counter()
path = str(lablib.workdir("00") / "calibration")
spark.range(1000).write.format("delta").mode("overwrite").save(path)
t3 = time.perf_counter()
print(json.dumps({"session": t1 - t0, "first_job": t2 - t1, "first_delta_write": t3 - t2}))
"""


def sample(class_data: bool = False) -> dict[str, float]:
    """One measurement in a fresh process and a throw-away LAB_HOME: {session, first_job, first_delta_write}.

    The unit measures a plain JVM, without the class-data archive the notebooks' drivers map
    (lablib/jvm/cds.py), so a c.u. is the same machine work whether or not `lab setup` recorded one;
    ``class_data=True`` measures with it (benchmarks/cds.py compares the two)."""
    cfg = settings()
    scratch = tempfile.mkdtemp(prefix="calibration-", dir=ensure_dir(cfg.home / "tmp"))
    env = {**os.environ, "LAB_HOME": scratch, "LAB_JARS_DIR": str(cfg.jars), "LAB_CDS": "on" if class_data else "off"}
    env.pop("LAB_CHECKS_STRICT", None)
    env.pop("LAB_SPARK_GATEWAY", None)  # a fresh JVM: that is what the unit measures
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                              env=env, timeout=600)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise LabError(f"could not measure the calibration unit (Spark did not start: {tail}); "
                       "run `lab doctor`")
    return json.loads(lines[-1])


@dataclass
class Calibration:
    """Seconds one c.u. took on this machine; the median of the samples taken so far."""

    samples: list[float] = field(default_factory=list)
    fixed: bool = False  # given by LAB_CALIBRATION_SECONDS: never re-measured
    floor: float = 0.0  # budgets are judged at no fewer seconds per c.u. than this (REFERENCE_SECONDS)

    @property
    def seconds(self) -> float:
        return statistics.median(self.samples)

    @property
    def judging_seconds(self) -> float:
        """Seconds per c.u. that budgets and time limits are judged at: this machine's, or the
        reference's when this machine is faster."""
        return max(self.seconds, self.floor)

    def cu(self, seconds: float) -> float:
        """``seconds`` in calibration units, at the rate budgets are judged at (so a figure and its
        budget always compare)."""
        return seconds / self.judging_seconds

    def confirmed(self, count: int = 3) -> Calibration:
        """Take samples up to ``count`` (median of 3 by default): asked before calling a notebook slow."""
        while not self.fixed and len(self.samples) < count:
            self.samples.append(_total(sample()))
        return self

    def describe(self) -> str:
        how = "set by LAB_CALIBRATION_SECONDS" if self.fixed else (
            f"median of {len(self.samples)}" if len(self.samples) > 1 else "one sample")
        said = f"1 c.u. = {self.seconds:.1f} s on this machine ({how})"
        if self.judging_seconds > self.seconds:
            said += f"; budgets judged at the reference's {self.judging_seconds:.1f} s per c.u."
        return said


def _total(parts: dict[str, float]) -> float:
    return parts["session"] + parts["first_job"] + parts["first_delta_write"]


def measure() -> Calibration:
    """A calibration with one fresh sample, or the fixed value of LAB_CALIBRATION_SECONDS."""
    fixed = settings().calibration_seconds
    if fixed is not None:
        return Calibration([fixed], fixed=True)  # judged at exactly the seconds given
    return Calibration([_total(sample())], floor=REFERENCE_SECONDS)


_current: Calibration | None = None


def current() -> Calibration:
    """This process's calibration, measured on first use and kept (one per `lab run` or test session)."""
    global _current
    if _current is None:
        _current = measure()
    return _current


@dataclass(frozen=True)
class Verdict:
    seconds: float
    cu: float
    budget_cu: float
    over: bool

    @property
    def text(self) -> str:
        return f"took {self.seconds:.0f} s = {self.cu:.1f} c.u., budget {self.budget_cu:g} c.u."


def verdict(seconds: float, budget_cu: float, calibration: Calibration, confirm: bool = True) -> Verdict:
    """Is a notebook that took ``seconds`` over its budget on this machine?

    Over budget means over in c.u., at ``judging_seconds`` per c.u. A first verdict of "over" is
    checked against a median of 3 samples (``confirm``), so one unlucky calibration sample never
    fails a normal notebook.
    """
    over = seconds > budget_cu * calibration.judging_seconds
    if over and confirm:
        calibration.confirmed()
        over = seconds > budget_cu * calibration.judging_seconds
    return Verdict(seconds, calibration.cu(seconds), budget_cu, over)
