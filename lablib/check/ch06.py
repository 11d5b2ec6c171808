"""Checks of chapter 06, MLOps: they read the real tables, MLflow runs, registry and served model.

The truths come from lablib.ml (the chapter's reference label and split) and from MLflow itself
(the run's logged metric, the registered versions' own predictions), never from the learner's code.
"""

from __future__ import annotations

import contextlib
import io
import json
import math

from lablib.check import exercise, fail
from lablib.check._spark import need_columns, need_dataframe, need_table, spark_session

KEY = ["machine_id", "hour"]
ALIASES = ("champion", "challenger")


# --------------------------------------------------------------------------- shared
def _client():
    from mlflow import MlflowClient

    from lablib import services

    return MlflowClient(services.mlflow_uri())


def _run(run_id, what: str = "run_id"):
    from mlflow.exceptions import MlflowException

    if run_id is None:
        fail(f"{what} is still None", "assign run.info.run_id (from `with mlflow.start_run() as run:`)")
    if not isinstance(run_id, str):
        fail(f"{what} should be a run id (str), not a {type(run_id).__name__}")
    try:
        return _client().get_run(run_id)
    except MlflowException:
        fail(f"there is no run {run_id} in MLflow", "log the run to lablib.mlflow_uri() and pass its run.info.run_id")


def _registered(name):
    from mlflow.exceptions import MlflowException

    if name is None:
        fail("the model name is still None")
    if not isinstance(name, str):
        fail(f"the model name should be a str, not a {type(name).__name__}")
    try:
        return _client().get_registered_model(name)
    except MlflowException:
        fail(f"there is no registered model {name} in MLflow",
             "register it with mlflow.register_model(...) or log_model(..., registered_model_name=name)")


