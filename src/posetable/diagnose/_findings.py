"""The findings of one checked source as sorted columns, with messages written on request.

:func:`posetable.check` turns them into its Arrow table (every message); the dashboard keeps
them per revision and writes the messages of the rows a page shows only. Rule and severity
are small integer codes; each finding remembers which rule's :class:`Found` made it and its
position there, which is all it takes to write its message later.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from posetable.diagnose._found import SEVERITIES, Found

FINDINGS_SCHEMA = pa.schema(
    [
        ("rule", pa.string()),
        ("severity", pa.string()),
        ("row", pa.int64()),
        ("instance", pa.int64()),
        ("keypoint", pa.int64()),
        ("value", pa.float64()),
        ("message", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("annotation_id", pa.int64()),
        ("split", pa.string()),
    ]
)


@dataclass(frozen=True)
class Findings:
    """Findings sorted most severe first, then by rule, row, instance and keypoint.

    Attributes:
        rule_names: the rule of each code in ``rule``.
        parts: the rules' results the findings come from.
        part, position: (F,) the part of each finding and its position there.
        rule, severity: (F,) codes into ``rule_names`` and ``SEVERITIES``.
        row, instance, keypoint, line, annotation_id: (F,) integers, -1 where null (int64,
            or narrower after :meth:`narrowed`).
        value: (F,) float64, NaN where null.
        files: (F,) object file names, or None when every finding has ``file``.
        file: the file of every finding (when ``files`` is None).
        split: the YOLO split of the source, or None.
    """

    rule_names: tuple[str, ...]
    parts: tuple[Found, ...]
    part: np.ndarray
    position: np.ndarray
    rule: np.ndarray
    severity: np.ndarray
    row: np.ndarray
    instance: np.ndarray
    keypoint: np.ndarray
    value: np.ndarray
    line: np.ndarray
    annotation_id: np.ndarray
    files: np.ndarray | None
    file: str | None
    split: str | None

    def __len__(self) -> int:
        return int(self.rule.shape[0])

    @classmethod
    def empty(cls, rule_names: Sequence[str]) -> Findings:
        """No findings."""
        z = np.zeros(0, np.int64)
        return cls(tuple(rule_names), (), z, z, z, z, z, z, z, np.zeros(0), z, z, None, None, None)

    def take(self, at: np.ndarray) -> Findings:
        """The findings at positions ``at`` (their order kept)."""
        at = np.asarray(at, np.int64)
        return Findings(
            self.rule_names,
            self.parts,
            self.part[at],
            self.position[at],
            self.rule[at],
            self.severity[at],
            self.row[at],
            self.instance[at],
            self.keypoint[at],
            self.value[at],
            self.line[at],
            self.annotation_id[at],
            None if self.files is None else self.files[at],
            self.file,
            self.split,
        )

    def narrowed(self) -> Findings:
        """The same findings holding less: integer columns in the narrowest type their
        values fit (``to_table`` and the sort widen them again) and the rules' results
        without their own copies of the arrays (:meth:`Found.writer_only`)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({name: narrowest(values[name]) for name in _NARROWED})
        values["parts"] = tuple(p.writer_only() for p in self.parts)
        return Findings(**values)

    def messages(self) -> list[str]:
        """Every finding's message, in order (each rule writes those of its own findings)."""
        return self._messages(self.part, self.position)

    def _messages(self, part: np.ndarray, position: np.ndarray) -> list[str]:
        """The messages of the findings whose ``part`` and ``position`` are given."""
        out: list[str] = [""] * part.shape[0]
        for p in np.unique(part).tolist():
            at = np.flatnonzero(part == p)
            for i, text in zip(at.tolist(), self.parts[p].messages(position[at]), strict=True):
                out[i] = text
        return out

    def rules(self) -> list[str]:
        """The rule name of each finding."""
        names = np.asarray(self.rule_names, dtype=object)
        return names[self.rule].tolist() if len(self) else []

    def to_table(self) -> pa.Table:
        """The findings as ``pt.check`` returns them (:data:`FINDINGS_SCHEMA`).

        Built without a Python object per finding where it can be: names from their codes,
        and the messages :data:`MESSAGE_CHUNK` findings at a time, each chunk an Arrow array
        (a million images have ~9M findings: their messages as Python strings took GBs)."""
        n = len(self)
        data = {
            "rule": _coded(self.rule, self.rule_names, n),
            "severity": _coded(self.severity, SEVERITIES, n),
            "row": pa.array(self.row, pa.int64(), mask=self.row < 0),
            "instance": pa.array(self.instance, pa.int64(), mask=self.row < 0),
            "keypoint": pa.array(self.keypoint, pa.int64(), mask=self.keypoint < 0),
            "value": pa.array(self.value, pa.float64(), mask=np.isnan(self.value)),
            "message": self._message_column(),
            "file": (
                _repeated(self.file, n)
                if self.files is None
                else pa.array(self.files.tolist(), pa.string())
            ),
            "line": pa.array(self.line, pa.int64(), mask=self.line < 0),
            "annotation_id": pa.array(self.annotation_id, pa.int64(), mask=self.annotation_id < 0),
            "split": _repeated(self.split, n),
        }
        return pa.table(data, schema=FINDINGS_SCHEMA)

    def _message_column(self) -> pa.ChunkedArray:
        """Every message, in order, as Arrow string chunks of :data:`MESSAGE_CHUNK`."""
        return pa.chunked_array(list(self.message_chunks()), pa.string())

    def message_chunks(self) -> Iterator[pa.Array]:
        """Every message, in order, :data:`MESSAGE_CHUNK` findings at a time (an Arrow
        string array each, written when asked for: a writer holds one chunk at a time)."""
        for start in range(0, len(self), MESSAGE_CHUNK):
            at = slice(start, start + MESSAGE_CHUNK)
            yield pa.array(self._messages(self.part[at], self.position[at]), pa.string())


