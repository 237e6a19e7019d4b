"""A JSON list of records (COCO ``images``, ``annotations``) decoded into columns at once.

msgspec decodes the list into a Struct made for this file: the fields posetable models
are typed (numbers arrive as Python ints/floats, so their JSON types are known), every
other field is kept as raw JSON text, never parsed. The Struct's fields are the first
record's keys plus the modelled ones; a key that appears only in later records is found
by msgspec (``unknown field``) and added, and the list decoded again. Columns are then
read with one ``attrgetter`` map each, and the unmodelled fields of all records are
re-assembled into JSON text by joins over whole columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import orjson
from msgspec import UNSET, Raw, UnsetType

from posetable.errors import FormatError

NUMBER: Any = bool | int | float | str | None | UnsetType
TEXT: Any = str | bool | int | float | None | UnsetType
_EMPTY = Raw(b"")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
_AT = re.compile(r"at `\$\[(\d+)\](?:\.(\w+))?`")
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
MAX_DISCOVERY = 200


@dataclass
class Section:
    """The records of one JSON list, as columns.

    Attributes:
        what: the list's name (``"annotations"``) for messages.
        size: the number of records.
        keys: the first record's keys in its order, then keys found later.
        columns: key -> one value per record (typed value or ``UNSET`` for modelled keys,
            ``Raw`` text or an empty ``Raw`` for the others).
        raw: the whole file (for line numbers).
        section: the list's raw text.
    """

    what: str
    size: int
    keys: list[str]
    columns: dict[str, list[Any]]
    raw: bytes
    section: Raw
    typed: frozenset[str] = frozenset()
    _starts: list[Raw] | None = field(default=None, repr=False)

    def line(self, index: int) -> int | None:
        """The 1-based line where record ``index`` starts (error path only)."""
        if self._starts is None:
            try:
                self._starts = msgspec.json.decode(self.section, type=list[Raw])
            except msgspec.MsgspecError:
                return None
        if not self.raw or not 0 <= index < len(self._starts):
            return None
        base = np.frombuffer(self.raw, np.uint8).ctypes.data
        offset = np.frombuffer(self._starts[index], np.uint8).ctypes.data - base
        if not 0 <= offset < len(self.raw):
            return None
        return self.raw.count(b"\n", 0, offset) + 1

    def id_text(self, index: int) -> str | None:
        """The record's ``id`` as written, or None."""
        value = self.columns.get("id", [UNSET] * self.size)[index]
        if value is UNSET or value is None:
            return None
        return bytes(value).decode(errors="replace")[:40] if isinstance(value, Raw) else str(value)

    def name(self, index: int) -> str:
        """``annotation id 7 (annotations[3])``."""
        label = "annotation" if self.what == "annotations" else self.what.rstrip("s")
        ident = self.id_text(index)
        where = f"{self.what}[{index}]"
        return f"{label} id {ident} ({where})" if ident is not None else f"{where} (no id)"


def _first_keys(section: Raw) -> list[str]:
    """The keys of the first record, in its order (empty when there is none)."""
    view = memoryview(section)
    head = bytes(view[:4096])
    start = head.find(b"{")
    if start < 0 or head[:start].strip() not in (b"[", b""):
        return []
    try:
        record = msgspec.json.decode(view[start:], type=dict[str, Raw])
        return list(record)
    except msgspec.DecodeError as exc:
        match = _TRAILING.search(str(exc))
        if not match:
            return []
        end = start + int(match.group(1)) - 1
        try:
            return list(msgspec.json.decode(bytes(view[start:end]).rstrip(), type=dict[str, Raw]))
        except msgspec.MsgspecError:
            return []
    except msgspec.ValidationError:
        return []


def _struct(what: str, keys: list[str], typed: Mapping[str, Any]) -> Any:
    fields = [
        (
            f"f{i}",
            typed.get(key, Raw),
            msgspec.field(default=UNSET if key in typed else _EMPTY, name=key),
        )
        for i, key in enumerate(keys)
    ]
    return msgspec.defstruct(f"_{what}", fields, forbid_unknown_fields=True)


