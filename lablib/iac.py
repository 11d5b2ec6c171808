"""Chapter 08c's Terraform (or OpenTofu) runs: offline, in a working folder under LAB_HOME.

The binary is whichever of ``terraform`` and ``tofu`` is on PATH (``LAB_TERRAFORM`` names
another). Every run gets a CLI configuration of its own (``TF_CLI_CONFIG_FILE``): a plugin cache
and an empty filesystem mirror in ``$LAB_HOME/ci/terraform`` and no direct installation, so no
command can reach a registry; the configuration uses only what is built in (``terraform_data``,
``local-exec``, ``check`` blocks). Version checks are off (``CHECKPOINT_DISABLE``).

The working folder is a copy of ``lablib/iac_template`` in ``$LAB_HOME/scratch/ch08/iac`` (the
chapter's reset removes it, with its state). What comes back from a run is a
:class:`lablib.ci.Gate`; :func:`show` prints its output without machine-specific paths or IDs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lablib.ci import Gate
from lablib.config import settings

TEMPLATE = Path(__file__).parent / "iac_template"
INSTALL = ("neither terraform nor tofu is on PATH, so this section does not run: install OpenTofu "
           "(https://opentofu.org/docs/intro/install/) or Terraform (https://developer.hashicorp.com/"
           "terraform/install), or open the course's devcontainer, which has one, and run this notebook again")


def binary() -> str | None:
    """The Terraform-compatible binary to run: $LAB_TERRAFORM, else terraform, else tofu (None: neither)."""
    named = settings().terraform
    if named:
        return shutil.which(named)
    return shutil.which("terraform") or shutil.which("tofu")


def available() -> bool:
    return binary() is not None


def version() -> str | None:
    """``Terraform v1.11.4`` / ``OpenTofu v1.9.0``, or None."""
    exe = binary()
    if exe is None:
        return None
    quiet = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}  # writes nothing
    proc = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60, env=quiet)
    return (proc.stdout.strip().splitlines() or ["?"])[0]


def cli_config() -> Path:
    """The CLI configuration every run uses: cache and mirror under LAB_HOME, no registry."""
    base = settings().home / "ci" / "terraform"
    cache, mirror = base / "plugin-cache", base / "mirror"
    cache.mkdir(parents=True, exist_ok=True)
    mirror.mkdir(parents=True, exist_ok=True)
    path = base / "terraformrc"
    text = (f"# written by lablib.iac: providers only from the local mirror, never from a registry\n"
            f"plugin_cache_dir = {json.dumps(str(cache))}\n"
            f"provider_installation {{\n  filesystem_mirror {{\n    path    = {json.dumps(str(mirror))}\n"
            f"    include = [\"*/*/*\"]\n  }}\n}}\n")
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def env() -> dict[str, str]:
    """The environment of a run: the CLI configuration above, no version check, no prompts, no colour.
    PYTHONPATH is kept, so the provisioners' ``python -m lablib.resources`` imports this lablib."""
    out = dict(os.environ)
    out.update(TF_CLI_CONFIG_FILE=str(cli_config()), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1",
               TF_INPUT="0", NO_COLOR="1", LAB_HOME=str(settings().home))
    return out


def workdir(path: Path | None = None, fresh: bool = False) -> Path:
    """The working folder with the chapter's configuration (copied from the template if missing)."""
    where = Path(path) if path else settings().scratch / "ch08" / "iac"
    if fresh and where.exists():
        shutil.rmtree(where)
    if not where.exists():
        shutil.copytree(TEMPLATE, where)
    return where


def variables() -> dict[str, str]:
    """The values only this machine knows: its Python and its warehouse folder."""
    return {"python": sys.executable, "warehouse": str(settings().warehouse)}


def broker_topics() -> list[str]:
    """What the broker lists now, for ``var.broker_topics`` (Terraform cannot ask it itself)."""
    from lablib import resources

    return sorted(resources.topics())


