"""Chapter 06's checks accept the right answer and reject wrong or missing ones (real Spark, MLflow, model server)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from checking import accepts, rejects
from pyspark.sql import functions as F

import lablib
from lablib import ml, services
from lablib.check import ch06

pytestmark = pytest.mark.services
DB = "test_ch06_checks"
FEATURES = ml.feature_columns()


# -- what the chapter builds, once for the module ------------------------------------

@pytest.fixture(scope="module")
def hours(spark):
    """The usable machine-hours (features, no label), the failures and the last hour, at CI scale."""
    feats = ml.rolling_features(ml.machine_hours(ml.silver_telemetry())).cache()
    last_hour = feats.agg(F.max("hour")).first()[0]
    yield ml.usable(feats), lablib.data.read("failures"), last_hour
    feats.unpersist()


@pytest.fixture(scope="module")
def table(spark, hours):
    """The labelled features as a Delta table at version 1 (created, then loaded), its path and pandas frame."""
    usable, failures, last_hour = hours
    name = f"{DB}.features"
    columns = ", ".join(f"{c} DOUBLE" for c in FEATURES)
    spark.sql(f"CREATE TABLE {name} (machine_id STRING, hour TIMESTAMP, factory_id STRING, {columns}, label INT) USING delta")
    (ml.label(usable, failures, last_hour).select("machine_id", "hour", "factory_id", *FEATURES, "label")
     .write.format("delta").mode("append").saveAsTable(name))
    path = str(lablib.local_path(spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]))
    frame = spark.table(name).toPandas().sort_values(["machine_id", "hour"], ignore_index=True)
    return name, path, frame


@pytest.fixture(scope="module")
def split(table):
    frame = table[2]
    start = ml.holdout_start(frame)
    train, test = ml.time_split(frame, start)
    return frame, start, train, test


@pytest.fixture(scope="module")
def mlflow_client(lab_services):
    import mlflow

    mlflow.set_tracking_uri(lablib.mlflow_uri())
    mlflow.set_experiment(f"ch99-ch06-checks-{uuid.uuid4().hex[:6]}")
    return mlflow.MlflowClient()


@pytest.fixture(scope="module")
def registered(mlflow_client, split):
    """A registered model with a good champion (the baseline) and a weak challenger (two stumps)."""
    import mlflow

    train = split[2]
    name = f"ch99-failures-{uuid.uuid4().hex[:6]}"
    versions = {}
    for alias, params in (("champion", ml.LGBM_PARAMS), ("challenger", {"n_estimators": 2, "num_leaves": 2})):
        with mlflow.start_run(run_name=alias):
            info = ml.log_lightgbm(ml.train_lightgbm(train[FEATURES], train["label"], **params), train[FEATURES],
                                   registered_model_name=name)
        versions[alias] = int(info.registered_model_version)
        mlflow_client.set_registered_model_alias(name, alias, versions[alias])
    yield name, versions
    mlflow_client.delete_registered_model(name)


# -- 06a -------------------------------------------------------------------------------

def test_label(hours):
    usable, failures, last_hour = hours
    right = ml.label(usable, failures, last_hour)
    accepts(ch06.label(right, usable, failures, last_hour))
    rejects(ch06.label(None, usable, failures, last_hour), "labelled is still None")
    rejects(ch06.label(right.limit(50).toPandas(), usable, failures, last_hour),
            "labelled is a pandas DataFrame, not a Spark DataFrame")
    # the last day kept: its label is not known yet
    uncensored = ml.label(usable, failures, last_hour + timedelta(hours=ml.HORIZON_HOURS))
    rejects(ch06.label(uncensored, usable, failures, last_hour), "their label is not known yet")
    # looking backwards: a failure in the 24 h *before* the hour
    known = usable.where(F.col("hour") + F.expr("INTERVAL 25 HOURS") <= F.lit(last_hour) + F.expr("INTERVAL 1 HOUR"))
    behind = (known.alias("h").join(failures.alias("f"), (F.col("h.machine_id") == F.col("f.machine_id"))
                                    & (F.col("f.failure_time") <= F.col("h.hour"))
                                    & (F.col("f.failure_time") > F.col("h.hour") - F.expr("INTERVAL 24 HOURS")), "left_semi")
              .select("machine_id", "hour", F.lit(1).alias("label")))
    backwards = known.join(behind, ["machine_id", "hour"], "left").fillna(0, subset=["label"])
    rejects(ch06.label(backwards, usable, failures, last_hour), "label(s) differ")
    # an inner join keeps only the failing hours
    rejects(ch06.label(right.where("label = 1"), usable, failures, last_hour), "usable hour(s) are missing")
    rejects(ch06.label(right.unionByName(right.limit(3)), usable, failures, last_hour), "appear twice")
    rejects(ch06.label(right.drop("label"), usable, failures, last_hour), "labelled lacks column(s) label")


def test_time_split(split, spark):
    frame, start, train, test = split
    accepts(ch06.time_split(train, test, frame, start))
    rejects(ch06.time_split(None, test, frame, start), "train is still None")
    rejects(ch06.time_split(spark.createDataFrame(train.head(5)), test, frame, start),
            "train is a Spark DataFrame, not a pandas DataFrame")
    no_gap = frame[frame["hour"] < start]
    rejects(ch06.time_split(no_gap, test, frame, start), "into the holdout")
    shuffled = frame.sample(frac=1.0, random_state=1)
    rejects(ch06.time_split(shuffled.iloc[: len(frame) // 2], shuffled.iloc[len(frame) // 2:], frame, start),
            "interleave in time")
    rejects(ch06.time_split(train, test.iloc[10:], frame, start), f"test holds {len(test) - 10:,} hours")
    rejects(ch06.time_split(train.iloc[10:], test, frame, start), f"train holds {len(train) - 10:,} hours")


def _tracked(table, split, *, version=1, figures=("confusion_matrix.png", "feature_importance.png"),
             dataset=True, model=True, signature=True):
    """A run like exercise 3's, with the parts the arguments leave out missing; returns (run id, PR-AUC)."""
    import lightgbm
    import matplotlib.pyplot as plt
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.metrics import average_precision_score

    name, path, _ = table
    _, start, train, test = split
    with mlflow.start_run() as run:
        mlflow.log_params({**ml.LGBM_PARAMS, "holdout_start": str(start)})
        if dataset:
            mlflow.log_input(mlflow.data.load_delta(path=path, version=version, targets="label"), context="training")
        fitted = ml.train_lightgbm(train[FEATURES], train["label"])
        scores = fitted.predict_proba(test[FEATURES])[:, 1]
        ap = average_precision_score(test["label"], scores)
        mlflow.log_metrics({"pr_auc": ap, "precision": 0.5, "recall": 0.5, "cost_eur": 1.0})
        for figure in figures:
            fig, ax = plt.subplots()
            mlflow.log_figure(fig, figure)
            plt.close(fig)
        if model:
            mlflow.lightgbm.log_model(fitted.booster_, name="model", input_example=train[FEATURES].head(2),
                                      signature=infer_signature(test[FEATURES], scores) if signature else False,
                                      pip_requirements=[f"lightgbm=={lightgbm.__version__}"])
    return run.info.run_id, ap


