"""Plots of :class:`~posetable.eval.keypoint_metrics.KeypointMetrics` (matplotlib).

Figures are made without pyplot (no global state, no display needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import missing_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from posetable.eval.keypoint_metrics import KeypointMetrics


def _figure(ax: Any, size: tuple[float, float]) -> tuple[Figure, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise missing_extra("matplotlib", "plot") from exc
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.add_subplot()


def plot_reliability(metrics: KeypointMetrics, *, kind: str = "keypoint", ax: Any = None) -> Figure:
    """Mean target per confidence bin against the diagonal, with the ECE in the title."""
    if kind not in ("keypoint", "instance"):
        raise ValueError(f"kind must be 'keypoint' or 'instance', got {kind!r}")
    table = metrics.keypoint_reliability if kind == "keypoint" else metrics.instance_reliability
    ece = metrics.keypoint_ece if kind == "keypoint" else metrics.instance_ece
    fig, ax = _figure(ax, (4.8, 4.5))
    lower = np.asarray(table.column("lower").to_numpy(), float)
    upper = np.asarray(table.column("upper").to_numpy(), float)
    acc = np.asarray(table.column("accuracy").to_numpy(zero_copy_only=False), float)
    ax.bar(
        lower,
        np.nan_to_num(acc),
        width=upper - lower,
        align="edge",
        color="#4F82BD",
        edgecolor="black",
        linewidth=0.5,
        label="mean " + ("similarity" if kind == "keypoint" else "OKS"),
    )
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("keypoint confidence" if kind == "keypoint" else "instance score")
    ax.set_ylabel("mean similarity" if kind == "keypoint" else "OKS with the match")
    ax.set_title(f"Reliability ({kind}), ECE = {ece:.3f}")
    ax.legend(fontsize="small", loc="upper left")
    return fig


def plot_per_keypoint(
    metrics: KeypointMetrics, *, metric: str = "ap", names: Any = None, ax: Any = None
) -> Figure:
    """Bars of ``metric`` per keypoint for all, v=1 and v=2 ground truth."""
    table = metrics.per_keypoint
    if metric not in table.column_names:
        choices = [c for c in table.column_names if not c.endswith(("_v1", "_v2"))][1:]
        raise ValueError(f"metric must be one of {choices}, got {metric!r}")
    k = table.num_rows
    labels = list(names) if names is not None else [str(i) for i in range(k)]
    fig, ax = _figure(ax, (max(6.0, 0.45 * k), 4.5))
    x = np.arange(k)
    for n, (suffix, colour) in enumerate((("", "#4F82BD"), ("_v1", "#D96459"), ("_v2", "#1ED88B"))):
        column = f"{metric}{suffix}"
        if column not in table.column_names:
            continue
        values = np.asarray(table.column(column).to_numpy(zero_copy_only=False), float)
        ax.bar(
            x + (n - 1) * 0.27,
            np.nan_to_num(values),
            width=0.27,
            color=colour,
            label={"": "all", "_v1": "v=1", "_v2": "v=2"}[suffix],
        )
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=70, ha="right", fontsize="small")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per keypoint")
    ax.legend(fontsize="small")
    return fig