def _alias_version(name: str, alias: str) -> int:
    from mlflow.exceptions import MlflowException

    try:
        return int(_client().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        fail(f"alias {alias} is not set on the registered model {name}",
             "MlflowClient().set_registered_model_alias(name, alias, version)")


def _predict(model_uri: str, X):
    import mlflow
    import numpy as np

    return np.asarray(mlflow.pyfunc.load_model(model_uri).predict(X), dtype="float64").reshape(-1)


def _pandas(obj, what: str):
    if obj is None:
        fail(f"{what} is still None")
    if type(obj).__module__.split(".")[0] != "pandas" or not hasattr(obj, "columns"):
        kind = "a Spark DataFrame" if hasattr(obj, "schema") and hasattr(obj, "toPandas") else f"a {type(obj).__name__}"
        fail(f"{what} is {kind}, not a pandas DataFrame", "this step works on the pandas frame (toPandas())")
    return obj


# --------------------------------------------------------------------------- 06a 1. the label
@exercise("06", hint="left-join the failures of the same machine whose failure_time is after the hour's end "
                     "(hour + 1 h) and at most 24 h later; label = 1 when there is one; drop the hours whose "
                     "end + 24 h is after last_hour's end")
def label(labelled, usable, failures, last_hour):
    """``labelled``: ``usable`` with a 0/1 ``label`` (fails within 24 h after the hour ends), the
    hours whose 24 h are not all in the data dropped."""
    from datetime import timedelta

    from pyspark.sql import functions as F

    from lablib import ml

    need_dataframe(labelled, "labelled")
    need_columns(labelled, [*KEY, "label"], "labelled")
    got = labelled.select(*KEY, F.col("label").cast("double").alias("label")).toPandas()
    if got["label"].isna().any():
        fail(f"{int(got['label'].isna().sum())} hour(s) have a null label", "label every hour 0 or 1")
    odd = sorted(set(got["label"]) - {0.0, 1.0})
    if odd:
        fail(f"label holds {odd[0]!r}; it must be 0 or 1")
    if got.duplicated(KEY).any():
        fail(f"{int(got.duplicated(KEY).sum())} (machine_id, hour) pair(s) appear twice",
             "aggregate the joined failures per hour (or use an exists-style join) so each hour stays one row")
    truth = ml.label(usable, failures, last_hour).select(*KEY, "label").toPandas()
    cutoff = last_hour - timedelta(hours=ml.HORIZON_HOURS)
    late = got[got["hour"] > cutoff]
    if len(late):
        fail(f"{len(late)} hour(s) after {cutoff:%Y-%m-%d %H:%M} remain: their next {ml.HORIZON_HOURS} h are not "
             "all in the data, so their label is not known yet", "drop the hours whose end + 24 h is after last_hour's end")
    merged = truth.merge(got, on=KEY, how="outer", suffixes=("_want", "_got"), indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    if len(missing):
        fail(f"{len(missing):,} usable hour(s) are missing (e.g. {missing.iloc[0]['machine_id']} at "
             f"{missing.iloc[0]['hour']:%Y-%m-%d %H:%M})", "keep every usable hour; a left join keeps hours with no failure")
    extra = merged[merged["_merge"] == "right_only"]
    if len(extra):
        fail(f"{len(extra):,} hour(s) are not usable hours (e.g. {extra.iloc[0]['machine_id']} at "
             f"{extra.iloc[0]['hour']:%Y-%m-%d %H:%M})", "start from `usable`")
    wrong = merged[merged["label_want"] != merged["label_got"]]
    if len(wrong):
        first = wrong.iloc[0]
        ahead = "fails within 24 h after it ends" if first["label_want"] == 1 else "has no failure in the 24 h after it ends"
        fail(f"{len(wrong):,} label(s) differ: {first['machine_id']} at {first['hour']:%Y-%m-%d %H:%M} is labelled "
             f"{int(first['label_got'])} but {ahead}")
    positives = int(truth["label"].sum())
    return (f"{len(truth):,} machine-hours labelled, {positives} of them ({positives / len(truth):.1%}) "
            f"within {ml.HORIZON_HOURS} h of a failure; the last {ml.HORIZON_HOURS} h dropped (not known yet)")


# --------------------------------------------------------------------------- 06a 2. the time split
@exercise("06", hint="test = the rows with hour >= HOLDOUT_START; train = the rows whose hour + 1 h + 24 h "
                     "<= HOLDOUT_START (a gap of one label horizon)")
def time_split(train, test, frame, start):
    """``test``: every hour of ``frame`` from ``start`` on; ``train``: every hour ending at least 24 h
    before it (the gap keeps training labels from looking into the holdout)."""
    import pandas as pd

    from lablib import ml

    train, test = _pandas(train, "train"), _pandas(test, "test")
    for df, what in ((train, "train"), (test, "test")):
        missing = [c for c in ("hour", "label") if c not in df.columns]
        if missing:
            fail(f"{what} lacks column(s) {', '.join(missing)}")
    start = pd.Timestamp(start)
    want_train, want_test = ml.time_split(frame, start)
    if len(train) and len(test) and train["hour"].max() > test["hour"].min():
        fail("train and test interleave in time (a random split?): train holds hours after the holdout starts",
             "split by time: the model must be judged on hours after every hour it learnt from")
    early = test[test["hour"] < start]
    if len(early):
        fail(f"test holds {len(early):,} hour(s) before {start:%Y-%m-%d %H:%M}")
    if len(test) != len(want_test):
        fail(f"test holds {len(test):,} hours; {len(want_test):,} hours start at or after {start:%Y-%m-%d %H:%M}")
    if len(train):
        last_end = train["hour"].max() + pd.Timedelta(hours=1)
        gap = (start - last_end) / pd.Timedelta(hours=1)
        if gap < ml.HORIZON_HOURS:
            fail(f"train's last hour ends {gap:g} h before the holdout starts: its label looks "
                 f"{ml.HORIZON_HOURS} h ahead, into the holdout", f"leave a gap of {ml.HORIZON_HOURS} h")
    if len(train) != len(want_train):
        fail(f"train holds {len(train):,} hours; {len(want_train):,} end {ml.HORIZON_HOURS} h or more before the "
             "holdout", "keep every hour before the gap")
    return (f"train {len(train):,} hours ({int(train['label'].sum())} positive) | gap {ml.HORIZON_HOURS} h | "
            f"test {len(test):,} hours ({int(test['label'].sum())} positive) from {start:%Y-%m-%d}")


# --------------------------------------------------------------------------- 06a 3. a tracked run
def _delta_input(run) -> dict:
    for ds in run.inputs.dataset_inputs if run.inputs else []:
        if ds.dataset.source_type == "delta_table":
            try:
                return json.loads(ds.dataset.source)
            except ValueError:
                break
    fail("the run has no Delta table among its inputs",
         "mlflow.log_input(mlflow.data.load_delta(path=..., version=..., targets='label'), context='training')")


def _run_model(run):
    import mlflow

    found = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id],
                                        filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list")
    if not found:
        fail("the run logged no model", "mlflow.lightgbm.log_model(model.booster_, name='model', ...)")
    return mlflow.models.get_model_info(f"models:/{found[0].model_id}")


@exercise("06", hint="inside `with mlflow.start_run() as run:` log_params, log_input(load_delta(...)), "
                     "log_metrics (pr_auc, precision, recall, cost_eur), log_figure twice, and "
                     "mlflow.lightgbm.log_model with signature= and input_example=")
def tracked_run(run_id):
    """The run is finished and holds parameters, the four metrics, two figures, the Delta table
    version it trained on, and a model with a signature and an input example."""
    from lablib import ml

    run = _run(run_id)
    if run.info.status != "FINISHED":
        fail(f"the run is {run.info.status}, not FINISHED", "log inside `with mlflow.start_run():` so it ends")
    params = run.data.params
    for p in ("n_estimators", "learning_rate", "holdout_start"):
        if p not in params:
            fail(f"the run has no parameter {p} (it has {', '.join(sorted(params)) or 'none'})")
    for m in ("pr_auc", "precision", "recall", "cost_eur"):
        if m not in run.data.metrics:
            fail(f"the run has no metric {m} (it has {', '.join(sorted(run.data.metrics)) or 'none'})")
    artifacts = [a.path for a in _client().list_artifacts(run_id)]
    for word in ("confusion", "importance"):
        if not any(word in a and a.endswith(".png") for a in artifacts):
            fail(f"the run has no {word} figure (.png) among its artifacts {artifacts}",
                 "mlflow.log_figure(fig, 'confusion_matrix.png')")
    source = _delta_input(run)
    if "path" not in source or "delta_table_version" not in source:
        fail(f"the Delta input names no path and version ({source}); MLflow drops a version 0, so train "
             "on version 1 or later", "load_delta(path=..., version=...)")
    model = _run_model(run)
    if model.signature is None or model.signature.inputs is None:
        fail("the logged model has no signature", "pass signature=infer_signature(X, predictions)")
    names = [c.name for c in model.signature.inputs.inputs]
    if names != ml.feature_columns():
        fail(f"the signature's inputs are {names[:3]}…, not the {len(ml.feature_columns())} feature columns in order")
    if not model.saved_input_example_info:
        fail("the logged model has no input example", "pass input_example=X_train.head(3)")
    return (f"run finished: {len(params)} params, pr_auc/precision/recall/cost_eur, 2 figures, trained on "
            f"ch06.features version {source['delta_table_version']}, model with signature "
            f"({len(names)} inputs) and input example")


# --------------------------------------------------------------------------- 06a 4. reproduce
@exercise("06", hint="read the run's Delta input (path, delta_table_version), read that version with "
                     "option('versionAsOf', ...), split at the logged holdout_start and fit with the logged parameters")
def reproduce(run_id, reproduced):
    """``reproduced``: the run's pr_auc, recomputed from the table version the run logged."""
    from delta.tables import DeltaTable

    run = _run(run_id)
    if "pr_auc" not in run.data.metrics:
        fail("the run has no metric pr_auc to reproduce")
    source = _delta_input(run)
    if reproduced is None:
        fail("reproduced is still None", "assign the PR-AUC of your retrained model")
    try:
        value = float(reproduced)
    except (TypeError, ValueError):
        fail(f"reproduced should be a number, not a {type(reproduced).__name__}")
    logged = run.data.metrics["pr_auc"]
    latest = DeltaTable.forPath(spark_session(), source["path"]).history(1).first()["version"]
    if value != logged:
        fail(f"your PR-AUC {value!r} differs from the logged {logged!r}",
             f"train on version {source.get('delta_table_version')} (versionAsOf), not the latest ({latest}), "
             "with the logged parameters and split")
    moved = (f"; the table is at version {latest} now" if latest != source.get("delta_table_version") else "")
    return f"PR-AUC {logged:.4f} reproduced exactly from version {source.get('delta_table_version')}{moved}"


# --------------------------------------------------------------------------- 06b 1. a study as nested runs
@exercise("06", hint="inside the parent run, each trial in `with mlflow.start_run(nested=True):` logs its "
                     "params and metric val_ap; after optimize, log best_val_ap on the parent")
def nested_study(parent_run_id):
    """The parent run holds at least 3 trial runs (each with params and val_ap) and best_val_ap = their best."""
    run = _run(parent_run_id, "parent_run_id")
    children = _client().search_runs([run.info.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=1000)
    if len(children) < 3:
        fail(f"the parent run has {len(children)} nested run(s); expected one per trial (at least 3)",
             "open each trial's run with mlflow.start_run(nested=True) inside the parent's")
    bad = [c.info.run_name for c in children if "val_ap" not in c.data.metrics or not c.data.params]
    if bad:
        fail(f"{len(bad)} trial run(s) lack params or the metric val_ap (e.g. {bad[0]})")
    best = max(c.data.metrics["val_ap"] for c in children)
    logged = run.data.metrics.get("best_val_ap")
    if logged is None:
        fail("the parent run has no metric best_val_ap", "mlflow.log_metric('best_val_ap', study.best_value)")
    if not math.isclose(logged, best, rel_tol=0, abs_tol=1e-12):
        fail(f"best_val_ap is {logged:.4f}, the best trial scored {best:.4f}")
    return "the study's trials are nested runs with their params and val_ap; the parent holds the best"


# --------------------------------------------------------------------------- 06b 2. aliases
@exercise("06", hint="register both runs' models (mlflow.register_model(model_uri, name)) and "
                     "client.set_registered_model_alias(name, 'champion' / 'challenger', version)")
def aliases(name):
    """``name`` has a champion and a challenger alias on two different versions, each a model with a signature."""
    import mlflow

    _registered(name)
    found = {alias: _alias_version(name, alias) for alias in ALIASES}
    if found["champion"] == found["challenger"]:
        fail(f"champion and challenger both point at version {found['champion']}",
             "register the tuned model as a new version and point challenger at it")
    for alias, version in found.items():
        info = mlflow.models.get_model_info(f"models:/{name}/{version}")
        if info.signature is None:
            fail(f"version {version} ({alias}) has no signature", "log the model with signature=")
    return f"{name}: champion -> version {found['champion']}, challenger -> version {found['challenger']}"


# --------------------------------------------------------------------------- 06b 3. the promotion rule
_TRIAL = "ch06-promotion-check"


def _average_precision(y, scores) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, scores))


