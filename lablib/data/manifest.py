"""datasets/MANIFEST.json: every file of every named scale with rows, bytes and sha256.

`lab data --verify` regenerates (if needed) and compares; the committed samples
in datasets/samples/ are the first rows of the ci tables, for reading on GitHub
and working offline.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from lablib.config import REPO
from lablib.data import build as gen
from lablib.data._io import write_bytes, write_parquet
from lablib.data.catalog import TABLES
from lablib.data.scales import DEFAULT_SEED, NAMED, resolve
from lablib.errors import LabError

DATASETS = REPO / "datasets"
MANIFEST = DATASETS / "MANIFEST.json"
SAMPLES = DATASETS / "samples"
SAMPLE_ROWS = 200


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    count = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
    return count - 1 if path.suffix == ".csv" else count  # the CSV header is not a row


def files(root: Path, table) -> list[Path]:
    where = root / table.path
    return sorted(p for p in where.iterdir() if p.is_file() and not p.name.startswith((".", "_"))) if where.is_dir() else [where]


def describe(root: Path) -> dict:
    """Rows, bytes, sha256 per file and table, and each table's format and schema."""
    out = {}
    for name, table in TABLES.items():
        entries = [{"path": p.relative_to(root).as_posix(), "rows": rows(p), "bytes": p.stat().st_size,
                    "sha256": sha256(p)} for p in files(root, table)]
        out[name] = {"format": table.format, "path": table.path, "schema": table.schema,
                     "rows": sum(e["rows"] for e in entries), "bytes": sum(e["bytes"] for e in entries),
                     "files": entries}
    d = root / "dirt.json"
    out["_dirt"] = {"path": "dirt.json", "bytes": d.stat().st_size, "sha256": sha256(d)}
    return out


def load() -> dict:
    try:
        return json.loads(MANIFEST.read_text())
    except FileNotFoundError:
        return {"seed": DEFAULT_SEED, "version": gen.VERSION, "scales": {}}


def write(scales: list[str] | None = None) -> None:
    """Generate each named scale (default ci and small and full) and record it; refresh the samples."""
    scales = scales or list(NAMED)
    manifest = load()
    manifest["seed"], manifest["version"] = DEFAULT_SEED, gen.VERSION
    for scale in scales:
        root = gen.ensure(scale, DEFAULT_SEED, quiet=False)
        manifest["scales"][resolve(scale).name] = describe(root)
        print(f"manifest: recorded scale {scale}")
    manifest["scales"] = {k: manifest["scales"][k] for k in NAMED if k in manifest["scales"]}
    write_bytes(MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    write_samples(gen.ensure("ci", DEFAULT_SEED))


def write_samples(root: Path) -> None:
    """The first rows of every ci table (first and last batch of batched tables)."""
    shutil.rmtree(SAMPLES, ignore_errors=True)
    for table in TABLES.values():
        found = files(root, table)
        picked = [found[0], found[-1]] if len(found) > 1 else found
        for src in picked:
            dst = SAMPLES / src.relative_to(root)
            if src.suffix == ".parquet":
                write_parquet(dst, pq.read_table(src).slice(0, SAMPLE_ROWS))
            else:
                keep = SAMPLE_ROWS + (src.suffix == ".csv")
                with open(src, "rb") as f:
                    head = b"".join(line for _, line in zip(range(keep), f, strict=False))
                write_bytes(dst, head)
    print(f"samples: wrote {sum(1 for p in SAMPLES.rglob('*') if p.is_file())} files to datasets/samples")


def verify(scale: str | None = None) -> list[str]:
    """Differences between the generated dataset and the manifest (empty when all match)."""
    s = resolve(scale)
    expected = load()["scales"].get(s.name)
    if expected is None:
        raise LabError(f"datasets/MANIFEST.json has no entry for scale {s.name!r}; "
                       f"it records {', '.join(load()['scales']) or 'none'}")
    actual = describe(gen.ensure(s, DEFAULT_SEED))
    problems = []
    for name, want in expected.items():
        have = actual.get(name)
        if have is None:
            problems.append(f"{s.name}: table {name} is missing")
            continue
        if name == "_dirt":
            if have["sha256"] != want["sha256"]:
                problems.append(f"{s.name}: dirt.json differs")
            continue
        want_files = {f["path"]: f for f in want["files"]}
        have_files = {f["path"]: f for f in have["files"]}
        for path in sorted(want_files.keys() | have_files.keys()):
            w, h = want_files.get(path), have_files.get(path)
            if w is None or h is None:
                problems.append(f"{s.name}: {path} {'is extra' if w is None else 'is missing'}")
            elif w != h:
                what = [k for k in ("rows", "bytes", "sha256") if w[k] != h[k]]
                problems.append(f"{s.name}: {path} differs in {', '.join(what)}")
        if want["schema"] != have["schema"]:
            problems.append(f"{s.name}: {name} schema differs")
    return problems
