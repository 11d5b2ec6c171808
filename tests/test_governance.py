"""lablib.governance: refused statements read as their condition; the OpenLineage listener records
only the jobs inside its block, with table and column lineage, to a local file."""

from __future__ import annotations

from lablib import governance


def test_refused_names_the_condition(spark, tmp_path):
    assert governance.refused("GRANT SELECT ON TABLE t TO `analysts`") == "INVALID_STATEMENT_OR_CLAUSE"
    assert governance.refused("SELECT 1") is None
    path = str(tmp_path / "t")
    spark.range(3).write.format("delta").save(path)
    spark.sql(f"ALTER TABLE delta.`{path}` ADD CONSTRAINT small CHECK (id < 10)")
    write = lambda: spark.range(20).write.format("delta").mode("append").save(path)  # noqa: E731
    assert governance.refused(write) == "DELTA_VIOLATE_CONSTRAINT_WITH_VALUES"


def test_lineage_records_the_block_only(spark, tmp_path):
    events = tmp_path / "lineage" / "events.jsonl"
    a, b, c = (str(tmp_path / n) for n in ("a", "b", "c"))
    with governance.lineage(events):
        spark.range(10).selectExpr("id", "id * 2 AS twice").write.format("delta").save(a)
        spark.read.format("delta").load(a).selectExpr("id", "twice + 1 AS t2").write.format("delta").save(b)
    spark.read.format("delta").load(b).write.format("delta").save(c)  # after the block: not recorded
    found = governance.read_events(events)
    assert found and {e["eventType"] for e in found} >= {"START", "COMPLETE"}
    tables, columns = governance.lineage_edges(found)
    assert tables == {("a", "b")}
    assert ("a", "twice", "b", "t2") in columns
    assert governance.downstream(columns, "a", "twice") == {("b", "t2")}
    assert all(e["job"]["namespace"] == "mega-awesome-toys" for e in found)