MESSAGE_CHUNK = 1 << 16  # findings whose messages are written at a time by ``to_table``


def _coded(codes: np.ndarray, names: Sequence[str], n: int) -> pa.Array:
    """The names of integer codes as a string array (through a dictionary: no list)."""
    if n == 0:
        return pa.array([], pa.string())
    dictionary = pa.array(list(names), pa.string())
    indices = pa.array(np.asarray(codes, np.int32), pa.int32())
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def _repeated(value: str | None, n: int) -> pa.Array:
    """``n`` times ``value`` (null for None) as a string array."""
    if value is None:
        return pa.nulls(n, pa.string())
    return _coded(np.zeros(n, np.int32), [value], n)


_INTEGER_TYPES = (np.int8, np.int16, np.int32, np.int64)
_NARROWED = ("part", "position", "rule", "severity", "row", "instance", "keypoint", "line")


def narrowest(values: np.ndarray) -> np.ndarray:
    """An integer array in the narrowest signed type that holds its values (other arrays
    as they are)."""
    values = np.asarray(values)
    if values.dtype.kind != "i" or values.shape[0] == 0:
        return values
    low, high = int(values.min()), int(values.max())
    for candidate in _INTEGER_TYPES:
        info = np.iinfo(candidate)
        if info.min <= low and high <= info.max:
            return values.astype(candidate, copy=False)
    return values


def sort_order(
    severity: np.ndarray,
    rule: np.ndarray,
    row: np.ndarray,
    instance: np.ndarray,
    keypoint: np.ndarray,
) -> np.ndarray:
    """The order of findings: severity, rule, row, instance index, keypoint (stable, as
    ``np.lexsort`` of the five; two stable sorts of packed integer keys, which is faster)."""
    bits = 20  # keypoint + 1 below 2**20, row + 1 and instance + 1 below 2**40
    severity, rule, row, instance, keypoint = (
        np.asarray(a, np.int64) for a in (severity, rule, row, instance, keypoint)
    )  # columns may be narrow (Findings.narrowed): the keys need 64 bits
    small = (
        (np.max(keypoint, initial=0) + 1 < 1 << bits)
        and (np.max(row, initial=0) + 1 < 1 << 40)
        and (np.max(instance, initial=0) + 1 < 1 << 40)
        and (np.max(rule, initial=0) < 1 << 10)
    )
    if not small:
        return np.lexsort((keypoint, instance, row, rule, severity))
    minor = ((instance + 1) << bits) | (keypoint + 1)
    major = ((severity * 1024 + rule) << 40) | (row + 1)
    first = np.argsort(minor, kind="stable")
    return first[np.argsort(major[first], kind="stable")]


def merged(kept: Findings, new: Findings) -> Findings:
    """``kept`` and ``new`` (of the same rules and source) as one sorted :class:`Findings`."""
    return concatenated([kept, new])


def concatenated(pieces: Sequence[Findings]) -> Findings:
    """Findings of the same rules and source as one sorted :class:`Findings` (one stable
    sort: ties keep the order of ``pieces``, then each piece's own)."""
    if not pieces:
        raise ValueError("concatenated() needs at least one piece (for its rule names)")
    with_findings = [p for p in pieces if len(p)]
    if len(with_findings) <= 1:
        return with_findings[0] if with_findings else pieces[0]
    pieces = with_findings
    first = pieces[0]
    files = None
    if any(p.files is not None for p in pieces):
        files = np.concatenate(
            [p.files if p.files is not None else np.full(len(p), p.file, object) for p in pieces]
        )
    offsets = np.cumsum([0] + [len(p.parts) for p in pieces])

    def every(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in pieces])

    joined = Findings(
        first.rule_names,
        tuple(part for p in pieces for part in p.parts),
        np.concatenate([p.part + offsets[i] for i, p in enumerate(pieces)]),
        every("position"),
        every("rule"),
        every("severity"),
        every("row"),
        every("instance"),
        every("keypoint"),
        every("value"),
        every("line"),
        every("annotation_id"),
        files,
        first.file,
        first.split,
    )
    order = sort_order(joined.severity, joined.rule, joined.row, joined.instance, joined.keypoint)
    return joined.take(order)
