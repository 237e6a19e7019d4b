"""Two runs image by image: where run B is better or worse than run A, and both drawn on one.

Both runs are evaluated against one table revision (the one asked for; else the one they
share; else the newer of theirs), each through :meth:`DashboardState.run_on`, so a run made
on another revision is re-evaluated there and its predictions are matched by sample id.
Per-sample metrics are joined to the revision's rows by sample id (numpy, no row loop).

The default metric is ``mean_oks`` (the mean OKS of the image's true positives at .50):
where an image has ground truth but a run matched none of it, its value is 0 (found
nothing), and images without ground truth are not comparable (left out, and counted).
For ``fp_*`` / ``fn_*`` counts lower is better, so "better" means a smaller value there.

Example:
    >>> better_sign("mean_oks"), better_sign("fn_50")
    (1, -1)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow
from posetable._rows import SAMPLE_ID
from posetable.dashboard._index import RunView, TableIndex
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._payload import instances_json, schema_json
from posetable.dashboard._query import QueryError
from posetable.dashboard._state import DashboardState
from posetable.dashboard._views import _urls, run_summary
from posetable.errors import RunError
from posetable.store import check_name
from posetable.table import Table

SHOWS = ("all", "better", "worse", "same")
MAX_COMPARE_PAGE = 200
DELTA_BINS = 20
SAME = 1e-12  # |delta| at most this is "the same"


def better_sign(metric: str) -> int:
    """+1 where a larger value is better, -1 for counts of errors (``fp_*``, ``fn_*``, losses)."""
    lowered = metric.lower()
    if lowered.startswith(("fp_", "fn_", "num_gt_ignored")) or "loss" in lowered:
        return -1
    return 1


def _pair(names: str | list[str]) -> list[str]:
    runs = [n for n in (p.strip() for p in names.split(","))] if isinstance(names, str) else names
    runs = [n for n in runs if n]
    if len(runs) != 2:
        raise QueryError(f"compare images takes two runs (runs=a,b), got {len(runs)}: {runs}"[:300])
    if runs[0] == runs[1]:
        raise QueryError(f"compare images needs two different runs, got {runs[0]!r} twice")
    return [check_name(n, "run") for n in runs]


def _views(
    state: DashboardState, names: list[str], revision: int | None
) -> tuple[Table, TableIndex, list[RunView]]:
    """The table revision both runs are compared on, its index and the two run views."""
    runs = [state.run(n).run for n in names]
    tables = {r.table_name for r in runs}
    if len(tables) != 1:
        made = ", ".join(f"{r.name!r} on {r.table_ref}" for r in runs)
        raise RunError(f"runs to compare image by image must be on one table; got {made}")
    if revision is None:
        revision = max(r.table_revision for r in runs)
    table = state.table(runs[0].table_name, revision)
    return table, state.index(table), [state.run_on(n, table) for n in names]


def _per_row(view: RunView, index: TableIndex, metric: str) -> np.ndarray:
    """The metric of every row of the revision (NaN where the run has no value)."""
    metrics = view.metrics
    if metric not in metrics.column_names:
        known = [n for n in view.metric_names if _numeric(metrics.schema.field(n).type)]
        raise QueryError(
            f"run {view.name!r} has no per-sample metric {metric!r}; its numeric metrics: "
            f"{', '.join(known)}"
        )
    rows = index.rows_of(metrics.column(SAMPLE_ID).to_numpy())
    out = np.full(len(index), np.nan)
    values = metrics.column(metric).cast(pa.float64()).to_numpy(zero_copy_only=False)
    keep = rows >= 0
    out[rows[keep]] = np.asarray(values, np.float64)[keep]
    if metric == "mean_oks" and "num_gt" in metrics.column_names:
        gt = np.full(len(index), np.nan)
        gt[rows[keep]] = metrics.column("num_gt").to_numpy(zero_copy_only=False)[keep]
        out = np.where(np.isnan(out) & (gt > 0), 0.0, out)  # ground truth, nothing found
    return out


def _numeric(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))


def compare_images(
    state: DashboardState,
    runs: str | list[str],
    *,
    revision: int | None = None,
    metric: str = "mean_oks",
    show: str = "all",
    order: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """Images sorted by the change of ``metric`` from run A to run B (``runs="a,b"``).

    ``show``: ``all``, ``better`` (B better than A), ``worse`` or ``same``; ``order``:
    ``asc`` or ``desc`` by delta (default: worse and all ascending, regressions first;
    better descending, the largest gains first).
    """
    names = _pair(runs)
    if show not in SHOWS:
        raise QueryError(f"show must be one of {', '.join(SHOWS)}, got {show!r}"[:200])
    if order not in (None, "asc", "desc"):
        raise QueryError(f"order must be 'asc' or 'desc', got {order!r}"[:200])
    bounded("offset", offset, 0, MAX_INDEX)
    bounded("limit", limit, 1, MAX_COMPARE_PAGE)
    table, index, views = _views(state, names, revision)
    a, b = (_per_row(v, index, metric) for v in views)
    sign = better_sign(metric)
    comparable = ~np.isnan(a) & ~np.isnan(b)
    delta = np.where(comparable, b - a, np.nan)
    gain = delta * sign
    kinds = {
        "better": comparable & (gain > SAME),
        "worse": comparable & (gain < -SAME),
        "same": comparable & (np.abs(delta) <= SAME),
        "all": comparable,
    }
    chosen = np.flatnonzero(kinds[show])
    descending = (order or ("desc" if show == "better" else "asc")) == "desc"
    key = -gain[chosen] if descending else gain[chosen]
    ranked = chosen[np.lexsort((chosen, key))]
    page = ranked[offset : offset + limit]
    records = table.take(page, columns=["image"]).column("image").to_pylist() if page.size else []
    entries = [
        {
            "row": int(row),
            "sample_id": int(index.sample_ids[row]),
            "image": image,
            "a": float(a[row]),
            "b": float(b[row]),
            "delta": float(delta[row]),
            **_urls(table.name, int(row), table.revision),
        }
        for row, image in zip(page.tolist(), records, strict=True)
    ]
    known = delta[comparable]
    edges = np.linspace(-1.0, 1.0, DELTA_BINS + 1)
    if known.size and (known.min() < -1 or known.max() > 1):
        edges = np.linspace(float(known.min()), float(known.max()), DELTA_BINS + 1)
    return {
        "runs": names,
        "run_info": [run_summary(state, n) for n in names],
        "table": table.name,
        "revision": table.revision,
        "ref": table.ref,
        "metric": metric,
        "higher_is_better": sign > 0,
        "metrics": _metric_choices(views),
        "evaluated_on": [v.evaluated_on for v in views],
        "summary": [v.summary for v in views],
        "show": show,
        "order": "desc" if descending else "asc",
        "counts": {
            "better": int(kinds["better"].sum()),
            "worse": int(kinds["worse"].sum()),
            "same": int(kinds["same"].sum()),
            "not_comparable": int((~comparable).sum()),
            "rows": len(index),
        },
        "mean": {
            "a": float(np.nanmean(a[comparable])) if comparable.any() else None,
            "b": float(np.nanmean(b[comparable])) if comparable.any() else None,
        },
        "delta_histogram": {
            "edges": edges.tolist(),
            "counts": np.histogram(known, bins=edges)[0].tolist(),
        },
        "total": int(chosen.size),
        "offset": offset,
        "images": entries,
    }


def _metric_choices(views: list[RunView]) -> list[str]:
    names = []
    for name in views[0].metric_names:
        if all(
            name in v.metrics.column_names and _numeric(v.metrics.schema.field(name).type)
            for v in views
        ):
            names.append(name)
    return names


def compare_sample(
    state: DashboardState, runs: str | list[str], row: int, *, revision: int | None = None
) -> dict[str, Any]:
    """One image with its ground truth and both runs' predictions and metrics."""
    names = _pair(runs)
    table, index, views = _views(state, names, revision)
    n = len(table)
    if isinstance(row, bool) or not 0 <= int(row) < n:
        raise QueryError(f"row {row} does not exist: table {table.ref} has {n} rows (0..{n - 1})")
    data = table.take([int(row)], columns=["image", "width", "height", KEYPOINTS_COLUMN])
    record = data.select(["image", "width", "height"]).to_pylist()[0]
    gt = instances_from_arrow(data.column(KEYPOINTS_COLUMN))[0]
    sample_id = int(index.sample_ids[int(row)])
    predictions = {}
    metrics = {}
    for name, view in zip(names, views, strict=True):
        predictions[name] = instances_json(view.predictions([sample_id])[0])
        metrics[name] = {k: v[0] for k, v in view.metrics_of(np.asarray([sample_id])).items()}
    return {
        "runs": names,
        "table": table.name,
        "revision": table.revision,
        "ref": table.ref,
        "row": int(row),
        "sample_id": sample_id,
        **record,
        **_urls(table.name, int(row), table.revision),
        "link": f"#/t/{quote(table.name, safe='')}/row/{int(row)}?rev={table.revision}",
        "schema": schema_json(table.schema),
        "gt": instances_json(gt),
        "predictions": predictions,
        "metrics": metrics,
    }