def test_tracked_run_and_reproduce(mlflow_client, table, split, spark):
    run_id, ap = _tracked(table, split)
    accepts(ch06.tracked_run(run_id))
    rejects(ch06.tracked_run(None), "run_id is still None")
    rejects(ch06.tracked_run("0123456789abcdef0123456789abcdef"), "there is no run 0123456789abcdef0123456789abcdef")
    rejects(ch06.tracked_run(_tracked(table, split, figures=("confusion_matrix.png",))[0]),
            "the run has no importance figure")
    rejects(ch06.tracked_run(_tracked(table, split, dataset=False, model=False)[0]),
            "the run has no Delta table among its inputs")
    rejects(ch06.tracked_run(_tracked(table, split, version=0, model=False)[0]), "MLflow drops a version 0")
    rejects(ch06.tracked_run(_tracked(table, split, model=False)[0]), "the run logged no model")
    rejects(ch06.tracked_run(_tracked(table, split, signature=False)[0]), "the logged model has no signature")

    # the table moves on (a label corrected): the run's own version still reproduces its metric
    newest = spark.table(table[0]).agg(F.max("hour")).first()[0]
    spark.sql(f"UPDATE {table[0]} SET label = 1 - label WHERE hour = TIMESTAMP '{newest:%Y-%m-%d %H:%M:%S}'")
    accepts(ch06.reproduce(run_id, ap))
    rejects(ch06.reproduce(run_id, None), "reproduced is still None")
    rejects(ch06.reproduce(run_id, ap - 0.01), "differs from the logged")
    rejects(ch06.reproduce(run_id, "high"), "reproduced should be a number")


# -- 06b -------------------------------------------------------------------------------

def _study(trials: int, best_logged: float | None = None) -> str:
    import mlflow

    scores = [0.2 + 0.1 * i for i in range(trials)]
    with mlflow.start_run(run_name="optuna") as parent:
        for i, score in enumerate(scores):
            with mlflow.start_run(run_name=f"trial-{i}", nested=True):
                mlflow.log_params({"num_leaves": 4 + i})
                mlflow.log_metric("val_ap", score)
        if trials:
            mlflow.log_metric("best_val_ap", max(scores) if best_logged is None else best_logged)
    return parent.info.run_id


