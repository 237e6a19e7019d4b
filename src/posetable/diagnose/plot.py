"""Plots of a :class:`~posetable.diagnose.result.Diagnosis` (matplotlib, ``posetable[plot]``).

Figures are made without pyplot (no global state, no display needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import missing_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from posetable.diagnose.result import Diagnosis

#: coco-analyze's colours for each class and fix
COLORS = {
    "good": "#1ED88B",
    "jitter": "#8C4646",
    "inversion": "#D96459",
    "swap": "#F2AE72",
    "miss": "#F2E394",
    "score": "#4F82BD",
    "background_fp": "#8063A3",
    "background_fn": "#2E8B57",
    "baseline": "#000000",
}


def _figure(ax: Any, size: tuple[float, float]) -> tuple[Figure, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise missing_extra("matplotlib", "plot") from exc
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.add_subplot()


def plot_breakdown(diagnosis: Diagnosis, *, ax: Any = None) -> Figure:
    """Stacked bars per keypoint: the share of each localization class."""
    names = list(diagnosis.breakdown.column("name").to_pylist())
    fig, ax = _figure(ax, (max(6.0, 0.45 * len(names)), 4.5))
    classes = ("good", "jitter", "inversion", "swap", "miss")
    counts = np.array([diagnosis.breakdown.column(c).to_pylist() for c in classes], float)
    total = counts.sum(axis=0)
    share = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for name, part in zip(classes, share, strict=True):
        ax.bar(
            x, part, bottom=bottom, color=COLORS[name], label=name, edgecolor="black", linewidth=0.3
        )
        bottom += part
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=70, ha="right", fontsize="small")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of matched keypoints")
    ax.set_title("Keypoint localization errors per keypoint")
    ax.legend(fontsize="small", ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    return fig


def plot_fix_curves(diagnosis: Diagnosis, *, oks: float = 0.5, ax: Any = None) -> Figure:
    """Precision-recall at one OKS threshold before and after each fix (each on its own)."""
    thresholds = diagnosis.oks_thresholds
    t = int(np.argmin(np.abs(thresholds - oks)))
    if abs(thresholds[t] - oks) > 1e-9:
        raise ValueError(
            f"oks must be one of {[round(float(v), 2) for v in thresholds]}, got {oks}"
        )
    fig, ax = _figure(ax, (6.5, 4.5))
    recall = diagnosis.recall_thresholds
    for name, curve in diagnosis.curves.items():
        c = curve[t]
        if np.all(c < 0):
            continue
        area = float(np.mean(c[c > -1])) if np.any(c > -1) else float("nan")
        ax.plot(
            recall,
            np.where(c > -1, c, np.nan),
            color=COLORS.get(name, "grey"),
            lw=2 if name == "baseline" else 1.2,
            label=f"{'original' if name == 'baseline' else 'fix ' + name}: {area:.3f}",
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"PR at OKS {thresholds[t]:.2f} after each fix (AP in the legend)")
    ax.legend(fontsize="small", loc="lower left")
    return fig
