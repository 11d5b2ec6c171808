"""The dirt report counts exactly what an independent pandas/pyarrow pass finds in the files.

The rules are the ones docs/datasets.md gives; nothing here imports the generator's
dirt code, only the public API and the files.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

TS = "%Y-%m-%d %H:%M:%S"
TS_OTHER = ("%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")
DATE = "%Y-%m-%d"
DATE_OTHER = ("%d.%m.%Y", "%Y/%m/%d")



def classify(values: pd.Series, canonical: str, others: tuple[str, ...]) -> tuple[pd.Series, int, int]:
    """(parsed instants, mixed-format count, malformed count) of a text column."""
    parsed = pd.to_datetime(values, format=canonical, errors="coerce")
    mixed = malformed = 0
    for i in np.nonzero(parsed.isna().to_numpy())[0]:
        text = values.iloc[i]
        for fmt in others:
            try:
                parsed.iloc[i] = datetime.strptime(text, fmt)
                mixed += 1
                break
            except ValueError:
                continue
        else:
            malformed += 1
    return parsed, mixed, malformed


def late_and_disorder(times: pd.Series, file_day: str) -> tuple[int, int]:
    valid = times.notna().to_numpy()
    day = pd.Timestamp(file_day)
    late = valid & (times < day).to_numpy()
    t = times[valid & ~late].to_numpy().astype("datetime64[ms]").astype(np.int64)
    ooo = int((t[1:] < np.maximum.accumulate(t)[:-1]).sum()) if len(t) > 1 else 0
    return int(late.sum()), ooo


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def test_telemetry(ci_data: Path, ci_dirt: dict):
    want = ci_dirt["telemetry"]
    frames, late, ooo, mixed, malformed, with_new = [], 0, 0, 0, 0, []
    for f in sorted((ci_data / "telemetry").glob("*.csv")):
        df = read_csv(f)
        if "firmware_version" in df:
            with_new.append(f.name)
        times, mx, mf = classify(df["event_time"], TS, TS_OTHER)
        mixed, malformed = mixed + mx, malformed + mf
        la, oo = late_and_disorder(times, f.stem)
        late, ooo = late + la, ooo + oo
        frames.append(df)
    df = pd.concat(frames, ignore_index=True).fillna("")
    temp = pd.to_numeric(df["temperature_c"], errors="coerce")
    assert len(df) == want["rows"]
    assert df.duplicated().sum() == want["duplicate_rows"] > 0
    assert (df["temperature_c"] == "NA").sum() == want["na_strings"]["temperature_c"] > 0
    assert (df["vibration_mm_s"] == "").sum() == want["nulls"]["vibration_mm_s"] > 0
    assert ((temp < -20) | (temp > 150)).sum() == want["outliers"]["temperature_c"] > 0
    assert (~df["machine_id"].str.fullmatch(r"M-\d{5}")).sum() == want["casing_whitespace"]["machine_id"] > 0
    statuses = {"RUNNING", "IDLE", "WARNING", "FAILURE", "MAINTENANCE"}
    assert (~df["status"].isin(statuses)).sum() == want["casing_whitespace"]["status"] > 0
    assert mixed == want["mixed_format_dates"]["event_time"] > 0
    assert malformed == want["malformed_dates"]["event_time"] > 0
    assert late == want["late_events"] > 0
    assert ooo == want["out_of_order_events"] > 0
    change = want["schema_change"]
    assert change["column"] == "firmware_version"
    assert len(with_new) == change["files"] and f"telemetry/{with_new[0]}" == change["first_file"]


def test_orders(ci_data: Path, ci_dirt: dict):
    want = ci_dirt["orders"]
    df = read_csv(ci_data / "orders.csv")
    total = pd.to_numeric(df["total_amount"], errors="coerce")
    _, mixed, malformed = classify(df["order_ts"], TS, TS_OTHER)
    dup = df.duplicated().sum()
    assert len(df) == want["rows"]
    assert dup == want["duplicate_rows"] > 0
    assert df["order_id"].duplicated().sum() - dup == want["duplicate_keys"] > 0
    assert (df["total_amount"] == "NA").sum() == want["na_strings"]["total_amount"] > 0
    assert (df["payment_method"] == "").sum() == want["nulls"]["payment_method"] > 0
    assert ((total < 0) | (total >= 100_000)).sum() == want["outliers"]["total_amount"] > 0
    assert (~df["channel"].isin({"store", "web", "marketplace"})).sum() == want["casing_whitespace"]["channel"] > 0
    assert (~df["status"].isin({"completed", "cancelled", "returned"})).sum() == want["casing_whitespace"]["status"] > 0
    assert mixed == want["mixed_format_dates"]["order_ts"] > 0
    assert malformed == want["malformed_dates"]["order_ts"] > 0


def test_customers(ci_data: Path, ci_dirt: dict):
    want = ci_dirt["customers"]
    df = read_csv(ci_data / "customers.csv")
    born, mixed, malformed = classify(df["birth_date"], DATE, DATE_OTHER)
    canonical = pd.to_datetime(df["birth_date"], format=DATE, errors="coerce")
    assert len(df) == want["rows"]
    assert df.duplicated().sum() == want["duplicate_rows"] > 0
    assert (df["email"] != df["email"].str.strip().str.lower()).sum() == want["casing_whitespace"]["email"] > 0
    assert (df["phone"] == "NA").sum() == want["na_strings"]["phone"] > 0
    assert (df["phone"] == "").sum() == want["nulls"]["phone"] > 0
    assert mixed == want["mixed_format_dates"]["birth_date"] > 0
    assert malformed == want["malformed_dates"]["birth_date"] > 0
    odd = (canonical.dt.year < 1920) | (canonical > pd.Timestamp("2024-12-31"))
    assert odd.sum() == want["outliers"]["birth_date"] > 0
    del born


def test_order_lines(ci_data: Path, ci_dirt: dict):
    want = ci_dirt["order_lines"]
    lines = pq.read_table(ci_data / "order_lines.parquet").to_pandas()
    products = set(pq.read_table(ci_data / "products.parquet", columns=["product_id"]).column(0).to_pylist())
    assert len(lines) == want["rows"]
    assert lines["discount_pct"].isna().sum() == want["nulls"]["discount_pct"] > 0
    assert ((lines["quantity"] < 1) | (lines["quantity"] > 100)).sum() == want["outliers"]["quantity"] > 0
    assert (~lines["product_id"].isin(products)).sum() == want["orphan_product_ids"] > 0


def test_clickstream(ci_data: Path, ci_dirt: dict):
    want = ci_dirt["clickstream"]
    every, corrupt, late, ooo = [], 0, 0, 0
    for f in sorted((ci_data / "clickstream").glob("*.jsonl")):
        lines = f.read_text().splitlines()
        every += lines
        times = []
        for line in lines:
            try:
                times.append(pd.Timestamp(json.loads(line)["event_time"]).tz_convert(None))
            except ValueError:
                corrupt += 1
                times.append(pd.NaT)
        la, oo = late_and_disorder(pd.Series(times, dtype="datetime64[ns]"), f.stem)
        late, ooo = late + la, ooo + oo
    assert len(every) == want["rows"]
    assert corrupt == want["corrupt_json_lines"] > 0
    assert pd.Series(every).duplicated().sum() == want["duplicate_rows"] > 0
    assert late == want["late_events"] > 0
    assert ooo == want["out_of_order_events"] > 0


def test_customer_updates(ci_data: Path, ci_dirt: dict):
    want = ci_dirt["customer_updates"]
    batches = [read_csv(f) for f in sorted((ci_data / "customer_updates").glob("*.csv"))]
    assert len(batches) == want["batches"] == 3
    assert sum(len(b) for b in batches) == want["rows"] == want["changed_rows"]
    assert [("marketing_opt_in" in b) for b in batches] == [False, False, True]
    twice = sum(int(b["customer_id"].duplicated().sum()) for b in batches)
    assert twice == want["same_customer_twice_in_batch"] > 0
    base = set(read_csv(ci_data / "customers.csv")["customer_id"])
    new = {c for b in batches for c in b["customer_id"]} - base
    assert len(new) == want["new_customers"] > 0
    for b in batches:  # within a batch, rows come in updated_at order
        assert b["updated_at"].is_monotonic_increasing


@pytest.mark.parametrize("table", ["factories", "machines", "failures", "products", "stores", "ledger"])
def test_clean_tables_have_only_rows(ci_dirt: dict, table: str):
    assert set(ci_dirt[table]) == {"rows"}
