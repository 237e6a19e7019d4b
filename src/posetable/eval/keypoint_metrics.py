"""Per-keypoint metrics and calibration, next to the exact evaluation (never changing it).

- **per-keypoint OKS-AP**: each keypoint's similarity term as its own OKS (one point, its
  own sigma), evaluated exactly as pycocotools evaluates any OKS: AP at .50:.95, area
  "all", 20 predictions per image; ground truth that does not label the point (or not
  with the split's visibility) is treated as pycocotools treats a person without labeled
  points: ignored, its 3x-box rule included. So each value equals pycocotools' AP on the
  one-keypoint dataset. All K keypoints, and the v=1 / v=2 splits, run as
  categories of ONE engine call.
- **mean similarity** and **PCK** per keypoint over the matched pairs at OKS .50 (the
  evaluation's own matches): the term exp(-d^2 / (2 sigma)^2 / area / 2), and the share of
  points within ``t`` times the longer side of the ground-truth box.
- **calibration**: keypoint confidences against the similarity term of the matched point;
  instance scores against the OKS with the matched ground truth (0 for a prediction matched
  to none); expected calibration error over equal-width bins, and the reliability table.

Everything is joinable to table rows (``points`` and ``instances`` carry ``row``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from posetable.errors import EvaluationError
from posetable.eval import _engine
from posetable.eval._data import EvalInput, GroundTruthColumns, PredictionColumns
from posetable.eval.oks import EPS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from posetable.eval.result import EvaluationResult

SPLITS = ("all", "v1", "v2")
DEFAULT_PCK = (0.05, 0.1, 0.2)


@dataclass(frozen=True)
class KeypointMetrics:
    """Per-keypoint metrics and calibration of one evaluation.

    Attributes:
        per_keypoint: one row per keypoint: ``keypoint``, ``ap``, ``ap_v1``, ``ap_v2``
            (null where no ground truth labels it so), ``mean_similarity`` (and ``_v1``,
            ``_v2``), ``pck_<t>`` for each threshold (and ``_v1``, ``_v2``), ``matched``
            (matched labeled points; and ``_v1``, ``_v2``).
        points: one row per labeled point of each ground truth matched at OKS .50:
            ``row``, ``instance``, ``prediction``, ``category``, ``keypoint``,
            ``visibility``, ``similarity``, ``distance`` (pixels), ``normalized_distance``
            (by the longer box side), ``confidence`` (null where the prediction has none).
        instances: one row per evaluated prediction (area all, not ignored at .50):
            ``row``, ``prediction``, ``score``, ``oks`` (with its match at .50; 0 if none).
        keypoint_ece: expected calibration error of the keypoint confidences against the
            similarity (NaN without confidences).
        instance_ece: the same for instance scores against OKS.
        keypoint_reliability, instance_reliability: per bin ``lower``, ``upper``,
            ``count``, ``confidence`` (mean), ``accuracy`` (mean target).
        pck_thresholds: the PCK thresholds.
    """

    per_keypoint: pa.Table
    points: pa.Table
    instances: pa.Table
    keypoint_ece: float
    instance_ece: float
    keypoint_reliability: pa.Table
    instance_reliability: pa.Table
    pck_thresholds: tuple[float, ...] = field(default=DEFAULT_PCK)

    def plot_reliability(self, *, kind: str = "keypoint", ax: Any = None) -> Figure:
        """A reliability diagram (``kind`` ``"keypoint"`` or ``"instance"``; needs
        matplotlib: ``posetable[plot]``).

        Example:
            ``metrics.plot_reliability(kind="instance").savefig("reliability.png")``
        """
        from posetable.eval.plot_keypoints import plot_reliability

        return plot_reliability(self, kind=kind, ax=ax)

    def plot_per_keypoint(self, *, metric: str = "ap", names: Any = None, ax: Any = None) -> Figure:
        """Bars of one per-keypoint metric, all / v=1 / v=2 side by side (``posetable[plot]``).

        Example:
            ``metrics.plot_per_keypoint(metric="pck_0.1").savefig("pck.png")``
        """
        from posetable.eval.plot_keypoints import plot_per_keypoint

        return plot_per_keypoint(self, metric=metric, names=names, ax=ax)


def check_thresholds(values: Any) -> tuple[float, ...]:
    """PCK thresholds as a tuple of floats in (0, 1]."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(f"pck_thresholds must be numbers, got {values!r}") from exc
    bad = [v for v in out if not 0 < v <= 1]
    if not out or bad:
        raise EvaluationError(f"pck_thresholds must be numbers in (0, 1], got {list(out)}")
    return out


