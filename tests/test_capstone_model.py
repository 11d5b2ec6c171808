"""The capstone's training on a gold table a stream has only just created (real Spark and Delta)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "capstone" / "src"))
from mat_platform import model  # noqa: E402 - the capstone's package, from its folder
from mat_platform.settings import Settings  # noqa: E402


def test_training_on_a_gold_without_hours_waits_in_one_sentence(spark, tmp_path):
    # live's first gold version can hold no complete machine-hour: train must say "not yet" (which live
    # notes and retries), not fail on a label cut-off of NULL
    conf = Settings(env="dev", scale="ci", root=tmp_path, topic="factory")
    empty = spark.createDataFrame([], "machine_id string, hour timestamp, running_readings long, down boolean")
    empty.write.format("delta").save(str(conf.table("gold", "machine_hour_features")))
    with pytest.raises(model.NotEnoughHours) as refused:
        model.train(conf, spark)
    assert refused.value.message == "gold version 0: no machine-hour yet, nothing to label"