def test_nested_study(mlflow_client):
    accepts(ch06.nested_study(_study(3)))
    rejects(ch06.nested_study(None), "parent_run_id is still None")
    rejects(ch06.nested_study(_study(2)), "the parent run has 2 nested run(s)")
    rejects(ch06.nested_study(_study(3, best_logged=0.1)), "best_val_ap is 0.1000, the best trial scored 0.4000")


def test_aliases(mlflow_client, registered):
    name, versions = registered
    accepts(ch06.aliases(name))
    rejects(ch06.aliases(None), "the model name is still None")
    rejects(ch06.aliases("ch99-no-such-model"), "there is no registered model ch99-no-such-model")
    mlflow_client.set_registered_model_alias(name, "challenger", versions["champion"])
    try:
        rejects(ch06.aliases(name), f"champion and challenger both point at version {versions['champion']}")
        mlflow_client.delete_registered_model_alias(name, "challenger")
        rejects(ch06.aliases(name), f"alias challenger is not set on the registered model {name}")
    finally:
        mlflow_client.set_registered_model_alias(name, "challenger", versions["challenger"])


def _rule(promote_when):
    """A promotion rule that moves champion when ``promote_when(challenger_ap, champion_ap)``."""
    import mlflow
    from sklearn.metrics import average_precision_score

    def rule(name, X, y):
        client = mlflow.MlflowClient()
        champ = client.get_model_version_by_alias(name, "champion")
        chall = client.get_model_version_by_alias(name, "challenger")

        def ap(v):
            return average_precision_score(y, mlflow.pyfunc.load_model(f"models:/{name}/{v.version}").predict(X))

        if promote_when(ap(chall), ap(champ)):
            client.set_registered_model_alias(name, "champion", chall.version)
            return True
        return False

    return rule


def test_promotion(mlflow_client, registered, split):
    name, versions = registered
    X, y = split[3][FEATURES], split[3]["label"]
    accepts(ch06.promotion(_rule(lambda new, old: new > old), name, X, y))
    rejects(ch06.promotion(None, name, X, y), "promote is still None")
    rejects(ch06.promotion(_rule(lambda new, old: True), name, X, y), "with a worse challenger the champion moved")
    rejects(ch06.promotion(_rule(lambda new, old: False), name, X, y), "with a better challenger")
    rejects(ch06.promotion(_rule(lambda new, old: new >= old), name, X, y),
            "with a challenger that only ties the champion moved")
    rejects(ch06.promotion(_rule(lambda new, old: new < old), name, X, y), "the champion stayed")

    def moves_but_says_no(n, X_, y_):
        _rule(lambda new, old: new > old)(n, X_, y_)
        return None

    rejects(ch06.promotion(moves_but_says_no, name, X, y), "promote returned None")
    mlflow_client.delete_registered_model_alias(name, "challenger")
    try:
        rejects(ch06.promotion(_rule(lambda new, old: new > old), name, X, y), "alias challenger is not set")
    finally:
        mlflow_client.set_registered_model_alias(name, "challenger", versions["challenger"])


# -- 06c -------------------------------------------------------------------------------

def _predictions(spark, name, version, scored, recorded=None, mode="append", table=f"{DB}.predictions"):
    """Scores of ``scored`` by ``version`` (pandas predict: the same numbers spark_udf gives), written to ``table``."""
    import mlflow

    rows = scored.select("machine_id", "hour", *FEATURES).toPandas()
    rows["score"] = mlflow.pyfunc.load_model(f"models:/{name}/{version}").predict(rows[FEATURES])
    out = spark.createDataFrame(rows[["machine_id", "hour", "score"]]).select(
        "machine_id", "hour", "score", F.lit(name).alias("model_name"),
        F.lit(int(recorded or version)).alias("model_version"))
    out.write.format("delta").mode(mode).saveAsTable(table)
    return table