def compute(
    inp: EvalInput,
    matches: _engine.Matches,
    params: _engine.Params,
    *,
    visibility: np.ndarray | None,
    confidences: np.ndarray | None,
    pck_thresholds: Any = DEFAULT_PCK,
    bins: int = 10,
) -> KeypointMetrics:
    """:class:`KeypointMetrics` from an evaluation's inputs and matches."""
    thresholds = check_thresholds(pck_thresholds)
    if not isinstance(bins, int) or bins < 1:
        raise EvaluationError(f"bins must be a whole number >= 1, got {bins!r}")
    k = int(inp.sigmas.shape[0])
    vis = visibility if visibility is not None else np.where(inp.gt.labeled, 2, 0)
    ap = keypoint_ap(inp, vis)
    t50 = int(np.argmin(np.abs(np.asarray(params.oks_thresholds) - 0.5)))
    points = _points(inp, matches, t50, vis, confidences)
    columns: dict[str, Any] = {"keypoint": pa.array(np.arange(k), pa.int64())}
    for s, split in enumerate(SPLITS):
        suffix = "" if split == "all" else f"_{split}"
        columns[f"ap{suffix}"] = _nullable(ap[s])
    kp, v, sim, nd = points["keypoint"], points["visibility"], points["similarity"], points["nd"]
    for split in SPLITS:
        suffix = "" if split == "all" else f"_{split}"
        sel = np.ones(kp.shape[0], bool) if split == "all" else v == int(split[1])
        count = np.bincount(kp[sel], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns[f"mean_similarity{suffix}"] = _nullable(
                np.bincount(kp[sel], weights=sim[sel], minlength=k) / count
            )
            for t in thresholds:
                hit = np.bincount(kp[sel], weights=(nd[sel] <= t).astype(float), minlength=k)
                columns[f"pck_{t:g}{suffix}"] = _nullable(hit / count)
        columns[f"matched{suffix}"] = pa.array(count, pa.int64())
    conf = points["confidence"]
    has_conf = ~np.isnan(conf)
    kp_ece, kp_rel = calibration(conf[has_conf], sim[has_conf], bins)
    inst = _instances(inp, matches, t50)
    in_ece, in_rel = calibration(inst["score"], inst["oks"], bins)
    return KeypointMetrics(
        per_keypoint=pa.table(columns),
        points=points["table"],
        instances=pa.table(
            {
                "row": pa.array(inst["row"], pa.int64()),
                "prediction": pa.array(inst["prediction"], pa.int64()),
                "score": pa.array(inst["score"], pa.float64()),
                "oks": pa.array(inst["oks"], pa.float64()),
            }
        ),
        keypoint_ece=kp_ece,
        instance_ece=in_ece,
        keypoint_reliability=kp_rel,
        instance_reliability=in_rel,
        pck_thresholds=thresholds,
    )


def _nullable(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, np.float64)
    return pa.array(values, pa.float64(), mask=np.isnan(values))


#: (ground truth + predictions) x copies per engine call of ``keypoint_ap``: the 3 x K
#: one-keypoint problems are solved a few at a time, so memory stays near one evaluation's
COPY_BUDGET = 1_000_000


def keypoint_ap(inp: EvalInput, visibility: np.ndarray) -> np.ndarray:
    """(3, K) AP .50:.95 of each keypoint's own OKS, for all / v=1 / v=2 ground truth (NaN
    where no ground truth qualifies). Each (split, keypoint) is a copy of the problem with
    its own categories (copy, category); coordinates are divided by the keypoint's sigma so
    one sigma of 1 serves. Categories are evaluated independently, so the copies go through
    the engine a few at a time (``COPY_BUDGET``) with the same results as all at once."""
    gt = inp.gt
    k = int(inp.sigmas.shape[0])
    n_s = len(SPLITS)
    out = np.full((n_s, k), np.nan)
    if len(gt) == 0:
        return out
    copies = n_s * k
    step = max(1, COPY_BUDGET // max(len(gt) + len(inp.dt), 1))
    parts = [
        _copies_precision(inp, visibility, np.arange(first, min(first + step, copies)))
        for first in range(0, copies, step)
    ]
    per = np.concatenate(parts, axis=2)  # (T, R, copies, categories): as one call gives it
    sk = np.arange(copies)  # copy c: split c // k, keypoint c % k
    valid = per > -1
    count = valid.sum(axis=(0, 1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, per, 0.0).sum(axis=(0, 1, 3)) / count
    out[sk // k, sk % k] = np.where(count > 0, mean, np.nan)
    return out


def _copies_precision(inp: EvalInput, visibility: np.ndarray, sk: np.ndarray) -> np.ndarray:
    """(T, R, len(sk), categories) precision of the one-keypoint problems ``sk`` (area
    all, 20 predictions), in one engine call."""
    gt, dt = inp.gt, inp.dt
    k = int(inp.sigmas.shape[0])
    n_c = inp.num_categories
    n_g, n_d = len(gt), len(dt)
    copies = sk.shape[0]
    local = np.arange(copies)
    split_of, kp_of = sk // k, sk % k
    scale = 1.0 / np.asarray(inp.sigmas)[kp_of]  # (copies,)
    lab = gt.labeled[:, kp_of].T  # (copies, G)
    qualifies = lab & np.stack(
        [
            np.ones_like(visibility[:, 0], bool) if s == 0 else visibility[:, kp] == s
            for s, kp in zip(split_of.tolist(), kp_of.tolist(), strict=True)
        ]
    )
    g_kp = gt.keypoints[:, kp_of, :].transpose(1, 0, 2) * scale[:, None, None]
    g_box = gt.box[None, :, :] * scale[:, None, None]
    new_gt = GroundTruthColumns(
        image=np.tile(gt.image, copies),
        category=(local[:, None] * n_c + gt.category[None, :]).ravel(),
        keypoints=g_kp.reshape(copies * n_g, 1, 2),
        labeled=qualifies.reshape(copies * n_g, 1),
        box=g_box.reshape(copies * n_g, 4),
        area=np.tile(gt.area, copies),
        ignore=(np.tile(gt.ignore, copies) | ~qualifies.ravel()),
        crowd=np.tile(gt.crowd, copies),
        id_zero=np.tile(gt.id_zero, copies),
        index=np.tile(gt.index, copies),
        ids=np.tile(gt.ids, copies),
    )
    d_kp = dt.keypoints[:, kp_of, :].transpose(1, 0, 2) * scale[:, None, None]
    new_dt = PredictionColumns(
        image=np.tile(dt.image, copies),
        category=(local[:, None] * n_c + dt.category[None, :]).ravel(),
        keypoints=d_kp.reshape(copies * n_d, 1, 2),
        score=np.tile(dt.score, copies),
        area=np.tile(dt.area, copies),
        index=np.tile(dt.index, copies),
    )
    ids = np.arange(copies * n_c, dtype=np.int64)
    problem = replace(
        inp, gt=new_gt, dt=new_dt, category_ids=ids, category_labels=ids, sigmas=np.ones(1)
    )
    params = _engine.Params(area_ranges=_engine.AREA_RANGES[:1])
    m = _engine.match(problem, params)
    precision = _engine.accumulate(problem, m, params).precision[:, :, :, 0, 0]  # (T, R, C')
    return precision.reshape(precision.shape[0], precision.shape[1], copies, n_c)


def _points(
    inp: EvalInput,
    matches: _engine.Matches,
    t50: int,
    vis: np.ndarray,
    confidences: np.ndarray | None,
) -> dict[str, Any]:
    """The matched labeled points at OKS .50 (area all) and their measures."""
    gt, dt = inp.gt, inp.dt
    ev = matches.evaluated
    hit = matches.tp[0, t50] if ev.size else np.zeros(0, bool)
    d = ev[hit]
    g = matches.dt_gt[0, t50][hit]
    diff = dt.keypoints[d] - gt.keypoints[g]
    dist = np.hypot(diff[..., 0], diff[..., 1])
    variances = (np.asarray(inp.sigmas) * 2) ** 2
    e = dist**2 / variances / (gt.area[g][:, None] + EPS) / 2
    sim = np.exp(-e)
    side = np.maximum(gt.box[g, 2], gt.box[g, 3])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        nd = dist / side
    mi, ki = np.nonzero(gt.labeled[g])
    conf = confidences[d][mi, ki] if confidences is not None else np.full(mi.shape[0], np.nan)
    table = pa.table(
        {
            "row": pa.array(inp.rows[dt.image[d[mi]]] if mi.size else [], pa.int64()),
            "instance": pa.array(gt.index[g[mi]] if mi.size else [], pa.int64()),
            "prediction": pa.array(dt.index[d[mi]] if mi.size else [], pa.int64()),
            "category": pa.array(
                inp.category_labels[gt.category[g[mi]]] if mi.size else [], pa.int64()
            ),
            "keypoint": pa.array(ki, pa.int64()),
            "visibility": pa.array(vis[g[mi], ki] if mi.size else [], pa.int64()),
            "similarity": pa.array(sim[mi, ki], pa.float64()),
            "distance": pa.array(dist[mi, ki], pa.float64()),
            "normalized_distance": pa.array(
                nd[mi, ki], pa.float64(), mask=~np.isfinite(nd[mi, ki])
            ),
            "confidence": pa.array(conf, pa.float64(), mask=np.isnan(conf)),
        }
    )
    return {
        "table": table,
        "keypoint": ki,
        "visibility": vis[g[mi], ki] if mi.size else np.zeros(0, np.int64),
        "similarity": sim[mi, ki],
        "nd": np.where(np.isfinite(nd[mi, ki]), nd[mi, ki], np.inf),
        "confidence": conf,
    }


def _instances(inp: EvalInput, matches: _engine.Matches, t50: int) -> dict[str, np.ndarray]:
    """Evaluated predictions not ignored at .50: their score and OKS with their match."""
    from posetable.eval.oks import oks_pairs

    gt, dt = inp.gt, inp.dt
    ev = matches.evaluated
    if ev.size == 0:
        empty = np.zeros(0)
        return {
            "row": empty.astype(np.int64),
            "prediction": empty.astype(np.int64),
            "score": empty,
            "oks": empty,
        }
    keep = ~matches.dt_ignore[0, t50]
    d = ev[keep]
    partner = matches.dt_gt[0, t50][keep]
    oks = np.zeros(d.shape[0])
    tp = matches.tp[0, t50][keep]
    if tp.any():
        oks[tp] = oks_pairs(
            dt.keypoints, gt.keypoints, gt.labeled, gt.area, gt.box, inp.sigmas, d[tp], partner[tp]
        )
    return {
        "row": inp.rows[dt.image[d]].astype(np.int64),
        "prediction": dt.index[d].astype(np.int64),
        "score": dt.score[d],
        "oks": oks,
    }


def calibration(
    confidence: np.ndarray, target: np.ndarray, bins: int = 10
) -> tuple[float, pa.Table]:
    """Expected calibration error of ``confidence`` against ``target`` (both in [0, 1]) over
    ``bins`` equal-width bins, and the reliability table.

    Example:
        >>> ece, table = calibration(np.array([0.9, 0.9, 0.2]), np.array([1.0, 0.8, 0.2]), 2)
        >>> round(ece, 3), table.column("count").to_pylist()
        (0.0, [1, 2])
    """
    c = np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)
    y = np.asarray(target, np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.minimum((c * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = np.bincount(which, weights=c, minlength=bins) / count
        mean_y = np.bincount(which, weights=y, minlength=bins) / count
    n = int(count.sum())
    ece = float(np.nansum(count * np.abs(mean_c - mean_y)) / n) if n else float("nan")
    table = pa.table(
        {
            "lower": pa.array(edges[:-1], pa.float64()),
            "upper": pa.array(edges[1:], pa.float64()),
            "count": pa.array(count, pa.int64()),
            "confidence": _nullable(mean_c),
            "accuracy": _nullable(mean_y),
        }
    )
    return ece, table


def from_result(
    result: EvaluationResult,
    ground_truth: Any,
    predictions: Any,
    *,
    pck_thresholds: Any = DEFAULT_PCK,
    bins: int = 10,
) -> KeypointMetrics:
    """:class:`KeypointMetrics` of an :class:`EvaluationResult` and its two sources."""
    from posetable.eval._keypoint_sources import ground_truth_visibility, prediction_confidences

    details = result._require_details()
    inp = details.inputs
    return compute(
        inp,
        details.matches,
        details.params,
        visibility=ground_truth_visibility(ground_truth, inp),
        confidences=prediction_confidences(predictions, ground_truth, inp),
        pck_thresholds=pck_thresholds,
        bins=bins,
    )


def keypoint_metrics(
    ground_truth: Any,
    predictions: Any,
    *,
    sigmas: Any = None,
    pck_thresholds: Any = DEFAULT_PCK,
    bins: int = 10,
) -> KeypointMetrics:
    """Per-keypoint OKS-AP, mean similarity, PCK (all, v=1, v=2) and calibration.

    Takes what :func:`~posetable.evaluate` takes; the evaluation's own numbers are not
    touched (this is a separate pass; ``result.keypoint_metrics()`` gives the same from an
    :class:`EvaluationResult`).

    Args:
        ground_truth: a Table or a COCO keypoints JSON path.
        predictions: a Run, per-row instances, a results JSON path or an Arrow table.
        sigmas: OKS sigmas (default as ``pt.evaluate``: the table's).
        pck_thresholds: PCK thresholds, in longer-box-side units (default .05, .1, .2).
        bins: calibration bins over [0, 1].

    Example:
        >>> import tempfile
        >>> import posetable as pt
        >>> gt = pt.Keypoints2DInstances.create_empty(num_keypoints=2)
        >>> gt.add_instance([[10, 10, 2], [30, 40, 1]], instance_extras={"area": 900.0})
        >>> table = pt.Table.from_rows([{"image": "a.jpg", "width": 64, "height": 64,
        ...     "keypoints": gt}], name="km", schema=pt.Keypoints2DSchema(2),
        ...     store=tempfile.mkdtemp())
        >>> pred = pt.Keypoints2DInstances(gt.keypoints + [[[0.0, 0.0], [3.0, 4.0]]],
        ...     instance_confidences=[0.9], keypoint_confidences=[[1.0, 0.6]])
        >>> m = pt.keypoint_metrics(table, [pred])
        >>> m.per_keypoint.column("pck_0.2").to_pylist()
        [1.0, 1.0]
        >>> m.points.column("visibility").to_pylist()
        [2, 1]
    """
    from posetable.eval import api

    result = api.run(api.prepare(ground_truth, predictions, sigmas=sigmas))
    return from_result(result, ground_truth, predictions, pck_thresholds=pck_thresholds, bins=bins)
