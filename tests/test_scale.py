"""One scale validator, and one route for the scale from `lab run` to lablib.data.

The route (lablib/config.py's design note): `lab run --scale X` hands X to the
notebook only as papermill's SCALE parameter; `lablib.reset(..., scale=SCALE)`
makes it the kernel's LAB_SCALE; lablib.data reads LAB_SCALE through settings().
"""

from __future__ import annotations

import os

import nbformat
import pytest

from lablib import chapters, config, notebooks
from lablib.data.scales import resolve
from lablib.errors import LabError

MESSAGE = "unknown dataset scale {!r}: use ci, small, full or a positive number up to 1000 (a factor of small)"


@pytest.mark.parametrize("good, name", [("ci", "ci"), (" Small ", "small"), ("FULL", "full"), ("0.5", "0.5"),
                                        (2, "2"), ("1000", "1000")])
def test_validate_scale_names_a_good_scale(good, name):
    assert config.validate_scale(good) == name
    assert resolve(good).name == name  # the generator accepts exactly what the validator names


@pytest.mark.parametrize("bad", ["huge", "-1", "0", "nan", "inf", "-inf", "1001", ""])
def test_every_bad_scale_gets_the_same_one_sentence(bad):
    for refuse in (config.validate_scale, resolve, config.use_scale):
        with pytest.raises(LabError) as caught:
            refuse(bad)
        assert str(caught.value) == MESSAGE.format(bad)


def test_no_other_scale_validator_is_left():
    assert not hasattr(notebooks, "_check_scale")
    import lablib.resetting

    assert lablib.resetting.use_scale is config.use_scale


@pytest.fixture
def tiny_chapter(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("SCALE = None", metadata={"tags": ["parameters"]})]
    solution = tmp_path / "99_tiny.ipynb"
    nbformat.write(nb, solution)
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(notebooks, "budget", lambda path: 6.0)  # the budget is not what is tested here
    return chapters.Chapter("99", solution, tmp_path / "labs" / solution.name)


def test_lab_run_hands_the_scale_over_only_as_the_notebook_parameter(tiny_chapter, monkeypatch):
    import papermill

    monkeypatch.setenv("LAB_SCALE", "small")  # the author's own setting, e.g. from their shell
    seen = {}

    def kernel(source, output, parameters, **kwargs):
        # what the kernel starts with: papermill's parameters and this process's environment
        seen["parameters"] = dict(parameters)
        seen["LAB_SCALE"] = os.environ.get("LAB_SCALE")
        # ... then the notebook's first cell, lablib.reset("NN", scale=SCALE), does this:
        config.use_scale(parameters["SCALE"])
        seen["data scale"] = resolve(None).name

    monkeypatch.setattr(papermill, "execute_notebook", kernel)
    result = notebooks.execute(tiny_chapter, scale="0.5", progress=False)
    assert result.status == "ok", result.error
    assert seen["parameters"] == {"SCALE": "0.5"}
    assert seen["LAB_SCALE"] == "small"  # not a second channel: the environment was left alone
    assert seen["data scale"] == "0.5"  # the parameter, through reset, is what lablib.data reads
    assert os.environ["LAB_SCALE"] == "small"  # `lab run`'s own process is unchanged afterwards


def test_lab_run_without_scale_passes_the_setting_as_the_parameter(tiny_chapter, monkeypatch):
    import papermill

    monkeypatch.setenv("LAB_SCALE", "ci")
    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook",
                        lambda source, output, parameters, **kw: seen.update(parameters))
    notebooks.execute(tiny_chapter, progress=False)
    assert seen == {"SCALE": "ci"}


def test_reset_turns_the_parameter_into_the_kernels_scale(tmp_path, monkeypatch, capsys):
    from lablib.resetting import reset

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setenv("LAB_SCALE", "small")
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "SCHEMA_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)  # embedded and stopped: the reset starts nothing
    reset("00", scale=None)
    assert resolve(None).name == "small"  # SCALE = None keeps the learner's LAB_SCALE
    reset("00", scale="2")
    assert os.environ["LAB_SCALE"] == "2" and resolve(None).name == "2"
    with pytest.raises(LabError, match="unknown dataset scale 'inf'"):
        reset("00", scale="inf")
    assert "reset chapter 00" in capsys.readouterr().out