def decode_section(
    path: object,
    raw: bytes,
    section: Raw | None,
    what: str,
    typed: Mapping[str, Any],
    raw_keys: Sequence[str] = (),
) -> Section:
    """Decode the list ``section`` into columns (see the module docstring).

    Raises:
        FormatError: the value is not a list of objects, or a modelled field has a value
            that is not a number (names the record and field).
    """
    if section is None:
        columns: dict[str, list[Any]] = {key: [] for key in (*typed, *raw_keys)}
        return Section(what, 0, [], columns, raw, _EMPTY, frozenset(typed))
    keys = _first_keys(section)
    keys += [key for key in typed if key not in keys]
    records: list[Any] | None = None
    for _ in range(MAX_DISCOVERY):
        decoder = msgspec.json.Decoder(list[_struct(what, keys, typed)])  # type: ignore[misc]
        try:
            records = decoder.decode(section)
            break
        except msgspec.ValidationError as exc:
            unknown = _UNKNOWN.search(str(exc))
            if unknown and unknown.group(1) not in keys:
                keys.append(unknown.group(1))
                continue
            raise _shape_error(path, raw, section, what, exc) from None
    if records is None:  # a pathological file: too many keys found late; decode generically
        found = _generic(path, raw, section, what, typed)
    else:
        columns = {key: list(map(attrgetter(f"f{i}"), records)) for i, key in enumerate(keys)}
        found = Section(what, len(records), keys, columns, raw, section, frozenset(typed))
    for key in raw_keys:  # modelled raw fields that no record has
        found.columns.setdefault(key, [_EMPTY] * found.size)
    return found


def _generic(
    path: object, raw: bytes, section: Raw, what: str, typed: Mapping[str, Any]
) -> Section:
    records = msgspec.json.decode(section)
    keys: list[str] = []
    for record in records:
        if not isinstance(record, dict):
            raise FormatError(f"'{what}' must be a list of objects", path=path)
        keys += [key for key in record if key not in keys]
    columns: dict[str, list[Any]] = {}
    for key in (*keys, *(k for k in typed if k not in keys)):
        if key in typed:
            columns[key] = [r.get(key, UNSET) for r in records]
        else:
            columns[key] = [
                Raw(msgspec.json.encode(r[key])) if key in r else _EMPTY for r in records
            ]
    return Section(what, len(records), keys, columns, raw, section, frozenset(typed))


def _shape_error(path: object, raw: bytes, section: Raw, what: str, exc: Exception) -> FormatError:
    text = str(exc)
    match = _AT.search(text)
    detail = text.split(" - at ")[0]
    if not match:
        return FormatError(f"'{what}' must be a list of objects: {detail}", path=path)
    index = int(match.group(1))
    probe = Section(what, index + 1, [], {}, raw, section)
    where = f"{what}[{index}]"
    key = match.group(2)
    if key:
        detail = detail.replace("Expected `bool | int | float | str | null`", "expected a number")
        return FormatError(f"{where}: '{key}' {detail}", path=path, line=probe.line(index))
    return FormatError(f"{where} must be an object: {detail}", path=path, line=probe.line(index))


def rest_texts(section: Section, skip: frozenset[str]) -> list[bytes | None]:
    """Each record's fields other than ``skip`` as JSON object text (None when it has none).

    Raw values are copied verbatim, in the first record's key order. When every record has
    every such field (the usual case) the texts are built by joins over whole columns.

    Example:
        >>> from msgspec import Raw
        >>> text = Raw(b'[{"id": 1, "seg": [1.5]}]')
        >>> section = decode_section(None, b"", text, "x", {"id": NUMBER})
        >>> rest_texts(section, frozenset({"id"}))
        [b'{"seg":[1.5]}']
    """
    rest = [key for key in section.keys if key not in skip]
    if not rest:
        return [None] * section.size
    columns = [
        list(map(_typed_text, section.columns[key]))
        if key in section.typed
        else section.columns[key]
        for key in rest
    ]
    complete = all(all(map(len, column)) for column in columns)
    if complete:
        parts: list[Any] = []
        for i, key in enumerate(rest):
            parts.append(repeat((b"{" if i == 0 else b",") + orjson.dumps(key) + b":"))
            parts.append(columns[i])
        parts.append(repeat(b"}"))
        return list(map(b"".join, zip(*parts, strict=False)))  # repeat() is endless
    names = [orjson.dumps(key) + b":" for key in rest]
    out: list[bytes | None] = []
    for values in zip(*columns, strict=True):
        members = [name + bytes(v) for name, v in zip(names, values, strict=True) if len(v)]
        out.append(b"{" + b",".join(members) + b"}" if members else None)
    return out


def _typed_text(value: Any) -> bytes | Raw:
    return _EMPTY if value is UNSET else orjson.dumps(value)
