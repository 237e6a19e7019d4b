"""Precision-recall plots of an :class:`~posetable.eval.result.EvaluationResult` (matplotlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import missing_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from posetable.eval.result import EvaluationResult

AREAS = ("all", "medium", "large")


def plot_pr(result: EvaluationResult, *, area: str = "all", ax: Any = None) -> Figure:
    """One precision-recall curve per OKS threshold, averaged over categories.

    Cells without ground truth (-1) are left out of the average. Raises
    ``MissingDependencyError`` naming ``pip install "posetable[plot]"`` without matplotlib.
    """
    try:
        import matplotlib

        if ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise missing_extra("matplotlib", "plot") from exc
    if area not in AREAS:
        raise ValueError(f"area must be one of {AREAS}, got {area!r}")
    a = AREAS.index(area)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.5))
    else:
        fig = ax.figure
    precision = result.precision[:, :, :, a, -1]  # (T, R, C)
    recall = result.recall_thresholds
    cmap = plt.get_cmap("viridis")
    n_t = len(result.oks_thresholds)
    for t, threshold in enumerate(result.oks_thresholds):
        cells = precision[t]
        valid = cells > -1
        count = valid.sum(axis=1)
        with np.errstate(invalid="ignore"):
            curve = np.where(valid, cells, 0).sum(axis=1) / count
        if not np.any(count):
            continue
        ax.plot(recall, curve, color=cmap(t / max(n_t - 1, 1)), label=f"OKS {threshold:.2f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Precision-recall (area={area}, AP={result.ap:.3f})")
    ax.legend(fontsize="small", ncol=2)
    return fig