@exercise("06", hint="score models:/{name}@champion and models:/{name}@challenger on the same holdout; only "
                     "when the challenger's PR-AUC is strictly higher, point champion at its version; return "
                     "True when promoted")
def promotion(rule, name, X_holdout, y_holdout):
    """``rule(name, X, y)`` moves the champion alias to the challenger exactly when the challenger
    scores strictly better on (X, y), and returns whether it did. Tried here on a copy of ``name``'s
    two versions in three situations: challenger better, challenger worse, a tie."""
    from mlflow.exceptions import MlflowException

    if rule is None or not callable(rule):
        fail("promote is still None" if rule is None else f"promote should be a function, not a {type(rule).__name__}")
    _registered(name)
    champion, challenger = (_alias_version(name, alias) for alias in ALIASES)
    _pandas(X_holdout, "X_holdout")
    score = {v: _average_precision(y_holdout, _predict(f"models:/{name}/{v}", X_holdout)) for v in (champion, challenger)}
    if score[champion] == score[challenger]:
        fail(f"versions {champion} and {challenger} score the same on the holdout; the check needs two that differ")
    better, worse = sorted((champion, challenger), key=lambda v: -score[v])
    client = _client()
    try:
        client.delete_registered_model(_TRIAL)
    except MlflowException:
        pass
    client.create_registered_model(_TRIAL, description="scratch copy made by lablib.check.ch06.promotion")
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints a line per copy
            copies = {v: int(client.copy_model_version(f"models:/{name}/{v}", _TRIAL).version) for v in (better, worse)}
            tie = int(client.copy_model_version(f"models:/{name}/{worse}", _TRIAL).version)
        situations = (("a better challenger", copies[worse], copies[better], True),
                      ("a worse challenger", copies[better], copies[worse], False),
                      ("a challenger that only ties", copies[worse], tie, False))
        for what, champ, chall, promote in situations:
            client.set_registered_model_alias(_TRIAL, "champion", champ)
            client.set_registered_model_alias(_TRIAL, "challenger", chall)
            answer = rule(_TRIAL, X_holdout, y_holdout)
            now = int(client.get_model_version_by_alias(_TRIAL, "champion").version)
            if promote and now != chall:
                fail(f"with {what} (PR-AUC {score[better]:.3f} vs {score[worse]:.3f}) the champion stayed")
            if not promote and now != champ:
                fail(f"with {what} the champion moved", "promote only when the challenger is strictly better")
            if bool(answer) != promote:
                fail(f"with {what} promote returned {answer!r}; return True only when it promoted")
    finally:
        try:
            client.delete_registered_model(_TRIAL)
        except MlflowException:
            pass
    return ("the rule promotes a better challenger and keeps the champion against a worse one and a tie "
            "(same holdout for both)")


