"""The engine's ``match`` and ``accumulate`` on the C kernel (``posetable.eval._kernel``).

Same inputs, same outputs and the same numbers, bit for bit, as the numpy engine
(:mod:`posetable.eval._engine`), which stays the reference and the fallback where the kernel
was not built. numpy runs ``exp`` (every exponential is numpy's own, as in pycocotools) and
the whole-array bookkeeping; the kernel does the sorts and the per-pair, per-prediction and
per-cell loops:

1. ``argsort``: stable radix sorts for the top predictions of each (image, category) by
   score, the ground truth by (category, image), and each category's pool by score.
2. ``screen``: for each (image, category), the pairs of its top predictions and its ground
   truth; pairs whose point extents are too far apart to reach the lowest OKS threshold are
   dropped; the others get pycocotools' terms -e, in chunks through reused buffers, over
   two threads for large inputs.
3. ``np.exp`` on the kept terms of a chunk at once.
4. ``finish``: numpy's pairwise sum of each pair's terms, divided by the count (pycocotools'
   ``np.sum(np.exp(-e)) / e.shape[0]``); pairs below the threshold dropped.
5. ``greedy``: pycocotools' matching for every area range and threshold (two threads, each
   over half of the thresholds).
6. ``accumulate``: cumulative TP / FP, precision envelope, 101-point sampling per cell.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from posetable.eval._data import EvalInput
from posetable.eval._engine import (
    Accumulated,
    Matches,
    Params,
    Pool,
    group_starts,
    ignored_by_area,
)

try:
    from posetable.eval import _kernel
except ImportError:  # built without a C compiler: the numpy engine serves
    _kernel = None  # type: ignore[assignment]

AVAILABLE = _kernel is not None


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of uint64 keys (a radix sort in the kernel)."""
    order = np.empty(keys.shape[0], np.int64)
    _kernel.argsort(np.ascontiguousarray(keys, np.uint64), order)
    return order


def descending_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys whose ascending order is ``-values``' (float64, no NaN), with numpy's ties:
    -0.0 and 0.0 compare equal, so both map to one key."""
    negated = -np.asarray(values, np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    bits = negated.view(np.uint64)
    sign = np.uint64(1 << 63)
    return np.where(bits & sign, ~bits, bits | sign)


def select_predictions(inp: EvalInput, max_det: int) -> tuple[np.ndarray, np.ndarray]:
    """The numpy engine's ``select_predictions``: the top ``max_det`` predictions of each
    (image, category) in (category, image, score rank) order, and their ranks."""
    dt = inp.dt
    by_score = stable_argsort(descending_keys(dt.score))
    key = (dt.category * inp.num_images + dt.image)[by_score]
    within = stable_argsort(key.astype(np.uint64))
    order = by_score[within]
    rank = np.arange(order.shape[0]) - group_starts(key[within])
    keep = rank < max_det
    return order[keep], rank[keep]


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
    gt_sorted = stable_argsort(g_key.astype(np.uint64))
    sorted_keys = g_key[gt_sorted]
    gt_lo = np.searchsorted(sorted_keys, keys, "left")
    gt_hi = np.searchsorted(sorted_keys, keys, "right")
    return group_ev, gt_lo.astype(np.int64), gt_hi.astype(np.int64), gt_sorted.astype(np.int64)


CHUNK_TERMS = 1 << 15  # terms per screening chunk: the buffers stay in L2 and are reused
PARALLEL_PAIRS = 20_000  # below this many candidate pairs one thread is faster
_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    """Two worker threads, made once (the kernel releases the GIL in its loops)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="posetable-eval"))
    return _POOL[0]


# a forked child (DataLoader workers, multiprocessing) has the pool but not its threads
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.clear)


