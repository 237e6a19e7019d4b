"""One in-memory DuckDB database for the JSON readers, and its answers as numpy columns.

Opening a DuckDB connection costs about 12 ms; a cursor on an open one costs microseconds,
and each cursor is safe to use from its own thread. DuckDB keeps the memory of its last
queries until the database is closed (about 60 MB after a 90 MB JSON file), so a reader of
large files calls :func:`release` when it is done, and large reads take turns
(:func:`turn`): two at once would hold two sets of DuckDB buffers and batches.

Answers are read as Arrow record batches, a few megabytes each, and their buffers are
viewed with ``np.frombuffer``: pyarrow's own ``to_numpy`` imports pandas on first use,
which costs ~50 MB and a quarter of a second, more than reading a val2017-sized file.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

_LOCK = threading.Lock()
_TURNS = threading.Lock()  # held by the large read running now
_DATABASE: Any = None
_OPEN = 0  # cursors handed out by connection() and not yet closed
_TRIM: Any = None  # glibc's malloc_trim, False where there is none
BATCH_BYTES = 4 << 20  # a record batch of about this many bytes of numbers


def _database() -> Any:
    global _DATABASE
    import duckdb

    if _DATABASE is None:
        _DATABASE = duckdb.connect()
    return _DATABASE


@contextlib.contextmanager
def connection() -> Iterator[Any]:
    """A cursor on the shared database, closed on exit (:func:`release` waits for it)."""
    global _OPEN
    with _LOCK:
        con = _database().cursor()
        _OPEN += 1
    try:
        yield con
    finally:
        con.close()
        with _LOCK:
            _OPEN -= 1


@contextlib.contextmanager
def turn(large: bool) -> Iterator[None]:
    """Run a large read (``large``) when no other large read runs; a small one at once.

    DuckDB parses one JSON array on one core, so two files read in two threads take the
    time of one; but for large files their buffers and batches would add up. Holding the
    turn through the read (until its columns are joined) keeps one large read's memory at a
    time, while a small read, or the Python work around a read, still runs alongside.
    """
    if not large:
        yield
        return
    with _TURNS:
        try:
            yield
        finally:
            trim_heap()  # the batches joined into columns are free now: hand them back


def release() -> None:
    """Close the shared database when no :func:`connection` is open, so that the memory
    DuckDB keeps from its last queries goes back (the next cursor opens a new one), and
    hand the C heap's free memory back to the system."""
    global _DATABASE
    with _LOCK:
        if _DATABASE is not None and _OPEN == 0:
            _DATABASE.close()
            _DATABASE = None
    trim_heap()


def trim_heap() -> None:
    """glibc keeps the memory of freed batches for reuse (~30 MB after a 40 MB file) rather
    than returning it; ``malloc_trim`` returns it (a no-op where there is no glibc)."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


def batches(con: Any, query: str, row_bytes: int) -> Iterator[Any]:
    """The answer to ``query`` as Arrow record batches of about :data:`BATCH_BYTES`
    (``row_bytes``: the bytes of one row), streamed: DuckDB never holds the whole answer."""
    rows = max(2048, BATCH_BYTES // max(row_bytes, 1))
    yield from con.sql(query).to_arrow_reader(rows)


def numbers(array: Any, dtype: type[np.int64] | type[np.float64]) -> np.ndarray | None:
    """A copy of an Arrow int64 / float64 array as numpy (nulls hold whatever the buffer
    has: see :func:`nulls`); None for another type."""
    import pyarrow as pa

    wanted = pa.int64() if dtype is np.int64 else pa.float64()
    if array.type != wanted:
        return None
    size = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * size).copy()


def nulls(array: Any) -> np.ndarray:
    """(N,) True where the Arrow array is null."""
    n = len(array)
    if not array.null_count:
        return np.zeros(n, bool)
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], np.uint8), bitorder="little")
    return ~bits[array.offset : array.offset + n].astype(bool)


def list_values(array: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(lengths (N,), values) of an Arrow ``list<double>`` array (a null list has length
    0); None when a value inside a list is null or the type is another."""
    import pyarrow as pa

    if not pa.types.is_list(array.type) or not pa.types.is_float64(array.type.value_type):
        return None
    _, offsets_buffer, child_validity, data = array.buffers()
    n = len(array)
    offsets = np.frombuffer(offsets_buffer, np.int32, n + 1, array.offset * 4)
    start, end = int(offsets[0]), int(offsets[-1])
    if child_validity is not None and array.values.null_count:
        child = nulls(array.values)[start:end]
        if child.any():
            return None
    if end == start:
        return np.diff(offsets), np.zeros(0)
    return np.diff(offsets), np.frombuffer(data, np.float64, end - start, start * 8)


class Chunks:
    """Per-column lists of the arrays of each record batch, joined one column at a time:
    a column's chunks are dropped as soon as it is joined, so joining holds one column
    twice at most (take the largest first)."""

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {}
        self.rows = 0

    def add(self, **columns: np.ndarray) -> None:
        """Append one batch's arrays (every column of a batch has its number of rows)."""
        for name, values in columns.items():
            self._parts.setdefault(name, []).append(values)
        self.rows += len(next(iter(columns.values())))

    def take(self, name: str) -> np.ndarray:
        """The whole column ``name`` (its chunks are forgotten)."""
        parts = self._parts.pop(name)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
