"""What the chart pages draw, as JSON: each chart's data is its JSON twin in the API.

A run's diagnosis page (``pt.diagnose``: AP after each fix, the PR curves after each fix,
the error kinds per keypoint, background false positives and negatives) and its metrics
page (``result.keypoint_metrics()``: per-keypoint OKS-AP and mean similarity, PCK by
visibility, calibration; the PR curves; a histogram of any numeric column) are fed from
here. The library calls behind them are made once per (run, table revision): revisions
never change, and a run is reopened only when its manifest changes.

Example:
    >>> nullable([0.5, float("nan"), -1.0])
    [0.5, None, None]
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable.dashboard._explore import _histogram_edges, _is_numeric, _matching, _values, field
from posetable.dashboard._index import SuspectThresholds
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._query import QueryError
from posetable.dashboard._state import DashboardState, _Lru
from posetable.dashboard._views import _open, catalog
from posetable.diagnose.plot import COLORS
from posetable.diagnose.result import FIXES
from posetable.store import check_name

ERROR_KINDS = ("good", "jitter", "inversion", "swap", "miss")
BACKGROUND_KINDS = {"fp": "background_fp", "fn": "background_fn"}
MAX_BINS = 200
MAX_BACKGROUND_PAGE = 1000


def nullable(values: Sequence[float] | np.ndarray) -> list[float | None]:
    """Floats as JSON numbers, None where a value is NaN or negative (no data: -1)."""
    out: list[float | None] = []
    for v in np.asarray(values, np.float64).ravel().tolist():
        out.append(None if not math.isfinite(v) or v < 0 else v)
    return out


def _curve(precision: np.ndarray) -> np.ndarray:
    """(T, R) precision at area "all", last max-detections, mean over categories (-1: none)."""
    p = np.asarray(precision)[:, :, :, 0, -1]
    valid = p > -1
    count = valid.sum(axis=2)
    mean = np.where(valid, p, 0.0).sum(axis=2) / np.maximum(count, 1)
    return np.where(count > 0, mean, -1.0)


def _area(curve: np.ndarray) -> float | None:
    """The mean of the defined precision values (AP of one curve), None when none is."""
    valid = curve[curve > -1]
    return float(valid.mean()) if valid.size else None


def _row_link(table: str, row: int, revision: int, run: str) -> str:
    return f"#/t/{quote(table, safe='')}/row/{row}?run={quote(run, safe='')}&rev={revision}"


@dataclass(frozen=True)
class _Diagnosed:
    """What the diagnosis charts keep of one ``pt.diagnose`` (not its per-keypoint table)."""

    charts: dict[str, Any]  # fixes, notes, PR curves, breakdown (JSON-ready)
    instance_errors: pa.Table  # background FP and FN, for the paged lists


class ChartData:
    """The chart endpoints' data over one dashboard state, cached per (run, revision).

    Only what the charts show is kept (JSON-ready values and the background errors): a
    diagnosis or an evaluation of a large run holds arrays per keypoint of every instance,
    dropped once the charts are made.

    Example:
        >>> import tempfile
        >>> charts = ChartData(DashboardState(tempfile.mkdtemp()))
        >>> charts.diagnosis("nope")
        Traceback (most recent call last):
        ...
        posetable.errors.NotFoundError: no run named 'nope' in store ...
    """

    def __init__(self, state: DashboardState) -> None:
        self.state = state
        self._diagnoses: _Lru[tuple[str, str, str, int], _Diagnosed] = _Lru(4)
        self._prs: _Lru[tuple[str, str, str, int], dict[str, Any]] = _Lru(8)
        self._keypoints: _Lru[tuple[str, str, str, int], dict[str, Any]] = _Lru(4)

    # -- what a run is charted against -----------------------------------------------------
    def _target(
        self, run: str, table: str | None, revision: int | None
    ) -> tuple[Any, Any, tuple[str, str, str, int]]:
        """(Run, Table revision, cache key): the run's own revision unless one is given."""
        check_name(run, "run")
        opened = self.state.open_run(run)
        name = table or opened.table_name
        if revision is None and name == opened.table_name:
            revision = opened.table_revision
        target = self.state.table(name, revision)
        key = (run, str(opened.manifest.get("created")), target.name, target.revision)
        return opened, target, key

    def _diagnosis(
        self, run: str, table: str | None, revision: int | None
    ) -> tuple[Any, _Diagnosed]:
        opened, target, key = self._target(run, table, revision)
        return target, self._diagnoses.get(key, lambda: _diagnosed(target, opened))

    def _evaluate(self, opened: Any, target: Any) -> Any:
        from posetable.eval import evaluate

        return evaluate(target, opened, sigmas=target.schema.sigmas)

    @staticmethod
    def _head(run: str, target: Any) -> dict[str, Any]:
        return {"run": run, "table": target.name, "revision": target.revision, "ref": target.ref}

    # -- diagnosis -------------------------------------------------------------------------
    def diagnosis(
        self, run: str, *, table: str | None = None, revision: int | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """The diagnosis page: AP after each fix (bars), PR curves after each fix, error kinds
        per keypoint (stacked bars), the first ``limit`` background FP and FN (with links)."""
        bounded("limit", limit, 1, MAX_BACKGROUND_PAGE)
        target, found = self._diagnosis(run, table, revision)
        return {
            **self._head(run, target),
            **found.charts,
            "background": {
                kind: self._background_page(run, target, found.instance_errors, kind, 0, limit)
                for kind in BACKGROUND_KINDS
            },
        }

    def background(
        self,
        run: str,
        *,
        kind: str,
        table: str | None = None,
        revision: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of background false positives (``kind="fp"``, most confident first) or
        false negatives (``"fn"``, in row order), each with a link to its image view."""
        if kind not in BACKGROUND_KINDS:
            raise QueryError(f"kind must be 'fp' or 'fn', got {kind!r}"[:200])
        bounded("offset", offset, 0, MAX_INDEX)
        bounded("limit", limit, 1, MAX_BACKGROUND_PAGE)
        target, found = self._diagnosis(run, table, revision)
        return {
            **self._head(run, target),
            **self._background_page(run, target, found.instance_errors, kind, offset, limit),
        }

    def _background_page(
        self, run: str, target: Any, errors: pa.Table, kind: str, offset: int, limit: int
    ) -> dict[str, Any]:
        mask = pc.equal(errors.column("error"), BACKGROUND_KINDS[kind])
        picked = errors.filter(mask)
        if kind == "fp" and picked.num_rows:  # the most confident false positives first
            score = np.nan_to_num(picked.column("score").to_numpy(zero_copy_only=False), nan=0.0)
            order = np.lexsort((picked.column("row").to_numpy(), -score))
            picked = picked.take(pa.array(order, pa.int64()))
        total = picked.num_rows
        page = picked.slice(offset, limit).to_pylist()
        classes = target.schema.classes
        ids = self.state.index(target).sample_ids
        items = []
        for item in page:
            row = int(item["row"])
            label = int(item["category"])
            items.append(
                {
                    "row": row,
                    "sample_id": int(ids[row]),
                    "index": int(item["index"]),
                    "class": classes[label] if 0 <= label < len(classes) else str(label),
                    "score": item["score"],
                    "best_oks": item["best_oks"],
                    "link": _row_link(target.name, row, target.revision, run),
                }
            )
        return {"kind": kind, "total": total, "offset": offset, "items": items}

    # -- dataset-level charts --------------------------------------------------------------
    def _keypoint_charts(self, run: str, table: str | None, revision: int | None) -> Any:
        opened, target, key = self._target(run, table, revision)

        def make() -> dict[str, Any]:
            metrics = self._evaluate(opened, target).keypoint_metrics()
            try:
                return {
                    "keypoints": _keypoints_json(target, metrics),
                    "calibration": _calibration(metrics),
                }
            finally:
                del metrics
                release_memory()

        return target, self._keypoints.get(key, make)

    def keypoints(
        self, run: str, *, table: str | None = None, revision: int | None = None
    ) -> dict[str, Any]:
        """Per-keypoint OKS-AP, mean similarity and PCK, for all / v=1 / v=2 ground truth."""
        target, made = self._keypoint_charts(run, table, revision)
        return {**self._head(run, target), **made["keypoints"]}

    def calibration(
        self, run: str, *, table: str | None = None, revision: int | None = None
    ) -> dict[str, Any]:
        """Reliability of keypoint confidences (against the similarity of the matched point)
        and of instance scores (against OKS), with the expected calibration error."""
        target, made = self._keypoint_charts(run, table, revision)
        return {**self._head(run, target), **made["calibration"]}

    def pr(
        self, run: str, *, table: str | None = None, revision: int | None = None
    ) -> dict[str, Any]:
        """The run's precision-recall curves at each OKS threshold (area all) on a revision."""
        opened, target, key = self._target(run, table, revision)

        def make() -> dict[str, Any]:
            result = self._evaluate(opened, target)
            details = result._require_details()
            curve = _curve(result.precision)
            return {
                "ap": float(result.ap),
                "oks_thresholds": np.asarray(details.params.oks_thresholds).tolist(),
                "recall_thresholds": np.asarray(details.params.recall_thresholds).tolist(),
                "precision": [nullable(row) for row in curve],
                "ap_per_threshold": [_area(row) for row in curve],
            }

        return {**self._head(run, target), **self._prs.get(key, make)}


def release_memory() -> None:
    """Hand freed memory back to the system after a large computation (a diagnosis or the
    keypoint metrics of a large run peak at several GB, and their allocators keep what they
    freed): Arrow's pool releases its unused pages, glibc trims its heap (where it is glibc).
    """
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _diagnosed(target: Any, opened: Any) -> _Diagnosed:
    """``pt.diagnose`` of a run on a revision, reduced to what the charts show."""
    from posetable.diagnose.error_analysis import diagnose

    found = diagnose(target, opened)
    try:
        return _diagnosis_charts(target, found)
    finally:
        del found
        release_memory()


def _diagnosis_charts(target: Any, found: Any) -> _Diagnosed:
    base = float(found.ap)
    fixes = []
    for name in FIXES:
        value = found.ap_improvement.get(name, math.nan)
        known = value is not None and math.isfinite(value)
        fixes.append(
            {
                "fix": name,
                "ap": float(value) if known else None,
                "delta": float(value) - base if known else None,
                "color": COLORS[name],
            }
        )
    curves = {}
    for name, curve in found.curves.items():
        values = np.asarray(curve, np.float64)
        curves[name] = {
            "precision": [nullable(row) for row in values],
            "ap": _area(values),
            "color": COLORS.get(name, "#888888"),
        }
    breakdown = found.breakdown
    charts = {
        "ap": base,
        "fixes": fixes,
        "has_flip_indices": target.schema.flip_indices is not None,
        "notes": list(found.notes),
        "pr": {
            "oks_thresholds": np.asarray(found.oks_thresholds).tolist(),
            "recall_thresholds": np.asarray(found.recall_thresholds).tolist(),
            "curves": curves,
        },
        "breakdown": {
            "keypoint_names": list(breakdown.column("name").to_pylist()),
            "kinds": list(ERROR_KINDS),
            "colors": {kind: COLORS[kind] for kind in ERROR_KINDS},
            "counts": {kind: breakdown.column(kind).to_pylist() for kind in ERROR_KINDS},
        },
    }
    return _Diagnosed(charts=charts, instance_errors=found.instance_errors)


def _keypoints_json(target: Any, metrics: Any) -> dict[str, Any]:
    per = metrics.per_keypoint
    columns = {
        name: per.column(name).to_pylist()
        if name.startswith("matched")
        else nullable(per.column(name).to_numpy(zero_copy_only=False))
        for name in per.column_names
        if name != "keypoint"
    }
    return {
        "keypoint_names": list(target.schema.keypoint_names),
        "pck_thresholds": list(metrics.pck_thresholds),
        "splits": {"all": "", "v1": "_v1", "v2": "_v2"},
        "per_keypoint": columns,
    }


def _calibration(metrics: Any) -> dict[str, Any]:
    def one(ece: float, table: pa.Table) -> dict[str, Any]:
        bins = table.to_pylist()
        return {
            "ece": float(ece) if math.isfinite(ece) else None,
            "count": int(sum(b["count"] for b in bins)),
            "bins": bins,
        }

    return {
        "keypoint": one(metrics.keypoint_ece, metrics.keypoint_reliability),
        "instance": one(metrics.instance_ece, metrics.instance_reliability),
    }


def histogram(
    state: DashboardState,
    name: str,
    column: str,
    *,
    revision: int | None = None,
    run: str | None = None,
    filter_text: str | None = None,
    bins: int = 30,
    thresholds: SuspectThresholds,
) -> dict[str, Any]:
    """A histogram of one numeric column (table, derived, run metric or suspect column) over
    all rows and over the rows ``filter_text`` keeps, with its summary statistics."""
    bounded("bins", bins, 1, MAX_BINS)
    parts = _open(state, name, revision, run)
    table, index, view = parts
    columns = catalog(table, index, view)
    numeric = sorted(c.name for c in columns.values() if _is_numeric(c))
    if column not in columns or column not in numeric:
        what = "unknown column" if column not in columns else "a column that is not numeric"
        raise QueryError(
            f"cannot draw a histogram of {what} {column!r}; numeric columns: "
            f"{', '.join(numeric) if numeric else 'none'}"
        )
    values = _values(parts, columns, [column], thresholds)[column]
    mask = _matching(parts, columns, filter_text, thresholds)
    known = ~np.isnan(values)
    integer = "int" in columns[column].type
    edges = _histogram_edges(values[known], integer, bins)
    every = np.histogram(values[known], bins=edges)[0] if len(edges) else np.zeros(0)
    kept = np.histogram(values[known & mask], bins=edges)[0] if len(edges) else np.zeros(0)

    def stats(selected: np.ndarray) -> dict[str, float | int | None]:
        if not selected.size:
            return {"count": 0, "mean": None, "median": None, "min": None, "max": None}
        return {
            "count": int(selected.size),
            "mean": float(selected.mean()),
            "median": float(np.median(selected)),
            "min": float(selected.min()),
            "max": float(selected.max()),
        }

    return {
        "table": table.name,
        "revision": table.revision,
        "run": run,
        "column": column,
        "field": field(column),
        "source": columns[column].source,
        "type": columns[column].type,
        "filter": filter_text or "",
        "rows": len(index),
        "matching": int(mask.sum()),
        "edges": np.asarray(edges, np.float64).tolist(),
        "all": np.asarray(every, np.int64).tolist(),
        "kept": np.asarray(kept, np.int64).tolist(),
        "missing": int((~known).sum()),
        "stats": {"all": stats(values[known]), "kept": stats(values[known & mask])},
        "numeric_columns": numeric,
    }
