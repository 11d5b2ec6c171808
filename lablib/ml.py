"""Chapter 06's machine-learning helpers: the failure features every part of the chapter starts from.

On the face as ``lablib.ml``::

    silver = lablib.ml.silver_telemetry()          # typed, cleaned, deduplicated readings
    hours = lablib.ml.machine_hours(silver)        # one row per machine and hour
    feats = lablib.ml.rolling_features(hours)      # + rolling means, spreads and slopes
    lablib.ml.build_feature_table("ch06.features") # all of it, labelled, as a Delta table
    train, test = lablib.ml.time_split(frame, lablib.ml.holdout_start(frame))

A part of the chapter that runs alone builds what an earlier part taught with these functions
(the label and the split here are the reference the checks compare a learner's answer with).
The model trainer is deterministic (one thread, fixed seeds), so the same rows give the same model.
"""

from __future__ import annotations

SENSORS = ("temperature_c", "vibration_mm_s", "power_kw", "rpm")
#: hours of the rolling windows: a short one (what is happening now) and a day (the machine's recent normal)
WINDOWS = (3, 24)
#: hours over which the trend (least-squares slope per hour) of each sensor is fitted
SLOPE_HOURS = 12
#: the label: the machine fails within this many hours after the hour's end
HORIZON_HOURS = 24
KEY = ["machine_id", "hour"]
_TIME_FORMATS = ("yyyy-MM-dd HH:mm:ss", "MM/dd/yyyy HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ssX")


def feature_columns() -> list[str]:
    """The model's inputs, in a fixed order."""
    cols = []
    for s in SENSORS:
        cols += [f"{s}_mean_{w}h" for w in WINDOWS] + [f"{s}_std_{WINDOWS[-1]}h", f"{s}_slope_{SLOPE_HOURS}h",
                                                       f"{s}_ratio"]
    return cols + [f"warnings_{WINDOWS[-1]}h"]


def silver_telemetry():
    """The telemetry readings typed and cleaned (chapters 02 and 04 teach how): times parsed in their
    three formats (unparseable ones dropped), ids and statuses trimmed and upper-cased, impossible
    temperatures set to null, exact duplicate readings dropped."""
    from lablib import data

    return clean_telemetry(data.read("telemetry"))


def clean_telemetry(raw, keep=()):
    """:func:`silver_telemetry`'s cleaning of any telemetry DataFrame read as landed (the one place
    of it: chapter 09's pipeline cleans each landed day with it); ``keep``: columns passed through."""
    from pyspark.sql import functions as F

    temperature = F.expr("try_cast(temperature_c AS DOUBLE)")
    return (raw.select(
        *keep,
        F.coalesce(*[F.try_to_timestamp("event_time", F.lit(f)) for f in _TIME_FORMATS]).alias("event_time"),
        F.upper(F.trim("machine_id")).alias("machine_id"),
        F.when(temperature.between(-20, 150), temperature).alias("temperature_c"),
        "vibration_mm_s", F.col("rpm").cast("double").alias("rpm"), "power_kw",
        F.upper(F.trim("status")).alias("status"))
        .where(F.col("event_time").isNotNull())
        .dropDuplicates(["machine_id", "event_time"]))


def machine_hours(silver):
    """One row per machine and hour: the mean of each sensor over the readings taken while it ran
    (RUNNING or WARNING), the count of WARNINGs, and ``down`` when the hour holds the failure or
    maintenance. Idle-only hours have null sensor means."""
    from pyspark.sql import functions as F

    from lablib import data

    running = F.col("status").isin("RUNNING", "WARNING")
    machines = data.read("machines").select("machine_id", "factory_id")
    return (silver.groupBy("machine_id", F.date_trunc("hour", "event_time").alias("hour"))
            .agg(*[F.avg(F.when(running, F.col(s))).alias(s) for s in SENSORS],
                 F.sum(F.when(F.col("status") == "WARNING", 1).otherwise(0)).alias("warnings"),
                 F.sum(F.when(running, 1).otherwise(0)).alias("running_readings"),
                 F.max(F.col("status").isin("FAILURE", "MAINTENANCE")).alias("down"))
            .join(machines, "machine_id", "left"))


