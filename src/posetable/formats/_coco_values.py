"""Checked columns of a COCO file: every error names the file, the line and the record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from posetable.errors import FormatError
from posetable.formats._json import BadValue, NumberLists, Numbers, number_lists, numbers
from posetable.formats._notes import count_text, number_text
from posetable.formats._records import Section

# records whose number lists are decoded at once: ~150 KB of keypoint text, decoded by
# msgspec (under the size from which ``number_lists`` starts Arrow's threaded CSV parser,
# whose thread heaps alone hold 20-40 MB). Measured on 113,730 COCO persons: peak +40 MB
# (the (T, K, 2) and (T, K) results) and 0.31 s, against +146 MB and 0.40 s for one decode
# of the whole field.
LIST_BATCH = 1024


class Reader:
    """The file being read, so each check can point at the record at fault."""

    def __init__(self, path: Path, raw: bytes) -> None:
        self.path = path
        self.raw = raw

    def error(
        self, text: str, section: Section | None = None, index: int | None = None
    ) -> FormatError:
        """A FormatError naming the file and, when known, the record's line."""
        line = section.line(index) if section is not None and index is not None else None
        return FormatError(text, path=self.path, line=line)

    def numbers(self, section: Section, key: str, rows: np.ndarray | None = None) -> Numbers:
        """A scalar number field (of the records ``rows``, default all)."""
        values = section.columns[key]
        if rows is not None:
            values = [values[i] for i in rows.tolist()]
        try:
            return numbers(values)
        except BadValue as exc:
            i = exc.index if rows is None else int(rows[exc.index])
            raise self.error(f"{section.name(i)}: '{key}' {exc.text}", section, i) from None

    def lists(self, section: Section, key: str, rows: np.ndarray | None = None) -> NumberLists:
        """A number-list field (of the records ``rows``, default all)."""
        values = section.columns[key]
        if rows is not None:
            values = [values[i] for i in rows.tolist()]
        try:
            return number_lists(values)
        except BadValue as exc:
            i = exc.index if rows is None else int(rows[exc.index])
            raise self.error(f"{section.name(i)}: '{key}' {exc.text}", section, i) from None

    def list_batches(
        self,
        section: Section,
        key: str,
        rows: np.ndarray | None = None,
        size: int = LIST_BATCH,
    ) -> Iterator[tuple[int, NumberLists]]:
        """:meth:`lists` a batch of ``size`` records at a time: (the batch's first position,
        its columns), so a large field is never held as one text or one list of numbers.

        A batch that cannot be decoded raises what :meth:`lists` of the whole field raises
        (the same record named, the same text).
        """
        values = section.columns[key]
        total = len(values) if rows is None else len(rows)
        for start in range(0, total, size):
            stop = min(start + size, total)
            if rows is None:
                part = values[start:stop]
            else:
                part = [values[i] for i in rows[start:stop].tolist()]
            try:
                col = number_lists(part)
            except BadValue as exc:
                self.lists(section, key, rows)  # raises as one decode of the whole field does
                j = start + exc.index
                i = j if rows is None else int(rows[j])
                raise self.error(f"{section.name(i)}: '{key}' {exc.text}", section, i) from None
            yield start, col

    def batched_lists(
        self,
        section: Section,
        key: str,
        rows: np.ndarray | None = None,
        size: int = LIST_BATCH,
    ) -> NumberLists:
        """:meth:`lists`, decoded ``size`` records at a time and joined: the same columns
        (and errors) without a Python number of every value alive at once."""
        parts = [col for _, col in self.list_batches(section, key, rows, size)]
        if len(parts) < 2:
            return parts[0] if parts else self.lists(section, key, rows)
        flags = None
        if any(col.float_whole is not None for col in parts):
            flags = np.concatenate(
                [
                    col.float_whole
                    if col.float_whole is not None
                    else np.zeros(len(col.flat), dtype=bool)
                    for col in parts
                ]
            )
        return NumberLists(
            np.concatenate([col.flat for col in parts]),
            np.concatenate([col.lengths for col in parts]),
            np.concatenate([col.present for col in parts]),
            flags,
        )

    def require(
        self, section: Section, col: Numbers, key: str, rows: np.ndarray | None = None
    ) -> None:
        """Every record has the field."""
        if col.present.all():
            return
        j = int(np.flatnonzero(~col.present)[0])
        i = j if rows is None else int(rows[j])
        noun = section.what[:-1]
        raise self.error(
            f"{section.name(i)} has no '{key}' ({count_text(int((~col.present).sum()), noun)} "
            f"lack it); every {noun} needs one",
            section,
            i,
        )

    def whole(
        self, section: Section, col: Numbers, key: str, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """An integer field as int64 (absent values 0), or an error at the first non-integer."""
        if col.ints is not None:
            return col.ints
        values = np.nan_to_num(col.values)
        bad = col.present & (np.mod(values, 1) != 0)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            i = j if rows is None else int(rows[j])
            raise self.error(
                f"{section.name(i)}: '{key}' must be an integer, found "
                f"{number_text(col.values[j])}",
                section,
                i,
            )
        return values.astype(np.int64)

    def unique(self, section: Section, ids: np.ndarray, present: np.ndarray) -> None:
        """No two records share an id."""
        given = ids[present]
        ranked = np.sort(given, kind="stable")
        same = np.flatnonzero(ranked[1:] == ranked[:-1])
        if not same.size:
            return
        value = int(ranked[same[0]])
        first, second = np.flatnonzero(present & (ids == value))[:2].tolist()
        label = section.what[:-1]
        raise self.error(
            f"duplicate {label} id {value}: {section.what}[{first}] and "
            f"{section.what}[{second}] ({count_text(int(same.size), 'repeated id')} in all); "
            f"{label} ids must be unique",
            section,
            second,
        )
