"""JSON values into numpy columns, fast and exactly.

Scalar fields arrive as Python numbers (msgspec decodes them typed, see ``_records``);
number lists (``keypoints``, ``bbox``) arrive as raw JSON text, are joined and decoded in
ONE call per field into a flat list that numpy turns into an array. Number types survive:
a column remembers which whole numbers the file wrote as floats (``2.0``) and which as
ints (``2``).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import is_
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa
from msgspec import UNSET, Raw

from posetable._json_text import encoding_error, syntax_error
from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import open_file

_TOP = msgspec.json.Decoder(dict[str, Raw])
_EMPTY = Raw(b"")
_ABSENT = frozenset({type(UNSET), type(None)})
_NUMBERS = msgspec.json.Decoder(list[bool | int | float])
_NESTED = msgspec.json.Decoder(list[list[bool | int | float]])
_FLOAT_MARKS = (b".", b"e", b"E")
_TO_LINES = bytes.maketrans(b"[],\t\r ", b"\n\n\n\n\n\n")
_CSV_BYTES = 1 << 18  # lists at least this long (in bytes) use the CSV parser
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")


def read_bytes(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of a file; MissingFileError when it is missing, FormatError when unreadable."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{what} {p} does not exist")
    if p.is_dir():
        raise FormatError(f"expected a {what}, found a folder", path=p)
    try:
        with open_file(p, what) as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise MissingFileError(f"{what} {p} does not exist") from exc
    except OSError as exc:
        raise FormatError(f"cannot read the {what}: {exc}", path=p) from exc


def json_error(path: object, raw: bytes, exc: Exception | None = None) -> FormatError:
    """A FormatError naming why the JSON cannot be read: its encoding (byte offset), its
    nesting, or the line, column and byte of a syntax problem."""
    return syntax_error(path, raw, exc)


def check_text(path: object, raw: bytes) -> None:
    """A FormatError (with the byte offset) unless the file is UTF-8 text."""
    problem = encoding_error(path, raw)
    if problem is not None:
        raise problem


@contextlib.contextmanager
def json_errors(path: object, raw: bytes) -> Iterator[None]:
    """Turn what a JSON parser raises inside the block (a syntax or encoding error, a
    document nested past the recursion limit) into a FormatError naming the file."""
    try:
        yield
    except RecursionError as exc:
        raise json_error(path, raw, exc) from None
    except (msgspec.DecodeError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise json_error(path, raw, exc) from None


def decode_top(path: object, raw: bytes) -> dict[str, Raw]:
    """The top-level object of a JSON file, its values left as raw JSON."""
    try:
        return _TOP.decode(raw)
    except msgspec.ValidationError:
        try:
            kind = type(orjson.loads(raw)).__name__
        except (orjson.JSONDecodeError, RecursionError) as exc:
            raise json_error(path, raw, exc) from None
        names = {"list": "an array", "str": "a string", "int": "a number", "float": "a number"}
        raise FormatError(
            f"expected a JSON object at the top level, found {names.get(kind, kind)}", path=path
        ) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise json_error(path, raw, exc) from None


@dataclass(frozen=True)
class Numbers:
    """One scalar field of every record, as arrays.

    Attributes:
        values: (n,) float64 (NaN where absent).
        ints: (n,) int64 exact values when every present value is an integer, else None.
        present: (n,) the record has the field.
        written_float: (n,) the file wrote a whole number as a float (``2.0``).
        written_bool: (n,) the file wrote ``true``/``false``.
        null: (n,) the file wrote ``null`` (not present, but not absent either).
    """

    values: np.ndarray
    ints: np.ndarray | None
    present: np.ndarray
    written_float: np.ndarray
    written_bool: np.ndarray
    null: np.ndarray


class BadValue(Exception):
    """A value of the wrong JSON type: ``index`` is the record, ``text`` the problem."""

    def __init__(self, index: int, text: str) -> None:
        super().__init__(text)
        self.index = index
        self.text = text


def _present(raws: Sequence[Raw | None]) -> tuple[np.ndarray, list[Raw]]:
    """Which raw values are present (not None, not empty) and those values."""
    n = len(raws)
    values: Any = map(_or_empty, raws) if None in raws else raws
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    present = lengths > 0
    chosen = list(raws) if present.all() else list(compress(raws, present))
    return present, chosen  # type: ignore[return-value]


def _or_empty(value: Raw | None) -> Raw:
    return _EMPTY if value is None else value


def numbers(values: Sequence[Any]) -> Numbers:
    """One scalar number field of many records as arrays (absent: ``UNSET`` or None).

    Raises:
        BadValue: a value that is not a number (index of the record).

    Example:
        >>> from msgspec import UNSET
        >>> col = numbers([1, UNSET, 2.0, 2.5])
        >>> col.values.tolist(), col.present.tolist(), col.written_float.tolist()
        ([1.0, nan, 2.0, 2.5], [True, False, True, True], [False, False, True, False])
    """
    n = len(values)
    kinds = set(map(type, values))
    present = np.ones(n, dtype=bool)
    null = np.zeros(n, dtype=bool)
    if kinds & _ABSENT:
        present = np.fromiter(map(_is_present, values), dtype=bool, count=n)
        if type(None) in kinds:
            null = np.fromiter(map(is_, values, repeat(None)), dtype=bool, count=n)
        kinds -= _ABSENT
    if kinds - {int, float, bool}:
        i = next(i for i, v in enumerate(values) if type(v) not in (int, float, bool, *_ABSENT))
        raise BadValue(i, f"must be a number, found {values[i]!r:.60}")
    chosen = values if present.all() else list(compress(values, present))
    values_out = np.full(n, np.nan)
    written_float = np.zeros(n, dtype=bool)
    written_bool = np.zeros(n, dtype=bool)
    ints: np.ndarray | None = None
    where = np.flatnonzero(present)
    if kinds <= {int}:
        try:
            exact = np.array(chosen, dtype=np.int64) if len(chosen) else np.zeros(0, np.int64)
        except OverflowError:
            raise BadValue(int(where[0]), "is an integer that does not fit in 64 bits") from None
        ints = np.zeros(n, dtype=np.int64)
        ints[present] = exact
        values_out[present] = exact
        return Numbers(values_out, ints, present, written_float, written_bool, null)
    values_out[present] = np.array(chosen, dtype=np.float64)
    if float in kinds:
        is_float = np.fromiter(map(isinstance, chosen, repeat(float)), bool, len(chosen))
        written_float[where[is_float]] = True
        written_float &= np.mod(np.nan_to_num(values_out), 1) == 0
    if bool in kinds:
        is_bool = np.fromiter(map(isinstance, chosen, repeat(bool)), bool, len(chosen))
        written_bool[where[is_bool]] = True
    return Numbers(values_out, ints, present, written_float, written_bool, null)


def _is_present(value: Any) -> bool:
    return value is not UNSET and value is not None


@dataclass(frozen=True)
class NumberLists:
    """One number-list field (``keypoints``, ``bbox``) of the records that have it.

    Attributes:
        flat: all values concatenated, float64.
        lengths: (n,) values per record (0 where absent).
        present: (n,) the record has the field.
        float_whole: flat mask of whole numbers the file wrote as floats, or None when none.
    """

    flat: np.ndarray
    lengths: np.ndarray
    present: np.ndarray
    float_whole: np.ndarray | None


def number_lists(raws: Sequence[Raw | None]) -> NumberLists:
    """Decode a list-of-numbers field of many records in one call.

    The raw lists are joined and flattened into one JSON array (``],[`` -> ``,``) decoded
    at once; the values per record are counted from the commas between the brackets. Any
    surprise (an empty or nested list, a non-list) takes the slower nested decode, which
    also names the record at fault.

    Raises:
        BadValue: a value that is not a list of numbers (index of the record).

    Example:
        >>> from msgspec import UNSET, Raw
        >>> col = number_lists([Raw(b"[1, 2, 2.0]"), None, Raw(b"[]")])
        >>> col.flat.tolist(), col.lengths.tolist(), col.float_whole.tolist()
        ([1.0, 2.0, 2.0], [3, 0, 0], [False, False, True])
    """
    n = len(raws)
    present, chosen = _present(raws)
    where = np.flatnonzero(present)
    lengths = np.zeros(n, dtype=np.int64)
    joined = b",".join(chosen)
    counts = _flat_counts(joined, len(chosen))
    has_float_text = any(mark in joined for mark in _FLOAT_MARKS)
    if counts is not None and not has_float_text and len(joined) >= _CSV_BYTES:
        body = joined.translate(_TO_LINES)  # one value per line; the empty lines are skipped
        del joined  # one copy of the text at a time
        ints = _csv_ints(body, int(counts.sum()))
        del body
        if ints is not None:  # only ints: no number-type bookkeeping needed
            lengths[present] = counts
            return NumberLists(ints, lengths, present, None)
        joined = b",".join(chosen)
    decoded: list[bool | int | float] | None = None
    if counts is not None:
        try:
            decoded = _NUMBERS.decode(joined.replace(b"],[", b","))
        except (msgspec.ValidationError, msgspec.DecodeError):
            decoded = None
    if decoded is None or counts is None or len(decoded) != int(counts.sum()):
        nested = _nested(chosen, where)
        counts = np.fromiter(map(len, nested), np.int64, len(nested))
        decoded = list(chain.from_iterable(nested))
    lengths[present] = counts
    flat = np.array(decoded, dtype=np.float64) if decoded else np.zeros(0)
    float_whole = None
    if has_float_text:  # without float (nor true/false) text, every value is an int
        kinds = set(map(type, decoded))
        if bool in kinds:
            offsets = np.concatenate([[0], np.cumsum(counts)])
            at = next(i for i, v in enumerate(decoded) if isinstance(v, bool))
            record = int(np.searchsorted(offsets, at, side="right") - 1)
            found = str(decoded[at]).lower()
            raise BadValue(int(where[record]), f"expected numbers, found {found}")
        if float in kinds:
            is_float = np.fromiter(map(isinstance, decoded, repeat(float)), bool, len(decoded))
            whole = np.mod(flat, 1) == 0
            if np.any(is_float & whole):
                float_whole = is_float & whole
    return NumberLists(flat, lengths, present, float_whole)


def _csv_ints(body: bytes, expected: int) -> np.ndarray | None:
    """Many integers (one per line of ``body``) as float64 via Arrow's C++ CSV parser,
    streamed batch by batch into the result (None on any surprise).

    For large integer-only lists this is about twice as fast as making Python ints. The
    batches are read through their buffers: ``to_numpy`` would import pandas (~50 MB).
    """
    import pyarrow.csv as pa_csv

    out = np.empty(expected, dtype=np.float64)
    at = 0
    try:
        reader = pa_csv.open_csv(
            pa.BufferReader(body),
            read_options=pa_csv.ReadOptions(column_names=["v"]),
            parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={"v": pa.int64()}, null_values=[], strings_can_be_null=False
            ),
        )
        for batch in reader:
            column = batch.column(0)
            n = len(column)
            if column.null_count or at + n > expected:
                return None
            values = np.frombuffer(column.buffers()[1], np.int64, n, column.offset * 8)
            out[at : at + n] = values
            at += n
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return out if at == expected else None


def _flat_counts(joined: bytes, records: int) -> np.ndarray | None:
    """Values per record of ``b",".join(lists)``, or None unless every list is flat."""
    if not records:
        return np.zeros(0, dtype=np.int64)
    buf = np.frombuffer(joined, dtype=np.uint8)
    opens = np.flatnonzero(buf == _OPEN)
    if len(opens) != records or opens[0] != 0 or int(np.count_nonzero(buf == _CLOSE)) != records:
        return None
    commas = np.add.reduceat((buf == _COMMA).view(np.uint8), opens, dtype=np.int64)
    commas[:-1] -= 1  # the comma that joins a list to the next one
    return commas + 1


def _nested(texts: list[Raw], where: np.ndarray) -> list[list[bool | int | float]]:
    joined = b"[" + b",".join(texts) + b"]"
    try:
        return _NESTED.decode(joined)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        match = re.search(r"at `\$\[(\d+)\](?:\[(\d+)\])?", str(exc))
        i = int(match.group(1)) if match else 0
        i = min(i, len(texts) - 1)
        detail = str(exc).split(" - at ")[0]
        position = f" at position {match.group(2)}" if match and match.group(2) else ""
        raise BadValue(int(where[i]), f"expected a list of numbers{position}: {detail}") from None