def rolling_features(hours):
    """Per machine and hour, over the hours up to and including it (never after: these are what is
    known when the hour ends): each sensor's mean over WINDOWS, its spread (std) over a day, its
    trend (slope per hour, least squares) over SLOPE_HOURS, the ratio of the short mean to the day's
    mean, and the WARNINGs of the day. Windows are in time (rangeBetween), so a missing hour is not
    taken for the one before it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    t = (F.col("hour").cast("long") / 3600).cast("double")  # hours since 1970: the x of the slope

    def past(hours_back: int):
        return Window.partitionBy("machine_id").orderBy(t).rangeBetween(-(hours_back - 1), 0)

    short, day = WINDOWS[0], WINDOWS[-1]
    cols = []
    for s in SENSORS:
        cols += [F.avg(s).over(past(w)).alias(f"{s}_mean_{w}h") for w in WINDOWS]
        cols.append(F.stddev_samp(s).over(past(day)).alias(f"{s}_std_{day}h"))
        x = F.when(F.col(s).isNotNull(), t)
        cols.append(F.try_divide(F.covar_pop(x, F.col(s)).over(past(SLOPE_HOURS)),
                                 F.var_pop(x).over(past(SLOPE_HOURS))).alias(f"{s}_slope_{SLOPE_HOURS}h"))
    cols.append(F.sum("warnings").over(past(day)).cast("double").alias(f"warnings_{day}h"))
    out = hours.select("*", *cols)
    # the short mean relative to the day's: every machine has its own normal level
    return out.select("*", *[F.try_divide(f"{s}_mean_{short}h", f"{s}_mean_{day}h").alias(f"{s}_ratio")
                             for s in SENSORS])


def usable(features):
    """The hours a model judges: the machine ran (some RUNNING or WARNING reading) and was not down."""
    from pyspark.sql import functions as F

    return features.where(~F.col("down") & (F.col("running_readings") > 0))


def label(hours, failures, last_hour, horizon_hours: int = HORIZON_HOURS):
    """The reference label: 1 when the machine fails within ``horizon_hours`` after the hour ends,
    else 0. Hours whose horizon reaches past ``last_hour``'s end are dropped: their future is not
    known yet (right-censored)."""
    from pyspark.sql import functions as F

    ends = F.col("hour") + F.expr("INTERVAL 1 HOUR")
    horizon = F.expr(f"INTERVAL {horizon_hours} HOURS")
    known = hours.where(ends + horizon <= F.lit(last_hour) + F.expr("INTERVAL 1 HOUR"))
    f = failures.select("machine_id", "failure_time")
    soon = (known.alias("h").join(
        f.alias("f"),
        (F.col("h.machine_id") == F.col("f.machine_id")) & (F.col("f.failure_time") > ends)
        & (F.col("f.failure_time") <= ends + horizon), "left")
        .groupBy(*[F.col(f"h.{c}") for c in KEY]).agg(F.count("f.failure_time").alias("failures_ahead")))
    return known.join(soon, KEY).withColumn("label", (F.col("failures_ahead") > 0).cast("int")).drop("failures_ahead")


def build_feature_table(name: str = "ch06.features") -> str:
    """Silver telemetry -> machine hours -> rolling features -> label, written as the Delta table
    ``name`` (replaced); returns its path. Parts of chapter 06 that run alone start here."""
    from pyspark.sql import functions as F

    from lablib import data
    from lablib.paths import local_path
    from lablib.session import spark

    session = spark()
    session.sql(f"CREATE DATABASE IF NOT EXISTS {name.split('.')[0]}")
    feats = rolling_features(machine_hours(silver_telemetry())).cache()
    last_hour = feats.agg(F.max("hour")).first()[0]
    table = label(usable(feats), data.read("failures"), last_hour)
    (table.select(*KEY, "factory_id", *feature_columns(), "label")
     .write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(name))
    feats.unpersist()
    return str(local_path(session.sql(f"DESCRIBE DETAIL {name}").first()["location"]))


def holdout_start(frame):
    """The hour the time-ordered holdout starts: the first hour from which about a third of the
    positive hours lie ahead (a holdout with failures in it, at any scale). ``frame``: pandas, with
    ``hour`` and ``label``."""
    positives = frame.loc[frame["label"] == 1, "hour"].sort_values()
    return positives.iloc[int(len(positives) * 2 / 3)].floor("D")


def time_split(frame, start, gap_hours: int = HORIZON_HOURS):
    """(train, test): test = the hours from ``start`` on; train = the hours ending ``gap_hours``
    before it, so no training label looks into the test period. ``frame``: pandas."""
    import pandas as pd

    start = pd.Timestamp(start)
    train = frame[frame["hour"] + pd.Timedelta(hours=1 + gap_hours) <= start]
    test = frame[frame["hour"] >= start]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def machine_split(frame, every: int = 3):
    """(fit, validation) inside a training period: every ``every``-th machine (in id order) validates.
    A drift episode belongs to one machine, so it never lands on both sides, and the holdout stays
    untouched for the final comparison. ``frame``: pandas."""
    machines = sorted(frame["machine_id"].unique())
    held = set(machines[every - 1::every])
    val = frame["machine_id"].isin(held)
    return frame[~val].reset_index(drop=True), frame[val].reset_index(drop=True)


def json_rows(frame) -> dict:
    """The body of a request to a served model (``dataframe_split``), every value as exact as
    Python's float repr and missing values as null (JSON has no NaN)."""
    import pandas as pd

    cells = frame.astype(object).where(pd.notna(frame), None)
    return {"dataframe_split": {"columns": list(frame.columns), "data": cells.values.tolist()}}


