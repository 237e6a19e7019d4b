"""``Diagnosis``: the frozen value ``pt.diagnose`` returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the keys of ``Diagnosis.ap_improvement``, in coco-analyze's order of presentation
FIXES = ("jitter", "inversion", "swap", "miss", "score", "background_fp", "background_fn")


@dataclass(frozen=True)
class Diagnosis:
    """Ronchi & Perona's error analysis of one set of predictions (see :func:`diagnose`).

    Attributes:
        ap: AP at OKS .50:.95 (area all) as evaluated, before any fix.
        ap_improvement: fix -> AP at OKS .50:.95 after fixing that error class alone
            (``jitter``, ``inversion``, ``swap``, ``miss``, ``score``, ``background_fp``,
            ``background_fn``); the AP after, not the difference. ``background_fn`` is
            computed on top of the ``background_fp`` fix, as coco-analyze computes it.
            ``inversion`` is NaN without flip indices.
        keypoint_errors: one row per labeled keypoint of each prediction matched at OKS
            0.1: ``row``, ``instance`` (ground truth), ``prediction``, ``category``,
            ``keypoint``, ``error`` (``good`` / ``jitter`` / ``inversion`` / ``swap`` /
            ``miss``), ``oks`` (its similarity term with the matched ground truth),
            ``best_oks`` (the best term over the candidates) and ``source_instance`` (the
            ground truth the best candidate belongs to).
        instance_errors: background false positives (predictions matched at no OKS
            threshold) and false negatives (non-ignored ground truth matched at none):
            ``row``, ``kind`` (``pred`` / ``gt``), ``index``, ``category``, ``error``
            (``background_fp`` / ``background_fn``), ``score`` (null for gt), ``best_oks``.
        breakdown: per keypoint, the count of each class (``keypoint``, ``name``, ``good``,
            ``jitter``, ``inversion``, ``swap``, ``miss``).
        curves: ``"baseline"`` and each fix -> (T, R) precision (mean over categories,
            area all) at each OKS threshold and recall threshold.
        oks_thresholds: (T,).
        recall_thresholds: (R,).
        keypoint_names: the K names.
        notes: what the analysis could not do on this input (no flip indices...).
    """

    ap: float
    ap_improvement: dict[str, float]
    keypoint_errors: pa.Table
    instance_errors: pa.Table
    breakdown: pa.Table
    curves: dict[str, np.ndarray] = field(repr=False)
    oks_thresholds: np.ndarray = field(repr=False)
    recall_thresholds: np.ndarray = field(repr=False)
    keypoint_names: tuple[str, ...] = field(repr=False, default=())
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The AP before and after each fix, the error counts and the notes, JSON-ready
        (NaN as None)."""
        counts = {name: 0 for name in ("good", "jitter", "inversion", "swap", "miss")}
        for name in counts:
            counts[name] = int(sum(self.breakdown.column(name).to_pylist()))
        return {
            "ap": _num(self.ap),
            "ap_improvement": {k: _num(v) for k, v in self.ap_improvement.items()},
            "keypoint_error_counts": counts,
            "background_fp": int(_count(self.instance_errors, "background_fp")),
            "background_fn": int(_count(self.instance_errors, "background_fn")),
            "breakdown": self.breakdown.to_pylist(),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [f" AP @[ OKS=0.50:0.95 | area=all ] = {self.ap:0.3f}"]
        for name in FIXES:
            value = self.ap_improvement.get(name, math.nan)
            if math.isnan(value):
                lines.append(f" {'fix ' + name:<20} -> AP   n/a")
            else:
                lines.append(f" {'fix ' + name:<20} -> AP {value:0.3f} ({value - self.ap:+0.3f})")
        lines.extend(f" note: {n}" for n in self.notes)
        return "\n".join(lines)

    def plot_breakdown(self, *, ax: Any = None) -> Figure:
        """Stacked bars per keypoint: the share of good, jitter, inversion, swap and miss
        (needs matplotlib: ``posetable[plot]``).

        Example:
            ``diagnosis.plot_breakdown().savefig("breakdown.png")``
        """
        from posetable.diagnose.plot import plot_breakdown

        return plot_breakdown(self, ax=ax)

    def plot_pr(self, *, oks: float = 0.5, ax: Any = None) -> Figure:
        """PR curves at one OKS threshold before and after each fix (``posetable[plot]``).

        Example:
            ``diagnosis.plot_pr(oks=0.75).savefig("pr_fixes.png")``
        """
        from posetable.diagnose.plot import plot_fix_curves

        return plot_fix_curves(self, oks=oks, ax=ax)


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _count(table: pa.Table, error: str) -> int:
    return sum(1 for e in table.column("error").to_pylist() if e == error)
