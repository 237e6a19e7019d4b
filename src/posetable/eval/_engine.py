"""The evaluation engine: pycocotools' keypoint matching and accumulation over flat arrays.

Three phases, each a handful of whole-dataset numpy operations (no Python loop per image,
instance or keypoint):

1. **select**: predictions are sorted by (category, image, -score, input order); the first
   ``max_dets`` of each (image, category) are evaluated (pycocotools' top-20, stable sort).
2. **match**: OKS for every (prediction, ground truth) pair of the same image and category
   (:func:`posetable.eval.oks.oks_columns`, keypoints in a (K, pairs) layout); pairs that
   cannot reach the lowest threshold are dropped by a conservative distance bound first.
   Predictions whose candidates no other prediction wants are matched in one vectorised
   step; the rest follow pycocotools' greedy order as at most ``max_dets`` vectorised steps
   (one per score rank) over (pair, area range x threshold) arrays.
3. **accumulate**: one stable sort by score per category, cumulative sums of TP / FP over
   (area range, threshold) rows, the precision envelope and the 101-point sampling.

Large inputs split the pair work and the (area, threshold) columns over two threads; numpy
releases the GIL inside its array loops.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posetable.eval._data import EvalInput
from posetable.eval.oks import EPS, PointColumns, oks_columns

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
    """

    evaluated: np.ndarray
    rank: np.ndarray
    dt_gt: np.ndarray
    dt_ignore: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    gt_ignore: np.ndarray

    def gt_partner(self, n_gt: int, area: int = 0) -> np.ndarray:
        """(T, G) index into ``evaluated`` of each ground truth's match, -1 when none."""
        out = np.full((self.dt_gt.shape[1], n_gt), -1, dtype=np.int64)
        t_idx, e_idx = np.nonzero(self.dt_gt[area] >= 0)
        out[t_idx, self.dt_gt[area][t_idx, e_idx]] = e_idx
        return out


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

    @classmethod
    def unfilled(cls, inp: EvalInput | int, params: Params) -> Accumulated:
        """Every cell -1 (pycocotools' value for a cell without non-ignored ground truth);
        ``inp``: the inputs, or the number of categories."""
        n_t, n_r = params.oks_thresholds.shape[0], params.recall_thresholds.shape[0]
        n_c = inp if isinstance(inp, int) else inp.num_categories
        n_a, n_m = params.area_ranges.shape[0], len(params.max_dets)
        return cls(
            precision=np.full((n_t, n_r, n_c, n_a, n_m), -1.0),
            recall=np.full((n_t, n_c, n_a, n_m), -1.0),
            scores=np.full((n_t, n_r, n_c, n_a, n_m), -1.0),
        )


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

    With ``min_oks`` set, only pairs whose OKS reaches it are returned (pairs provably
    below it are dropped by a distance bound before any OKS is computed). Returns
    (pair_ev, pair_gt, gt position within its group, oks), ordered by evaluated index,
    then ground-truth input order. Large inputs are split over two threads (numpy releases
    the GIL in its array loops).
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
    if total == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0)
    dt_cols = PointColumns(dt.keypoints[evaluated])
    gt_cols = PointColumns(gt.keypoints, gt.labeled)
    bounds = _Bounds(inp, dt_cols, gt_cols)

    def work(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        pe, pg, loc = pair_ev[lo:hi], pair_gt[lo:hi], local[lo:hi]
        if min_oks is not None and min_oks > 0:
            keep = bounds.may_reach(pe, pg, min_oks)
            pe, pg, loc = pe[keep], pg[keep], loc[keep]
        values = oks_columns(
            dt_cols,
            gt_cols,
            gt.area,
            gt.box,
            inp.sigmas,
            pe,
            pg,
            dt_extent=bounds.d_box[pe],
            min_oks=min_oks,
        )
        if min_oks is not None:
            keep = values >= min_oks
            return pe[keep], pg[keep], loc[keep], values[keep]
        return pe, pg, loc, values

    if total < PARALLEL_PAIRS:
        return work(0, total)
    # chunks bound the memory of the (pairs, K) temporaries; two threads share them
    n_chunks = max(2, -(-total // CHUNK_PAIRS))
    edges = np.linspace(0, total, n_chunks + 1).astype(np.int64).tolist()
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(work, edges[:-1], edges[1:]))
    return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))  # type: ignore[return-value]


PARALLEL_PAIRS = 40_000
CHUNK_PAIRS = 150_000


