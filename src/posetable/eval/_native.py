"""The engine's ``match`` and ``accumulate`` on the C kernel (``posetable.eval._kernel``).

Same inputs, same outputs and the same numbers, bit for bit, as the numpy engine
(:mod:`posetable.eval._engine`), which stays the reference and the fallback where the kernel
was not built. numpy prepares the groups (one sort), runs ``exp`` (so every exponential is
numpy's own, as in pycocotools) and the per-category score sort; the kernel does the per-pair,
per-prediction and per-cell loops:

1. ``screen``: for each (image, category), the pairs of its top predictions and its ground
   truth; pairs that provably stay below the lowest OKS threshold are dropped (extent gap,
   then a Taylor upper bound of each exp(-e)); the others get pycocotools' terms -e.
2. ``np.exp`` on all kept terms at once.
3. ``finish``: numpy's pairwise sum of each pair's terms, divided by the count (pycocotools'
   ``np.sum(np.exp(-e)) / e.shape[0]``); pairs below the threshold dropped.
4. ``greedy``: pycocotools' matching for every area range and threshold.
5. ``accumulate``: cumulative TP / FP, precision envelope, 101-point sampling per cell.
"""

from __future__ import annotations

import numpy as np

from posetable.eval._data import EvalInput
from posetable.eval._engine import Accumulated, Matches, Params, select_predictions

try:
    from posetable.eval import _kernel
except ImportError:  # built without a C compiler: the numpy engine serves
    _kernel = None  # type: ignore[assignment]

AVAILABLE = _kernel is not None


