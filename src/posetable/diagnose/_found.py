"""What a rule returns: the findings of one rule as arrays (one entry per finding).

A rule with many findings gives its messages as a function of the positions asked for
(``describe``), so a caller that shows a few findings (the dashboard's page of rows) writes
only their messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Found:
    """Findings of one rule.

    Attributes:
        rule: the rule name.
        severity: one severity for all, or one per finding.
        instance: (F,) position in :class:`~posetable.diagnose._flat.GroundTruth`, -1 for a
            finding about the schema or the file (no row, no instance).
        keypoint: (F,) keypoint index, -1 where the finding is not about one point.
        value: (F,) the measured value (NaN: none).
        message: F messages, or a function giving the messages of some positions.
    """

    rule: str
    severity: str | Sequence[str]
    instance: np.ndarray
    keypoint: np.ndarray
    value: np.ndarray
    message: list[str] | Callable[[np.ndarray], list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.instance.shape[0])

    def messages(self, at: np.ndarray | None = None) -> list[str]:
        """The messages of the findings at positions ``at`` (all by default), in that order."""
        chosen = np.arange(len(self)) if at is None else np.asarray(at, np.int64)
        if callable(self.message):
            return list(self.message(chosen)) if chosen.size else []
        return [self.message[i] for i in chosen.tolist()]

    def writer_only(self) -> Found:
        """This result as assembled findings need it: what writes the messages of some
        positions (its own copies of the arrays, already in the findings' columns, let go).
        A result whose messages are a list keeps everything."""
        if not callable(self.message):
            return self
        empty = np.zeros(0, np.int64)
        return replace(self, instance=empty, keypoint=empty, value=np.zeros(0))

    def severities(self) -> np.ndarray:
        """(F,) severity of each finding."""
        if isinstance(self.severity, str):
            return np.full(len(self), self.severity, dtype=object)
        return np.asarray(list(self.severity), dtype=object)


def found(
    rule: str,
    severity: str | Sequence[str],
    instance: np.ndarray | Sequence[int],
    keypoint: np.ndarray | Sequence[int] | None,
    value: np.ndarray | Sequence[float] | None,
    message: list[str] | Callable[[np.ndarray], list[str]],
) -> Found:
    """A :class:`Found` with its arrays normalised (``None``: -1 keypoints / NaN values);
    ``message`` is the list of messages or a function of positions giving theirs."""
    inst = np.asarray(instance, np.int64).ravel()
    n = inst.shape[0] if callable(message) else len(message)
    inst = inst.reshape(n)
    kp = np.full(n, -1, np.int64) if keypoint is None else np.asarray(keypoint, np.int64)
    val = np.full(n, np.nan) if value is None else np.asarray(value, np.float64)
    return Found(rule, severity, inst, kp.reshape(n), val.reshape(n), message)


def schema_finding(rule: str, severity: str, message: str, value: float = np.nan) -> Found:
    """One finding about the schema or the file as a whole."""
    return found(rule, severity, [-1], None, [value], [message])


def not_checked(rule: str, reason: str) -> Found:
    """An ``info`` finding saying a rule could not run on this table, and why."""
    return schema_finding(rule, "info", f"not checked: {reason}")
