"""Checks of chapter 04, batch and stream processing.

Every check recomputes the truth on its own from the raw files (the dataset's
telemetry, or the batch files the replayer wrote), with pandas rather than
Spark, so a learner's Spark mistake cannot hide in the reference.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from lablib.check import exercise, fail
from lablib.check._spark import need_columns, need_dataframe, need_delta, spark_session
from lablib.paths import local_path

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")
STATUSES = {"RUNNING", "IDLE", "WARNING", "FAILURE", "MAINTENANCE"}
CLEAN_COLUMNS = ["event_time", "machine_id", "temperature_c", "vibration_mm_s", "rpm", "power_kw", "status"]
KEY = ["machine_id", "event_time"]


# --------------------------------------------------------------------------- the truth, from raw files
def _telemetry_files() -> list[Path]:
    from lablib import data

    folder = data.path("telemetry")
    return sorted(p for p in folder.iterdir() if p.suffix == ".csv" and not p.name.startswith((".", "_")))


@functools.lru_cache(maxsize=16)
def _raw(files: tuple[str, ...]):
    """The rows of CSV telemetry files as text, with the file each came from."""
    import pandas as pd

    frames = []
    for f in files:
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        df["_file"] = Path(f).name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _parse_times(text):
    import pandas as pd

    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in TIME_FORMATS:
        out = out.fillna(pd.to_datetime(text, format=fmt, errors="coerce"))
    return out


@functools.lru_cache(maxsize=16)
def _clean(files: tuple[str, ...]):
    """The cleaned readings as the chapter defines them (row by row; duplicates kept)."""
    import pandas as pd

    raw = _raw(files)
    df = pd.DataFrame({
        "event_time": _parse_times(raw["event_time"]),
        "machine_id": raw["machine_id"].str.strip().str.upper(),
        "status": raw["status"].str.strip().str.upper(),
        "temperature_c": pd.to_numeric(raw["temperature_c"], errors="coerce"),
        "vibration_mm_s": pd.to_numeric(raw["vibration_mm_s"], errors="coerce"),
        "_file": raw["_file"],
    })
    bad = (df["temperature_c"] < -20) | (df["temperature_c"] > 150)
    df.loc[bad, "temperature_c"] = float("nan")
    return df[df["event_time"].notna()].reset_index(drop=True)


def _files_key(paths) -> tuple[str, ...]:
    return tuple(str(p) for p in paths)


def _landing_files(landing) -> list[Path]:
    if landing is None:
        fail("the landing folder is None")
    folder = local_path(landing)
    files = sorted(p for p in folder.glob("*.csv") if not p.name.startswith((".", "_")))
    if not files:
        from lablib.paths import rel

        fail(f"no batch files in {rel(folder)}; run the replayer cell first")
    return files


def _to_pandas(df, columns):
    return df.select(*columns).toPandas()


def _machines():
    import pandas as pd

    from lablib import data

    return pd.read_csv(data.path("machines"), dtype=str)[["machine_id", "factory_id", "machine_type"]]


def _sample(keys, n=1) -> str:
    keys = list(keys)[:n]
    return ", ".join(str(k) for k in keys)


# --------------------------------------------------------------------------- 1. clean
@exercise("04", hint="parse event_time with try_to_timestamp in each of the three formats and coalesce them; "
                     "trim and upper-case the ids and statuses; try_cast the temperature and null it outside "
                     "-20 … 150")
def clean(df):
    """``df``: clean_telemetry(lablib.data.read("telemetry")): typed, normalised, malformed times dropped."""
    import pandas as pd

    need_dataframe(df, "telemetry")
    need_columns(df, CLEAN_COLUMNS, "the cleaned telemetry")
    types = dict(df.dtypes)
    for col, want in (("event_time", "timestamp"), ("temperature_c", "double")):
        if types[col] != want:
            fail(f"{col} is {types[col]}, it should be {want}")
    truth = _clean(_files_key(_telemetry_files()))
    got = _to_pandas(df, ["event_time", "machine_id", "status", "temperature_c"])
    if got["event_time"].isna().any():
        fail(f"{int(got['event_time'].isna().sum())} row(s) have no event_time",
             "drop the rows whose time parses in none of the formats")
    if len(got) != len(truth):
        diff = len(truth) - len(got)
        more = f"{diff} reading(s) fewer" if diff > 0 else f"{-diff} reading(s) more"
        fail(f"{len(got):,} readings, expected {len(truth):,} ({more}; the mixed-format times must parse, "
             "only unparseable ones are dropped, and no row is deduplicated here)")
    bad_ids = got.loc[~got["machine_id"].fillna("").str.fullmatch(r"M-\d{5}"), "machine_id"]
    if len(bad_ids):
        fail(f"{len(bad_ids)} machine_id value(s) are not canonical (e.g. {bad_ids.iloc[0]!r})")
    bad_status = sorted(set(got["status"].dropna()) - STATUSES)
    if bad_status:
        fail(f"status has non-canonical values: {', '.join(repr(s) for s in bad_status[:3])}")
    want = truth.groupby(["machine_id", "event_time"]).size()
    have = got.groupby(["machine_id", "event_time"]).size()
    differ = want.sub(have, fill_value=0)
    differ = differ[differ != 0]
    if len(differ):
        fail(f"{len(differ)} (machine_id, event_time) pair(s) differ from the raw data, e.g. {differ.index[0]}",
             "check the formats: MM/dd/yyyy HH:mm:ss and yyyy-MM-dd'T'HH:mm:ss'Z' (times are UTC)")
    nulls_want, nulls_have = int(truth["temperature_c"].isna().sum()), int(got["temperature_c"].isna().sum())
    if nulls_have != nulls_want:
        fail(f"{nulls_have} temperatures are null, expected {nulls_want} (the NA strings plus the outliers)")
    if abs(float(got["temperature_c"].sum()) - float(truth["temperature_c"].sum())) > 0.01 * len(truth):
        fail("the temperatures differ from the raw values")
    raw = _raw(_files_key(_telemetry_files()))
    dropped = len(raw) - len(truth)
    canonical = pd.to_datetime(raw["event_time"], format=TIME_FORMATS[0], errors="coerce")
    parsed_other = int(canonical.isna().sum()) - dropped
    return (f"{len(truth):,} readings typed; {parsed_other} mixed-format times parsed, {dropped} malformed "
            f"dropped, {nulls_want} bad temperatures set to null")


# --------------------------------------------------------------------------- 2. window function
@exercise("04", hint="average the temperature per machine, join the machines for factory_id, then "
                     "F.dense_rank().over(Window.partitionBy('factory_id').orderBy(F.desc('avg_temperature_c')))"
                     " and keep rank <= 2")
def hottest(df):
    """``df``: per factory, the two machines with the highest average temperature, with their rank."""

    need_dataframe(df, "hottest")
    need_columns(df, ["factory_id", "machine_id", "avg_temperature_c", "rank"], "hottest")
    truth = _clean(_files_key(_telemetry_files()))
    avg = truth.groupby("machine_id")["temperature_c"].mean().rename("avg").reset_index()
    avg = avg.merge(_machines(), on="machine_id")
    avg["rank"] = avg.groupby("factory_id")["avg"].rank(method="dense", ascending=False).astype(int)
    want = avg[avg["rank"] <= 2].set_index(["factory_id", "rank"]).sort_index()
    got = _to_pandas(df, ["factory_id", "machine_id", "avg_temperature_c", "rank"])
    if got.duplicated(["factory_id", "machine_id"]).any():
        fail("a machine appears twice in the same factory")
    if len(got) != len(want):
        fail(f"{len(got)} rows, expected {len(want)} (the top 2 of each of {want.index.get_level_values(0).nunique()}"
             " factories)")
    got["rank"] = got["rank"].astype(int)
    got = got.set_index(["factory_id", "rank"]).sort_index()
    if not got.index.equals(want.index):
        fail("the (factory_id, rank) pairs differ from the expected top 2 per factory")
    wrong = got.index[got["machine_id"] != want["machine_id"]]
    if len(wrong):
        f, r = wrong[0]
        fail(f"rank {r} of factory {f} should be {want.loc[(f, r), 'machine_id']}, not {got.loc[(f, r), 'machine_id']}",
             "rank by the average temperature, highest first, within each factory")
    if (got["avg_temperature_c"] - want["avg"]).abs().max() > 1e-6:
        fail("the average temperatures differ (nulls must be left out of the average, outliers nulled)")
    return f"top 2 machines of {want.index.get_level_values(0).nunique()} factories, ranked by average temperature"


# --------------------------------------------------------------------------- 3. partitioned write
@exercise("04", hint='telemetry.withColumn("event_date", F.to_date("event_time")).repartition("event_date")'
                     '.write.partitionBy("event_date").mode("overwrite").parquet(path)')
def partitioned(path):
    """``path``: the cleaned telemetry as Parquet, partitioned by event_date, exactly one file per date."""
    if path is None:
        fail("by_day_path is still None")
    root = local_path(path)
    if not root.is_dir():
        from lablib.paths import rel

        fail(f"nothing written at {rel(root)}")
    truth = _clean(_files_key(_telemetry_files()))
    want_dates = sorted({d.isoformat() for d in truth["event_time"].dt.date})
    parts = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("event_date="))
    if not parts:
        fail("no event_date=… folders: the data is not partitioned by event_date",
             'write with .partitionBy("event_date")')
    dates = [p.name.split("=", 1)[1] for p in parts]
    if dates != want_dates:
        missing = sorted(set(want_dates) - set(dates))
        extra = sorted(set(dates) - set(want_dates))
        fail(f"the date folders differ: missing {missing[:3]}, unexpected {extra[:3]}")
    files = {p.name: [f for f in p.iterdir() if f.name.endswith(".parquet")] for p in parts}
    many = {k: len(v) for k, v in files.items() if len(v) != 1}
    if many:
        k = next(iter(many))
        fail(f"{len(many)} date folder(s) do not hold exactly one file (e.g. {k}: {many[k]} files)",
             "repartition by the partition column before writing, so each date lands in one task")
    n = spark_session().read.parquet(str(root)).count()
    if n != len(truth):
        fail(f"{n:,} rows in the files, the cleaned telemetry has {len(truth):,}")
    return f"{len(parts)} date folders, one file each, {n:,} readings"


# --------------------------------------------------------------------------- 4. watermark
def _batches(checkpoint: str) -> tuple[dict[int, list[str]], int]:
    """The files each micro-batch of a file-source query read, and the last committed batch id."""
    root = local_path(checkpoint)
    src = root / "sources" / "0"
    if not src.is_dir():
        from lablib.paths import rel

        fail(f"no file-source log in the checkpoint {rel(root)}; did the query run with this checkpointLocation?")
    per_batch: dict[int, set[str]] = {}
    for f in src.iterdir():
        if f.name.startswith(".") or f.name.endswith(".tmp"):
            continue
        for line in f.read_text().splitlines()[1:]:
            if line.strip():
                entry = json.loads(line)
                per_batch.setdefault(int(entry["batchId"]), set()).add(str(local_path(entry["path"])))
    commits = [int(p.name) for p in (root / "commits").iterdir() if p.name.isdigit()] if (root / "commits").is_dir() else []
    if not commits:
        fail("the query committed no micro-batch")
    return {b: sorted(v) for b, v in per_batch.items()}, max(commits)


def simulate_watermark(checkpoint: str, delay_minutes: float, window_minutes: int = 60):
    """What an append-mode windowed count with a watermark emits, batch by batch, as Spark (3.4+) runs it.

    At batch b Spark evicts (emits) windows whose end <= E[b] = max event time of batches < b minus the
    delay, and drops input rows whose window end <= L[b] = E[b-1] (the watermark of the batch before).
    Returns (emitted: DataFrame machine_id, window_start, readings, avg_temperature_c; dropped: DataFrame).
    """
    import pandas as pd

    per_batch, last = _batches(checkpoint)
    delay = pd.Timedelta(minutes=delay_minutes)
    width = pd.Timedelta(minutes=window_minutes)
    epoch = pd.Timestamp(0)
    state: dict[tuple, list] = {}
    emitted, dropped = [], []
    max_seen = None
    evict_prev = epoch  # E[b-1]
    for b in range(last + 1):
        evict = (max_seen - delay) if max_seen is not None else epoch  # E[b]
        evict = max(evict, evict_prev)
        late = evict_prev if b > 0 else epoch  # L[b] = E[b-1]
        files = per_batch.get(b, [])
        if files:
            rows = _clean(_files_key(files))
            starts = rows["event_time"].dt.floor(f"{window_minutes}min")
            is_late = (starts + width) <= late
            dropped.append(rows[is_late].assign(batch=b))
            ok = rows[~is_late].assign(window_start=starts[~is_late])
            for (m, w), g in ok.groupby(["machine_id", "window_start"]):
                s = state.setdefault((m, w), [0, 0.0, 0])
                s[0] += len(g)
                s[1] += float(g["temperature_c"].sum())
                s[2] += int(g["temperature_c"].notna().sum())
            batch_max = rows["event_time"].max()
            max_seen = batch_max if max_seen is None else max(max_seen, batch_max)
        for key in [k for k in state if k[1] + width <= evict]:
            n, total, valid = state.pop(key)
            emitted.append({"machine_id": key[0], "window_start": key[1], "readings": n,
                            "avg_temperature_c": total / valid if valid else float("nan"), "batch": b})
        evict_prev = evict
    dropped_df = pd.concat(dropped, ignore_index=True) if dropped else pd.DataFrame()
    return pd.DataFrame(emitted), dropped_df


@exercise("04", hint='withWatermark("event_time", "10 minutes"), then groupBy(F.window("event_time", "1 hour"), '
                     '"machine_id"); outputMode("append"), maxFilesPerTrigger 1, trigger(availableNow=True)')
def watermark(path, checkpoint, delay="10 minutes"):
    """``path``: the hourly windows per machine appended by the streaming query whose checkpoint is given."""
    spark = spark_session()
    need_delta(path, spark)
    m = re.fullmatch(r"\s*(\d+)\s*(minute|minutes|min)\s*", str(delay))
    if not m:
        fail(f"the delay {delay!r} is not in minutes")
    df = spark.read.format("delta").load(str(local_path(path)))
    need_columns(df, ["window_start", "machine_id", "readings", "avg_temperature_c"], "the windows table")
    want, dropped = simulate_watermark(checkpoint, float(m.group(1)))
    per_batch, _ = _batches(checkpoint)
    if len(per_batch) < 2:
        fail("the query read everything in one micro-batch, so the watermark never moved and nothing was late",
             'read one file per micro-batch: .option("maxFilesPerTrigger", 1)')
    got = _to_pandas(df, ["window_start", "machine_id", "readings", "avg_temperature_c"])
    if got.duplicated(["machine_id", "window_start"]).any():
        fail("a (machine_id, window_start) window was written twice",
             "use append mode: each window is written once, when the watermark passes its end")
    got = got.set_index(["machine_id", "window_start"]).sort_index()
    want = want.set_index(["machine_id", "window_start"]).sort_index()
    if len(got) != len(want):
        fail(f"{len(got)} windows written, expected {len(want)} "
             "(in append mode a window appears only once the watermark has passed its end)")
    if not got.index.equals(want.index):
        fail("the windows written differ from the expected ones, e.g. "
             f"{_sample(want.index.difference(got.index)) or _sample(got.index.difference(want.index))}")
    off = got.index[got["readings"] != want["readings"]]
    if len(off):
        k = off[0]
        fail(f"window {k} counts {got.loc[k, 'readings']} readings, expected {want.loc[k, 'readings']}",
             "late rows must be dropped by the watermark, not counted; and duplicates are kept here")
    if (got["avg_temperature_c"] - want["avg_temperature_c"]).abs().max() > 1e-6:
        fail("the average temperatures differ")
    return (f"{len(got)} hourly windows written once each; {len(dropped)} late reading(s) dropped by the "
            f"watermark over {len(per_batch)} micro-batches")


# --------------------------------------------------------------------------- 5. recovery
@exercise("04", hint="read the landing folder with the explicit schema and maxFilesPerTrigger 1, add "
                     "_source_file (from _metadata.file_name) and _ingested_at (current_timestamp()), and write "
                     "to Delta with checkpointLocation=lablib.checkpoint('04', 'bronze') and .trigger(**trigger)")
def recovery(path, landing):
    """``path``: the bronze Delta table after a stop and a restart: every landing line exactly once."""
    import pandas as pd

    spark = spark_session()
    table = need_delta(path, spark)
    files = _landing_files(landing)
    df = spark.read.format("delta").load(str(local_path(path)))
    need_columns(df, ["event_time", "machine_id", "_source_file", "_ingested_at"], "bronze")
    produced = len(_raw(_files_key(files)))
    got = _to_pandas(df, ["_source_file", "event_time", "machine_id", "_ingested_at"])
    if got["_ingested_at"].isna().any():
        fail("some rows have no _ingested_at")
    got["_source_file"] = got["_source_file"].fillna("").map(lambda s: s.rsplit("/", 1)[-1])
    want_per_file = _raw(_files_key(files)).groupby("_file").size()
    have_per_file = got.groupby("_source_file").size()
    diff = want_per_file.sub(have_per_file, fill_value=0)
    diff = diff[diff != 0]
    if len(got) != produced or len(diff):
        k = diff.index[0] if len(diff) else "?"
        fail(f"bronze has {len(got):,} rows, the replayer produced {produced:,}"
             + (f"; file {k}: {-int(diff.iloc[0]):+d} rows" if len(diff) else ""),
             "a restarted query must resume from its checkpoint: same checkpointLocation, same sink")
    raw = _raw(_files_key(files))
    a = raw.groupby(["_file", "event_time", "machine_id"]).size()
    b = got.groupby(["_source_file", "event_time", "machine_id"]).size()
    b.index = b.index.set_names(["_file", "event_time", "machine_id"])
    if not a.sort_index().equals(b.sort_index()):
        fail("the rows of some file differ from the file's lines (keep the raw values in bronze)")
    commits = [c for c in table.history().select("version", "operation", "operationParameters").collect()
               if c.operation == "STREAMING UPDATE"]
    epochs = [int(c.operationParameters.get("epochId", -1)) for c in commits]
    if not commits:
        fail("the table was not written by a streaming query (no STREAMING UPDATE in its history)")
    if len(set(epochs)) != len(epochs):
        fail("a micro-batch was committed twice")
    per_file = pd.Series(want_per_file)
    return (f"{len(got):,} rows = {produced:,} produced, each of {len(per_file)} files exactly once, "
            f"{len(commits)} micro-batch commits, none twice")


# --------------------------------------------------------------------------- 6. medallion
@exercise("04", hint="to_gold: join the machines, group by machine_id, factory_id, machine_type and "
                     "F.date_trunc('hour', 'event_time').alias('hour'); count readings, sum the WARNINGs with "
                     "F.when, average the temperature, take the max vibration")
def medallion(gold_path, gold_batch, silver_path, landing):
    """The streamed gold table equals the batch job's gold and the truth from the landing files."""
    import pandas as pd

    spark = spark_session()
    need_dataframe(gold_batch, "gold_batch")
    gold_table = need_delta(gold_path, spark)
    need_delta(silver_path, spark)
    files = _landing_files(landing)
    silver = spark.read.format("delta").load(str(local_path(silver_path)))
    need_columns(silver, KEY, "silver")
    truth = _clean(_files_key(files)).drop_duplicates(["machine_id", "event_time"])
    n_silver = silver.count()
    dupes = n_silver - silver.select(*KEY).distinct().count()
    if dupes:
        fail(f"silver holds {dupes} duplicate (machine_id, event_time) key(s)")
    if n_silver != len(truth):
        fail(f"silver has {n_silver:,} readings, the landing files hold {len(truth):,} distinct valid ones")
    cols = ["machine_id", "factory_id", "machine_type", "hour", "readings", "warnings", "avg_temperature_c",
            "max_vibration_mm_s"]
    gold = spark.read.format("delta").load(str(local_path(gold_path)))
    need_columns(gold, cols, "gold")
    need_columns(gold_batch, cols, "gold_batch")
    ops = [r.operation for r in gold_table.history().select("operation").collect()]
    if "STREAMING UPDATE" not in ops:
        fail("the gold table was not written by a streaming query")
    t = truth.assign(hour=truth["event_time"].dt.floor("h"), warn=(truth["status"] == "WARNING").astype(int))
    t = t.merge(_machines(), on="machine_id", how="inner")
    want = t.groupby(["machine_id", "factory_id", "machine_type", "hour"]).agg(
        readings=("event_time", "size"), warnings=("warn", "sum"), avg_temperature_c=("temperature_c", "mean"),
        max_vibration_mm_s=("vibration_mm_s", "max")).sort_index()
    for name, df in (("gold (streamed)", gold), ("gold_batch", gold_batch)):
        got = _to_pandas(df, cols).set_index(["machine_id", "factory_id", "machine_type", "hour"]).sort_index()
        if got.index.duplicated().any():
            fail(f"{name} has more than one row for some machine and hour")
        if not got.index.equals(want.index):
            fail(f"{name} has {len(got)} (machine, hour) rows, expected {len(want)}",
                 "gold is per machine per hour, joined with the machines for factory_id and machine_type")
        for col in ("readings", "warnings"):
            off = got.index[got[col].astype(int) != want[col].astype(int)]
            if len(off):
                fail(f"{name}: {col} of {off[0][0]} at {off[0][3]} is {got.loc[off[0], col]}, "
                     f"expected {want.loc[off[0], col]}")
        for col in ("avg_temperature_c", "max_vibration_mm_s"):
            gap = (got[col].astype(float) - want[col].astype(float)).abs().max()
            if pd.notna(gap) and gap > 1e-6:
                fail(f"{name}: {col} differs from the silver readings by up to {gap:.3f}")
    return (f"silver: {n_silver:,} readings, no duplicate key; gold: {len(want)} machine-hours, streamed and "
            "batch results identical and equal to the landing files")
