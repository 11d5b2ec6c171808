"""The class-data caches of the Kafka broker and the schema registry (lablib/services/class_data.py):
named for the JVM and jars they were recorded with, used only when recorded, off with LAB_CDS=off,
and, as recorded, valid for this machine's JVMs (a JVM told to insist on a file
fails when it cannot map it)."""

from __future__ import annotations

import os
import subprocess

import pytest

from lablib.services import SERVICES, class_data, class_data_cache


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    from lablib.jvm import cds

    folder = tmp_path / "cds"
    folder.mkdir()
    monkeypatch.setattr(cds, "folder", lambda: folder)
    monkeypatch.delenv(class_data.RECORD_VAR, raising=False)
    monkeypatch.delenv("LAB_CDS", raising=False)
    return folder


@pytest.mark.parametrize("name, use", [("kafka", "-XX:SharedArchiveFile="), ("registry", "-XX:AOTCache=")])
def test_options_map_the_file_only_when_it_was_recorded(cache_folder, monkeypatch, name, use):
    files = SERVICES[name].jvm_files()
    path = class_data.cache(name, *files)
    assert path.parent == cache_folder and path.name.startswith(f"{name}-")
    assert class_data.options(name, *files) == []  # not recorded: the service starts as before
    path.write_bytes(b"x")
    opts = class_data.options(name, *files)
    assert opts[0] == use + str(path) and all(o.startswith("-Xlog:") for o in opts[1:])
    monkeypatch.setenv("LAB_CDS", "off")
    assert class_data.options(name, *files) == []


def test_the_recording_process_records_and_no_other_service_does(cache_folder, monkeypatch):
    monkeypatch.setenv(class_data.RECORD_VAR, "kafka=/somewhere/partial")
    assert class_data.options("kafka", *SERVICES["kafka"].jvm_files()) == [
        "-XX:ArchiveClassesAtExit=/somewhere/partial"]
    assert not any("AOTCacheOutput" in o for o in class_data.options("registry", *SERVICES["registry"].jvm_files()))


def test_a_changed_jar_or_java_is_a_new_name(cache_folder, tmp_path):
    java, jars = SERVICES["kafka"].jvm_files()
    jar = tmp_path / "a.jar"
    jar.write_bytes(b"one")
    before = class_data.cache("kafka", java, [*jars, jar])
    jar.write_bytes(b"two!")
    assert class_data.cache("kafka", java, [*jars, jar]) != before
    other_java = tmp_path / "java"
    other_java.write_bytes(b"another JDK")
    assert class_data.cache("kafka", other_java, jars) != class_data.cache("kafka", java, jars)


def test_the_broker_and_registry_commands_carry_the_option(cache_folder):
    for name, flag in (("kafka", "-XX:SharedArchiveFile="), ("registry", "-XX:AOTCache=")):
        path = class_data_cache(name)
        path.write_bytes(b"x")
        cmd = SERVICES[name].command()
        assert cmd[1] == f"{flag}{path}", cmd[:3]


def _recorded(name):
    """The service's cache; `make setup` (`lab setup`) records it, and this records it if it did not."""
    path = class_data.record(name, *SERVICES[name].jvm_files(), log=lambda line: None)
    assert path is not None and path.is_file(), f"the {name} class-data cache could not be recorded: see `lab setup`"
    return path


def _java_insisting(name, path, classpath):
    java, _ = SERVICES[name].jvm_files()
    insist = (["-Xshare:on", f"-XX:SharedArchiveFile={path}"] if name == "kafka"
              else ["-XX:AOTMode=on", f"-XX:AOTCache={path}"])
    return subprocess.run([str(java), *insist, "-cp", classpath, "-version"], capture_output=True, text=True,
                          timeout=120)


def test_the_broker_file_maps_on_this_jvm_and_not_for_another_classpath():
    path = _recorded("kafka")
    _, jars = SERVICES["kafka"].jvm_files()
    ok = _java_insisting("kafka", path, os.pathsep.join(str(j) for j in jars))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = _java_insisting("kafka", path, str(jars[-1]))  # not the classpath it was recorded with
    assert wrong.returncode != 0, "a JVM told to insist on the archive accepted another classpath"


def test_the_registry_cache_maps_on_its_jvm_and_a_damaged_one_is_refused(tmp_path):
    path = _recorded("registry")
    _, jars = SERVICES["registry"].jvm_files()
    ok = _java_insisting("registry", path, str(jars[0]))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    damaged = tmp_path / "damaged.aot"
    damaged.write_bytes(path.read_bytes()[: 1 << 20])  # its first megabyte only
    refused = _java_insisting("registry", damaged, str(jars[0]))
    assert refused.returncode != 0, "a JVM told to insist on the cache accepted a damaged one"


def test_doctor_names_a_missing_cache_and_the_command_that_records_it(cache_folder):
    from lablib import doctor

    what, ok, detail = doctor._service_class_data("kafka")
    assert (what, ok) == ("kafka class-data cache", None) and "`lab setup` records it" in detail
    class_data_cache("kafka").write_bytes(b"x" * 2_000_000)
    assert doctor._service_class_data("kafka")[1:] == (True, f"{class_data_cache('kafka').name} (2 MB)")
