"""The evaluation engine: pycocotools' keypoint matching and accumulation over flat arrays.

Three phases, each a handful of whole-dataset numpy operations:

1. **select**: predictions are sorted by (category, image, -score, input order); the first
   ``max_dets`` of each (image, category) are evaluated (pycocotools' top-20, stable sort).
2. **match**: OKS for every (prediction, ground truth) pair of the same image and category
   (:func:`posetable.eval.oks.oks_pairs`); pairs that cannot reach the lowest threshold are
   dropped by a conservative distance bound first. A prediction with one candidate whose
   ground truth has no other candidate matches wherever its OKS reaches the threshold; the
   rest run pycocotools' greedy loop as at most ``max_dets`` vectorised steps over
   (area range, threshold, pair) arrays, one step per score rank.
3. **accumulate**: one stable sort by score per category, cumulative sums of TP / FP over
   (area range, threshold) rows, the precision envelope and the 101-point sampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posetable.eval._data import EvalInput
from posetable.eval.oks import EPS, oks_pairs

OKS_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = np.array([[0**2, 1e5**2], [32**2, 96**2], [96**2, 1e5**2]], dtype=np.float64)
AREA_LABELS = ("all", "medium", "large")
MAX_DETS = (20,)


@dataclass(frozen=True)
class Params:
    """Evaluation parameters (pycocotools' ``setKpParams`` defaults)."""

    oks_thresholds: np.ndarray = field(default_factory=OKS_THRESHOLDS.copy)
    recall_thresholds: np.ndarray = field(default_factory=RECALL_THRESHOLDS.copy)
    area_ranges: np.ndarray = field(default_factory=AREA_RANGES.copy)
    max_dets: tuple[int, ...] = MAX_DETS


@dataclass(frozen=True)
class Matches:
    """Per-instance matching of the evaluated predictions (the top ``max_dets`` per image).

    Attributes:
        evaluated: (E,) prediction indices evaluated, in (category, image, rank) order.
        rank: (E,) score rank of each within its (image, category).
        dt_gt: (A, T, E) matched ground-truth index, -1 when unmatched.
        dt_ignore: (A, T, E) bool, pycocotools' ``dtIgnore``.
        tp: (A, T, E) bool, true positive (matched, id != 0, not ignored).
        fp: (A, T, E) bool, false positive.
        gt_ignore: (A, G) bool, pycocotools' ``_ignore`` per area range.
        gt_dt: (A, T, G) index into ``evaluated`` of the matched prediction, -1 when none.
    """

    evaluated: np.ndarray
    rank: np.ndarray
    dt_gt: np.ndarray
    dt_ignore: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    gt_ignore: np.ndarray
    gt_dt: np.ndarray


@dataclass(frozen=True)
class Accumulated:
    """pycocotools' ``eval`` arrays.

    Attributes:
        precision: (T, R, C, A, M), -1 where a cell has no non-ignored ground truth.
        recall: (T, C, A, M).
        scores: (T, R, C, A, M) score at each recall threshold.
    """

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """For a sorted key array, the position where each element's run of equal keys starts."""
    n = sorted_keys.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    new = np.empty(n, bool)
    new[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


def select_predictions(inp: EvalInput, max_det: int) -> tuple[np.ndarray, np.ndarray]:
    """(evaluated prediction indices in (category, image, rank) order, their ranks)."""
    dt = inp.dt
    key = dt.category * inp.num_images + dt.image
    order = np.lexsort((-dt.score, key))
    starts = group_starts(key[order])
    rank = np.arange(order.shape[0]) - starts
    keep = rank < max_det
    return order[keep], rank[keep]


def candidate_pairs(
    inp: EvalInput, evaluated: np.ndarray, *, min_oks: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of (evaluated index, ground truth) in the same image and category.

    With ``min_oks`` set, pairs whose OKS is provably below it are left out and so are
    pairs whose OKS is below it. Returns (pair_ev, pair_gt, gt position within its group,
    oks), ordered by evaluated index, then ground-truth input order.
    """
    gt, dt = inp.gt, inp.dt
    n_img = inp.num_images
    g_key = gt.category * n_img + gt.image
    g_order = np.argsort(g_key, kind="stable")
    g_sorted = g_key[g_order]
    ev_key = dt.category[evaluated] * n_img + dt.image[evaluated]
    start = np.searchsorted(g_sorted, ev_key, "left")
    count = np.searchsorted(g_sorted, ev_key, "right") - start
    total = int(count.sum())
    pair_ev = np.repeat(np.arange(evaluated.shape[0]), count)
    first = np.cumsum(count) - count
    local = np.arange(total) - np.repeat(first, count)
    pair_gt = g_order[np.repeat(start, count) + local]
    if min_oks is not None and min_oks > 0 and total:
        keep = _may_reach(inp, evaluated[pair_ev], pair_gt, min_oks)
        pair_ev, pair_gt, local = pair_ev[keep], pair_gt[keep], local[keep]
    values = oks_pairs(
        dt.keypoints,
        gt.keypoints,
        gt.labeled,
        gt.area,
        gt.box,
        inp.sigmas,
        evaluated[pair_ev],
        pair_gt,
    )
    if min_oks is not None:
        keep = values >= min_oks
        return pair_ev[keep], pair_gt[keep], local[keep], values[keep]
    return pair_ev, pair_gt, local, values


def _extent(points: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 around the points (only the masked ones when a mask is given)."""
    x = points[..., 0]
    y = points[..., 1]
    if mask is None:
        return np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], axis=1)
    inf = np.inf
    return np.stack(
        [
            np.where(mask, x, inf).min(1),
            np.where(mask, y, inf).min(1),
            np.where(mask, x, -inf).max(1),
            np.where(mask, y, -inf).max(1),
        ],
        axis=1,
    )


def _may_reach(
    inp: EvalInput, pair_dt: np.ndarray, pair_gt: np.ndarray, min_oks: float
) -> np.ndarray:
    """False for pairs whose OKS is certainly below ``min_oks`` (a distance bound).

    Every predicted point lies in the prediction's extent and every labeled ground-truth
    point in the ground truth's extent (for ground truth without labeled points: the 3x
    box), so each point distance is at least the gap between the two boxes. When that gap
    makes every exp(-e) smaller than ``min_oks`` (with a wide safety margin), so is their
    mean.
    """
    gt, dt = inp.gt, inp.dt
    d_box = _extent(dt.keypoints, None)
    g_box = _extent(gt.keypoints, gt.labeled)
    no_points = ~gt.labeled.any(axis=1)
    if no_points.any():
        bb = gt.box[no_points]
        g_box[no_points] = np.stack(
            [
                bb[:, 0] - bb[:, 2],
                bb[:, 1] - bb[:, 3],
                bb[:, 0] + bb[:, 2] * 2,
                bb[:, 1] + bb[:, 3] * 2,
            ],
            axis=1,
        )
    variances = (inp.sigmas * 2) ** 2
    scale = gt.area + EPS
    # exp(-e) < min_oks  <=>  e > -ln(min_oks)  <=>  d^2 > -ln(min_oks) * 2 * var * scale
    radius2 = -np.log(min_oks) * 2.0 * variances.max() * scale * (1.0 + 1e-6) + 1e-9
    radius2[~(np.isfinite(radius2) & (scale > 0))] = np.inf
    db = d_box[pair_dt]
    gb = g_box[pair_gt]
    gap_x = np.maximum(np.maximum(gb[:, 0] - db[:, 2], db[:, 0] - gb[:, 2]), 0.0)
    gap_y = np.maximum(np.maximum(gb[:, 1] - db[:, 3], db[:, 1] - gb[:, 3]), 0.0)
    return gap_x * gap_x + gap_y * gap_y <= radius2[pair_gt]


def match(inp: EvalInput, params: Params) -> Matches:
    """pycocotools' ``evaluateImg`` for every image, category, area range and threshold."""
    gt, dt = inp.gt, inp.dt
    thresholds = np.minimum(params.oks_thresholds, 1 - 1e-10)
    area_ranges = params.area_ranges
    n_a, n_t, n_g = area_ranges.shape[0], thresholds.shape[0], len(gt)
    evaluated, rank = select_predictions(inp, max(params.max_dets))
    n_e = evaluated.shape[0]
    min_oks = float(thresholds.min()) if n_t else 1.0
    pair_ev, pair_gt, local, values = candidate_pairs(inp, evaluated, min_oks=min_oks)
    gt_ignore = (
        gt.ignore[None, :]
        | (gt.area[None, :] < area_ranges[:, :1])
        | (gt.area[None, :] > area_ranges[:, 1:])
    )
    dt_gt = np.full((n_a, n_t, n_e), -1, dtype=np.int64)
    if pair_ev.size:
        _greedy(dt_gt, pair_ev, pair_gt, local, values, rank, thresholds, gt_ignore, gt.crowd)
    matched = dt_gt >= 0
    m = np.where(matched, dt_gt, 0)
    a_idx = np.arange(n_a)[:, None, None]
    dt_ignore = matched & gt_ignore[a_idx, m] if n_g else np.zeros_like(matched)
    hit = matched & ~gt.id_zero[m] if n_g else matched
    dt_area = dt.area[evaluated]
    out = (dt_area[None, :] < area_ranges[:, :1]) | (dt_area[None, :] > area_ranges[:, 1:])
    dt_ignore |= ~hit & out[:, None, :]
    gt_dt = np.full((n_a, n_t, n_g), -1, dtype=np.int64)
    where = np.nonzero(matched)
    gt_dt[where[0], where[1], dt_gt[where]] = where[2]
    return Matches(
        evaluated=evaluated,
        rank=rank,
        dt_gt=dt_gt,
        dt_ignore=dt_ignore,
        tp=hit & ~dt_ignore,
        fp=~hit & ~dt_ignore,
        gt_ignore=gt_ignore,
        gt_dt=gt_dt,
    )


def _greedy(
    dt_gt: np.ndarray,
    pair_ev: np.ndarray,
    pair_gt: np.ndarray,
    local: np.ndarray,
    values: np.ndarray,
    rank: np.ndarray,
    thresholds: np.ndarray,
    gt_ignore: np.ndarray,
    crowd: np.ndarray,
) -> None:
    """Fill ``dt_gt`` (A, T, E) with pycocotools' greedy matches over candidate pairs."""
    n_a, n_t = dt_gt.shape[:2]
    per_ev = np.bincount(pair_ev, minlength=dt_gt.shape[2])
    per_gt = np.bincount(pair_gt)
    alone = (per_ev[pair_ev] == 1) & (per_gt[pair_gt] == 1)
    if alone.any():
        # one candidate each way: nothing competes, the pair matches wherever OKS >= t
        ev, g, v = pair_ev[alone], pair_gt[alone], values[alone]
        reach = v[None, :] >= thresholds[:, None]  # (T, n)
        t_idx, p_idx = np.nonzero(reach)
        dt_gt[:, t_idx, ev[p_idx]] = g[p_idx]
    rest = ~alone
    if not rest.any():
        return
    ev, g, loc, v = pair_ev[rest], pair_gt[rest], local[rest], values[rest]
    r = rank[ev]
    # by score rank, then prediction, then pycocotools' preference: higher OKS, later gt
    order = np.lexsort((-loc, -v, ev, r))
    ev, g, v, r = ev[order], g[order], v[order], r[order]
    used, g_compact = np.unique(g, return_inverse=True)
    taken = np.zeros((n_a, n_t, used.shape[0]), dtype=bool)
    ignored = gt_ignore[:, g]  # (A, n)
    is_crowd = crowd[g]
    reach = v[None, :] >= thresholds[:, None]  # (T, n)
    bounds = np.flatnonzero(np.diff(r)) + 1
    for a, b in zip(
        np.concatenate([[0], bounds]).tolist(),
        np.concatenate([bounds, [r.size]]).tolist(),
        strict=True,
    ):
        seg_ev = ev[a:b]
        starts = np.flatnonzero(np.concatenate([[True], seg_ev[1:] != seg_ev[:-1]]))
        pos = np.arange(b - a) - np.repeat(starts, np.diff(np.append(starts, b - a)))
        width = int(pos.max()) + 1
        gc = g_compact[a:b]
        free = ~taken[:, :, gc] | is_crowd[a:b]  # (A, T, n)
        avail = free & reach[None, :, a:b]
        key = pos + np.where(ignored[:, a:b], width, 0)[:, None, :]
        key = np.where(avail, key, 2 * width)
        best = np.minimum.reduceat(key.reshape(n_a * n_t, b - a), starts, axis=1)
        found = best < 2 * width
        rows, segs = np.nonzero(found)
        chosen = a + starts[segs] + best[rows, segs] % width
        a_i, t_i = rows // n_t, rows % n_t
        taken[a_i, t_i, g_compact[chosen]] = True
        dt_gt[a_i, t_i, ev[chosen]] = g[chosen]


def accumulate(inp: EvalInput, matches: Matches, params: Params) -> Accumulated:
    """pycocotools' ``accumulate``: precision (T, R, C, A, M) and recall (T, C, A, M)."""
    n_t = params.oks_thresholds.shape[0]
    n_r = params.recall_thresholds.shape[0]
    n_a = params.area_ranges.shape[0]
    n_m = len(params.max_dets)
    n_c = inp.num_categories
    precision = -np.ones((n_t, n_r, n_c, n_a, n_m))
    recall = -np.ones((n_t, n_c, n_a, n_m))
    scores = -np.ones((n_t, n_r, n_c, n_a, n_m))
    gt_cat = inp.gt.category
    npig = np.zeros((n_c, n_a), dtype=np.int64)
    for a in range(n_a):
        npig[:, a] = np.bincount(gt_cat[~matches.gt_ignore[a]], minlength=n_c)
    ev = matches.evaluated
    ev_cat = inp.dt.category[ev]
    ev_score = inp.dt.score[ev]
    for m, max_det in enumerate(params.max_dets):
        keep = np.flatnonzero(matches.rank < max_det)
        pool = keep[np.lexsort((-ev_score[keep], ev_cat[keep]))]
        cat_sorted = ev_cat[pool]
        bounds = np.searchsorted(cat_sorted, np.arange(n_c + 1))
        for c in np.flatnonzero(npig.max(axis=1) > 0).tolist():
            idx = pool[bounds[c] : bounds[c + 1]]
            tp = matches.tp[:, :, idx].reshape(n_a * n_t, -1)
            fp = matches.fp[:, :, idx].reshape(n_a * n_t, -1)
            cell_scores = ev_score[idx]
            _curves(tp, fp, cell_scores, npig[c], c, m, params, precision, recall, scores)
    return Accumulated(precision=precision, recall=recall, scores=scores)


def _curves(
    tp: np.ndarray,
    fp: np.ndarray,
    cell_scores: np.ndarray,
    npig: np.ndarray,
    c: int,
    m: int,
    params: Params,
    precision: np.ndarray,
    recall: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Precision / recall curves of one category for every (area, threshold) row."""
    n_t = params.oks_thresholds.shape[0]
    rec_thr = params.recall_thresholds
    nd = tp.shape[1]
    tp_sum = np.cumsum(tp, axis=1).astype(float)
    fp_sum = np.cumsum(fp, axis=1).astype(float)
    for row in range(tp.shape[0]):
        a, t = divmod(row, n_t)
        n_pos = int(npig[a])
        if n_pos == 0:
            continue
        if nd == 0:
            recall[t, c, a, m] = 0
            precision[t, :, c, a, m] = 0
            scores[t, :, c, a, m] = 0
            continue
        tps, fps = tp_sum[row], fp_sum[row]
        rc = tps / n_pos
        pr = tps / (fps + tps + np.spacing(1))
        recall[t, c, a, m] = rc[-1]
        pr = np.maximum.accumulate(pr[::-1])[::-1]
        inds = np.searchsorted(rc, rec_thr, side="left")
        inside = inds < nd
        q = np.zeros(rec_thr.shape[0])
        ss = np.zeros(rec_thr.shape[0])
        q[inside] = pr[inds[inside]]
        ss[inside] = cell_scores[inds[inside]]
        precision[t, :, c, a, m] = q
        scores[t, :, c, a, m] = ss


def summarize(acc: Accumulated, params: Params) -> np.ndarray:
    """The 10 keypoint stats, computed as pycocotools' ``_summarizeKps`` does."""
    thresholds = params.oks_thresholds
    max_dets = list(params.max_dets)
    labels = list(AREA_LABELS)

    def one(ap: bool, oks: float | None = None, area: str = "all", max_det: int = 20) -> float:
        a_ind = [i for i, lbl in enumerate(labels) if lbl == area]
        m_ind = [i for i, md in enumerate(max_dets) if md == max_det]
        if ap:
            s = acc.precision
            if oks is not None:
                s = s[np.where(oks == thresholds)[0]]
            s = s[:, :, :, a_ind, m_ind]
        else:
            s = acc.recall
            if oks is not None:
                s = s[np.where(oks == thresholds)[0]]
            s = s[:, :, a_ind, m_ind]
        valid = s[s > -1]
        return -1.0 if len(valid) == 0 else float(np.mean(valid))

    return np.array(
        [
            one(True),
            one(True, 0.5),
            one(True, 0.75),
            one(True, area="medium"),
            one(True, area="large"),
            one(False),
            one(False, 0.5),
            one(False, 0.75),
            one(False, area="medium"),
            one(False, area="large"),
        ]
    )