def test_batch_scores(spark, mlflow_client, registered, table, split):
    name, versions = registered
    scored = spark.table(table[0]).where(F.col("hour") >= F.lit(split[1]))
    good = _predictions(spark, name, versions["champion"], scored)
    accepts(ch06.batch_scores(good, scored, name))
    _predictions(spark, name, versions["challenger"], scored)          # re-scored with a new champion: appended
    accepts(ch06.batch_scores(good, scored, name))
    rejects(ch06.batch_scores(spark.table(good), scored, name), "give the predictions table's name (a str)")
    rejects(ch06.batch_scores(f"{DB}.nothing", scored, name), f"there is no table {DB}.nothing")
    rejects(ch06.batch_scores(good, scored.toPandas(), name), "new_hours is a pandas DataFrame, not a Spark DataFrame")
    rejects(ch06.batch_scores(good, scored, "ch99-other"), "model_name holds")
    over = _predictions(spark, name, versions["champion"], scored, table=f"{DB}.overwritten")
    _predictions(spark, name, versions["challenger"], scored, mode="overwrite", table=over)
    rejects(ch06.batch_scores(over, scored, name), f"{over} was overwritten at version 1")
    mislabelled = _predictions(spark, name, versions["challenger"], scored, recorded=versions["champion"],
                               table=f"{DB}.mislabelled")
    rejects(ch06.batch_scores(mislabelled, scored, name),
            f"the scores of version {versions['champion']} differ from that version's own predictions")
    short = _predictions(spark, name, versions["champion"], scored.limit(100), table=f"{DB}.short")
    rejects(ch06.batch_scores(short, scored, name), f"version {versions['champion']} scored 100 rows")


@pytest.fixture(scope="module")
def served(spark, registered, table, split):
    name, versions = registered
    scored = spark.table(table[0]).where(F.col("hour") >= F.lit(split[1]))
    predictions = _predictions(spark, name, versions["champion"], scored, table=f"{DB}.served_scores")
    url = lablib.serve_model(f"models:/{name}@champion")
    rows = (spark.table(predictions).join(scored, ["machine_id", "hour"]).orderBy(F.desc("score"), "machine_id", "hour")
            .limit(20).select("machine_id", "hour", *FEATURES).toPandas())
    yield url, rows, predictions
    services.stop_model(quiet=True)


def test_served_prediction(served):
    import requests

    url, rows, predictions = served
    online = requests.post(f"{url}/invocations", json=ml.json_rows(rows[FEATURES]), timeout=30).json()["predictions"]
    accepts(ch06.served_prediction(url, rows, online, table=predictions))
    rejects(ch06.served_prediction(None, rows, online, table=predictions), "url is still None")
    rejects(ch06.served_prediction(url, rows, None, table=predictions), "online is still None")
    rejects(ch06.served_prediction(url, rows, online[:-1], table=predictions), "online holds 19 score(s) for 20 row(s)")
    rejects(ch06.served_prediction(url, rows, list(reversed(online)), table=predictions),
            "online and batch scores differ")
    rejects(ch06.served_prediction("http://127.0.0.1:9", rows, online, table=predictions),
            "the model server at http://127.0.0.1:9 does not answer")


def test_served_prediction_when_the_server_is_down(served):
    url, rows, predictions = served
    services.stop_model(quiet=True)
    rejects(ch06.served_prediction(url, rows, [0.0] * len(rows), table=predictions),
            f"the model server at {url} does not answer")


def test_psi():
    accepts(ch06.psi(ch06.reference_psi))
    rejects(ch06.psi(None), "psi is still None")
    rejects(ch06.psi(42), "psi should be a function, not a int")

    def no_floor(expected, actual):
        edges = np.unique(np.quantile(expected, np.linspace(0, 1, 11)))
        edges[0], edges[-1] = -np.inf, np.inf
        e = np.histogram(expected, edges)[0] / len(expected)
        a = np.histogram(actual, edges)[0] / len(actual)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum((a - e) * np.log(a / e)))

    rejects(ch06.psi(no_floor), "psi is inf for all values above the training range")

    def counts(expected, actual):
        edges = np.unique(np.quantile(expected, np.linspace(0, 1, 11)))
        edges[0], edges[-1] = -np.inf, np.inf
        e = np.maximum(np.histogram(expected, edges)[0], 1e-4)
        a = np.maximum(np.histogram(actual, edges)[0], 1e-4)
        return float(np.sum((a - e) * np.log(a / e)))

    rejects(ch06.psi(counts), "the chapter's definition gives")

    def equal_width(expected, actual):  # bins of equal width, not at the deciles
        edges = np.linspace(np.min(expected), np.max(expected), 11)
        edges[0], edges[-1] = -np.inf, np.inf
        e = np.maximum(np.histogram(expected, edges)[0] / len(expected), 1e-4)
        a = np.maximum(np.histogram(actual, edges)[0] / len(actual), 1e-4)
        return float(np.sum((a - e) * np.log(a / e)))

    rejects(ch06.psi(equal_width), "the chapter's definition gives")
    assert ch06.reference_psi(pd.Series([1.0, 2.0, np.nan, 3.0] * 50), [1.0, 2.0, 3.0] * 50) < 0.01
