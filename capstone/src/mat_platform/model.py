"""The failure model of chapter 06 on the platform's gold: trained, registered, promoted by rule, scoring.

    train(conf, spark)  # gold machine_hour_features -> label -> LightGBM -> MLflow run + registered version
    score(conf, spark)  # the champion's risk of every gold machine-hour not yet scored by it -> gold.machine_risk

Neither brings all of gold to the driver: training collects every hour before a failure and at most
``MAX_QUIET_HOURS`` of the others (a weighted sample, at full scale only), and scoring runs the
champion's booster inside Spark's tasks (``mapInPandas``), so one driver size serves every scale.

Both are idempotent. ``train`` records the gold version (and parameters) it trained on and trains
nothing while they are unchanged; ``score`` MERGEs only the hours the champion has not scored yet, so
each pipeline run scores exactly the hours its new events added (or every hour once, after a promotion).

The promotion rule: a new version becomes ``champion`` when there is none yet, or when its PR-AUC on
the held-out (latest) hours beats the current champion's on the same hours; otherwise it stays
``challenger`` and the refusal says why. Chapter 06's functions (lablib.ml) do the labelling, the
split, the training and the logging: one definition of each.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass

import lablib

from mat_platform.settings import TABLE_PROPERTIES, Settings

#: the costs chapter 06 judges alerts by: a missed failure costs 900 EUR, a needless inspection 150,
#: so an alert pays off from this probability on
MISSED_EUR, FALSE_ALARM_EUR = 900, 150
RISK_THRESHOLD = FALSE_ALARM_EUR / (FALSE_ALARM_EUR + MISSED_EUR)
METRIC = "holdout_pr_auc"
CHAMPION, CHALLENGER = "champion", "challenger"
#: the predictions table's columns, in order (the capstone contract)
RISK_COLUMNS = ("machine_id", "hour", "risk", "at_risk", "model_version", "scored_at")
#: the most hours with no failure ahead ("quiet" hours) that training brings to the driver. Every hour
#: before a failure is kept (they are rare, and what the model learns from); beyond this many quiet ones
#: a fixed share of them is kept, chosen by a hash of the key (the same hours on any cluster, in any
#: partitioning), each weighted by the inverse of the share, so the fitted probabilities and the PR-AUC
#: stay those of all the hours. ci and small scale hold fewer: nothing is sampled there. Full scale's
#: 2.88 M hours collected whole needed a 2 GB driver (a 512 MB one hung in the collect).
MAX_QUIET_HOURS = 400_000
_BUCKETS = 1_000_000  # the hash's resolution: the share kept is a whole number of millionths


def model_name(conf: Settings) -> str:
    """The registered model of this environment and scale (one MLflow server may hold several)."""
    return f"mat-platform-{conf.env}-{conf.scale}-failures"


class NotEnoughHours(lablib.LabError):
    """Gold does not hold the hours a model can be trained and judged on yet (a stream still filling it)."""


@dataclass(frozen=True)
class Decision:
    promote: bool
    message: str


def promotion(candidate: str, candidate_score: float, champion: str | None, champion_score: float | None) -> Decision:
    """The rule, on scores measured on the same held-out hours: promote when there is no champion yet,
    or when the candidate's score is strictly higher (a tie keeps the model already trusted)."""
    if champion is None:
        return Decision(True, f"version {candidate} is champion: the first model ({METRIC} {candidate_score:.4f})")
    if champion_score is None or candidate_score > champion_score:  # None: a champion that cannot be judged
        return Decision(
            True,
            f"version {candidate} is champion: {METRIC} {candidate_score:.4f} beats version "
            f"{champion}'s {champion_score:.4f} on the same held-out hours",
        )
    return Decision(
        False,
        f"version {candidate} stays challenger: {METRIC} {candidate_score:.4f} does not beat "
        f"champion version {champion}'s {champion_score:.4f} on the same held-out hours",
    )


def _client():
    import mlflow

    mlflow.set_tracking_uri(lablib.mlflow_uri())
    return mlflow, mlflow.MlflowClient()


def _alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:  # no such model or alias yet
        return None


def versions(conf: Settings) -> int:
    """How many versions of this platform's model the registry holds (0 before the first training)."""
    _, client = _client()
    return len(client.search_model_versions(f"name = '{model_name(conf)}'"))


def champion_version(conf: Settings) -> str | None:
    _, client = _client()
    found = _alias(client, model_name(conf), CHAMPION)
    return None if found is None else str(found.version)


