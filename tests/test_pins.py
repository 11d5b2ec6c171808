"""Python pins (pyproject.toml) and JVM pins (lablib/jvm/*/pom.xml) agree."""

import re
import tomllib
from importlib import metadata

from lablib import config, jvm


def _python_pins() -> dict[str, str]:
    deps = tomllib.loads((config.REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for dep in deps:
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^;\s]+)", dep)
        assert m, f"{dep!r} is not pinned exactly"
        pins[m.group(1).lower()] = m.group(3)
    return pins


def test_every_python_dependency_is_pinned_and_installed():
    for name, version in _python_pins().items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"


def test_spark_connectors_match_pyspark():
    pins = _python_pins()
    props = jvm.properties("spark")
    assert props["spark.version"] == pins["pyspark"]
    assert props["spark.binary"] == ".".join(pins["pyspark"].split(".")[:2])
    for c in jvm.coordinates("spark"):
        if c.group == "org.apache.spark":
            assert c.version == pins["pyspark"], str(c)


def test_delta_jar_matches_delta_spark_and_spark_line():
    pins = _python_pins()
    delta = [c for c in jvm.coordinates("spark") if c.group == "io.delta"]
    assert len(delta) == 1
    spark_line = ".".join(pins["pyspark"].split(".")[:2])
    assert delta[0].artifact == f"delta-spark_{spark_line}_2.13"
    assert delta[0].version == pins["delta-spark"]


def test_delta_spark_accepts_the_pinned_pyspark():
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in metadata.requires("delta-spark") or []]
    spark_req = next(r for r in reqs if r.name == "pyspark")
    assert spark_req.specifier.contains(_python_pins()["pyspark"])


def test_pandas_below_3():
    assert int(_python_pins()["pandas"].split(".")[0]) < 3


def test_resolved_jars_are_the_pinned_versions():
    jars = {p.name for p in jvm.jars("spark")}
    for c in jvm.coordinates("spark"):
        assert f"{c.artifact}-{c.version}.jar" in jars, f"{c} not resolved: run `lab setup`"
