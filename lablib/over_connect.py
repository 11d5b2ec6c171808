"""Which chapters need the classic Spark session, and the one sentence a learner reads over Spark Connect.

With ``SPARK_REMOTE`` set, ``lablib.spark()`` is a Spark Connect client: DataFrames, SQL and Delta
through ``format("delta")`` and SQL work, but there is no SparkContext (no RDDs, no Spark UI for
``lablib.measure``), and Delta's Python ``DeltaTable`` API needs Delta's Connect plugin on the
server, which Maven Central does not serve for the course's Delta (4.4.0 on Spark 4.2). A chapter
whose code uses any of those says so at its ``lablib.reset`` (its first cell), instead of failing
halfway with a traceback. FROM_CODE is read from each solution's code cells (tests/test_connect.py
keeps it equal to what the notebooks' code uses); FAILED_WHEN_TRIED is what did not run when tried.
Tried over Connect with `lab run` and passed with every check: 07a, 07b, 08a, 08b, 08c, 10a, 11, 12.
"""

from __future__ import annotations

from lablib.errors import LabError

_DELTA_TABLE = "Delta's DeltaTable API"
_MEASURE = "lablib.measure (the Spark UI's job metrics)"
_CONTEXT = "the SparkContext (an RDD)"

#: chapter number -> {part: what its code uses that Spark Connect lacks} (read from the code)
FROM_CODE: dict[str, dict[str, list[str]]] = {
    "00": {"00": [_CONTEXT, _DELTA_TABLE]},
    "01": {"01": [_DELTA_TABLE, _MEASURE]},
    "02": {"02": [_DELTA_TABLE]},
    "03": {"03a": [_DELTA_TABLE, _MEASURE], "03b": [_DELTA_TABLE], "03c": [_DELTA_TABLE, _MEASURE]},
    "04": {"04": [_DELTA_TABLE, _MEASURE]},
    "06": {"06a": [_DELTA_TABLE], "06c": [_DELTA_TABLE]},
}
#: chapter number -> why, for a chapter whose code has none of those gaps but did not run over Connect
#: when tried (`lab run` with SPARK_REMOTE on `lab up connect`'s server, 2026-12-02 and 2026-12-03)
FAILED_WHEN_TRIED: dict[str, str] = {
    "05": "its Kafka stream stopped mid-batch (the exactly-once exercise) hung over Connect when tried",
    "09": "its Dagster assets (pipelines/mat) count rows with Delta's DeltaTable API, "
    "which a Connect session does not offer here",
    "10": "10b's lineage section attaches the OpenLineage listener to the SparkContext, "
    "which a Connect session does not have (10a alone runs over Connect)",
}
CLASSIC_ONLY = {**{ch: list(parts) for ch, parts in FROM_CODE.items()}, **{ch: [ch] for ch in FAILED_WHEN_TRIED}}


def refusal(chapter: str) -> str | None:
    """The sentence for a chapter that cannot run over Spark Connect, else None."""
    parts = CLASSIC_ONLY.get(chapter)
    if not parts:
        return None
    if chapter in FAILED_WHEN_TRIED:
        why = FAILED_WHEN_TRIED[chapter]
    else:
        uses: list[str] = []
        for needs in FROM_CODE[chapter].values():
            uses += [n for n in needs if n not in uses]
        listed = uses[0] if len(uses) == 1 else f"{', '.join(uses[:-1])} and {uses[-1]}"
        why = f"it uses {listed}, which a Connect session does not offer here"
    which = f"chapter {chapter}" if parts == [chapter] else f"chapter {chapter} ({', '.join(parts)})"
    return f"{which} cannot run over Spark Connect (SPARK_REMOTE is set): {why}; unset SPARK_REMOTE to run it on the local session"


def require_classic(chapter: str) -> None:
    """Raise the chapter's one sentence when SPARK_REMOTE is set and the chapter needs the classic session."""
    from lablib.config import settings

    if settings().spark_remote and (why := refusal(chapter)):
        raise LabError(why)