def _groups(
    inp: EvalInput, evaluated: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(group_ev offsets, gt_lo, gt_hi, gt_sorted): evaluated slots grouped by (category,
    image) as ``select_predictions`` orders them, and each group's ground truth range in
    ``gt_sorted`` (ground truth by (category, image), file order within)."""
    n_img = max(inp.num_images, 1)
    dt, gt = inp.dt, inp.gt
    ev_key = dt.category[evaluated] * n_img + dt.image[evaluated]
    n_e = ev_key.shape[0]
    starts = np.flatnonzero(ev_key[1:] != ev_key[:-1]) + 1 if n_e else np.zeros(0, np.int64)
    group_ev = (
        np.concatenate([[0], starts, [n_e]]).astype(np.int64) if n_e else np.zeros(1, np.int64)
    )
    keys = ev_key[group_ev[:-1]]
    g_key = gt.category * n_img + gt.image
    gt_sorted = np.argsort(g_key, kind="stable")
    sorted_keys = g_key[gt_sorted]
    gt_lo = np.searchsorted(sorted_keys, keys, "left")
    gt_hi = np.searchsorted(sorted_keys, keys, "right")
    return group_ev, gt_lo.astype(np.int64), gt_hi.astype(np.int64), gt_sorted.astype(np.int64)


CHUNK_TERMS = 1 << 15  # terms per screening chunk: the buffers stay in L2 and are reused


def candidate_pairs(
    inp: EvalInput, evaluated: np.ndarray, *, min_oks: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair_ev, pair_gt, oks) of the evaluated predictions, as the numpy engine's
    ``candidate_pairs`` gives them (ordered by evaluated slot, then ground-truth file order;
    with ``min_oks``, only pairs that reach it).

    Groups are screened in chunks through small buffers that are reused (fresh memory for
    all terms at once would cost a page fault per 4 KiB written).
    """
    gt, dt = inp.gt, inp.dt
    k = int(inp.sigmas.shape[0])
    group_ev, gt_lo, gt_hi, gt_sorted = _groups(inp, evaluated)
    group_pairs = (gt_hi - gt_lo) * np.diff(group_ev)
    total = int(group_pairs.sum())
    out_ev = np.empty(total, np.int64)
    out_gt = np.empty(total, np.int64)
    out_val = np.empty(total, np.float64)
    if total == 0:
        return out_ev, out_gt, out_val
    dt_kp = np.ascontiguousarray(dt.keypoints, np.float64)
    gt_kp = np.ascontiguousarray(gt.keypoints, np.float64)
    labeled = np.ascontiguousarray(gt.labeled, np.bool_)
    evaluated = np.ascontiguousarray(evaluated, np.int64)
    dt_extent = np.empty((evaluated.shape[0], 4))
    gt_extent = np.empty((len(gt), 4))
    gt_count = np.empty(len(gt), np.int64)
    _kernel.extents(
        dt_kp, evaluated, gt_kp, labeled, np.ascontiguousarray(gt.box, np.float64), k,
        dt_extent, gt_extent, gt_count,
    )  # fmt: skip
    cap = max(CHUNK_TERMS // k, int(group_pairs.max()))
    pair_ev, pair_gt, pair_off, pair_n = (np.empty(cap, np.int64) for _ in range(4))
    pair_val = np.empty(cap, np.float64)
    terms = np.empty(cap * k, np.float64)
    zero_at = np.empty(cap * k, np.int64)
    variances = (np.asarray(inp.sigmas, np.float64) * 2) ** 2
    area = np.ascontiguousarray(gt.area, np.float64)
    screen = -1.0 if min_oks is None else float(min_oks)
    keep_from = -np.inf if min_oks is None else float(min_oks)
    n_groups, group, at = group_ev.shape[0] - 1, 0, 0
    while group < n_groups:
        group, n_pairs, n_terms, n_zero = _kernel.screen(
            dt_kp, gt_kp, labeled, area, variances, evaluated, group_ev, gt_lo, gt_hi,
            gt_sorted, dt_extent, gt_extent, gt_count, screen, group,
            pair_ev, pair_gt, pair_off, pair_n, pair_val, terms, zero_at,
        )  # fmt: skip
        used = terms[:n_terms]
        np.exp(used, out=used)  # the terms hold -e
        used[zero_at[:n_zero]] = 0.0  # exp(-e) for e >= 746, which numpy's exp reaches slowly
        kept = _kernel.finish(
            used, n_pairs, keep_from, pair_ev, pair_gt, pair_off, pair_n, pair_val
        )
        out_ev[at : at + kept] = pair_ev[:kept]
        out_gt[at : at + kept] = pair_gt[:kept]
        out_val[at : at + kept] = pair_val[:kept]
        at += kept
    return out_ev[:at], out_gt[:at], out_val[:at]


def match(inp: EvalInput, params: Params) -> Matches:
    """pycocotools' ``evaluateImg`` for every image, category, area range and threshold."""
    gt, dt = inp.gt, inp.dt
    thresholds = np.ascontiguousarray(np.minimum(params.oks_thresholds, 1 - 1e-10), np.float64)
    area_ranges = np.ascontiguousarray(params.area_ranges, np.float64)
    n_a, n_t = area_ranges.shape[0], thresholds.shape[0]
    evaluated, rank = select_predictions(inp, max(params.max_dets))
    n_e = evaluated.shape[0]
    min_oks = float(thresholds.min()) if n_t else 1.0
    pair_ev, pair_gt, values = candidate_pairs(inp, evaluated, min_oks=min_oks)
    gt_ignore = (
        gt.ignore[None, :]
        | (gt.area[None, :] < area_ranges[:, :1])
        | (gt.area[None, :] > area_ranges[:, 1:])
    )
    dt_gt = np.empty((n_a, n_t, n_e), np.int64)
    dt_ignore = np.empty((n_a, n_t, n_e), np.bool_)
    tp = np.empty((n_a, n_t, n_e), np.bool_)
    fp = np.empty((n_a, n_t, n_e), np.bool_)
    _kernel.greedy(
        pair_ev,
        pair_gt,
        values,
        pair_ev.shape[0],
        thresholds,
        np.ascontiguousarray(gt_ignore, np.bool_),
        np.ascontiguousarray(gt.crowd, np.bool_),
        np.ascontiguousarray(gt.id_zero, np.bool_),
        np.ascontiguousarray(dt.area[evaluated], np.float64),
        area_ranges,
        dt_gt,
        dt_ignore,
        tp,
        fp,
    )
    return Matches(
        evaluated=evaluated,
        rank=rank,
        dt_gt=dt_gt,
        dt_ignore=dt_ignore,
        tp=tp,
        fp=fp,
        gt_ignore=gt_ignore,
    )


def accumulate(inp: EvalInput, matches: Matches, params: Params) -> Accumulated:
    """pycocotools' ``accumulate``: precision (T, R, C, A, M) and recall (T, C, A, M)."""
    n_t = params.oks_thresholds.shape[0]
    n_r = params.recall_thresholds.shape[0]
    n_a = params.area_ranges.shape[0]
    n_m = len(params.max_dets)
    n_c = inp.num_categories
    precision = np.full((n_t, n_r, n_c, n_a, n_m), -1.0)
    recall = np.full((n_t, n_c, n_a, n_m), -1.0)
    scores = np.full((n_t, n_r, n_c, n_a, n_m), -1.0)
    if n_t == 0 or n_c == 0 or n_a == 0:
        return Accumulated(precision=precision, recall=recall, scores=scores)
    gt_cat = inp.gt.category
    npig = np.zeros((n_c, n_a), dtype=np.int64)
    for a in range(n_a):
        npig[:, a] = np.bincount(gt_cat[~matches.gt_ignore[a]], minlength=n_c)
    ev = matches.evaluated
    ev_cat = inp.dt.category[ev]
    ev_score = inp.dt.score[ev]
    rec_thr = np.ascontiguousarray(params.recall_thresholds, np.float64)
    for m, max_det in enumerate(params.max_dets):
        keep = np.flatnonzero(matches.rank < max_det)
        # one stable sort by score per category; ties keep (image, rank) order
        pool = keep[np.lexsort((-ev_score[keep], ev_cat[keep]))].astype(np.int64)
        bounds = np.searchsorted(ev_cat[pool], np.arange(n_c + 1)).astype(np.int64)
        _kernel.accumulate(
            matches.tp,
            matches.fp,
            pool,
            bounds,
            np.ascontiguousarray(ev_score[pool], np.float64),
            npig,
            rec_thr,
            n_t,
            m,
            n_m,
            precision,
            recall,
            scores,
        )
    return Accumulated(precision=precision, recall=recall, scores=scores)
