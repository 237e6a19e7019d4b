"""``pt.diagnose``: Ronchi & Perona's error analysis of pose predictions (coco-analyze's
definitions, our own vectorised code).

"Benchmarking and Error Diagnosis in Multi-Instance Pose Estimation" (ICCV 2017) splits
what costs AP into keypoint localization errors (jitter, inversion, swap, miss: see
:mod:`posetable.diagnose._localization`), scoring errors and background errors, and
measures the AP each class would give back if it alone were fixed. Where the paper and
coco-analyze's code differ, the code is followed:

- keypoint fixes move only the points of that class, where coco-analyze's correction puts
  them, in the predictions matched at OKS 0.1; each class is fixed on its own;
- the ``score`` fix rescores every prediction with coco-analyze's soft-NMS of its best OKS
  with the ground truth (:mod:`posetable.diagnose._rescore`);
- ``background_fp`` ignores, at each OKS threshold, the predictions matched to nothing at
  that threshold; ``background_fn`` then also ignores the ground truth matched at no
  threshold up to that one (on top of the FP fix, as coco-analyze computes it).

Every AP is pycocotools' AP at OKS .50:.95 with the table's sigmas, area "all" as
pycocotools defines it (coco-analyze's own "all" starts at 32^2; small instances carry no
keypoints in COCO), so ``Diagnosis.ap`` equals ``pt.evaluate(...).ap``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from posetable._coco_constants import COCO_FLIP_INDICES
from posetable.diagnose._localization import ERRORS, Localization, classify, localization_matches
from posetable.diagnose._rescore import best_oks, optimal_scores
from posetable.diagnose.result import Diagnosis
from posetable.eval import _engine, api
from posetable.eval._data import EvalInput
from posetable.eval._details import best_pair_oks
from posetable.eval.result import EvaluationResult

if TYPE_CHECKING:
    from posetable.table import Table

logger = logging.getLogger(__name__)
KEYPOINT_FIXES = {"jitter": 1, "inversion": 2, "swap": 3, "miss": 4}


def diagnose(
    table: Table | Any,
    run: Any,
    *,
    sigmas: Any = None,
    flip_indices: Any = None,
) -> Diagnosis:
    """Ronchi & Perona's error analysis: what each kind of error costs in AP.

    Args:
        table: the ground truth: a Table (or a COCO keypoints JSON path).
        run: the predictions: a :class:`~posetable.Run` of the table, or anything
            :func:`~posetable.evaluate` takes.
        sigmas: OKS sigmas (default the table's, as ``pt.evaluate`` uses).
        flip_indices: the mirror of each keypoint, for inversions (default the table's; for
            a JSON file COCO's when K=17). Without them there are no inversions, and the
            result's ``notes`` say so.

    Returns:
        A :class:`Diagnosis`: ``ap``, ``ap_improvement`` (fix -> AP after it),
        ``keypoint_errors``, ``instance_errors``, ``breakdown``, plots.

    Raises:
        RunError, InstancesError, FormatError: predictions that do not fit the table (as
            for ``pt.evaluate``; another K among them).

    Example:
        >>> import tempfile
        >>> import posetable as pt
        >>> from posetable.sample import sample_table
        >>> table = sample_table(store=tempfile.mkdtemp())
        >>> preds = []
        >>> for row in table:
        ...     gt = row["keypoints"]
        ...     p = gt.select(gt.instance_extras["num_keypoints"] > 0).copy()
        ...     p.instance_confidences = np.full(len(p), 0.9)
        ...     preds.append(p)
        >>> d = pt.diagnose(table, preds)
        >>> d.ap, d.ap_improvement["jitter"], sorted(set(d.keypoint_errors["error"].to_pylist()))
        (1.0, 1.0, ['good'])
    """
    inp = api.prepare(table, run, sigmas=sigmas)
    k = int(inp.sigmas.shape[0])
    flips = _flips(table, flip_indices, k)
    notes: list[str] = []
    if flips is None:
        notes.append(
            "no flip indices: inversions cannot be told from swaps and misses, so there are "
            "none and ap_improvement['inversion'] is NaN; give flip_indices= to have them"
        )
        logger.warning("diagnose: %s", notes[-1])
    baseline = api.run(inp)
    curves = {"baseline": _curve(baseline.precision)}
    dt_m, gt_m = localization_matches(inp)
    loc = classify(inp, dt_m, gt_m, flips)
    improvement: dict[str, float] = {}
    for name, code in KEYPOINT_FIXES.items():
        if name == "inversion" and flips is None:
            improvement[name] = math.nan
            continue
        improvement[name], curves[name] = _fixed_keypoints(inp, loc, code, baseline)
    opt = optimal_scores(inp, best_oks(inp, _engine.AREA_RANGES[0]))
    rescored = api.run(replace(inp, dt=replace(inp.dt, score=opt)))
    improvement["score"], curves["score"] = rescored.ap, _curve(rescored.precision)
    details = baseline._require_details()
    fp_ap, fp_curve, fn_ap, fn_curve = _background(inp, details.matches, details.params)
    improvement["background_fp"], curves["background_fp"] = fp_ap, fp_curve
    improvement["background_fn"], curves["background_fn"] = fn_ap, fn_curve
    names = _names(table, k)
    return Diagnosis(
        ap=baseline.ap,
        ap_improvement=improvement,
        keypoint_errors=_keypoint_table(inp, loc),
        instance_errors=_instance_table(inp, details.matches),
        breakdown=_breakdown(loc, names),
        curves=curves,
        oks_thresholds=np.asarray(details.params.oks_thresholds),
        recall_thresholds=np.asarray(details.params.recall_thresholds),
        keypoint_names=names,
        notes=tuple(notes),
    )


def _flips(table: Any, given: Any, k: int) -> np.ndarray | None:
    from posetable._validate import check_flip_indices
    from posetable.table import Table

    if given is not None:
        return np.asarray(check_flip_indices(given, k), np.int64)
    if isinstance(table, Table):
        flips = table.schema.flip_indices
        return None if flips is None else np.asarray(flips, np.int64)
    return np.asarray(COCO_FLIP_INDICES, np.int64) if k == len(COCO_FLIP_INDICES) else None


def _names(table: Any, k: int) -> tuple[str, ...]:
    from posetable.table import Table

    if isinstance(table, Table):
        return table.schema.keypoint_names
    return tuple(f"kpt_{i}" for i in range(k))


def _curve(precision: np.ndarray) -> np.ndarray:
    """(T, R) mean over categories of the precision at area "all" (-1: no ground truth)."""
    p = precision[:, :, :, 0, -1]
    valid = p > -1
    count = valid.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, p, 0.0).sum(axis=2) / np.maximum(count, 1)
    return np.where(count > 0, mean, -1.0)


def _ap(precision: np.ndarray) -> float:
    """pycocotools' AP over every cell of ``precision`` that has ground truth."""
    valid = precision[precision > -1]
    return -1.0 if valid.size == 0 else float(np.mean(valid))


def _fixed_keypoints(
    inp: EvalInput, loc: Localization, code: int, baseline: EvaluationResult
) -> tuple[float, np.ndarray]:
    """AP and curves with the points of error class ``code`` moved where the fix puts them."""
    mi, ki = np.nonzero(loc.error == code)
    if mi.size == 0:
        return baseline.ap, _curve(baseline.precision)
    keypoints = inp.dt.keypoints.copy()
    keypoints[loc.dt[mi], ki] = loc.fixed[mi, ki]
    result = api.run(replace(inp, dt=replace(inp.dt, keypoints=keypoints)))
    return result.ap, _curve(result.precision)


def _background(
    inp: EvalInput, matches: _engine.Matches, params: _engine.Params
) -> tuple[float, np.ndarray, float, np.ndarray]:
    """AP and curves with background false positives ignored, then false negatives too."""
    gt = inp.gt
    n_g = len(gt)
    one_area = replace(params, area_ranges=params.area_ranges[:1])
    dt_gt = matches.dt_gt[:1]
    hit = dt_gt >= 0
    if n_g:
        hit &= ~gt.id_zero[np.where(hit, dt_gt, 0)]
    ignore = np.ascontiguousarray(matches.dt_ignore[:1] | ~hit)
    tp = np.ascontiguousarray(matches.tp[:1])
    fp = np.zeros_like(tp)
    gt_ignore = matches.gt_ignore[:1]
    no_fp = replace(matches, dt_gt=dt_gt, dt_ignore=ignore, tp=tp, fp=fp, gt_ignore=gt_ignore)
    acc = _engine.accumulate(inp, no_fp, one_area)
    fp_ap, fp_curve = _ap(acc.precision), _curve(acc.precision)
    # false negatives at each threshold: ground truth matched at no threshold up to it
    partner = matches.gt_partner(n_g, area=0)  # (T, G)
    matched_gt = partner >= 0
    if n_g:
        matched_gt &= ~gt.id_zero[None, :]
    missed = np.logical_or.accumulate(~matched_gt, axis=0) if n_g else matched_gt
    thresholds = params.oks_thresholds
    parts = []
    for t in range(thresholds.shape[0]):
        one = replace(one_area, oks_thresholds=thresholds[t : t + 1])
        m = replace(
            no_fp,
            dt_gt=np.ascontiguousarray(dt_gt[:, t : t + 1]),
            dt_ignore=np.ascontiguousarray(ignore[:, t : t + 1]),
            tp=np.ascontiguousarray(tp[:, t : t + 1]),
            fp=np.ascontiguousarray(fp[:, t : t + 1]),
            gt_ignore=gt_ignore | missed[t][None, :],
        )
        parts.append(_engine.accumulate(inp, m, one).precision)
    precision = np.concatenate(parts, axis=0) if parts else acc.precision
    return fp_ap, fp_curve, _ap(precision), _curve(precision)


def _keypoint_table(inp: EvalInput, loc: Localization) -> pa.Table:
    mi, ki = np.nonzero(loc.labeled)
    dt, gt = inp.dt, inp.gt
    d, g = loc.dt[mi], loc.gt[mi]
    labels = np.asarray(ERRORS, dtype=object)
    return pa.table(
        {
            "row": pa.array(inp.rows[dt.image[d]] if d.size else [], pa.int64()),
            "instance": pa.array(gt.index[g] if g.size else [], pa.int64()),
            "prediction": pa.array(dt.index[d] if d.size else [], pa.int64()),
            "category": pa.array(inp.category_labels[gt.category[g]] if g.size else [], pa.int64()),
            "keypoint": pa.array(ki, pa.int64()),
            "error": pa.array(labels[loc.error[mi, ki]].tolist() if mi.size else [], pa.string()),
            "oks": pa.array(loc.term[mi, ki], pa.float64()),
            "best_oks": pa.array(loc.best[mi, ki], pa.float64()),
            "source_instance": pa.array(
                gt.index[loc.source[mi, ki]] if mi.size else [], pa.int64()
            ),
        }
    )


def _instance_table(inp: EvalInput, matches: _engine.Matches) -> pa.Table:
    dt, gt = inp.dt, inp.gt
    n_g = len(gt)
    ev = matches.evaluated
    best_ev, best_gt = best_pair_oks(inp, matches)
    unmatched_dt = ~(matches.dt_gt[0] >= 0).any(axis=0) & ~matches.dt_ignore[0].all(axis=0)
    fp = np.flatnonzero(unmatched_dt)
    partner = matches.gt_partner(n_g, area=0)
    fn = np.flatnonzero(~(partner >= 0).any(axis=0) & ~matches.gt_ignore[0]) if n_g else fp[:0]
    d = ev[fp]
    rows = np.concatenate([inp.rows[dt.image[d]], inp.rows[gt.image[fn]]]).astype(np.int64)
    index = np.concatenate([dt.index[d], gt.index[fn]]).astype(np.int64)
    category = np.concatenate(
        [inp.category_labels[dt.category[d]], inp.category_labels[gt.category[fn]]]
    ).astype(np.int64)
    is_pred = np.concatenate([np.ones(fp.size, bool), np.zeros(fn.size, bool)])
    score = np.concatenate([dt.score[d], np.zeros(fn.size)])
    best = np.concatenate([best_ev[fp], best_gt[fn]])
    order = np.lexsort((index, ~is_pred, rows))
    return pa.table(
        {
            "row": pa.array(rows[order], pa.int64()),
            "kind": pa.array(np.where(is_pred, "pred", "gt")[order].tolist(), pa.string()),
            "index": pa.array(index[order], pa.int64()),
            "category": pa.array(category[order], pa.int64()),
            "error": pa.array(
                np.where(is_pred, "background_fp", "background_fn")[order].tolist(), pa.string()
            ),
            "score": pa.array(score[order], pa.float64(), mask=~is_pred[order]),
            "best_oks": pa.array(best[order], pa.float64(), mask=np.isnan(best[order])),
        }
    )


def _breakdown(loc: Localization, names: tuple[str, ...]) -> pa.Table:
    k = len(names)
    columns: dict[str, Any] = {
        "keypoint": pa.array(np.arange(k), pa.int64()),
        "name": pa.array(list(names), pa.string()),
    }
    for code, error in enumerate(ERRORS):
        columns[error] = pa.array((loc.error == code).sum(axis=0).astype(np.int64), pa.int64())
    return pa.table(columns)
