"""Reading JSON into columns, fast and exactly.

A COCO file is decoded with msgspec into ``dict[str, Raw]`` records: the values posetable
models are cut out of every record as raw JSON text, joined, and decoded in ONE call per
field into a flat list that numpy turns into an array; the values it does not model stay
raw JSON text, never parsed. Number types survive: a column remembers which values the
file wrote as floats (``2.0``) and which as ints (``2``).

Errors name the file, the record (index and, where known, its id) and, for a file written
on several lines, the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import methodcaller
from pathlib import Path

import msgspec
import numpy as np
import orjson
from msgspec import Raw

from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError

_RECORDS = msgspec.json.Decoder(list[dict[str, Raw]])
_TOP = msgspec.json.Decoder(dict[str, Raw])
_NUMBERS = msgspec.json.Decoder(list[bool | int | float])
_NESTED = msgspec.json.Decoder(list[list[bool | int | float]])
_AT = re.compile(r"at `\$\[(\d+)\]")
_FLOAT_MARKS = (b".", b"e", b"E")


def read_bytes(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of a file; MissingFileError when it is missing, FormatError when unreadable."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{what} {p} does not exist")
    if p.is_dir():
        raise FormatError(f"expected a {what}, found a folder", path=p)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read the {what}: {exc}", path=p) from exc


def json_error(path: object, raw: bytes, exc: Exception | None = None) -> FormatError:
    """A FormatError giving the line, column and byte of a JSON syntax problem."""
    if not raw.strip():
        return FormatError("the file is empty; expected a JSON document", path=path, line=1)
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        ending = ", the file ends too early" if err.pos >= len(raw) - 1 else ""
        return FormatError(
            f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno} "
            f"(byte {err.pos} of {len(raw)}{ending})",
            path=path,
            line=err.lineno,
        )
    return FormatError(f"not valid JSON: {exc}", path=path)


def decode_top(path: object, raw: bytes) -> dict[str, Raw]:
    """The top-level object of a JSON file, its values left as raw JSON."""
    try:
        return _TOP.decode(raw)
    except msgspec.ValidationError:
        kind = type(orjson.loads(raw)).__name__
        names = {"list": "an array", "str": "a string", "int": "a number", "float": "a number"}
        raise FormatError(
            f"expected a JSON object at the top level, found {names.get(kind, kind)}", path=path
        ) from None
    except msgspec.DecodeError as exc:
        raise json_error(path, raw, exc) from None


def decode_records(path: object, value: Raw, what: str) -> list[dict[str, Raw]]:
    """A list of JSON objects (``images``, ``annotations``), each value raw."""
    try:
        return _RECORDS.decode(value)
    except msgspec.ValidationError as exc:
        match = _AT.search(str(exc))
        where = f"{what}[{match.group(1)}]" if match else what
        raise FormatError(
            f"'{what}' must be a list of objects; {where}: {exc}", path=path
        ) from None


def record_line(raw: bytes, record: dict[str, Raw]) -> int | None:
    """The 1-based line of a record's first field in the file it was decoded from.

    msgspec's ``Raw`` values are views into the decoded bytes, so the byte offset is the
    distance between the two buffers.
    """
    if not record:
        return None
    value = next(iter(record.values()))
    base = np.frombuffer(raw, np.uint8).ctypes.data if raw else 0
    offset = np.frombuffer(value, np.uint8).ctypes.data - base
    if not 0 <= offset < len(raw):
        return None
    return raw.count(b"\n", 0, offset) + 1


@dataclass(frozen=True)
class Numbers:
    """One scalar field of every record, as arrays.

    Attributes:
        values: (n,) float64 (NaN where absent).
        ints: (n,) int64 exact values when every present value is an integer, else None.
        present: (n,) the record has the field.
        written_float: (n,) the file wrote a whole number as a float (``2.0``).
        written_bool: (n,) the file wrote ``true``/``false``.
    """

    values: np.ndarray
    ints: np.ndarray | None
    present: np.ndarray
    written_float: np.ndarray
    written_bool: np.ndarray


class BadValue(Exception):
    """A value of the wrong JSON type: ``index`` is the record, ``text`` the problem."""

    def __init__(self, index: int, text: str) -> None:
        super().__init__(text)
        self.index = index
        self.text = text


def numbers(raws: Sequence[Raw | None]) -> Numbers:
    """Decode one scalar number field of many records in one call.

    Raises:
        BadValue: a value that is not a number (index of the record).

    Example:
        >>> from msgspec import Raw
        >>> col = numbers([Raw(b"1"), None, Raw(b"2.0"), Raw(b"2.5")])
        >>> col.values.tolist(), col.present.tolist(), col.written_float.tolist()
        ([1.0, nan, 2.0, 2.5], [True, False, True, False])
    """
    n = len(raws)
    present = np.fromiter((r is not None for r in raws), dtype=bool, count=n)
    chosen = [r for r in raws if r is not None] if not present.all() else list(raws)
    where = np.flatnonzero(present)
    joined = b"[" + b",".join(map(bytes, chosen)) + b"]"  # type: ignore[arg-type]
    try:
        decoded = _NUMBERS.decode(joined)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        match = _AT.search(str(exc))
        i = int(match.group(1)) if match else 0
        i = min(i, len(chosen) - 1)
        text = bytes(chosen[i]).decode(errors="replace")  # type: ignore[arg-type]
        raise BadValue(int(where[i]), f"expected a number, found {text[:60]}") from None
    values = np.full(n, np.nan)
    written_float = np.zeros(n, dtype=bool)
    written_bool = np.zeros(n, dtype=bool)
    kinds = set(map(type, decoded))
    ints: np.ndarray | None = None
    if kinds <= {int}:
        try:
            exact = np.array(decoded, dtype=np.int64)
        except OverflowError:
            raise BadValue(int(where[0]), "an integer does not fit in 64 bits") from None
        ints = np.zeros(n, dtype=np.int64)
        ints[present] = exact
        values[present] = exact
        return Numbers(values, ints, present, written_float, written_bool)
    values[present] = np.array(decoded, dtype=np.float64)
    if float in kinds:
        is_float = np.fromiter(map(isinstance, decoded, repeat(float)), bool, len(decoded))
        written_float[where[is_float]] = True
        written_float &= np.mod(np.nan_to_num(values), 1) == 0
    if bool in kinds:
        is_bool = np.fromiter(map(isinstance, decoded, repeat(bool)), bool, len(decoded))
        written_bool[where[is_bool]] = True
    return Numbers(values, ints, present, written_float, written_bool)


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

    Raises:
        BadValue: a value that is not a list of numbers (index of the record).

    Example:
        >>> from msgspec import Raw
        >>> col = number_lists([Raw(b"[1, 2, 2.0]"), None, Raw(b"[]")])
        >>> col.flat.tolist(), col.lengths.tolist(), col.float_whole.tolist()
        ([1.0, 2.0, 2.0], [3, 0, 0], [False, False, True])
    """
    n = len(raws)
    present = np.fromiter((r is not None for r in raws), dtype=bool, count=n)
    texts = [bytes(r) for r in raws if r is not None]
    where = np.flatnonzero(present)
    lengths = np.zeros(n, dtype=np.int64)
    for i, text in enumerate(texts):
        if not text.startswith(b"["):
            found = text[:60].decode(errors="replace")
            raise BadValue(int(where[i]), f"expected a list of numbers, found {found}")
    guess = np.fromiter(map(methodcaller("count", b","), texts), np.int64, len(texts)) + 1
    joined = b"[" + b",".join(t[1:-1] for t in texts) + b"]"
    decoded: list[bool | int | float] | None
    try:
        decoded = _NUMBERS.decode(joined)
    except (msgspec.ValidationError, msgspec.DecodeError):
        decoded = None
    if decoded is None or len(decoded) != int(guess.sum()):
        nested = _nested(texts, where)
        guess = np.fromiter(map(len, nested), np.int64, len(nested))
        decoded = list(chain.from_iterable(nested))
    lengths[present] = guess
    flat = np.array(decoded, dtype=np.float64) if decoded else np.zeros(0)
    float_whole = None
    if any(mark in joined for mark in _FLOAT_MARKS):  # no float (nor true/false) text: all ints
        kinds = set(map(type, decoded))
        if bool in kinds:
            offsets = np.concatenate([[0], np.cumsum(guess)])
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


def _nested(texts: list[bytes], where: np.ndarray) -> list[list[bool | int | float]]:
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


def strings(raws: Sequence[Raw | None]) -> list[str | None]:
    """Decode a string field of many records in one call (None where absent).

    Raises:
        BadValue: a value that is not a string.
    """
    decoder = msgspec.json.Decoder(list[str | None])
    joined = b"[" + b",".join(b"null" if r is None else bytes(r) for r in raws) + b"]"
    try:
        return decoder.decode(joined)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        match = _AT.search(str(exc))
        i = int(match.group(1)) if match else 0
        found = bytes(raws[i] or b"").decode(errors="replace")[:60]
        raise BadValue(i, f"expected a string, found {found}") from None


def encode_rest(record: dict[str, Raw], skip: frozenset[str]) -> bytes | None:
    """The record's fields other than ``skip`` as a JSON object (raw values kept verbatim)."""
    rest = {k: v for k, v in record.items() if k not in skip}
    return msgspec.json.encode(rest) if rest else None


def get_field(records: Sequence[dict[str, Raw]], key: str) -> list[Raw | None]:
    """The raw value of ``key`` in every record (None where absent)."""
    return list(map(methodcaller("get", key), records))