def run(folder: Path, *args: str, timeout: float = 300) -> Gate:
    """``terraform <args>`` in ``folder``; with neither binary on PATH, a Gate with exit code 127
    whose output is :data:`INSTALL` (nothing runs)."""
    exe = binary()
    command = [exe or "terraform", *args, "-no-color"]
    if exe is None:
        return Gate(f"terraform {args[0]}", command, 127, INSTALL, Path(folder))
    proc = subprocess.run(command, cwd=folder, env=env(), capture_output=True, text=True, timeout=timeout)
    return Gate(f"{Path(exe).name} {args[0]}", command, proc.returncode, (proc.stdout + proc.stderr).strip(),
                Path(folder))


def _vars(observe: bool = False) -> list[str]:
    pairs = variables()
    if observe:
        pairs["broker_topics"] = json.dumps(broker_topics())
    return [f"-var={k}={v}" for k, v in pairs.items()]


def init(folder: Path) -> Gate:
    return run(folder, "init", "-input=false")


def plan(folder: Path, *extra: str, observe: bool = True) -> Gate:
    """``plan -detailed-exitcode``: 0 no changes, 2 changes, 1 an error. With ``observe`` the
    broker's topic list goes in as ``var.broker_topics``, so the topic's check can see a drift."""
    return run(folder, "plan", "-input=false", "-detailed-exitcode", *_vars(observe and available()), *extra)


def apply(folder: Path, *extra: str) -> Gate:
    return run(folder, "apply", "-input=false", "-auto-approve", *_vars(), *extra)


def destroy(folder: Path) -> Gate:
    return run(folder, "destroy", "-input=false", "-auto-approve", *_vars())


def test(folder: Path) -> Gate:
    return run(folder, "test", *_vars())


def state(folder: Path) -> list[str]:
    """The resource addresses in the folder's state (``terraform state list``), [] when none."""
    gate = run(folder, "state", "list")
    return gate.output.split() if gate.passed else []


_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_AFTER = re.compile(r" after \d+s")
_NOISE = ("Still creating", "Still destroying", "Terraform has been successfully initialized",
          "You may now begin working", "any changes that are required", "If you ever set or change",
          "rerun this command", "should now work", "commands will detect it", "Note: You didn't use the -out")


def clean(text: str) -> str:
    """Output fit to print: LAB_HOME and the Python path as names, resource IDs and durations out."""
    home = str(settings().home)
    text = text.replace(sys.executable, "python").replace(home, "$LAB_HOME")
    text = _AFTER.sub("", _ID.sub("…", text))
    lines = [line.rstrip() for line in text.splitlines() if not any(n in line for n in _NOISE)]
    out: list[str] = []
    for line in lines:  # no runs of blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def show(gate: Gate, grep: str | None = None) -> None:
    """Print a run's cleaned output (only the lines matching ``grep``, if given), then its exit code."""
    if gate.returncode == 127 and gate.output == INSTALL:
        print(f"{gate.name}: not run (no terraform or tofu on PATH)")
        return
    text = clean(gate.output)
    if grep:
        text = "\n".join(line for line in text.splitlines() if re.search(grep, line))
    print(text)
    print(f"-> {gate.name}: exit code {gate.returncode}")


def check_warnings(gate: Gate) -> list[str]:
    """The messages of the check blocks that failed in a plan or apply, sorted (a failed check
    warns; the exit code does not show it)."""
    found = []
    for block in re.split(r"\n(?=Warning: |Error: )", gate.output):
        if block.startswith(("Warning: Check block assertion failed", "Error: Check block assertion failed")):
            paragraphs = [p for p in block.strip().split("\n\n") if p.strip()]
            found.append(clean(" ".join(paragraphs[-1].split())))
    return sorted(found)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a convenience for the terminal
    args = list(sys.argv[1:] if argv is None else argv)
    folder = workdir()
    command = {"init": init, "plan": plan, "apply": apply, "destroy": destroy, "test": test}
    if not args or args[0] not in command:
        print("usage: python -m lablib.iac init|plan|apply|destroy|test", file=sys.stderr)
        return 2
    gate = command[args[0]](folder)
    show(gate)
    return gate.returncode


if __name__ == "__main__":
    sys.exit(main())
