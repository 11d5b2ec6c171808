"""Checks of chapter 12, the capstone completed: they count the topic from the broker's own offsets and
read the tables with delta-rs, outside the learner's Spark session.

The truths are the broker's end offsets (what the topic holds), the Kafka coordinates bronze kept,
and gold as delta-rs reads it; never the learner's code.
"""

from __future__ import annotations

from pathlib import Path

from lablib.check import exercise, fail

COUNT_KEYS = ("sent", "bronze", "lost", "duplicated")


def _topic_size(topic: str) -> int | None:
    from confluent_kafka import Consumer, TopicPartition

    from lablib.services import kafka_config

    consumer = Consumer({**kafka_config(), "group.id": "lab-check-ch12", "enable.auto.commit": False,
                         "log_level": 3})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return None
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions)
    finally:
        consumer.close()


def _delta(path):
    from deltalake import DeltaTable

    from lablib.paths import rel

    if path is None or not DeltaTable.is_deltatable(str(path)):
        fail(f"there is no Delta table at {path if path is None else rel(Path(path))}",
             "run the pipeline's stages first")
    return DeltaTable(str(path))


# --------------------------------------------------------------------------- 1. exactly once
@exercise("12", hint="count bronze's rows and its distinct (partition, offset) pairs; lost = sent - distinct, "
                     "duplicated = rows - distinct")
def exactly_once(counts, topic: str, bronze):
    """``counts``: {sent, bronze, lost, duplicated} as the learner counted them; ``topic``/``bronze``: the truth."""
    if counts is None:
        fail("counts is still None", "a dict with the keys " + ", ".join(COUNT_KEYS))
    if not isinstance(counts, dict):
        fail(f"counts should be a dict, not a {type(counts).__name__}")
    missing = [k for k in COUNT_KEYS if k not in counts]
    if missing:
        fail(f"counts has no {', '.join(missing)}", "a dict with the keys " + ", ".join(COUNT_KEYS))
    held = _topic_size(topic)
    if held is None:
        fail(f"topic {topic} does not exist", "produce first: pipeline.produce(conf)")
    coords = _delta(bronze).to_pyarrow_table(columns=["partition", "offset"])
    rows = coords.num_rows
    distinct = coords.group_by(["partition", "offset"]).aggregate([]).num_rows
    truth = {"sent": held, "bronze": rows, "lost": held - distinct, "duplicated": rows - distinct}
    for key in COUNT_KEYS:
        if counts[key] != truth[key]:
            fail(f"counts[{key!r}] is {counts[key]}, the broker and bronze say {truth[key]}")
    if truth["lost"] or truth["duplicated"]:
        fail(f"bronze lost {truth['lost']} and duplicated {truth['duplicated']} of {held} events",
             "land each record once: availableNow with a checkpoint")
    return f"{held:,} events in the topic, {rows:,} bronze rows, each coordinate once: 0 lost, 0 duplicated"


# --------------------------------------------------------------------------- 2. gold outside Spark
@exercise("12", hint="DeltaTable(str(path)).to_pandas(), then groupby('channel', as_index=False)['revenue'].sum()")
def revenue_by_channel(revenue, daily_sales):
    """``revenue``: pandas DataFrame channel, revenue (total per channel), read without Spark."""
    import pandas as pd

    if revenue is None:
        fail("revenue is still None")
    if not isinstance(revenue, pd.DataFrame):
        kind = type(revenue).__module__.split(".")[0] + "." + type(revenue).__name__
        fail(f"revenue should be a pandas DataFrame read with delta-rs, not a {kind}",
             "DeltaTable(path).to_pandas(): no Spark needed")
    missing = [c for c in ("channel", "revenue") if c not in revenue.columns]
    if missing:
        fail(f"revenue has no column {missing[0]} (it has {', '.join(map(str, revenue.columns))})",
             "groupby('channel', as_index=False) keeps channel as a column")
    sales = _delta(daily_sales).to_pandas()
    truth = sales.groupby("channel")["revenue"].sum()
    if revenue["channel"].duplicated().any():
        fail("a channel appears in more than one row", "one row per channel: group by channel")
    got = revenue.set_index("channel")["revenue"]
    if set(got.index) != set(truth.index):
        fail(f"channels {sorted(got.index)}, gold has {sorted(truth.index)}")
    off = [c for c in truth.index if abs(float(got[c]) - float(truth[c])) > 0.01 * max(1.0, abs(float(truth[c])) / 1e4)]
    if off:
        fail(f"the revenue of {off[0]} is {float(got[off[0]]):,.2f}, gold's daily sales add up to "
             f"{float(truth[off[0]]):,.2f}", "sum revenue over every day of the channel")
    best = truth.idxmax()
    return f"{len(truth)} channels read with delta-rs; {best} leads with {float(truth[best]):,.2f}"