def sample_quiet_hours(table, limit: int = MAX_QUIET_HOURS, hours: int | None = None):
    """``table`` (labelled hours, Spark) with a ``weight`` column, and the share of quiet hours kept:
    all of them (weight 1, share 1.0) when they are at most ``limit``; otherwise every hour before a
    failure (weight 1) and the quiet hours whose key hashes into the first ``limit / quiet`` of the
    buckets (weight 1 / share): about ``limit`` rows standing for all of them.

    ``hours``: how many machine-hours ``table`` was labelled from, when known (gold's rows, from its
    log). The quiet hours are never more, so at most ``limit`` of them needs no count: a Spark job
    over the whole labelling saved (0.8 s at ci scale here); only a larger gold is counted."""
    from pyspark.sql import functions as F

    if hours is not None and hours <= limit:
        return table.withColumn("weight", F.lit(1.0)), 1.0
    quiet = table.where(F.col("label") == 0).count()
    if quiet <= limit:
        return table.withColumn("weight", F.lit(1.0)), 1.0
    buckets = limit * _BUCKETS // quiet
    share = buckets / _BUCKETS
    bucket = F.pmod(F.xxhash64(*lablib.ml.KEY), F.lit(_BUCKETS))
    kept = table.where((F.col("label") == 1) | (bucket < buckets))
    return kept.withColumn("weight", F.when(F.col("label") == 1, F.lit(1.0)).otherwise(F.lit(1 / share))), share


def labelled_hours(conf: Settings, spark):
    """Gold's machine-hours a model may learn from, labelled as chapter 06 labels them, as pandas
    (sorted by machine and hour, with each row's ``weight``: see :func:`sample_quiet_hours`), the gold
    version they were read at, and the share of quiet hours kept."""
    from deltalake import DeltaTable
    from pyspark.sql import functions as F

    path = conf.table("gold", "machine_hour_features")
    gold = DeltaTable(str(path))  # one snapshot of the log: its version, and its rows below
    version = gold.version()
    feats = spark.read.format("delta").option("versionAsOf", version).load(str(path))
    last_hour = feats.agg(F.max("hour")).first()[0]
    if last_hour is None:  # a stream's first gold version can hold no complete hour yet
        raise NotEnoughHours(f"gold version {version}: no machine-hour yet, nothing to label")
    table = lablib.ml.label(lablib.ml.usable(feats), lablib.data.read("failures"), last_hour)
    # gold holds one row per machine-hour (its transform groups by them, its gate checks it), so its rows
    # bound the labelled ones; the log's file statistics give them without a job (None when one lacks them)
    counts = gold.get_add_actions(flatten=True).column("num_records").to_pylist()
    hours = None if None in counts else sum(counts)
    table, share = sample_quiet_hours(table.select(*lablib.ml.KEY, *lablib.ml.feature_columns(), "label"), hours=hours)
    frame = table.toPandas().sort_values(lablib.ml.KEY, ignore_index=True)
    return frame, version, share


def _weights(rows):
    """The rows' weights for scikit-learn and LightGBM: None when every row stands for itself, so
    an unsampled run fits and scores exactly as chapter 06 does."""
    return None if (rows["weight"] == 1.0).all() else rows["weight"]


def _pr_auc(model, rows, features) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(rows["label"], model.predict(rows[features]), sample_weight=_weights(rows)))


