import sys; sys.path.insert(0, "/tmp/authoring")
from nbgen import build
cells = [
("md", r"""
# 03 · Spark deep dive and Delta Lake

Mega Awesome Toys' nightly jobs have started to slip. The sales report joins three years of order lines
with the toy catalogue, the factory dashboard scans two weeks of machine telemetry for a single
machine, and the web team's pipeline spends most of its time on one giant customer. Before buying a
bigger cluster, the data team wants to know **where Spark spends its time**, and which levers really
move the needle. The same team is moving its tables to **Delta Lake** and needs to know what the
format gives them beyond "Parquet with a log".

In this chapter you will:

- see how Spark turns DataFrame code into **jobs, stages and tasks**, read a plan with
  `explain("formatted")` and tell **narrow** from **wide** transformations;
- measure, on and off, the levers that matter: **shuffle partitions**, **adaptive query execution**
  (coalescing and skew handling), **broadcast vs sort-merge joins**, **caching**, **skew and salting**,
  **partition pruning**;
- organise tables in the **catalog**: databases, managed and external tables, comments and properties;
- use Delta Lake for real: the **transaction log**, schema **enforcement and evolution**, `DELETE`,
  `UPDATE`, `MERGE`, **history, time travel and RESTORE**, **OPTIMIZE, Z-ordering and liquid
  clustering** with data skipping measured, **VACUUM**, the **change data feed**, **CHECK
  constraints**, **generated columns** and **deletion vectors**.

Every number below is measured in this run by `lablib.measure`, which asks Spark's own REST API what
the jobs did. Times depend on the machine and on what else it is doing; counts of tasks, files and
bytes are the steadier part, so the text leans on them.
"""),
("params", r"""
# Parameters: `lab run` and CI may override these.
SCALE = None  # dataset scale: None keeps LAB_SCALE (default "small"); CI uses "ci"
"""),
("code", r"""
import lablib; lablib.reset("03", scale=SCALE); spark = lablib.spark()
"""),
("code", r"""
import contextlib
import io
import json
from pathlib import Path
from urllib.parse import unquote

import matplotlib.pyplot as plt
from delta.tables import DeltaTable
from pyspark.sql import functions as F

%matplotlib inline

ROWS = 200_000  # rows of the generated data in the performance demos: enough to see an effect, quick to run
work = lablib.workdir("03")


def run(df):
    "Execute a DataFrame completely without collecting it: the `noop` sink reads every row and drops it."
    df.write.format("noop").mode("overwrite").save()


def plan(df, mode="formatted", only=None):
    "Print a query plan (paths shown relative to LAB_HOME); `only` keeps the lines containing one of those words."
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        df.explain(mode)
    text = buf.getvalue().replace(str(lablib.home()), "$LAB_HOME")
    if only:
        text = "\n".join(line for line in text.splitlines() if any(word in line for word in only))
    print(text.strip())


@contextlib.contextmanager
def spark_conf(settings):
    "Set some Spark SQL settings for the duration of a `with` block, then put the previous values back."
    before = {key: spark.conf.get(key, None) for key in settings}
    try:
        for key, value in settings.items():
            spark.conf.set(key, str(value))
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def bars(measurements, metrics, title):
    "One horizontal bar chart per metric, one bar per measurement."
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 0.55 * len(measurements) + 1.4))
    axes = axes if len(metrics) > 1 else [axes]
    labels = [m.label for m in measurements]
    for ax, (name, get) in zip(axes, metrics.items()):
        values = [get(m) or 0 for m in measurements]
        ax.barh(labels, values, color="tab:blue")
        ax.invert_yaxis()
        ax.set_title(name, fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.2f}" if isinstance(v, float) else f" {v:,}", va="center", fontsize=9)
        ax.margins(x=0.25)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    plt.show()


def local_path(location):
    "A table location as the catalog reports it (a file: URI, maybe %-encoded) -> a local path."
    return unquote(location.removeprefix("file:"))


MB = 1e6
print("helpers ready; generated demo data has", f"{ROWS:,}", "rows")
"""),
("md", r"""
## 1. Spark's machinery: driver, executors, jobs, stages, tasks

Your Python code runs in the **driver**. It never touches the rows itself: it builds a description
of the computation (a *logical plan*), Catalyst optimises it into a *physical plan*, and the
**executors** run it. Here, in `local` mode, driver and executors share one JVM and every core runs
tasks; on a cluster they are separate machines, but the vocabulary is the same:

- an **action** (`count`, `collect`, `write`, `show`) starts one or more **jobs**;
- a job is cut into **stages** at every point where rows must move between partitions (a *shuffle*);
- a stage runs one **task** per partition, and the tasks of a stage run in parallel.

Transformations (`select`, `where`, `withColumn`, `groupBy(...).agg`, `join`) are **lazy**: they only
extend the plan. The measurement below shows it: describing the work starts no job at all.
"""),
("code", r"""
with lablib.measure("describe the work") as m_lazy:
    facts = (spark.range(ROWS)
             .withColumn("product", (F.col("id") % 1000).cast("int"))
             .withColumn("amount", (F.col("id") % 97) * 1.5)
             .where("amount > 10"))
    per_product = facts.groupBy("product").agg(F.sum("amount").alias("revenue"))

with lablib.measure("count the groups") as m_action:
    groups = per_product.count()

print(m_lazy)
print(m_action)
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
print("jobs started while describing:", m_lazy.jobs)
print("jobs started by the action:", m_action.jobs > 0)
print("groups:", groups)
"""),
("md", r"""
### Narrow and wide transformations

A **narrow** transformation computes each output partition from one input partition: `where`,
`select`, `withColumn`. Spark chains them inside one stage and never moves a row. A **wide**
transformation needs rows from many partitions at once: `groupBy`, `join`, `orderBy`, `distinct`,
`repartition`. It ends a stage: every task writes its rows sorted into buckets (**shuffle write**), and
the tasks of the next stage fetch their bucket from all of them (**shuffle read**). Shuffles cost
disk, network and serialisation, so the number of wide steps in a plan is the first thing to look at.
"""),
("code", r"""
with lablib.measure("narrow only: where + withColumn") as m_narrow:
    run(facts)
with lablib.measure("wide: + groupBy") as m_wide:
    run(per_product)
for m in (m_narrow, m_wide):
    print(f"{m.label:35s} stages {m.stages}, tasks {m.tasks}, shuffle write {m.shuffle_write_bytes:,} bytes")
"""),
("md", r"""
### Reading a plan

`explain("formatted")` prints the physical plan as a tree (read it **bottom up**) followed by the
details of each numbered operator. In the plan of `per_product` below, look for:

- `Range` → `Project` → `Filter`: the narrow part, fused into one stage by *whole-stage code generation*
  (the `*(1)` / `[codegen id : 1]` marks);
- `HashAggregate` twice around an `Exchange hashpartitioning(product, ...)`: Spark sums per partition
  first (partial aggregation, so far fewer rows cross the shuffle), then again after the shuffle;
- `AdaptiveSparkPlan isFinalPlan=false`: adaptive query execution may still change this plan at run
  time, once it knows the real sizes of the shuffled data (section 2).
"""),
("code", r"""
plan(per_product)
"""),
("md", r"""
## 2. Performance levers, each measured on and off

### Shuffle partitions and AQE coalescing

After a shuffle, Spark creates `spark.sql.shuffle.partitions` partitions: 200 by default, a number
chosen for clusters. `lablib.spark()` sets it to a few (4) for this 2-core machine. With 200, a small
aggregation runs 200 reduce tasks that each handle a handful of rows: scheduling costs more than the
work. **Adaptive query execution** (AQE, on by default since Spark 3.2) looks at the real shuffle
sizes after the map stage and **coalesces** small neighbouring partitions into tasks of about
`spark.sql.adaptive.advisoryPartitionSizeInBytes`. Below the same aggregation runs three ways; each
setting is changed only inside its `with` block and restored afterwards.
"""),
("code", r"""
shuffle_runs = []
for label, settings in [
    ("200 partitions, AQE off", {"spark.sql.shuffle.partitions": 200, "spark.sql.adaptive.enabled": False}),
    ("4 partitions, AQE off", {"spark.sql.shuffle.partitions": 4, "spark.sql.adaptive.enabled": False}),
    ("200 partitions, AQE on", {"spark.sql.shuffle.partitions": 200, "spark.sql.adaptive.enabled": True}),
]:
    with spark_conf(settings), lablib.measure(label) as m:
        run(per_product)
    shuffle_runs.append(m)
    print(m)
bars(shuffle_runs, {"seconds": lambda m: m.seconds, "tasks": lambda m: m.tasks},
     "the same groupBy, three shuffle settings")
print("back to the session's setting:", spark.conf.get("spark.sql.shuffle.partitions"))
"""),
("md", r"""
On this run, 200 fixed partitions cost the most tasks and (usually) the most time; AQE turned the
same 200 into a handful of tasks without anyone tuning the number. That is why the usual advice
today is: leave AQE on, set the shuffle partitions **generously** for your largest stage, and let
coalescing shrink the small ones.

### Broadcast join vs sort-merge join

To join two large tables, Spark shuffles **both** sides by the join key, sorts each partition and
merges them: a **sort-merge join**. When one side is small, it can instead send a full copy of it to
every executor and join without moving the big side at all: a **broadcast hash join**. Spark does so
by itself when it estimates a side below `spark.sql.autoBroadcastJoinThreshold` (10 MB by default),
and AQE can switch to it at run time once it knows the real size. You can also ask for it with a hint,
`F.broadcast(df)` or `df.hint("broadcast")`. Here a million sales meet a 10,000-row product table,
first with broadcasting forbidden (threshold `-1`), then with the hint.
"""),
("code", r"""
sales = spark.range(ROWS).select((F.col("id") % 10_000).alias("product"), (F.col("id") % 97).alias("amount"))
catalogue = spark.range(10_000).select(F.col("id").alias("product"), (F.col("id") % 8).alias("category"))

with spark_conf({"spark.sql.autoBroadcastJoinThreshold": -1}):
    smj = sales.join(catalogue, "product")
    plan(smj, "simple", only=["Join", "Exchange", "Broadcast"])
    with lablib.measure("sort-merge join") as m_smj:
        run(smj)
print()
bhj = sales.join(F.broadcast(catalogue), "product")
plan(bhj, "simple", only=["Join", "Exchange", "Broadcast"])
with lablib.measure("broadcast hash join") as m_bhj:
    run(bhj)
join_runs = [m_smj, m_bhj]
for m in join_runs:
    print(m)
bars(join_runs, {"seconds": lambda m: m.seconds, "shuffle write MB": lambda m: m.shuffle_write_bytes / MB,
                 "stages": lambda m: m.stages}, "one million sales joined with 10,000 products")
"""),
("md", r"""
The sort-merge join wrote both sides through the shuffle; the broadcast join wrote nothing to the
shuffle (the copy of the small side travels as a broadcast variable, not through the shuffle). The
limit is memory: every executor and the driver hold the whole broadcast side, so broadcasting a
"small" table of several GB is how jobs die of out-of-memory errors.

### Exercise 1 — broadcast the catalogue

The sales report joins every **order line** with the **product catalogue**. Build
`lines_with_products`: the inner join of `lines` and `products` on `product_id`, with a **broadcast
hint** on the catalogue, so the plan stays a broadcast hash join even where automatic broadcasting
is switched off. (The check re-plans your DataFrame with `autoBroadcastJoinThreshold = -1`.)
"""),
("code", r"""
lines = lablib.data.read("order_lines")
products = lablib.data.read("products")
# BEGIN SOLUTION
# STUB: lines_with_products = None  # lines joined with products on product_id, the catalogue broadcast
lines_with_products = lines.join(F.broadcast(products), "product_id")
# END SOLUTION
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
lablib.check.ch03.broadcast_join(lines_with_products, lines, products)
"""),
("md", r"""
### Data skew, AQE skew joins and salting

A shuffle sends every row with the same key to the same partition. If one key is far more common than
the others (one huge marketplace customer, one default value such as `unknown`), its partition becomes
a **straggler**: one task works while the others wait. Below, half of a million rows carry key `0`.
"""),
("code", r"""
SKEW_KEYS, SALT, PARTS = 100, 8, 8
skewed = spark.range(0, ROWS, 1, PARTS).select(
    F.when(F.col("id") % 2 == 0, F.lit(0)).otherwise(F.col("id") % SKEW_KEYS).alias("key"),
    F.col("id").alias("amount"))
keys = spark.range(SKEW_KEYS).select(F.col("id").alias("key"), F.concat(F.lit("K-"), F.col("id")).alias("label"))


def rows_per_partition(df, *cols):
    "Rows in each of PARTS hash partitions of df by cols, largest first."
    counts = (df.repartition(PARTS, *cols).groupBy(F.spark_partition_id().alias("p")).count()
              .orderBy(F.desc("count")).collect())
    return [r["count"] for r in counts]


by_key = rows_per_partition(skewed, "key")
print("rows per partition, by key:", by_key)
"""),
("md", r"""
Two remedies:

1. **AQE skew join** (`spark.sql.adaptive.skewJoin.enabled`, on by default). In a sort-merge join, a
   shuffle partition counts as skewed when it is at least `skewedPartitionFactor` (5) times the
   median **and** above `skewedPartitionThresholdInBytes` (256 MB). AQE then splits it into several
   tasks and repeats the matching partition of the other side for each. Our data is far below 256 MB,
   so the demo lowers the threshold, the factor (to 2) and the advisory size inside the `with` block.
2. **Salting**, by hand: add a small random-looking number (the *salt*, 0 … 7) to the big side's key,
   copy each row of the small side once per salt value, and join on `(key, salt)`. The hot key is then
   spread over up to 8 partitions. It works everywhere (also for aggregations, where AQE does not
   help), at the price of copying the small side 8 times.
"""),
("code", r"""
skew_settings = {
    "spark.sql.autoBroadcastJoinThreshold": -1,  # force a sort-merge join: skew handling applies to those
    "spark.sql.shuffle.partitions": PARTS,
    "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes": "256KB",
    "spark.sql.adaptive.skewJoin.skewedPartitionFactor": 2,
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": "128KB",
    "spark.sql.adaptive.coalescePartitions.enabled": False,
}
salted_facts = skewed.withColumn("salt", F.pmod(F.xxhash64("amount"), F.lit(SALT)))
salted_keys = keys.crossJoin(spark.range(SALT).select(F.col("id").alias("salt")))


def skew_join():  # a new DataFrame each time: a DataFrame keeps its first physical plan (and its shuffles)
    return skewed.join(keys, "key").groupBy("label").agg(F.sum("amount").alias("amount"))


def salted_join():
    return salted_facts.join(salted_keys, ["key", "salt"]).groupBy("label").agg(F.sum("amount").alias("amount"))


skew_runs, skew_results = [], {}
for label, make, aqe_skew in [("skewed, AQE skew join off", skew_join, False),
                              ("skewed, AQE skew join on", skew_join, True),
                              ("salted, AQE skew join off", salted_join, False)]:
    with spark_conf({**skew_settings, "spark.sql.adaptive.skewJoin.enabled": aqe_skew}):
        df = make()
        with lablib.measure(label) as m:
            skew_results[label] = sorted(df.collect())
        if aqe_skew:  # the final adaptive plan, after the run: AQE marks the join it split
            plan(df, "simple", only=["SortMergeJoin", "AQEShuffleRead"])
    skew_runs.append(m)
    print(m, "| groups:", len(skew_results[label]))

by_salted_key = rows_per_partition(salted_facts, "key", "salt")
print("rows per partition, by key + salt:", by_salted_key)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 2.8))
ax1.bar(range(PARTS), by_key, color="tab:red", label="by key")
ax1.bar(range(PARTS), by_salted_key, color="tab:green", alpha=0.7, label="by key + salt")
ax1.set_title("rows per shuffle partition (largest first)", fontsize=10)
ax1.legend()
ax2.barh([m.label for m in skew_runs], [m.tasks for m in skew_runs], color="tab:blue")
ax2.invert_yaxis()
ax2.set_title("tasks of the join (all stages)", fontsize=10)
fig.tight_layout()
plt.show()
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
print("largest partition by key holds", f"{by_key[0] / ROWS:.0%}", "of the rows")
print("largest partition by key + salt holds", f"{by_salted_key[0] / ROWS:.0%}", "of the rows")
print("same answer in all three runs:", len({str(r) for r in skew_results.values()}) == 1)
"""),
("md", r"""
With skew handling on, AQE ran more tasks for the same join: it cut the hot partition into pieces
(in the final plan above: `SortMergeJoin(skew=true)` and `AQEShuffleRead skewed`). Salting flattened the partitions themselves,
as the left chart shows. At this size the hot task still finishes in a second, so the time
differences are small and noisy; with a hot key of hundreds of millions of rows, the straggler
decides the runtime of the whole job.

### Caching, and when it hurts

`df.cache()` (= `persist()` with memory-and-disk storage) keeps a DataFrame's rows after the first
action computes them, so later actions read them from the executors' memory instead of recomputing
the whole lineage. It pays when the **same** expensive result is used **several times**. It costs:
the first action has to build the cache (encode every row into the in-memory column format), the
cached rows take executor memory away from joins and aggregations, and a cached DataFrame hides the
source from the optimiser (filters are no longer pushed into the file scan). Used only once, a cache
is pure cost. Always `unpersist()` when done.
"""),
("code", r"""
# small and expensive: a shuffle and a sort produce a 2,000-row summary
summary = (spark.range(ROWS).select((F.col("id") % 2_000).alias("k"), F.sqrt("id").alias("v"))
           .groupBy("k").agg(F.avg("v").alias("avg_v"), F.count("*").alias("n")).orderBy("k"))
# big and cheap: every row, with a wide text column, used by one question only
wide = spark.range(ROWS).select("id", F.sha2(F.col("id").cast("string"), 256).alias("h"))


def three_questions(df):
    return df.where("k < 100").count(), df.agg(F.max("avg_v")).first()[0], df.orderBy(F.desc("avg_v")).first()["k"]


def one_question(df):
    return df.where("h LIKE '00%'").count()


cache_runs = []
for label, source, question, cached in [("summary, 3 questions, no cache", summary, three_questions, False),
                                        ("summary, 3 questions, cached", summary, three_questions, True),
                                        ("wide rows, 1 question, no cache", wide, one_question, False),
                                        ("wide rows, 1 question, cached", wide, one_question, True)]:
    with lablib.measure(label) as m:
        answer = question(source.cache() if cached else source)
    if cached:
        source.unpersist(blocking=True)
    cache_runs.append(m)
    print(m)
bars(cache_runs, {"seconds": lambda m: m.seconds, "stages": lambda m: m.stages}, "caching: reused vs used once")
"""),
("md", r"""
Read the chart with care: these are the numbers of this run only. A cache must be built before it
helps: the first question on the cached summary pays for computing it **and** for encoding and storing
it (the extra stage and tasks), and only the later questions read it from memory. A 2,000-row summary
that recomputes in about a second leaves little to save, so on a small or busy machine the cached run
may even come out slower; the saving grows with the cost of what is cached and the number of times it
is reused. The wide rows cached for a single question show the pure cost: every row encoded and stored,
never read again.

### Partition pruning

Writing with `partitionBy("order_year", "order_month")` puts each month's orders in its own folder
(`order_year=2024/order_month=11/`). A filter on those **partition columns** lets Spark skip whole
folders before reading anything: **partition pruning**. A filter on any other column (even one that
means the same thing, like the order timestamp) has to open every file. Below the orders are typed
(unparseable timestamps are dropped here; chapter 02 cleans them properly), written partitioned by
month, and the same month is asked for both ways.
"""),
("code", r"""
orders = lablib.data.read("orders")
orders_typed = (orders
    .select("order_id", F.try_to_timestamp("order_ts").alias("order_ts"), "customer_id", "store_id",
            F.lower(F.trim("channel")).alias("channel"), F.lower(F.trim("status")).alias("status"),
            F.col("total_amount").try_cast("decimal(10,2)").alias("total_amount"))
    .where("order_ts IS NOT NULL")
    .withColumn("order_year", F.year("order_ts"))
    .withColumn("order_month", F.month("order_ts")))
orders_path = str(work / "orders_by_month")
(orders_typed.repartition("order_year", "order_month")
    .write.mode("overwrite").partitionBy("order_year", "order_month").parquet(orders_path))

by_month = spark.read.parquet(orders_path)
by_timestamp = by_month.where("order_ts >= '2024-12-01' AND order_ts < '2025-01-01'")
by_partition = by_month.where("order_year = 2024 AND order_month = 12")
plan(by_partition, "formatted", only=["PartitionFilters", "PushedFilters"])
with lablib.measure("filter on order_ts") as m_ts:
    n_ts = by_timestamp.count()
with lablib.measure("filter on partition columns") as m_part:
    n_part = by_partition.count()
prune_runs = [m_ts, m_part]
for m in prune_runs:
    print(m)
bars(prune_runs, {"files read": lambda m: m.files_read, "seconds": lambda m: m.seconds},
     "December 2024 from the month-partitioned orders")
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
month_folders = sorted(Path(orders_path).glob("order_year=*/order_month=*"))
print("month folders:", len(month_folders), "| files:", len(list(Path(orders_path).rglob("*.parquet"))))
print("December 2024 orders, either way:", n_ts, n_part, "| same:", n_ts == n_part)
print("files read: filter on order_ts", m_ts.files_read, "| filter on partition columns", m_part.files_read)
"""),
("md", r"""
Partitioning is a trade: it pays for filters on the partition columns and costs one folder (and at
least one file) per value. Partition by columns of **low cardinality that queries filter on**
(a date, a month, a region), never by an id: a million tiny files cost more to list and open than
they save. For everything else, Delta's data skipping (section 4) does the job without folders.

### Exercise 2 — Black Friday month, pruned

Finance wants the orders of **November 2024** from `orders_path`. Build `november` so that Spark reads
**only that month's folder**. The check runs your DataFrame under `lablib.measure` and compares the
files it read, and the rows it returned, with the truth.
"""),
("code", r"""
# BEGIN SOLUTION
# STUB: november = None  # spark.read.parquet(orders_path) filtered so that only one folder is read
november = spark.read.parquet(orders_path).where((F.col("order_year") == 2024) & (F.col("order_month") == 11))
# END SOLUTION
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
lablib.check.ch03.pruned_month(november, orders_path, 2024, 11)
"""),
("md", r"""
## 3. The catalog: databases, managed and external tables

A path is fine for a script; a team wants **names**. Spark's catalog maps `database.table` to a
location, a format, a schema, a comment and properties. This workbench's session uses an in-memory
catalog (it lives as long as the session; the files stay); a production lakehouse puts a shared
metastore or Unity Catalog behind the same API.

- A **managed** table lives in the database's folder under the warehouse; `DROP TABLE` deletes its
  files too.
- An **external** table points at a location you chose (`LOCATION` in SQL, `.option("path", ...)` with
  `saveAsTable`); `DROP TABLE` forgets the name and leaves the files alone.

This chapter's database is `ch03`; `lablib.reset("03")` drops it with everything in it.
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
spark.sql("CREATE DATABASE IF NOT EXISTS ch03 COMMENT 'chapter 03: Spark deep dive and Delta Lake'")
scratch_path = str(work / "scratch_external")
spark.sql("CREATE TABLE ch03.scratch_managed (id BIGINT) USING delta")
spark.sql(f"CREATE TABLE ch03.scratch_external (id BIGINT) USING delta LOCATION '{scratch_path}'")
for t in sorted(spark.catalog.listTables("ch03"), key=lambda t: t.name):
    print(f"{t.name:18s} {t.tableType}")
managed_path = local_path(spark.sql("DESCRIBE DETAIL ch03.scratch_managed").first()["location"])
print("managed location: ", lablib.rel(managed_path))
print("external location:", lablib.rel(local_path(spark.sql("DESCRIBE DETAIL ch03.scratch_external").first()["location"])))

spark.sql("DROP TABLE ch03.scratch_managed")
spark.sql("DROP TABLE ch03.scratch_external")
print("after DROP TABLE, managed files exist:", Path(managed_path).exists(),
      "| external files exist:", Path(scratch_path).exists())
"""),
("md", r"""
`spark.catalog` answers questions about the catalog from Python (`listDatabases`, `listTables`,
`listColumns`, `getTable`, `tableExists`); SQL has the same in `SHOW TABLES`, `DESCRIBE TABLE EXTENDED`
and `SHOW TBLPROPERTIES`. A table **comment** says what the table is; **properties** are key-value
pairs for tools and people (owners, quality tier) and, under `delta.*`, switches of the format itself.
A few keys such as `owner` are reserved by Spark, so pick your own names. Comment and properties can
be given when the table is created (below) or changed later with `COMMENT ON TABLE` and
`ALTER TABLE ... SET TBLPROPERTIES`. The catalogue table gets two Delta switches that section 4
explains: deletion vectors and the change data feed.
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
products.createOrReplaceTempView("products_raw")
spark.sql('''
    CREATE TABLE ch03.products USING delta
    COMMENT 'Mega Awesome Toys catalogue, one row per toy'
    TBLPROPERTIES ('quality_tier' = 'silver', 'delta.enableDeletionVectors' = 'true',
                   'delta.enableChangeDataFeed' = 'true')
    AS SELECT * FROM products_raw''')
print(spark.catalog.getTable("ch03.products"))
print([f"{c.name}:{c.dataType}" for c in spark.catalog.listColumns("ch03.products")][:4], "...")
spark.sql("SHOW TBLPROPERTIES ch03.products").where("key NOT LIKE 'delta.feature%'").orderBy("key").show(truncate=False)
"""),
("md", r"""
### Exercise 3 — an external table for the sales channels

Register the stores (`lablib.data.read("stores")`) as an **external** Delta table `ch03.stores` whose
files live at `stores_path`, with a table **comment** (any helpful sentence) and the property
`data_owner` = `retail-ops`.
"""),
("code", r"""
stores_path = str(work / "stores")
print("files go to:", lablib.rel(stores_path))
# BEGIN SOLUTION
# STUB: pass  # create ch03.stores at stores_path, then add the comment and the property
lablib.data.read("stores").write.format("delta").mode("overwrite").option("path", stores_path).saveAsTable("ch03.stores")
spark.sql("COMMENT ON TABLE ch03.stores IS 'Sales channels: physical stores, the web shop and marketplaces'")
spark.sql("ALTER TABLE ch03.stores SET TBLPROPERTIES ('data_owner' = 'retail-ops')")
# END SOLUTION
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
lablib.check.ch03.external_table("ch03.stores", stores_path)
"""),
("md", r"""
## 4. Delta Lake

### The transaction log on disk

A Delta table is Parquet files plus `_delta_log/`, a folder of numbered JSON **commits**. Each commit
lists **actions**: `protocol` (which reader and writer features the table needs), `metaData` (schema,
partition columns, properties), `add` and `remove` (data files entering and leaving the table, each
`add` with per-column statistics), and `commitInfo` (who did what). A reader lists the log, replays
it to learn which files form the latest version and reads only those. Every 10 commits (by default)
a Parquet **checkpoint** summarises the log so readers need not replay everything. Writers create the
next commit file atomically; if two writers race for the same number, one loses and retries: that is
Delta's optimistic concurrency.
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
products_path = local_path(spark.sql("DESCRIBE DETAIL ch03.products").first()["location"])
log = Path(products_path) / "_delta_log"
print("table folder:", lablib.rel(products_path))
print("commits:", sorted(p.name for p in log.glob("*.json")))
first_commit = [json.loads(line) for line in (log / "00000000000000000000.json").read_text().splitlines()]
print("actions of version 0:", [next(iter(a)) for a in first_commit])
add = next(a["add"] for a in first_commit if "add" in a)
stats = json.loads(add["stats"])
print("the add action's statistics:", {k: stats[k] for k in ("numRecords",)},
      "| min/max product_id:", stats["minValues"]["product_id"], stats["maxValues"]["product_id"])
"""),
("md", r"""
### Schema enforcement and evolution

Delta checks every write against the table's schema (**enforcement**): a DataFrame with a column the
table does not have, or with a type that does not fit, is refused instead of silently producing a
table half of whose files disagree. When the change is intended, say so: `mergeSchema` on a write (or
`withSchemaEvolution()` on a `MERGE`) adds the new columns (**evolution**); old rows read them as
null.
"""),
("code", r"""
new_toy = spark.createDataFrame(
    [("P-90001", "MAT-NEW-90001", "Starlight Rover Kit", "Starlight", "stem_kits", "8-14",
      49.99, 21.50, "2025-01-15", False, "FSC")],
    "product_id string, sku string, name string, toy_line string, category string, age_group string, "
    "list_price double, unit_cost double, launch_date string, discontinued boolean, packaging_label string",
).select(*[F.col(c).cast(t) for c, t in
           [("product_id", "string"), ("sku", "string"), ("name", "string"), ("toy_line", "string"),
            ("category", "string"), ("age_group", "string"), ("list_price", "decimal(10,2)"),
            ("unit_cost", "decimal(10,2)"), ("launch_date", "date"), ("discontinued", "boolean"),
            ("packaging_label", "string")]])
try:
    new_toy.write.format("delta").mode("append").saveAsTable("ch03.products")
except Exception as exc:  # noqa: BLE001 - we want to show the refusal
    print("refused:", type(exc).__name__, "-", str(exc).split("\n")[0][:150])
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
new_toy.write.format("delta").mode("append").option("mergeSchema", "true").saveAsTable("ch03.products")
print("columns now:", spark.table("ch03.products").columns[-3:])
spark.table("ch03.products").where("product_id IN ('P-00001', 'P-90001')").select(
    "product_id", "name", "packaging_label").orderBy("product_id").show()
"""),
("md", r"""
### DELETE and UPDATE, with deletion vectors and the change data feed

Parquet files are immutable, so "deleting a row" classically means **rewriting** every file that holds
one, without it (copy-on-write). With **deletion vectors** (`delta.enableDeletionVectors`), Delta
instead writes a small bitmap next to the file saying which of its rows are gone, and readers skip
them (merge-on-read); the file is rewritten later by `OPTIMIZE` or `REORG TABLE ... APPLY (PURGE)`.
Deletes and updates become much cheaper for big files and few rows.

The **change data feed** (`delta.enableChangeDataFeed`) makes Delta record, from then on, the rows each
commit inserted, deleted or changed (with their before and after images), so downstream jobs can pick
up only what changed instead of rereading the table. For the catalogue we
delete the discontinued toys and raise plush prices by 5 %. (Both switches were set when the table
was created; on an existing table, `ALTER TABLE ... SET TBLPROPERTIES` turns them on.)
"""),
("code", r"""
first_change = DeltaTable.forName(spark, "ch03.products").history(1).first()["version"] + 1
spark.sql("DELETE FROM ch03.products WHERE discontinued")
spark.sql("UPDATE ch03.products SET list_price = round(list_price * 1.05, 2) WHERE category = 'plush'")
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
history = DeltaTable.forName(spark, "ch03.products").history().orderBy("version")
metrics = ["numDeletedRows", "numDeletionVectorsAdded", "numRemovedFiles", "numUpdatedRows"]
for row in history.where("operation IN ('DELETE', 'UPDATE')").collect():
    print(row["version"], row["operation"], {k: row["operationMetrics"].get(k) for k in metrics})
"""),
("md", r"""
The `DELETE` removed rows without removing a single file: it added a deletion vector. Now the
change feed: every row the two commits touched, with its change type.
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
changes = (spark.read.format("delta").option("readChangeFeed", "true")
           .option("startingVersion", first_change).table("ch03.products"))
changes.groupBy("_commit_version", "_change_type").count().orderBy("_commit_version", "_change_type").show()
(changes.where("_change_type LIKE 'update%'")
    .select("product_id", "_change_type", "list_price").orderBy("product_id", F.desc("_change_type")).show(4))
"""),
("md", r"""
### MERGE: upserts

`MERGE INTO target USING source ON key` handles, in one atomic commit, the rows that match (update or
delete them) and the rows that do not (insert them): an **upsert**. It is how change feeds, CDC
streams and slowly changing dimensions land in a lakehouse. In Python it is
`DeltaTable.merge(source, condition).whenMatchedUpdate(...).whenNotMatchedInsert(...).execute()`;
`.withSchemaEvolution()` lets the source bring new columns along.

### Exercise 4 — upsert the price list

Product management sends `price_updates`: new list prices for some toys, two brand-new toys, and a new
column `safety_cert` (the toy-safety certificate). Merge it into `ch03.products` in **one MERGE**:
matching `product_id` → update `list_price` and `safety_cert`; no match → insert the row (its other
columns stay null). The table must gain the `safety_cert` column.
"""),
("code", r"""
from decimal import Decimal

cheaper_puzzles = [(r.product_id, r.list_price - 1, "EN71") for r in
                   spark.table("ch03.products").where("category = 'puzzles'").orderBy("product_id").limit(5).collect()]
price_updates = spark.createDataFrame(  # built from Python rows: it does not change when the table does
    cheaper_puzzles + [("P-90002", Decimal("29.99"), "EN71"), ("P-90003", Decimal("14.99"), "ASTM-F963")],
    "product_id string, list_price decimal(10,2), safety_cert string")
price_updates.orderBy("product_id").show()
# BEGIN SOLUTION
# STUB: pass  # DeltaTable.forName(spark, "ch03.products").alias("t").merge(...)...execute()
(DeltaTable.forName(spark, "ch03.products").alias("t")
    .merge(price_updates.alias("u"), "t.product_id = u.product_id")
    .whenMatchedUpdate(set={"list_price": "u.list_price", "safety_cert": "u.safety_cert"})
    .whenNotMatchedInsert(values={"product_id": "u.product_id", "list_price": "u.list_price",
                                  "safety_cert": "u.safety_cert"})
    .withSchemaEvolution()
    .execute())
# END SOLUTION
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
lablib.check.ch03.upsert("ch03.products", price_updates)
"""),
("md", r"""
### History, time travel and RESTORE

Each commit is a version you can read back (`versionAsOf`, or `timestampAsOf`) and return to with
`RESTORE`. Suppose someone runs an `UPDATE` and forgets the `WHERE`: every price becomes zero. Time
travel shows what the table looked like; `restoreToVersion` makes a **new** commit that brings the
old files back (history is never rewritten, so the mistake stays on record).
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
catalogue_table = DeltaTable.forName(spark, "ch03.products")
good_version = catalogue_table.history(1).first()["version"]
spark.sql("UPDATE ch03.products SET list_price = 0")  # oops: no WHERE
print("toys priced 0 now:", spark.table("ch03.products").where("list_price = 0").count())
before = spark.read.option("versionAsOf", good_version).table("ch03.products")
print(f"toys priced 0 in version {good_version}:", before.where("list_price = 0").count())
catalogue_table.restoreToVersion(good_version)
print("toys priced 0 after RESTORE:", spark.table("ch03.products").where("list_price = 0").count())
(catalogue_table.history().select("version", "operation").orderBy("version").show(truncate=False))
"""),
("md", r"""
### CHECK constraints and generated columns

A **CHECK constraint** (`ALTER TABLE ... ADD CONSTRAINT name CHECK (condition)`) is a rule every row
must meet: Delta verifies the existing rows when you add it and every later write, and a write with
one bad row fails as a whole. A **generated column** (`GENERATED ALWAYS AS (expression)`) is computed
by Delta from other columns on every write, so it can never disagree with them; a generated date
column is also a handy partition column, because filters on the timestamp it comes from can then prune
partitions.

The order lines land in `ch03.order_lines` with a generated `line_amount`. The dataset seeds a few
impossible quantities (0 or 1000), so the quantity rule cannot be added yet:
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
spark.sql('''
CREATE OR REPLACE TABLE ch03.order_lines (
    order_id STRING, line_no INT, product_id STRING, quantity INT, unit_price DECIMAL(10,2), discount_pct DOUBLE,
    line_amount DECIMAL(12,2) GENERATED ALWAYS AS (
        CAST(quantity * unit_price * (1 - coalesce(discount_pct, 0)) AS DECIMAL(12,2))))
USING delta COMMENT 'order lines with a generated amount'
''')
lines.write.format("delta").mode("append").saveAsTable("ch03.order_lines")
spark.table("ch03.order_lines").orderBy("order_id", "line_no").show(3)
try:
    spark.sql("ALTER TABLE ch03.order_lines ADD CONSTRAINT quantity_range CHECK (quantity BETWEEN 1 AND 100)")
except Exception as exc:  # noqa: BLE001 - the refusal is the point
    print("refused:", str(exc).split("\n")[0][:160])
"""),
("md", r"""
### Exercise 5 — the quantity rule

Remove the order lines whose `quantity` is outside 1 … 100, then add the CHECK constraint
`quantity_range` (`quantity BETWEEN 1 AND 100`) to `ch03.order_lines`. The check confirms the bad rows
are gone and only those, that the constraint is recorded on the table, and that Delta now refuses a
line with quantity 0.
"""),
("code", r"""
# BEGIN SOLUTION
# STUB: pass  # a DELETE, then ALTER TABLE ... ADD CONSTRAINT
spark.sql("DELETE FROM ch03.order_lines WHERE quantity NOT BETWEEN 1 AND 100 OR quantity IS NULL")
spark.sql("ALTER TABLE ch03.order_lines ADD CONSTRAINT quantity_range CHECK (quantity BETWEEN 1 AND 100)")
# END SOLUTION
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
lablib.check.ch03.quantity_rule("ch03.order_lines", lines)
"""),
("md", r"""
### OPTIMIZE, Z-ordering and data skipping

Every `add` action carries the **minimum and maximum** of (by default) the first 32 columns of its
file. For a filter like `machine_id = 'M-00007'`, Delta skips every file whose range cannot contain
the value: **data skipping**. It only helps if the files have **narrow** ranges. Streaming and
frequent small writes leave many small files whose ranges all span every machine.

- `OPTIMIZE` **compacts** small files into bigger ones (fewer files to open) but keeps rows in
  arbitrary order.
- `OPTIMIZE ... ZORDER BY (col)` also **sorts** rows along a Z-order curve of the columns before
  cutting files, so each file covers a narrow range and skipping works. The Z-order is not kept up by
  later writes: you rerun it.

Two weeks of telemetry are written as 16 small files, each with a random mix of machines. The demo
caps the OPTIMIZE output file size at 256 KB (inside the `with` block) so this small table still makes
several files; the default target is 1 GB.
"""),
("code", r"""
telemetry = (lablib.data.read("telemetry")
    .select(F.try_to_timestamp("event_time").alias("event_time"),
            F.upper(F.trim("machine_id")).alias("machine_id"),
            F.col("temperature_c").try_cast("double").alias("temperature_c"),
            "vibration_mm_s", "rpm", "power_kw", F.upper(F.trim("status")).alias("status"))
    .where("event_time IS NOT NULL"))
telemetry_path = str(work / "telemetry")
telemetry.repartition(16).write.format("delta").mode("overwrite").save(telemetry_path)
SMALL_FILES = {"spark.databricks.delta.optimize.maxFileSize": 256 * 1024}


def one_machine(source, label):
    "Average temperature of one machine, measured: how many files did the scan open?"
    table = DeltaTable.forPath(spark, source) if "/" in source else DeltaTable.forName(spark, source)
    files_in_table = table.detail().first()["numFiles"]  # also loads the file list, so the scan below reads data only
    query = table.toDF().where("machine_id = 'M-00007'").agg(F.avg("temperature_c"))
    with lablib.measure(label) as m:
        query.collect()
    m.extra["files_in_table"] = files_in_table
    print(m, "| files in table:", files_in_table)
    return m


def file_ranges(path, column="machine_id"):
    "min/max of a column in each file the latest commit added (read from the log's statistics)."
    last = sorted((Path(path) / "_delta_log").glob("*.json"))[-1]
    adds = [json.loads(line)["add"] for line in last.read_text().splitlines() if '"add"' in line]
    return sorted((json.loads(a["stats"])["minValues"][column], json.loads(a["stats"])["maxValues"][column])
                  for a in adds)


skip_runs = [one_machine(telemetry_path, "16 small files")]
with spark_conf(SMALL_FILES):
    spark.sql(f"OPTIMIZE delta.`{telemetry_path}`")
print("file ranges after compaction:", file_ranges(telemetry_path)[:3], "...")
skip_runs.append(one_machine(telemetry_path, "after OPTIMIZE (compaction)"))
with spark_conf(SMALL_FILES):
    spark.sql(f"OPTIMIZE delta.`{telemetry_path}` ZORDER BY (machine_id)")
print("file ranges after ZORDER:", file_ranges(telemetry_path))
skip_runs.append(one_machine(telemetry_path, "after ZORDER BY machine_id"))
"""),
("md", r"""
### Liquid clustering

**Liquid clustering** (`CLUSTER BY (cols)` when creating a table) replaces both Hive-style
partitioning and Z-order for new tables. The clustering columns are a table property you can change
later (`ALTER TABLE ... CLUSTER BY`) without rewriting the data, and `OPTIMIZE` clusters the rows
incrementally, only the files that need it. A table cannot use partitioning and liquid clustering at
the same time.

### Exercise 6 — a clustered telemetry table

Create the managed table `ch03.telemetry_clustered`, **liquid clustered by `machine_id`** (SQL
`CREATE TABLE ... (columns) USING delta CLUSTER BY (machine_id)`, or `DeltaTable.create(spark)` with
`.clusterBy(...)`), fill it with every row of the Delta table at `telemetry_path`, then run `OPTIMIZE` on it (inside the given `with` block,
so the small file cap applies).
"""),
("code", r"""
with spark_conf(SMALL_FILES):
    # BEGIN SOLUTION
    # STUB: pass  # create the table clustered by machine_id (SQL CLUSTER BY or DeltaTable.create(...).clusterBy), fill it, OPTIMIZE it
    (DeltaTable.create(spark).tableName("ch03.telemetry_clustered")
        .addColumns(spark.read.format("delta").load(telemetry_path).schema)
        .clusterBy("machine_id")
        .execute())
    spark.sql(f"INSERT INTO ch03.telemetry_clustered SELECT * FROM delta.`{telemetry_path}`")
    spark.sql("OPTIMIZE ch03.telemetry_clustered")
    # END SOLUTION
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
lablib.check.ch03.clustered("ch03.telemetry_clustered", telemetry_path)
"""),
("code", r"""
if spark.catalog.tableExists("ch03.telemetry_clustered"):
    skip_runs.append(one_machine("ch03.telemetry_clustered", "liquid clustered + OPTIMIZE"))
bars(skip_runs, {"files in table": lambda m: m.extra["files_in_table"], "files read": lambda m: m.files_read,
                 "seconds": lambda m: m.seconds}, "one machine's readings: data skipping at work")
"""),
("md", r"""
On this run compaction cut the number of files, but the query still opened every one of them:
each file still spans all 40 machines. After Z-ordering and after liquid clustering, the
per-file ranges are narrow and the scan opens only the file or two that can hold `M-00007`.

**Bloom filter indexes** (`CREATE BLOOMFILTER INDEX`) are a **Databricks-only** feature: open-source
Delta Lake does not have them. What it offers instead is what you just measured: min/max/null-count
**statistics** per file (choose the columns with `delta.dataSkippingStatsColumns` or
`delta.dataSkippingNumIndexedCols`), **Z-ordering**, **liquid clustering**, and partitioning for
low-cardinality columns. Together they give most of the skipping a bloom filter would, for range and
equality filters on the clustered columns.

### VACUUM and retention

`OPTIMIZE` did not delete the 16 original files: the log marks them `remove`d, but time travel to
older versions and readers still working on an old snapshot need them. `VACUUM` deletes files that
are no longer in the table **and** were removed longer ago than the retention period (7 days by
default, `delta.deletedFileRetentionDuration`). Asking for less than that is refused by a safety check,
because a shorter retention can delete files a running query or a lagging stream is still reading. In
this single-user demo we switch the check off **only inside the `with` block** to show the effect, and
see what it costs: the old versions can no longer be read. (VACUUM lists the table's folder with a
parallel Spark job of 10,000 tasks by default, sized for object stores with millions of files; on this
laptop the demo lowers that too.)
"""),
("code", r"""
def parquet_files(path):
    return len(list(Path(path).glob("*.parquet")))


live = DeltaTable.forPath(spark, telemetry_path).detail().first()["numFiles"]
on_disk_before = parquet_files(telemetry_path)
try:
    spark.sql(f"VACUUM delta.`{telemetry_path}` RETAIN 0 HOURS")
    refusal = "accepted"
except Exception as exc:  # noqa: BLE001
    refusal = str(exc).split("\n")[0][:90]
with spark_conf({"spark.databricks.delta.retentionDurationCheck.enabled": False,  # the demo only: see above
                 "spark.sql.sources.parallelPartitionDiscovery.parallelism": 2}):  # VACUUM lists files in 10,000 tasks by default
    spark.sql(f"VACUUM delta.`{telemetry_path}` RETAIN 0 HOURS")
on_disk_after = parquet_files(telemetry_path)
try:  # an aggregate over a column really opens the files (a bare count() can be answered from the log)
    spark.read.format("delta").option("versionAsOf", 0).load(telemetry_path).agg(F.sum("rpm")).collect()
    version_0 = "still readable"
except Exception:  # noqa: BLE001
    version_0 = "can no longer be read: its files are gone"
"""),
("code", r"""
# NBVAL_CHECK_OUTPUT
print("files in the table:", live, "| parquet files on disk before VACUUM:", on_disk_before)
print("VACUUM RETAIN 0 HOURS with the safety check on:", refusal, "...")
print("after VACUUM RETAIN 0 HOURS:", on_disk_after, "parquet files on disk")
print("version 0", version_0)
"""),
("md", r"""
## Summary

- Transformations only describe work; an **action** starts jobs, cut into **stages** at every
  **shuffle**, each stage one **task** per partition. `explain("formatted")` shows the plan; every
  `Exchange` is a shuffle.
- Levers, measured above on this machine: fewer **shuffle partitions** or **AQE coalescing** remove
  useless tasks; a **broadcast join** removes the shuffle of the big side; **AQE skew joins** and
  **salting** split a hot key; a **cache** pays only when reused; **partition pruning** reads one folder
  instead of all.
- The **catalog** gives tables names, comments and properties; managed tables own their files,
  external tables only point at them.
- **Delta Lake** = Parquet + an ordered log of atomic commits. It enforces the schema and evolves it
  on request; `DELETE`, `UPDATE` and `MERGE` change tables in place (cheaply with deletion vectors);
  every version can be read back and restored; the change data feed lists what changed; constraints
  and generated columns keep data honest; `OPTIMIZE`, Z-order and liquid clustering make file
  statistics skip data; `VACUUM` reclaims space once the retention period has passed.

**Going further:** rerun the notebook with `SCALE = "small"` and compare the charts; open the Spark
UI's *SQL / DataFrame* tab during the skew demo and look at the task time distribution of the join
stage; change the clustering columns of `ch03.telemetry_clustered` with `ALTER TABLE ... CLUSTER BY
(status, machine_id)` and `OPTIMIZE` again; read the newest JSON commit of the order lines table and find
the constraint in its `metaData`; try `REORG TABLE ch03.products APPLY (PURGE)` and watch the deletion
vectors go.
"""),
]
build(cells, {"chapter": "03", "title": "Spark deep dive and Delta Lake", "budget_seconds": 90},
      "/work/main/solutions/03_spark_delta.ipynb")
