"""Measure what Spark did, from the run itself: time, tasks, shuffle, input, files read.

On the face as ``lablib.measure`` and ``lablib.bars``:

    with lablib.measure("sort-merge join") as m:
        big.join(small, "id").write.format("noop").mode("overwrite").save()
    print(m)            # sort-merge join: 2.31 s, 2 jobs, 5 stages, 14 tasks, shuffle 12.4 MB ...
    m.as_dict()         # for a pandas table or a chart

The numbers come from the Spark UI's REST API for the jobs started inside the
block (they are tagged with a job group), so they are what Spark itself
counted. Another machine gives other times; the counts (tasks, files read,
bytes) are the stable part.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field


@dataclass
class Measurement:
    label: str
    seconds: float = 0.0
    jobs: int = 0
    stages: int = 0
    tasks: int = 0
    input_bytes: int = 0
    input_records: int = 0
    shuffle_read_bytes: int = 0
    shuffle_write_bytes: int = 0
    spill_bytes: int = 0
    files_read: int | None = None  # from the scans' SQL metrics, when the query read files
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d

    def __str__(self) -> str:
        mb = 1e6
        text = (f"{self.label}: {self.seconds:.2f} s, {self.jobs} jobs, {self.stages} stages, "
                f"{self.tasks} tasks, input {self.input_bytes / mb:.1f} MB, "
                f"shuffle read {self.shuffle_read_bytes / mb:.1f} MB / write {self.shuffle_write_bytes / mb:.1f} MB")
        if self.files_read is not None:
            text += f", {self.files_read} files read"
        return text


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


class measure:  # noqa: N801 - used like a function: `with lablib.measure(...)`
    """Context manager timing a block and collecting Spark's metrics for its jobs."""

    def __init__(self, label: str = "query"):
        self.result = Measurement(label)
        self._group = f"lab-measure-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Measurement:
        from lablib.session import spark

        self._sc = spark().sparkContext
        self._sc.setJobGroup(self._group, self.result.label, interruptOnCancel=False)
        self._started = time.perf_counter()
        return self.result

    def __exit__(self, exc_type, exc, tb):
        self.result.seconds = time.perf_counter() - self._started
        self._sc.setLocalProperty("spark.jobGroup.id", None)
        self._sc.setLocalProperty("spark.job.description", None)
        if exc_type is None:
            try:
                self._collect()
            except OSError:
                pass  # no UI (disabled, or a remote session): time only
        return False

    def _collect(self) -> None:
        ui = self._sc.uiWebUrl
        if not ui:
            return
        base = f"{ui}/api/v1/applications/{self._sc.applicationId}"
        job_ids = list(self._sc.statusTracker().getJobIdsForGroup(self._group))
        # the REST store is updated asynchronously: wait until it knows every job as finished
        deadline = time.time() + 10
        jobs = []
        while time.time() < deadline:
            jobs = [j for j in _get(f"{base}/jobs") if j["jobId"] in job_ids]
            if len(jobs) == len(job_ids) and all(j["status"] != "RUNNING" for j in jobs):
                break
            time.sleep(0.2)
        r = self.result
        r.jobs = len(jobs)
        stage_ids = sorted({s for j in jobs for s in j["stageIds"]})
        for sid in stage_ids:
            for attempt in _get(f"{base}/stages/{sid}"):
                if attempt["status"] != "COMPLETE":
                    continue  # skipped stages (reused shuffle output) did no work
                r.stages += 1
                r.tasks += attempt["numCompleteTasks"]
                r.input_bytes += attempt["inputBytes"]
                r.input_records += attempt["inputRecords"]
                r.shuffle_read_bytes += attempt["shuffleReadBytes"]
                r.shuffle_write_bytes += attempt["shuffleWriteBytes"]
                r.spill_bytes += attempt["memoryBytesSpilled"] + attempt["diskBytesSpilled"]
        self._files_read(base, set(job_ids))

    def _files_read(self, base: str, job_ids: set[int]) -> None:
        try:
            executions = _get(f"{base}/sql?details=true&planDescription=false&length=1000")
        except OSError:
            return
        total, seen = 0, False
        for ex in executions:
            ex_jobs = set(ex.get("successJobIds", []) + ex.get("failedJobIds", []) + ex.get("runningJobIds", []))
            if not ex_jobs & job_ids:
                continue
            for node in ex.get("nodes", []):
                for metric in node.get("metrics", []):
                    if metric["name"] == "number of files read":
                        seen = True
                        total += int(str(metric["value"]).replace(",", "").split()[0])
        if seen:
            self.result.files_read = total


def bars(measurements: list[Measurement], metrics: dict, title: str) -> None:
    """One horizontal bar chart per metric, one bar per measurement, side by side.

        lablib.bars([m_smj, m_bhj], {"seconds": lambda m: m.seconds, "stages": lambda m: m.stages}, "joins")
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 0.55 * len(measurements) + 1.4))
    axes = axes if len(metrics) > 1 else [axes]
    labels = [m.label for m in measurements]
    for ax, (name, get) in zip(axes, metrics.items(), strict=True):
        values = [get(m) or 0 for m in measurements]
        ax.barh(labels, values, color="tab:blue")
        ax.invert_yaxis()
        ax.set_title(name, fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.2f}" if isinstance(v, float) else f" {v:,}", va="center", fontsize=9)
        ax.margins(x=0.25)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    plt.show()