# --------------------------------------------------------------------------- 06c 1. batch scores
@exercise("06", hint="mlflow.pyfunc.spark_udf(spark, f'models:/{MODEL}/{version}', env_manager='local', "
                     "result_type='double') over the feature columns; add model_name and model_version; "
                     ".write.format('delta').mode('append').saveAsTable(...)")
def batch_scores(table, scored, name):
    """``table`` holds one score per hour of ``scored`` for each version it was scored with, written by
    appends, with the model's name and version; the scores are the registered versions' own."""
    import numpy as np
    from pyspark.sql import functions as F

    from lablib import ml
    from lablib.check._spark import history

    spark = spark_session()
    if not isinstance(table, str):
        fail(f"give the predictions table's name (a str), not a {type(table).__name__}")
    need_table(spark, table)
    need_dataframe(scored, "new_hours")
    df = spark.table(table)
    need_columns(df, [*KEY, "score", "model_name", "model_version"], table)
    per_version = (df.groupBy("model_version").agg(
        F.count("*").alias("rows"), F.countDistinct("machine_id", "hour").alias("hours"),
        F.collect_set("model_name").alias("names")).orderBy("model_version").collect())
    if not per_version:
        fail(f"{table} is empty")
    names = {n for r in per_version for n in r["names"]}
    if names != {name}:
        fail(f"model_name holds {sorted(map(str, names))}, expected only {name}")
    versions = [int(r["model_version"]) for r in per_version]
    hours = scored.count()
    for r in per_version:
        if r["rows"] != r["hours"]:
            fail(f"{r['rows'] - r['hours']} (machine_id, hour) row(s) of version {r['model_version']} appear twice")
        if r["rows"] != hours:
            fail(f"version {r['model_version']} scored {r['rows']:,} rows; new_hours has {hours:,}",
                 "score every row once per version")
    for commit in history(_delta_table(spark, table)):
        mode = (commit["operationParameters"] or {}).get("mode", "")
        if mode == "Overwrite" or commit["operation"].startswith(("REPLACE", "CREATE OR REPLACE")):
            fail(f"{table} was overwritten at version {commit['version']}",
                 "append (mode('append')) so the scores of earlier versions stay queryable")
    feature_cols = ml.feature_columns()
    sample = (df.join(scored.select(*KEY, *feature_cols), KEY).orderBy("model_version", *KEY).limit(60).toPandas())
    for version, rows in sample.groupby("model_version"):
        want = _predict(f"models:/{name}/{int(version)}", rows[feature_cols])
        gap = float(np.max(np.abs(want - rows["score"].to_numpy(dtype="float64"))))
        if not gap < 1e-9:
            fail(f"the scores of version {int(version)} differ from that version's own predictions by up to {gap:.3g}",
                 "score with the same version you record in model_version")
    return (f"{table}: {hours:,} hours scored by version(s) {', '.join(map(str, versions))} of {name}, "
            "appended, each score = the registered version's prediction")