class _Bounds:
    """Point extents of the evaluated predictions and the ground truth, for cheap pair tests.

    Every predicted point lies in the prediction's extent and every labeled ground-truth
    point in the ground truth's extent (for ground truth without labeled points: pycocotools'
    3x box), so each point distance is at least the gap between the two boxes.
    """

    def __init__(self, inp: EvalInput, dt_cols: PointColumns, gt_cols: PointColumns) -> None:
        gt = inp.gt
        self.d_box = _extent(dt_cols, None)
        self.g_box = _extent(gt_cols, gt_cols.labeled)
        no_points = ~gt.labeled.any(axis=1)
        if no_points.any():
            bb = gt.box[no_points]
            self.g_box[no_points] = np.stack(
                [
                    bb[:, 0] - bb[:, 2],
                    bb[:, 1] - bb[:, 3],
                    bb[:, 0] + bb[:, 2] * 2,
                    bb[:, 1] + bb[:, 3] * 2,
                ],
                axis=1,
            )
        variances = (inp.sigmas * 2) ** 2
        self.scale = gt.area + EPS
        self.var_max = float(variances.max())

    def may_reach(self, pair_ev: np.ndarray, pair_gt: np.ndarray, min_oks: float) -> np.ndarray:
        """False for pairs whose OKS is certainly below ``min_oks``.

        exp(-e) < min_oks  <=>  d**2 > -ln(min_oks) * 2 * var * (area + eps); when the box
        gap alone exceeds that for the largest sigma (with a wide margin), every term of the
        mean is below ``min_oks`` and so is OKS.
        """
        radius2 = -np.log(min_oks) * 2.0 * self.var_max * self.scale * (1.0 + 1e-6) + 1e-9
        radius2[~(np.isfinite(radius2) & (self.scale > 0))] = np.inf
        db = self.d_box[pair_ev]
        gb = self.g_box[pair_gt]
        gap_x = np.maximum(np.maximum(gb[:, 0] - db[:, 2], db[:, 0] - gb[:, 2]), 0.0)
        gap_y = np.maximum(np.maximum(gb[:, 1] - db[:, 3], db[:, 1] - gb[:, 3]), 0.0)
        return gap_x * gap_x + gap_y * gap_y <= radius2[pair_gt]


def _extent(points: PointColumns, mask: np.ndarray | None) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 around the points (only the masked ones when a mask is given)."""
    x, y = points.x, points.y
    if mask is None:
        return np.stack([x.min(0), y.min(0), x.max(0), y.max(0)], axis=1)
    inf = np.inf
    return np.stack(
        [
            np.where(mask, x, inf).min(0),
            np.where(mask, y, inf).min(0),
            np.where(mask, x, -inf).max(0),
            np.where(mask, y, -inf).max(0),
        ],
        axis=1,
    )


ENGINE_VARIABLE = "POSETABLE_EVAL_ENGINE"


def backend() -> str:
    """The engine in use: ``"native"`` (the C kernel, :mod:`posetable.eval._native`) when it
    was built, else ``"numpy"``. ``POSETABLE_EVAL_ENGINE=numpy`` forces the numpy engine;
    ``=native`` requires the kernel (an ImportError names what is missing)."""
    from posetable.eval import _native

    wanted = os.environ.get(ENGINE_VARIABLE, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "native", "numpy"):
        raise ValueError(f"{ENGINE_VARIABLE} must be auto, native or numpy, got {wanted!r}")
    if wanted == "native" and not _native.AVAILABLE:
        raise ImportError(
            f"{ENGINE_VARIABLE}=native but posetable.eval._kernel was not built (it needs a C "
            "compiler at install time: reinstall posetable with gcc or clang present)"
        )
    return "numpy" if wanted == "numpy" or not _native.AVAILABLE else "native"


def match(inp: EvalInput, params: Params) -> Matches:
    """pycocotools' ``evaluateImg`` for every image, category, area range and threshold."""
    if backend() == "native":
        from posetable.eval import _native

        return _native.match(inp, params)
    return match_numpy(inp, params)


def accumulate(inp: EvalInput, matches: Matches, params: Params) -> Accumulated:
    """pycocotools' ``accumulate``: precision (T, R, C, A, M) and recall (T, C, A, M)."""
    return accumulate_pool(Pool.of(inp, matches), params)


