"""Writing files safely and reproducibly.

Every file is written to a hidden temp name in the same folder and renamed
into place, so a reader (or Spark's file source) never sees half a file. The
writers pin every option that could make two runs differ.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lablib.errors import LabError, cannot_write


def oserror(exc: OSError, path: Path) -> LabError:
    """One sentence for a failed write (full disk, read-only, no permission, ...)."""
    return cannot_write(path, exc.errno, exc.strerror or str(exc))


def atomic(path: Path, write: Callable[[Path], None]) -> int:
    """Run ``write(tmp)`` then rename tmp to ``path``; returns the file's size in bytes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        size = tmp.stat().st_size
        os.replace(tmp, path)
        return size
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise oserror(exc, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def csv_bytes(table: pa.Table) -> bytes:
    # the header is written by hand: pyarrow always quotes header names; values
    # are never quoted because the generator keeps commas and quotes out of them
    buf = io.BytesIO()
    buf.write((",".join(table.column_names) + "\n").encode())
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> int:
    return atomic(path, lambda tmp: tmp.write_bytes(data))


def write_csv(path: Path, table: pa.Table) -> int:
    """The same bytes as ``csv_bytes(table)``, streamed into the file (no copy of it in memory)."""
    def write(tmp: Path) -> None:
        with pa.OSFile(str(tmp), "wb") as f:
            f.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none"))

    return atomic(path, write)


def write_parquet(path: Path, table: pa.Table) -> int:
    # one row group and fixed options: the bytes depend only on the data and pyarrow's version
    return atomic(path, lambda tmp: pq.write_table(
        table, tmp, compression="snappy", row_group_size=max(1, table.num_rows),
        use_dictionary=True, write_statistics=True, store_schema=True,
    ))


def write_lines(path: Path, lines: list[str]) -> int:
    return write_bytes(path, "".join(line + "\n" for line in lines).encode("utf-8"))


# -- value helpers --------------------------------------------------------------------

def decimal(cents: np.ndarray, precision: int = 14) -> pa.Array:
    """Exact decimal(precision, 2) from integer cents (decimal128 is a 128-bit unscaled int)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(precision, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Ids such as M-00017 for many numbers, built once per distinct number then taken."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers) == 0:
        return pa.array([], pa.string())
    top = int(numbers.max()) + 1
    if top <= 4 * len(numbers) + 1024:
        table = strings([f"{prefix}{i:0{width}d}" for i in range(top)])
        return table.take(arrow(numbers))
    return pa.array([f"{prefix}{i:0{width}d}" for i in numbers.tolist()])


def arrow(values: np.ndarray, type: pa.DataType | None = None) -> pa.Array:
    """A numeric numpy array as an Arrow array, zero-copy and without nulls.

    Same result as ``pa.array(values)``, but ``pa.array`` imports pandas on the
    first numpy array it sees (about half a second in every worker process).
    """
    values = np.ascontiguousarray(values)
    if values.dtype.kind not in "iuf":  # booleans are bit-packed in Arrow: not zero-copy
        raise TypeError(f"arrow() takes integers or floats, not {values.dtype}")
    if type is None:
        type = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(type, len(values), [None, pa.py_buffer(values)])


def strings(values: list) -> pa.Array:
    """Python strings (None = null) as an Arrow string array: ``pa.array(values, pa.string())``
    without its pandas import (see ``arrow``)."""
    data = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    if offsets[-1] >= 2**31:
        return pa.array(values, pa.string())
    valid = np.array([v is not None for v in values], dtype=bool)
    nulls = len(values) - int(valid.sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.string(), len(data), [bitmap, pa.py_buffer(offsets.astype(np.int32)),
                                                           pa.py_buffer(b"".join(data))], null_count=nulls)


def fmt_seconds(epoch: np.ndarray, fmt: str = "%Y-%m-%d %H:%M:%S") -> pa.Array:
    """Epoch seconds as strings in ``fmt`` (vectorised)."""
    import pyarrow.compute as pc

    ts = arrow(np.asarray(epoch, dtype=np.int64), pa.timestamp("s"))
    if fmt == "%Y-%m-%d %H:%M:%S":
        return pc.cast(ts, pa.string())  # ~10x faster than strftime, same text
    return pc.strftime(ts, format=fmt)


def money(x: np.ndarray) -> np.ndarray:
    """Round to cents (as float, for CSV) without the -0.0 that would print as '-0.0'."""
    return np.round(np.asarray(x, dtype=np.float64), 2) + 0.0
