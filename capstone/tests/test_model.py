"""The promotion rule on its own: which version becomes champion, and the sentence a refusal gives;
and the bounded sample of hours training collects (which hours, and the weights that stand for the rest)."""

import pytest

from mat_platform.model import promotion, sample_quiet_hours


def test_the_first_model_is_champion():
    d = promotion("1", 0.31, None, None)
    assert d.promote
    assert d.message == "version 1 is champion: the first model (holdout_pr_auc 0.3100)"


def test_a_better_model_replaces_the_champion():
    d = promotion("3", 0.42, "2", 0.40)
    assert d.promote
    assert d.message == (
        "version 3 is champion: holdout_pr_auc 0.4200 beats version 2's 0.4000 on the same held-out hours"
    )


def test_a_worse_or_equal_model_is_refused_in_one_sentence():
    for score in (0.39, 0.40):  # a tie keeps the model already trusted
        d = promotion("3", score, "2", 0.40)
        assert not d.promote
        assert d.message == (
            f"version 3 stays challenger: holdout_pr_auc {score:.4f} does not beat "
            "champion version 2's 0.4000 on the same held-out hours"
        )


def _hours(spark, quiet: int, failing: int):
    from datetime import datetime, timedelta

    t0 = datetime(2024, 3, 1)
    rows = [(f"M-{i % 50:03d}", t0 + timedelta(hours=i // 50), 0) for i in range(quiet)]
    rows += [(f"F-{i:03d}", t0, 1) for i in range(failing)]
    return spark.createDataFrame(rows, "machine_id string, hour timestamp, label int")


def test_training_keeps_every_hour_when_the_quiet_ones_fit(spark):
    table, share = sample_quiet_hours(_hours(spark, 300, 7), limit=300)
    rows = table.toPandas()
    assert share == 1.0 and len(rows) == 307 and set(rows["weight"]) == {1.0}


def test_training_samples_quiet_hours_by_key_and_weights_them_back(spark):
    hours = _hours(spark, 5000, 12)
    table, share = sample_quiet_hours(hours, limit=1000)
    rows = table.toPandas()
    quiet, failing = rows[rows["label"] == 0], rows[rows["label"] == 1]
    assert share == 0.2
    assert len(failing) == 12 and set(failing["weight"]) == {1.0}  # every hour before a failure stays
    assert 850 <= len(quiet) <= 1150 and set(quiet["weight"]) == {5.0}  # about the limit, standing for all
    assert 4250 <= quiet["weight"].sum() <= 5750
    # chosen by the key's hash: the same hours however the table is partitioned
    again = sample_quiet_hours(hours.repartition(7), limit=1000)[0].toPandas()
    key = ["machine_id", "hour"]
    assert again.sort_values(key, ignore_index=True).equals(rows.sort_values(key, ignore_index=True))


def test_known_hours_within_the_limit_need_no_count(spark):
    # a table that fails when any Spark action evaluates it: with the bound given, nothing is run
    from pyspark.sql import functions as F

    poisoned = _hours(spark, 300, 7).withColumn("label", F.expr("assert_true(label < 0)").cast("int") + F.col("label"))
    table, share = sample_quiet_hours(poisoned, limit=400, hours=307)
    assert share == 1.0 and "weight" in table.columns
    # without the bound (or with more hours than the limit) the quiet hours are counted, which evaluates it
    for hours in (None, 401):
        with pytest.raises(Exception, match="assert_true|label < 0"):
            sample_quiet_hours(poisoned, limit=400, hours=hours)