#: the baseline LightGBM of the chapter: small, one thread, seeded, so a retrain is bit-for-bit the same
LGBM_PARAMS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20,
               "subsample": 1.0, "colsample_bytree": 0.8, "reg_lambda": 1.0}


def train_lightgbm(X, y, sample_weight=None, **params):
    """A LightGBM classifier fitted deterministically (one thread, fixed seed) on ``X``, ``y``;
    ``sample_weight``: how many hours each row stands for, when the rows are a weighted sample."""
    import lightgbm as lgb

    settings = {**LGBM_PARAMS, **params, "random_state": 6, "n_jobs": 1, "deterministic": True,
                "force_row_wise": True, "verbose": -1}
    return lgb.LGBMClassifier(**settings).fit(X, y, sample_weight=sample_weight)


#: a second configuration, deeper and slower-learning, for the parts that need a challenger without
#: running a search (06c); 06b finds its own with Optuna
CHALLENGER_PARAMS = {"n_estimators": 300, "learning_rate": 0.03, "num_leaves": 31, "min_child_samples": 10,
                     "colsample_bytree": 0.6}


def log_lightgbm(model, X, name: str = "model", registered_model_name: str | None = None):
    """Log a fitted LightGBM model with MLflow's own lightgbm flavor: its booster (whose predictions
    are the failure probability), a signature and an input example. The requirement is named, so
    MLflow need not start a Python process to discover it (seconds per model)."""
    import lightgbm as lgb
    import mlflow
    from mlflow.models import infer_signature

    booster = model.booster_
    signature = infer_signature(X, booster.predict(X.head(20)))
    return mlflow.lightgbm.log_model(booster, name=name, signature=signature, input_example=X.head(3),
                                     pip_requirements=[f"lightgbm=={lgb.__version__}"],
                                     registered_model_name=registered_model_name)


def register_candidates(name: str, train, experiment: str = "ch06-failures") -> dict[str, int]:
    """The registry state 06b ends with, for a part that starts from it: the baseline
    (LGBM_PARAMS) and a challenger (CHALLENGER_PARAMS) trained on ``train`` (pandas), each logged in
    its own run of ``experiment``, registered as versions of ``name``, with the aliases champion ->
    baseline and challenger -> the other. Returns {"champion": version, "challenger": version}."""
    import contextlib
    import io

    import mlflow

    from lablib import services

    mlflow.set_tracking_uri(services.mlflow_uri())
    mlflow.set_experiment(experiment)
    client = mlflow.MlflowClient()
    X, y = train[feature_columns()], train["label"]
    versions = {}
    for alias, params in (("champion", LGBM_PARAMS), ("challenger", CHALLENGER_PARAMS)):
        with mlflow.start_run(run_name=f"{alias}-candidate"):
            mlflow.log_params(params)
            with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Created version ..." lines
                info = log_lightgbm(train_lightgbm(X, y, **params), X, registered_model_name=name)
        versions[alias] = int(info.registered_model_version)
        client.set_registered_model_alias(name, alias, versions[alias])
    return versions
