"""Chapter 08c: Terraform/OpenTofu runs offline, and the check ``terraform_idempotent`` accepts the
right resource and rejects wrong ones for the reason the learner reads.

Every run is the real binary on a real folder in a fresh LAB_HOME (tmp); the resources under test
are Delta tables only (no broker), so each apply takes a few seconds. Where neither binary is on
PATH these tests skip, except under CI=true: the course's CI machine has Terraform, and chapter
08c must really run there, so its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from checking import accepts, rejects

from lablib import iac
from lablib.check import ch08

ON_CI = os.environ.get("CI", "").lower() == "true"

RIGHT = '''
resource "terraform_data" "alerts" {
  triggers_replace = ["${var.warehouse}/ch08.db/machine_alerts"]
  input            = { path = "${var.warehouse}/ch08.db/machine_alerts", run = local.run }
  provisioner "local-exec" {
    interpreter = concat(self.input.run, ["table", "create"])
    command     = self.input.path
  }
  provisioner "local-exec" {
    when        = destroy
    interpreter = concat(self.input.run, ["table", "delete"])
    command     = self.input.path
  }
}
'''
LOCALS = 'locals {\n  run = [var.python, "-m", "lablib.resources"]\n}\n'


def test_terraform_or_tofu_is_on_path_in_ci():
    """Chapter 08c's section runs for real in CI: its binary is there (a skip would hide a lab that
    prints 'not run')."""
    if not iac.available():
        if ON_CI:
            pytest.fail("CI=true but neither terraform nor tofu is on PATH: chapter 08c's Terraform section "
                        "and its check would not run; install one on the CI machine")
        pytest.skip("neither terraform nor tofu on PATH (not CI)")
    assert iac.version().startswith(("Terraform v", "OpenTofu v"))


needs_tf = pytest.mark.skipif(not iac.available() and not ON_CI, reason="neither terraform nor tofu on PATH")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "lab home"))  # a space, as in the notebook homes
    return tmp_path / "lab home"


def _folder(home: Path, alerts: str | None, name: str = "iac") -> Path:
    """A working folder with the chapter's variables, ``local.run`` and the learner's alerts.tf."""
    folder = home / name
    folder.mkdir(parents=True)
    shutil.copy(iac.TEMPLATE / "variables.tf", folder / "variables.tf")
    (folder / "locals.tf").write_text(LOCALS)
    if alerts is not None:
        (folder / "alerts.tf").write_text(alerts)
    assert iac.init(folder).passed
    return folder


@needs_tf
def test_the_cli_configuration_keeps_terraform_off_the_registry(home):
    """A configuration asking for a real provider fails at init, pointing at the local mirror: the
    course's CLI configuration leaves no way to a registry."""
    folder = home / "wants-a-provider"
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text('terraform {\n  required_providers {\n    null = { source = "hashicorp/null" }\n'
                                    '  }\n}\n')
    gate = iac.init(folder)
    assert not gate.passed
    assert "hashicorp/null" in gate.output and str(home / "ci" / "terraform" / "mirror") in gate.output
    text = iac.cli_config().read_text()
    assert "filesystem_mirror" in text and "direct" not in text


@needs_tf
def test_accepts_an_idempotent_resource_and_destroy_removes_its_table(home):
    folder = _folder(home, RIGHT)
    assert iac.apply(folder).passed
    accepts(ch08.terraform_idempotent(folder))
    table = home / "warehouse" / "ch08.db" / ch08.ALERTS_TABLE
    assert (table / "_delta_log").is_dir()
    assert iac.destroy(folder).passed and not table.exists()


@needs_tf
def test_rejects_a_trigger_that_changes_on_every_run(home):
    folder = _folder(home, RIGHT.replace('triggers_replace = ["${var.warehouse}/ch08.db/machine_alerts"]',
                                         "triggers_replace = [timestamp()]"))
    assert iac.apply(folder).passed
    rejects(ch08.terraform_idempotent(folder), "a second plan still wants changes (Plan: 1 to add, 0 to change, "
                                               "1 to destroy.: terraform_data.alerts must be replaced)")


@needs_tf
def test_rejects_a_table_without_a_destroy_provisioner(home):
    right_create = RIGHT[: RIGHT.index('  provisioner "local-exec" {\n    when')] + "}\n"
    folder = _folder(home, right_create)
    assert iac.apply(folder).passed
    rejects(ch08.terraform_idempotent(folder), "terraform_data.alerts has no destroy-time provisioner")


@needs_tf
def test_rejects_a_provisioner_that_writes_no_table(home):
    folder = _folder(home, RIGHT.replace('["table", "create"]', '["table", "delete"]', 1))
    assert iac.apply(folder).passed
    rejects(ch08.terraform_idempotent(folder), "the Delta table machine_alerts is not on disk")


@needs_tf
def test_rejects_a_resource_not_applied_yet(home):
    folder = _folder(home, RIGHT)
    rejects(ch08.terraform_idempotent(folder), "the state has no terraform_data.alerts (the state is empty)")


@needs_tf
def test_rejects_a_missing_answer(home):
    rejects(ch08.terraform_idempotent(None), "the folder is still None")
    folder = home / "empty"
    folder.mkdir(parents=True)
    rejects(ch08.terraform_idempotent(folder), "empty holds no .tf file")
    (folder / "main.tf").write_text(LOCALS)
    rejects(ch08.terraform_idempotent(folder), 'no .tf file declares resource "terraform_data" "alerts"')


def test_reports_not_run_without_a_binary(home, monkeypatch):
    monkeypatch.setenv("LAB_TERRAFORM", "no-such-terraform")
    result = ch08.terraform_idempotent(home)
    assert not result.passed and not result.ran and not result.crashed
    assert result.line.startswith("➖ terraform_idempotent: not run: neither terraform nor tofu is on PATH")
    assert iac.plan(home).returncode == 127