def train(conf: Settings, spark, params: dict | None = None) -> dict:
    """Train on gold (unless this gold version was trained on with these parameters), log the run,
    register the version and apply the promotion rule. Returns {trained, version, champion, message}.
    Raises :class:`NotEnoughHours` (nothing logged) when gold has no failure to learn from and judge by."""
    from deltalake import DeltaTable

    from mat_platform import pipeline  # its record helpers (pipeline imports this module: not at the top)

    params = {**lablib.ml.LGBM_PARAMS, **(params or {})}
    gold_version = DeltaTable(str(conf.table("gold", "machine_hour_features"))).version()
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    record_path = conf.state / "model.json"
    record = pipeline.read_record(record_path) or {}
    done = record.get(key)
    if done is not None and done["gold_version"] == gold_version:
        return {
            "trained": 0,
            "version": done["version"],
            "champion": champion_version(conf),
            "message": f"gold version {gold_version} already trained on: version {done['version']}",
        }

    frame, gold_version, share = labelled_hours(conf, spark)
    # the rule before any fit: both classes to learn from, and failures in the held-out hours to judge by
    # (PR-AUC has no meaning without a positive); a stream's first hours may have neither yet
    positives = int(frame["label"].sum()) if len(frame) else 0
    if positives == 0:
        raise NotEnoughHours(f"gold version {gold_version}: no labelled hour precedes a failure yet, nothing to learn")
    train_rows, test_rows = lablib.ml.time_split(frame, lablib.ml.holdout_start(frame))
    if train_rows["label"].nunique() < 2 or not test_rows["label"].any():
        raise NotEnoughHours(
            f"gold version {gold_version}: {positives} hour(s) before a failure, too few for both the training "
            "hours and the held-out ones"
        )
    features = lablib.ml.feature_columns()
    X, y = train_rows[features], train_rows["label"]
    mlflow, client = _client()
    name = model_name(conf)
    mlflow.set_experiment(name)
    fitted = lablib.ml.train_lightgbm(X, y, sample_weight=_weights(train_rows), **params)
    score = _pr_auc(fitted.booster_, test_rows, features)
    with mlflow.start_run(run_name=f"gold-v{gold_version}"):
        mlflow.log_params(params)
        mlflow.log_metric(METRIC, score)
        mlflow.set_tags(
            {
                "gold_version": gold_version,
                "train_hours": len(train_rows),
                "holdout_hours": len(test_rows),
                "quiet_hours_share": share,
            }
        )
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Created version ..." lines
            info = lablib.ml.log_lightgbm(fitted, X, registered_model_name=name)
    version = str(info.registered_model_version)

    current = _alias(client, name, CHAMPION)
    champion_score = None
    if current is not None:  # the champion judged on today's held-out hours, not on the ones it was trained with
        champion_model = mlflow.pyfunc.load_model(f"models:/{name}/{current.version}")
        champion_score = _pr_auc(champion_model, test_rows, features)
    decision = promotion(version, score, None if current is None else str(current.version), champion_score)
    client.set_registered_model_alias(name, CHAMPION if decision.promote else CHALLENGER, version)
    record[key] = {"gold_version": gold_version, "version": version, METRIC: score}
    pipeline.write_record(record_path, record)
    return {"trained": 1, "version": version, "champion": champion_version(conf), "message": decision.message}


def score(conf: Settings, spark) -> int:
    """The champion's risk of every gold machine-hour it has not scored yet, MERGEd into
    gold.machine_risk (one row per machine-hour: a new champion rescores each hour once). Returns
    the table's rows; no champion yet: nothing to score."""
    from pyspark.sql import functions as F

    version = champion_version(conf)
    if version is None:
        return 0
    path = conf.table("gold", "machine_risk")
    hours = spark.read.format("delta").load(str(conf.table("gold", "machine_hour_features")))
    exists = (path / "_delta_log").exists()
    todo = hours
    if exists:
        done = (
            spark.read.format("delta").load(str(path)).where(F.col("model_version") == version).select(*lablib.ml.KEY)
        )
        todo = hours.join(done, lablib.ml.KEY, "left_anti")
    if todo.isEmpty():
        return spark.read.format("delta").load(str(path)).count() if exists else 0

    import mlflow.lightgbm

    _client()
    # the champion's booster as text, shipped inside the task's closure: each task rebuilds it and
    # scores its own hours, so no hour passes through the driver (the registry is asked once, here)
    booster = mlflow.lightgbm.load_model(f"models:/{model_name(conf)}/{version}").model_to_string()
    features = lablib.ml.feature_columns()

    def predict(batches):
        import lightgbm as lgb

        model = lgb.Booster(model_str=booster)
        for batch in batches:
            yield batch[lablib.ml.KEY].assign(risk=model.predict(batch[features]))

    risks = todo.select(*lablib.ml.KEY, *features).mapInPandas(
        predict, "machine_id string, hour timestamp, risk double"
    )
    scored = risks.select(
        F.col("machine_id").cast("string"),
        F.col("hour").cast("timestamp"),
        F.col("risk").cast("double"),
        (F.col("risk") >= RISK_THRESHOLD).alias("at_risk"),
        F.lit(version).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
    )
    if not exists:
        writer = scored.write.format("delta")
        for k, v in TABLE_PROPERTIES.items():
            writer = writer.option(k, v)
        writer.save(str(path))
    else:
        scored.createOrReplaceTempView("capstone_risk_batch")
        on = " AND ".join(f"t.{k} = s.{k}" for k in lablib.ml.KEY)
        spark.sql(
            f"MERGE INTO delta.`{path}` t USING capstone_risk_batch s ON {on} "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    return spark.read.format("delta").load(str(path)).count()
