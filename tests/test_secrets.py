"""No token, password or key lands in a committed notebook (solutions/, labs/: sources and outputs).

A JupyterLab URL copied with its ``?token=…``, a password typed into a cell, a cloud key printed by a
cell: each is found in the cell's source, its outputs or the notebook's metadata, and named by file
and cell so it can be removed before it is pushed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from lablib.config import REPO

#: what a secret looks like, by kind (kept narrow: a check that cries wolf gets switched off)
PATTERNS = {
    "Jupyter/URL token": re.compile(r"[?&]token=[0-9a-fA-F]{16,}"),
    "password or secret assigned": re.compile(
        r"""(?i)(password|passwd|pwd|secret|api[_-]?key|access[_-]?token)["']?\s*[:=]\s*["']"""
        r"""(?!\{|<|\$|\*{3})[^"'\s]{6,}["']"""),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^/\s:@\"']{3,}@"),
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_secret_access_key\s*[:=]\s*\S{16,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}


def notebooks() -> list[Path]:
    return sorted([*(REPO / "solutions").glob("*.ipynb"), *(REPO / "labs").glob("*.ipynb")])


def secrets_in(path: Path) -> list[str]:
    """One line per secret found: file, cell (index and id), where in the cell, what kind."""
    nb = nbformat.read(path, as_version=4)
    found = []
    places = [("notebook metadata", json.dumps(nb.metadata))]
    for index, cell in enumerate(nb.cells):
        name = f"cell {index} (id {cell.get('id', '?')})"
        places.append((f"{name} source", cell.source))
        places += [(f"{name} output", json.dumps(out)) for out in cell.get("outputs", [])]
        places.append((f"{name} metadata", json.dumps(cell.get("metadata", {}))))
    for where, text in places:
        for kind, pattern in PATTERNS.items():
            match = pattern.search(text)
            if match:
                found.append(f"{path.relative_to(path.parent.parent)}: {where}: {kind} ({match.group(0)[:12]}…)")
    return found


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_secret_in_a_committed_notebook(path):
    assert secrets_in(path) == []


def test_the_scan_finds_a_token_a_password_and_a_key_and_names_file_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell('db_password = "hunter2-abc"'),
        nbformat.v4.new_code_cell("print(url)", outputs=[nbformat.v4.new_output(
            "stream", text="open http://127.0.0.1:8888/lab?token=3f1c9a0b7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e\n")]),
        nbformat.v4.new_code_cell("key = 'AKIA" + "ABCDEFGHIJKLMNOP'"),
    ]
    (tmp_path / "solutions").mkdir()
    path = tmp_path / "solutions" / "99_planted.ipynb"
    nbformat.write(nb, path)
    found = secrets_in(path)
    assert len(found) == 3, found
    assert found[0].startswith(f"solutions/99_planted.ipynb: cell 1 (id {nb.cells[1].id}) source: password")
    assert found[1].startswith(f"solutions/99_planted.ipynb: cell 2 (id {nb.cells[2].id}) output: Jupyter/URL token")
    assert found[2].startswith("solutions/99_planted.ipynb: cell 3") and "AWS access key id" in found[2]
    # what the labs legitimately print is not a secret
    for harmless in ('conf = {"sasl.password": "{PASSWORD}"}', "http://127.0.0.1:4040", "kafka:9092",
                     "password = getpass.getpass()", "token=None"):
        assert not [k for k, p in PATTERNS.items() if p.search(harmless)], harmless