@dataclass(frozen=True)
class Pool:
    """All that ``accumulate`` reads: the evaluated predictions in (category, image, rank)
    order (pycocotools' concatenation of ``evalImgs`` in image order) and the counts of
    non-ignored ground truth. Partial evaluations carry it (:mod:`posetable.eval.partial`).

    Attributes:
        category: (E,) category position of each evaluated prediction.
        score: (E,) its score.
        rank: (E,) its score rank within its (image, category).
        tp: (A, T, E) bool, true positive.
        fp: (A, T, E) bool, false positive.
        npig: (C, A) non-ignored ground truth per category and area range.
    """

    category: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    npig: np.ndarray

    @classmethod
    def of(cls, inp: EvalInput, matches: Matches) -> Pool:
        """The pool of an evaluation's inputs and matches."""
        ev = matches.evaluated
        return cls(
            category=inp.dt.category[ev],
            score=inp.dt.score[ev],
            rank=matches.rank,
            tp=matches.tp,
            fp=matches.fp,
            npig=non_ignored_counts(inp, matches),
        )

    @property
    def num_categories(self) -> int:
        """C."""
        return int(self.npig.shape[0])


def accumulate_pool(pool: Pool, params: Params) -> Accumulated:
    """:func:`accumulate` from a :class:`Pool`, on the engine in use."""
    if backend() == "native":
        from posetable.eval import _native

        return _native.accumulate_pool(pool, params)
    return accumulate_pool_numpy(pool, params)


def ignored_by_area(inp: EvalInput, area_ranges: np.ndarray) -> np.ndarray:
    """(A, G) pycocotools' ``_ignore``: ignored (crowd or no keypoints) or outside the range."""
    gt = inp.gt
    return (
        gt.ignore[None, :]
        | (gt.area[None, :] < area_ranges[:, :1])
        | (gt.area[None, :] > area_ranges[:, 1:])
    )


def non_ignored_counts(inp: EvalInput, matches: Matches) -> np.ndarray:
    """(C, A) number of non-ignored ground truth per category and area range (npig)."""
    n_c, n_a = inp.num_categories, matches.gt_ignore.shape[0]
    npig = np.zeros((n_c, n_a), dtype=np.int64)
    for a in range(n_a):
        npig[:, a] = np.bincount(inp.gt.category[~matches.gt_ignore[a]], minlength=n_c)
    return npig


