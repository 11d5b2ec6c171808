"""What each table is: its format, where its files are, and the schema Spark reads it with.

CSV and JSON are read with an explicit schema: columns that carry textual dirt
(`NA`, mixed or malformed dates) are STRING so the dirt survives for the
cleansing labs instead of silently turning into nulls.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    format: str        # csv | jsonl | parquet
    path: str          # file, or folder of batch files, relative to the dataset folder
    schema: str        # Spark DDL
    about: str

    @property
    def batched(self) -> bool:
        return not self.path.endswith((".csv", ".parquet", ".jsonl"))


_CUSTOMER = ("customer_id STRING, first_name STRING, last_name STRING, email STRING, phone STRING, "
             "street STRING, city STRING, postal_code STRING, country STRING, birth_date STRING, "
             "loyalty_tier STRING")

TABLES = {t.name: t for t in (
    Table("factories", "csv", "factories.csv",
          "factory_id STRING, name STRING, city STRING, country STRING, region STRING, opened_date DATE, "
          "capacity_units_per_day INT",
          "the eight factories"),
    Table("machines", "csv", "machines.csv",
          "machine_id STRING, factory_id STRING, machine_type STRING, maker STRING, model STRING, "
          "install_date DATE, rated_rpm INT, rated_power_kw DOUBLE",
          "every instrumented machine"),
    Table("telemetry", "csv", "telemetry",
          "event_time STRING, machine_id STRING, temperature_c STRING, vibration_mm_s DOUBLE, rpm INT, "
          "power_kw DOUBLE, status STRING, firmware_version STRING",
          "a reading per machine every 15 minutes, one file per day"),
    Table("failures", "csv", "failures.csv",
          "failure_id STRING, machine_id STRING, failure_time TIMESTAMP, failure_mode STRING, "
          "downtime_minutes INT",
          "the maintenance log: every machine failure in the telemetry window"),
    Table("products", "parquet", "products.parquet",
          "product_id STRING, sku STRING, name STRING, toy_line STRING, category STRING, age_group STRING, "
          "list_price DECIMAL(10,2), unit_cost DECIMAL(10,2), launch_date DATE, discontinued BOOLEAN",
          "the toy catalogue"),
    Table("stores", "csv", "stores.csv",
          "store_id STRING, name STRING, channel STRING, city STRING, country STRING, region STRING, "
          "opened_date DATE, size_sqm INT",
          "physical stores, the web shop and the marketplaces (the sales channels)"),
    Table("customers", "csv", "customers.csv", _CUSTOMER + ", signup_date DATE",
          "customers with PII, as of the end of 2024"),
    Table("customer_updates", "csv", "customer_updates",
          _CUSTOMER + ", updated_at TIMESTAMP, marketing_opt_in BOOLEAN",
          "monthly batches of changed and new customers (for an SCD2 dimension)"),
    Table("orders", "csv", "orders.csv",
          "order_id STRING, order_ts STRING, customer_id STRING, store_id STRING, channel STRING, "
          "status STRING, payment_method STRING, total_amount STRING, session_id STRING",
          "orders 2022-2024 from every channel"),
    Table("order_lines", "parquet", "order_lines.parquet",
          "order_id STRING, line_no INT, product_id STRING, quantity INT, unit_price DECIMAL(10,2), "
          "discount_pct DOUBLE",
          "the products of each order"),
    Table("clickstream", "jsonl", "clickstream",
          "event_id STRING, event_time TIMESTAMP, "
          "session STRUCT<session_id: STRING, user_id: STRING, device: STRING, user_agent: STRING>, "
          "page STRUCT<url: STRING, type: STRING, referrer: STRING>, action STRING, "
          "cart STRUCT<items: ARRAY<STRUCT<product_id: STRING, quantity: INT, unit_price: DOUBLE>>, value: DOUBLE>, "
          "order_id STRING, _corrupt_record STRING",
          "web events of sessions, nested JSON, one file per day"),
    Table("ledger", "parquet", "ledger.parquet",
          "entry_id BIGINT, journal_id STRING, entry_date DATE, account_id STRING, account_name STRING, "
          "description STRING, channel STRING, debit DECIMAL(14,2), credit DECIMAL(14,2)",
          "the finance ledger: balanced double-entry journals"),
)}
