"""Settings come from the environment, with documented defaults."""

from pathlib import Path

import pytest

from lablib import config
from lablib.errors import LabError


def test_defaults(monkeypatch):
    for name in config.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    s = config.settings()
    assert s.home == config.REPO / ".lab"
    assert s.spark_master == "local[*]"
    assert s.kafka_embedded and s.mlflow_embedded and s.registry_embedded
    assert s.port_overrides == {}  # each home's ports come from its record (lablib/ports.py)
    assert config.DEFAULT_PORTS == {"kafka": 9092, "kafka_controller": 9093, "registry": 8081, "mlflow": 5000, "model": 5001,
                                    "spark_ui": 4040, "jupyter": 8888, "orchestrator": 3000,
                                    "dashboard": 8501, "connect": 15002}
    assert s.jars == s.home / "jars"


def test_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "a home"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("LAB_SHUFFLE_PARTITIONS", "7")
    s = config.settings()
    assert s.home == tmp_path / "a home"
    assert s.data == tmp_path / "a home" / "data"
    assert s.kafka_bootstrap == "kafka:9092" and not s.kafka_embedded
    assert s.shuffle_partitions == 7


def test_a_port_variable_is_an_explicit_override(monkeypatch):
    monkeypatch.setenv("LAB_KAFKA_PORT", "19092")
    assert config.settings().port_overrides == {"kafka": 19092}
    monkeypatch.setenv("LAB_KAFKA_PORT", "70000")
    with pytest.raises(ValueError, match="LAB_KAFKA_PORT=70000 is not a TCP port"):
        config.settings()


def test_relative_home_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_HOME", "rel")
    assert config.settings().home == tmp_path / "rel"


def test_bad_number_is_one_clear_sentence(monkeypatch):
    monkeypatch.setenv("LAB_SHUFFLE_PARTITIONS", "many")
    with pytest.raises(ValueError, match="LAB_SHUFFLE_PARTITIONS='many' is not a whole number"):
        config.settings()


def test_unwritable_folder_names_the_path(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        target = locked / "sub"
        if __import__("os").geteuid() == 0:
            # root writes anywhere; a file in the way is the unwritable case root also meets
            blocker = tmp_path / "file"
            blocker.write_text("x")
            target = blocker / "sub"
        with pytest.raises(LabError, match="cannot create .*set LAB_HOME"):
            config.ensure_dir(Path(target))
    finally:
        locked.chmod(0o700)