def _delta_table(spark, table):
    from delta.tables import DeltaTable

    return DeltaTable.forName(spark, table)


# --------------------------------------------------------------------------- 06c 2. online = batch
@exercise("06", hint="POST json=lablib.ml.json_rows(rows[FEATURES]) to url + '/invocations' "
                     "and take response.json()['predictions']")
def served_prediction(url, rows, online, table="ch06.predictions"):
    """The model served at ``url`` answers, ``online`` is its score of each of ``rows`` in order, and
    each equals the batch score of the same hour by the same version."""
    import numpy as np
    import requests

    from lablib import ml, services

    if url is None:
        fail("url is still None", "url = lablib.serve_model(f'models:/{MODEL}@champion')")
    served = services.served_model()
    try:
        alive = requests.get(f"{str(url).rstrip('/')}/ping", timeout=5).status_code == 200
    except requests.RequestException:
        alive = False
    if not alive or served is None:
        fail(f"the model server at {url} does not answer", "start it with lablib.serve_model(model_uri)")
    rows = _pandas(rows, "rows")
    missing = [c for c in (*KEY, *ml.feature_columns()) if c not in rows.columns]
    if missing:
        fail(f"rows lacks column(s) {', '.join(missing[:3])}")
    if online is None:
        fail("online is still None", "assign the served model's predictions")
    try:
        got = np.asarray(online, dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        fail(f"online should be a list of numbers, not {type(online).__name__}")
    if len(got) != len(rows):
        fail(f"online holds {len(got)} score(s) for {len(rows)} row(s)")
    spark = spark_session()
    batch = (spark.table(table).where(f"model_version = {int(served['version'])}")
             .select(*KEY, "score").toPandas())
    joined = rows[KEY].merge(batch, on=KEY, how="left")
    if joined["score"].isna().any():
        fail(f"{int(joined['score'].isna().sum())} row(s) have no batch score by the served version "
             f"{served['version']} in {table}")
    gap = float(np.max(np.abs(joined["score"].to_numpy() - got)))
    if not gap < 1e-9:
        fail(f"online and batch scores differ by up to {gap:.3g}",
             "send the feature columns in the signature's order and keep the rows' order")
    answer = requests.post(f"{str(url).rstrip('/')}/invocations", timeout=30,
                           json=ml.json_rows(rows[ml.feature_columns()])).json()
    again = np.asarray(answer["predictions"], dtype="float64")
    if float(np.max(np.abs(again - got))) >= 1e-9:
        fail("online differs from what the server answers for these rows now")
    return (f"{len(rows)} rows: the served version {served['version']} answers exactly the batch scores "
            "(max difference < 1e-9)")


# --------------------------------------------------------------------------- 06c 3. PSI
def reference_psi(expected, actual, bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected``: bins at the deciles of ``expected``, shares floored at 1e-4."""
    import numpy as np

    expected = np.asarray(expected, dtype="float64")
    actual = np.asarray(actual, dtype="float64")
    expected, actual = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.maximum(np.histogram(expected, edges)[0] / len(expected), 1e-4)
    a = np.maximum(np.histogram(actual, edges)[0] / len(actual), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


@exercise("06", hint="edges = the deciles of expected (first and last opened to ±inf); the share of each in "
                     "every bin (floored at 1e-4, so an empty bin is no log(0)); PSI = sum((a - e) * ln(a / e))")
def psi(fn):
    """``fn(expected, actual)`` computes the population stability index as the chapter defines it:
    ~0 for the same distribution, finite when a bin is empty, and equal (within 1 %) to the reference."""
    import numpy as np

    if fn is None or not callable(fn):
        fail("psi is still None" if fn is None else f"psi should be a function, not a {type(fn).__name__}")
    rng = np.random.default_rng(6)
    base = rng.normal(50, 5, 4000)
    cases = {
        "the same distribution": (base, rng.normal(50, 5, 4000)),
        "a shift of one standard deviation": (base, rng.normal(55, 5, 4000)),
        "a wider spread": (base, rng.normal(50, 9, 4000)),
        "all values above the training range (empty bins)": (base, rng.normal(90, 1, 500)),
    }
    for what, (e, a) in cases.items():
        try:
            got = float(fn(e, a))
        except (TypeError, ValueError) as exc:
            fail(f"psi(expected, actual) did not return a number for {what} ({type(exc).__name__})")
        want = reference_psi(e, a)
        if not math.isfinite(got):
            fail(f"psi is {got} for {what}", "floor each share at 1e-4 so an empty bin gives no log(0)")
        if not math.isclose(got, want, rel_tol=0.01, abs_tol=0.002):
            fail(f"psi is {got:.4f} for {what}; the chapter's definition gives {want:.4f}",
                 "bins from expected's deciles; shares, not counts; sum((a - e) * ln(a / e))")
    same, shifted = reference_psi(*cases["the same distribution"]), reference_psi(*cases["a shift of one standard deviation"])
    return f"PSI {same:.3f} for the same distribution, {shifted:.2f} for a shift of one standard deviation, finite on empty bins"
