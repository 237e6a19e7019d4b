"""A revision's check findings as the dashboard keeps them: the columns of
:class:`~posetable.diagnose._findings.Findings` in the narrowest integer type that holds each
one's values (a constant column as one value), widened back for the findings a page asks for.

A large synthetic table has about nine findings per image: kept as ``Findings`` (eleven
8-byte columns) a million images' check holds ~800 MB; kept narrow, about a quarter of that.
The values are the same: each column's type is chosen from its own minimum and maximum.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from posetable.diagnose._findings import Findings, narrowest


class _Column:
    """One int64 or float64 column, stored narrow (or as one value, when constant)."""

    __slots__ = ("_constant", "_dtype", "_length", "_values")

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        self._dtype = values.dtype
        self._length = len(values)
        self._constant: Any = None
        self._values: np.ndarray | None = None
        if self._length and _all_equal(values):
            self._constant = values[0]
            return
        self._values = narrowest(values)

    @property
    def narrow(self) -> np.ndarray:
        """The values in their narrow type (the constant repeated: a broadcast view)."""
        if self._values is not None:
            return self._values
        return np.broadcast_to(np.asarray(self._constant, self._dtype), (self._length,))

    def take(self, at: np.ndarray) -> np.ndarray:
        """The values at positions ``at``, in the column's own type."""
        if self._values is None:
            return np.full(len(at), self._constant, self._dtype)
        return self._values[at].astype(self._dtype)

    @property
    def nbytes(self) -> int:
        return 0 if self._values is None else int(self._values.nbytes)


def _all_equal(values: np.ndarray) -> bool:
    first = values[0]
    if values.dtype.kind == "f" and np.isnan(first):
        return bool(np.isnan(values).all())
    return bool((values == first).all())


_ARRAYS = (
    *("part", "position", "rule", "severity", "row", "instance", "keypoint", "value"),
    *("line", "annotation_id"),
)


class NarrowFindings:
    """What the dashboard reads of a revision's findings, however they are kept: ``rule``,
    ``severity``, ``row`` (narrow arrays, for masks and counts; cast before arithmetic),
    ``take(at)`` -> the :class:`Findings` at ``at``, ``full()`` -> all of them."""

    rule_names: tuple[str, ...]

    def __len__(self) -> int:
        raise NotImplementedError

    def _narrow(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def take(self, at: np.ndarray) -> Findings:
        raise NotImplementedError

    @property
    def rule(self) -> np.ndarray:
        """(F,) rule codes into ``rule_names`` (narrow)."""
        return self._narrow("rule")

    @property
    def severity(self) -> np.ndarray:
        """(F,) severity codes into ``SEVERITIES`` (narrow)."""
        return self._narrow("severity")

    @property
    def row(self) -> np.ndarray:
        """(F,) rows, -1 where a finding is about no row (narrow)."""
        return self._narrow("row")

    def full(self) -> Findings:
        """Every finding."""
        return self.take(np.arange(len(self), dtype=np.int64))


class KeptFindings(NarrowFindings):
    """:class:`Findings` kept narrow: ``rule``, ``severity``, ``row`` (narrow arrays, for
    masks and counts; cast before arithmetic), ``take(at)`` -> the ``Findings`` at ``at``,
    ``full()`` -> all of them (as ``pt.check`` found them).

    Example:
        >>> import tempfile
        >>> from posetable.sample import sample_table
        >>> from posetable.diagnose.check import check_findings
        >>> found = check_findings(sample_table(store=tempfile.mkdtemp()))
        >>> kept = KeptFindings(found)
        >>> kept.full().to_table().equals(found.to_table())
        True
    """

    def __init__(self, found: Findings) -> None:
        self.rule_names = found.rule_names
        self._length = len(found)
        self._columns = {name: _Column(getattr(found, name)) for name in _ARRAYS}
        self._rest: dict[str, Any] = {
            f.name: getattr(found, f.name) for f in fields(Findings) if f.name not in _ARRAYS
        }
        self._rest["parts"] = tuple(p.writer_only() for p in found.parts)

    def __len__(self) -> int:
        return self._length

    def _narrow(self, name: str) -> np.ndarray:
        return self._columns[name].narrow

    @property
    def nbytes(self) -> int:
        """Bytes held by the narrow columns (the rules' own results not counted)."""
        return sum(c.nbytes for c in self._columns.values())

    def take(self, at: np.ndarray) -> Findings:
        """The findings at positions ``at`` (their order kept)."""
        at = np.asarray(at, np.int64)
        c = {name: column.take(at) for name, column in self._columns.items()}
        files = self._rest["files"]
        return Findings(
            rule_names=self.rule_names,
            parts=self._rest["parts"],
            files=None if files is None else files[at],
            file=self._rest["file"],
            split=self._rest["split"],
            **c,
        )