@dataclass(frozen=True)
class _Screening:
    """Everything the chunks of one ``candidate_pairs`` call share."""

    dt_kp: np.ndarray
    gt_kp: np.ndarray
    labeled: np.ndarray
    area: np.ndarray
    variances: np.ndarray
    evaluated: np.ndarray
    group_ev: np.ndarray
    gt_lo: np.ndarray
    gt_hi: np.ndarray
    gt_sorted: np.ndarray
    dt_extent: np.ndarray
    gt_extent: np.ndarray
    gt_count: np.ndarray
    screen: float
    keep_from: float
    capacity: int

    def run(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kept pairs of groups ``first`` to ``last`` (exclusive), in chunks through
        small buffers that are reused (fresh memory for all terms at once would be slower)."""
        k = self.variances.shape[0]
        cap = self.capacity
        pair_ev, pair_pos, pair_off, pair_n = (np.empty(cap, np.int64) for _ in range(4))
        pair_val = np.empty(cap, np.float64)
        terms = np.empty(cap * k, np.float64)
        zero_at = np.empty(cap * k, np.int64)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        group = first
        while group < last:
            group, n_pairs, n_terms, n_zero = _kernel.screen(
                self.dt_kp, self.gt_kp, self.labeled, self.area, self.variances,
                self.evaluated, self.group_ev, self.gt_lo, self.gt_hi, self.gt_sorted,
                self.dt_extent, self.gt_extent, self.gt_count, self.screen, group, last,
                pair_ev, pair_pos, pair_off, pair_n, pair_val, terms, zero_at,
            )  # fmt: skip
            used = terms[:n_terms]
            np.exp(used, out=used)  # the terms hold -e
            used[zero_at[:n_zero]] = 0.0  # exp(-e) for e >= 746, which numpy reaches slowly
            kept = _kernel.finish(
                used, n_pairs, self.keep_from, pair_ev, pair_pos, pair_off, pair_n, pair_val
            )
            parts.append((pair_ev[:kept].copy(), pair_pos[:kept].copy(), pair_val[:kept].copy()))
        return _concatenate(parts)


def _concatenate(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    if len(parts) == 1:
        return parts[0]
    ev, gt, val = zip(*parts, strict=True)
    return np.concatenate(ev), np.concatenate(gt), np.concatenate(val)


def candidate_pairs(
    inp: EvalInput, evaluated: np.ndarray, *, min_oks: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair_ev, pair_gt, oks) of the evaluated predictions, as the numpy engine's
    ``candidate_pairs`` gives them (ordered by evaluated slot, then ground-truth file order;
    with ``min_oks``, only pairs that reach it)."""
    pair_ev, pair_pos, values, gt_sorted = _pairs(inp, evaluated, min_oks=min_oks)
    return pair_ev, gt_sorted[pair_pos], values


def _pairs(
    inp: EvalInput, evaluated: np.ndarray, *, min_oks: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`candidate_pairs` with each ground truth named by its position in
    ``gt_sorted`` (ground truth by (category, image), file order within; returned last), so
    that matching reads group after group. Large inputs run on two threads, each over half
    of the (image, category) groups."""
    gt, dt = inp.gt, inp.dt
    k = int(inp.sigmas.shape[0])
    group_ev, gt_lo, gt_hi, gt_sorted = _groups(inp, evaluated)
    group_pairs = (gt_hi - gt_lo) * np.diff(group_ev)
    total = int(group_pairs.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), gt_sorted
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
    job = _Screening(
        dt_kp=dt_kp,
        gt_kp=gt_kp,
        labeled=labeled,
        area=np.ascontiguousarray(gt.area, np.float64),
        variances=(np.asarray(inp.sigmas, np.float64) * 2) ** 2,
        evaluated=evaluated,
        group_ev=group_ev,
        gt_lo=gt_lo,
        gt_hi=gt_hi,
        gt_sorted=gt_sorted,
        dt_extent=dt_extent,
        gt_extent=gt_extent,
        gt_count=gt_count,
        screen=-1.0 if min_oks is None else float(min_oks),
        keep_from=-np.inf if min_oks is None else float(min_oks),
        capacity=max(CHUNK_TERMS // k, int(group_pairs.max())),
    )
    n_groups = group_pairs.shape[0]
    if total < PARALLEL_PAIRS:
        return (*job.run(0, n_groups), gt_sorted)
    # two halves with about the same number of pairs; the first half's pairs come first
    middle = int(np.searchsorted(np.cumsum(group_pairs), total // 2)) + 1
    second = _pool().submit(job.run, middle, n_groups)
    first = job.run(0, middle)
    return (*_concatenate([first, second.result()]), gt_sorted)


def match(inp: EvalInput, params: Params) -> Matches:
    """pycocotools' ``evaluateImg`` for every image, category, area range and threshold."""
    gt, dt = inp.gt, inp.dt
    thresholds = np.ascontiguousarray(np.minimum(params.oks_thresholds, 1 - 1e-10), np.float64)
    area_ranges = np.ascontiguousarray(params.area_ranges, np.float64)
    n_a, n_t = area_ranges.shape[0], thresholds.shape[0]
    evaluated, rank = select_predictions(inp, max(params.max_dets))
    n_e = evaluated.shape[0]
    min_oks = float(thresholds.min()) if n_t else 1.0
    pair_ev, pair_pos, values, gt_sorted = _pairs(inp, evaluated, min_oks=min_oks)
    gt_ignore = ignored_by_area(inp, area_ranges)
    dt_gt = np.empty((n_a, n_t, n_e), np.int64)
    dt_ignore = np.empty((n_a, n_t, n_e), np.bool_)
    tp = np.empty((n_a, n_t, n_e), np.bool_)
    fp = np.empty((n_a, n_t, n_e), np.bool_)
    args = (  # flags of the ground truth in gt_sorted order, as pair_pos names it
        pair_ev, pair_pos, values, pair_ev.shape[0], thresholds,
        np.ascontiguousarray(gt_ignore[:, gt_sorted]), np.ascontiguousarray(gt.crowd[gt_sorted]),
        np.ascontiguousarray(gt.id_zero[gt_sorted]), gt_sorted,
        np.ascontiguousarray(dt.area[evaluated], np.float64), area_ranges,
    )  # fmt: skip
    outputs = (dt_gt, dt_ignore, tp, fp)
    if pair_ev.shape[0] < PARALLEL_PAIRS // 4 or n_t < 2:
        _kernel.greedy(*args, 0, n_t, *outputs)
    else:  # thresholds never interact: each half on its own thread
        half = n_t // 2
        second = _pool().submit(_kernel.greedy, *args, half, n_t, *outputs)
        _kernel.greedy(*args, 0, half, *outputs)
        second.result()
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
    return accumulate_pool(Pool.of(inp, matches), params)


def accumulate_pool(pool: Pool, params: Params) -> Accumulated:
    """:func:`accumulate` from the engine's :class:`~posetable.eval._engine.Pool`."""
    n_t = params.oks_thresholds.shape[0]
    n_a = params.area_ranges.shape[0]
    n_m = len(params.max_dets)
    n_c = pool.num_categories
    acc = Accumulated.unfilled(n_c, params)
    if n_t == 0 or n_c == 0 or n_a == 0:
        return acc
    npig = np.ascontiguousarray(pool.npig, np.int64)
    ev_cat = pool.category
    ev_score = pool.score
    rec_thr = np.ascontiguousarray(params.recall_thresholds, np.float64)
    for m, max_det in enumerate(params.max_dets):
        keep = np.flatnonzero(pool.rank < max_det)
        # one stable sort by score per category; ties keep (image, rank) order
        by_score = keep[stable_argsort(descending_keys(ev_score[keep]))]
        order = by_score[stable_argsort(ev_cat[by_score].astype(np.uint64))]
        bounds = np.searchsorted(ev_cat[order], np.arange(n_c + 1)).astype(np.int64)
        _kernel.accumulate(
            np.ascontiguousarray(pool.tp, np.bool_),
            np.ascontiguousarray(pool.fp, np.bool_),
            order,
            bounds,
            np.ascontiguousarray(ev_score[order], np.float64),
            npig,
            rec_thr,
            n_t,
            m,
            n_m,
            acc.precision,
            acc.recall,
            acc.scores,
        )
    return acc


def cell_precision_sums(
    tp: np.ndarray,
    fp: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    npig: np.ndarray,
    params: Params,
) -> np.ndarray:
    """Sum over thresholds, then recall points, of the sampled precision of each cell,
    every cell evaluated alone (``accumulate``'s arithmetic with each cell as its own
    category): tp / fp (T, E) flags of the entries, ``order`` the entries by cell then rank,
    ``bounds`` (cells + 1) into it, ``npig`` each cell's non-ignored ground truth (> 0)."""
    n_t = params.oks_thresholds.shape[0]
    sums = np.zeros(npig.shape[0])
    if n_t == 0 or npig.shape[0] == 0:
        return sums
    _kernel.cell_sums(
        np.ascontiguousarray(tp, np.bool_),
        np.ascontiguousarray(fp, np.bool_),
        np.ascontiguousarray(order, np.int64),
        np.ascontiguousarray(bounds, np.int64),
        np.ascontiguousarray(npig, np.int64),
        np.ascontiguousarray(params.recall_thresholds, np.float64),
        n_t,
        sums,
    )
    return sums
