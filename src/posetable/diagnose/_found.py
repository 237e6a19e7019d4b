"""What a rule returns: the findings of one rule as arrays (one entry per finding)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
        message: F messages.
    """

    rule: str
    severity: str | Sequence[str]
    instance: np.ndarray
    keypoint: np.ndarray
    value: np.ndarray
    message: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.message)

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
    message: list[str],
) -> Found:
    """A :class:`Found` with its arrays normalised (``None``: -1 keypoints / NaN values)."""
    n = len(message)
    inst = np.asarray(instance, np.int64).reshape(n)
    kp = np.full(n, -1, np.int64) if keypoint is None else np.asarray(keypoint, np.int64)
    val = np.full(n, np.nan) if value is None else np.asarray(value, np.float64)
    return Found(rule, severity, inst, kp.reshape(n), val.reshape(n), message)


def schema_finding(rule: str, severity: str, message: str, value: float = np.nan) -> Found:
    """One finding about the schema or the file as a whole."""
    return found(rule, severity, [-1], None, [value], [message])


def not_checked(rule: str, reason: str) -> Found:
    """An ``info`` finding saying a rule could not run on this table, and why."""
    return schema_finding(rule, "info", f"not checked: {reason}")