def all_pairs(inp: EvalInput, evaluated: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair_ev, pair_gt, oks) of every (evaluated prediction, ground truth) pair of the same
    image and category, on the engine in use."""
    if backend() == "native":
        from posetable.eval import _native

        return _native.candidate_pairs(inp, evaluated, min_oks=None)
    pair_ev, pair_gt, _, values = candidate_pairs(inp, evaluated, min_oks=None)
    return pair_ev, pair_gt, values


def match_numpy(inp: EvalInput, params: Params) -> Matches:
    """:func:`match` in numpy (the reference engine, and the fallback without the kernel)."""
    gt, dt = inp.gt, inp.dt
    thresholds = np.minimum(params.oks_thresholds, 1 - 1e-10)
    area_ranges = params.area_ranges
    n_a, n_t, n_g = area_ranges.shape[0], thresholds.shape[0], len(gt)
    evaluated, rank = select_predictions(inp, max(params.max_dets))
    n_e = evaluated.shape[0]
    min_oks = float(thresholds.min()) if n_t else 1.0
    pair_ev, pair_gt, local, values = candidate_pairs(inp, evaluated, min_oks=min_oks)
    gt_ignore = ignored_by_area(inp, area_ranges)
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
    return Matches(
        evaluated=evaluated,
        rank=rank,
        dt_gt=dt_gt,
        dt_ignore=dt_ignore,
        tp=hit & ~dt_ignore,
        fp=~hit & ~dt_ignore,
        gt_ignore=gt_ignore,
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
    """Fill ``dt_gt`` (A, T, E) with pycocotools' greedy matches over candidate pairs.

    A prediction none of whose candidates is also a candidate of another prediction (crowd
    regions, which are never used up, aside) chooses alone: all such predictions are
    matched in one vectorised step. The others follow pycocotools' score order, one
    vectorised step per rank, over (pair, area range x threshold) arrays.
    """
    n_a, n_t, n_e = dt_gt.shape
    per_gt = np.bincount(pair_gt, minlength=gt_ignore.shape[1])
    contested = (per_gt[pair_gt] > 1) & ~crowd[pair_gt]
    dependent = np.zeros(n_e, bool)
    dependent[pair_ev[contested]] = True
    # independent pairs first (one step), then by rank; within: prediction, then preference
    # (higher OKS, later ground truth), as pycocotools' scan keeps the last of equal OKS
    step_key = np.where(dependent[pair_ev], rank[pair_ev] + 1, 0) * (n_e + 1) + pair_ev
    order = np.lexsort((-local, -values, step_key))
    ev, g, v = pair_ev[order], pair_gt[order], values[order]
    steps = step_key[order] // (n_e + 1)
    n = ev.shape[0]
    first = np.empty(n, bool)
    first[0] = True
    np.not_equal(ev[1:], ev[:-1], out=first[1:])
    pos = np.arange(n) - group_starts(np.cumsum(first))  # preference rank within the prediction
    span = int(pos.max()) + 1
    # the key each pair offers: preference rank, after every non-ignored pair when ignored
    key_type = np.int16 if 2 * span < np.iinfo(np.int16).max else np.int64
    offer = (pos[:, None] + np.repeat(gt_ignore[:, g].T, n_t, axis=1) * span).astype(key_type)
    reach = np.tile(v[:, None] >= thresholds[None, :], (1, n_a))  # (n, A*T), column a*T + t
    none = key_type(2 * span)
    offer[~reach] = none  # below the threshold: never available
    is_crowd = crowd[g][:, None]
    bounds = np.flatnonzero(np.diff(steps)) + 1
    starts = np.concatenate([[0], bounds]).tolist()
    ends = np.concatenate([bounds, [n]]).tolist()

    def columns(lo: int, hi: int) -> np.ndarray:
        # (area, threshold) columns never interact: each half can run on its own thread
        part = np.full((n_e, hi - lo), -1, dtype=np.int64)
        taken = np.zeros((gt_ignore.shape[1], hi - lo), dtype=bool)
        offers = np.ascontiguousarray(offer[:, lo:hi])
        for a, b in zip(starts, ends, strict=True):
            seg = np.flatnonzero(first[a:b])
            _step(part, taken, ev[a:b], g[a:b], offers[a:b], is_crowd[a:b], seg, span, none)
        return part

    width = n_a * n_t
    if n < PARALLEL_PAIRS // 4 or width < 2:
        out = columns(0, width)
    else:
        half = width // 2
        with ThreadPoolExecutor(max_workers=2) as pool:
            second = pool.submit(columns, half, width)
            out = np.concatenate([columns(0, half), second.result()], axis=1)
    dt_gt[:] = out.T.reshape(n_a, n_t, n_e)


def _step(
    out: np.ndarray,
    taken: np.ndarray,
    ev: np.ndarray,
    g: np.ndarray,
    offers: np.ndarray,
    is_crowd: np.ndarray,
    seg: np.ndarray,
    span: int,
    none: Any,
) -> None:
    """One greedy step: each prediction of the block takes its preferred available gt.

    Pairs are grouped by prediction (``seg``: where each group starts), each group in
    preference order (higher OKS, later gt); ``offers`` holds each pair's key per (area,
    threshold) column: its preference rank, plus ``span`` when the gt is ignored there (a
    non-ignored gt wins, as pycocotools stops at the first ignored gt once it has a match),
    or ``none`` below the threshold. Taken gts (crowd regions aside) are unavailable.
    """
    blocked = taken[g] & ~is_crowd  # (n, A*T)
    key = np.where(blocked, none, offers)
    best = np.minimum.reduceat(key, seg, axis=0)  # (predictions, A*T)
    segs, cols = np.nonzero(best < none)
    chosen = seg[segs] + best[segs, cols] % span
    taken[g[chosen], cols] = True
    out[ev[chosen], cols] = g[chosen]


def accumulate_numpy(inp: EvalInput, matches: Matches, params: Params) -> Accumulated:
    """:func:`accumulate` in numpy (the reference engine, and the fallback without the kernel)."""
    return accumulate_pool_numpy(Pool.of(inp, matches), params)


def accumulate_pool_numpy(pool: Pool, params: Params) -> Accumulated:
    """:func:`accumulate_numpy` from a :class:`Pool`."""
    n_t = params.oks_thresholds.shape[0]
    n_r = params.recall_thresholds.shape[0]
    n_a = params.area_ranges.shape[0]
    n_c = pool.num_categories
    acc = Accumulated.unfilled(n_c, params)
    precision, recall, scores = acc.precision, acc.recall, acc.scores
    npig = pool.npig
    ev_cat = pool.category
    ev_score = pool.score
    n_e = ev_cat.shape[0]
    tp_rows = pool.tp.reshape(n_a * n_t, n_e)
    fp_rows = pool.fp.reshape(n_a * n_t, n_e)
    for m, max_det in enumerate(params.max_dets):
        keep = np.flatnonzero(pool.rank < max_det)
        # one stable sort by score per category; ties keep (image, rank) order
        order = keep[np.lexsort((-ev_score[keep], ev_cat[keep]))]
        tp_pool = tp_rows[:, order]
        fp_pool = fp_rows[:, order]
        bounds = np.searchsorted(ev_cat[order], np.arange(n_c + 1))
        for c in np.flatnonzero(npig.max(axis=1) > 0).tolist():
            a0, a1 = int(bounds[c]), int(bounds[c + 1])
            q, ss, rc = _curves(
                tp_pool[:, a0:a1],
                fp_pool[:, a0:a1],
                ev_score[order[a0:a1]],
                np.repeat(npig[c], n_t),
                params,
            )
            valid = np.repeat(npig[c] > 0, n_t).reshape(n_a, n_t)
            cell_p = precision[:, :, c, :, m]  # (T, R, A) view
            cell_s = scores[:, :, c, :, m]
            cell_r = recall[:, c, :, m]  # (T, A) view
            q3 = q.reshape(n_a, n_t, n_r).transpose(1, 2, 0)
            s3 = ss.reshape(n_a, n_t, n_r).transpose(1, 2, 0)
            r2 = rc.reshape(n_a, n_t).T
            mask = valid.T  # (T, A)
            cell_p[:] = np.where(mask[:, None, :], q3, cell_p)
            cell_s[:] = np.where(mask[:, None, :], s3, cell_s)
            cell_r[:] = np.where(mask, r2, cell_r)
    return acc


def _curves(
    tp: np.ndarray, fp: np.ndarray, cell_scores: np.ndarray, npig: np.ndarray, params: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampled precision, scores (rows, R) and final recall (rows,) of one category.

    Rows are (area, threshold) pairs; ``npig`` is each row's count of non-ignored ground
    truth (rows with 0 are computed but not used). The arithmetic is pycocotools' own:
    recall tp / npig, precision tp / (tp + fp + eps), the right-to-left envelope, and
    ``searchsorted(recall, recThrs, "left")`` sampling with 0 past the final recall.
    """
    rec_thr = params.recall_thresholds
    n_rows, nd = tp.shape
    n_r = rec_thr.shape[0]
    q = np.zeros((n_rows, n_r))
    ss = np.zeros((n_rows, n_r))
    final = np.zeros(n_rows)
    if nd == 0:
        return q, ss, final
    # rows in blocks of a few MB: large temporaries would be fresh mmaps (page faults) each time
    block = max(1, BLOCK_BYTES // (8 * nd))
    rows = np.flatnonzero(npig > 0)
    for lo in range(0, rows.shape[0], block):
        sel = rows[lo : lo + block]
        tp_sum = np.cumsum(tp[sel], axis=1).astype(float)
        fp_sum = np.cumsum(fp[sel], axis=1).astype(float)
        rc = tp_sum / npig[sel][:, None]
        fp_sum += tp_sum
        fp_sum += np.spacing(1)
        pr = np.divide(tp_sum, fp_sum, out=tp_sum)  # tp / (fp + tp + eps), pycocotools' order
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        inds = np.empty((sel.shape[0], n_r), dtype=np.int64)
        for i in range(sel.shape[0]):
            inds[i] = np.searchsorted(rc[i], rec_thr, side="left")
        inside = inds < nd
        clipped = np.minimum(inds, nd - 1)
        q[sel] = np.where(inside, np.take_along_axis(pr, clipped, axis=1), 0.0)
        ss[sel] = np.where(inside, cell_scores[clipped], 0.0)
        final[sel] = rc[:, -1]
    return q, ss, final


BLOCK_BYTES = 4 << 20


def summarize(
    acc: Accumulated,
    params: Params,
    *,
    area_labels: Sequence[str] = AREA_LABELS,
    max_dets: Sequence[int] | None = None,
) -> np.ndarray:
    """The 10 keypoint stats, computed as pycocotools' ``_summarizeKps`` does.

    ``area_labels`` name the area ranges and ``max_dets`` the last axis (pycocotools'
    ``areaRngLbl`` and ``maxDets``; default the ones of ``params``).
    """
    thresholds = params.oks_thresholds
    max_dets = list(params.max_dets if max_dets is None else max_dets)
    labels = list(area_labels)

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
