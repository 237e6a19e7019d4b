"""Per-sample and per-instance metric tables, built from the engine's flat arrays.

Everything is vectorised over the whole dataset: no Python loop per image or instance.
The area range is "all" throughout; partners and TP flags are pycocotools' matches.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from posetable.eval._data import EvalInput
from posetable.eval._engine import Matches, Params, all_pairs, backend
from posetable.eval.oks import oks_pairs


def _fixed_lists(values: np.ndarray, value_type: pa.DataType, valid: np.ndarray | None = None,
                 rows_valid: np.ndarray | None = None) -> pa.Array:  # fmt: skip
    """(N, W) values -> list<value_type> with W items per row (element / row validity)."""
    n, width = values.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width, pa.int32())
    mask = None if valid is None else ~valid.ravel()
    flat = pa.array(values.ravel(), value_type, mask=mask)
    row_mask = None if rows_valid is None else pa.array(~rows_valid)
    return pa.ListArray.from_arrays(offsets, flat, mask=row_mask)


class _Pairs:
    """Every (evaluated prediction, ground truth) pair of an image and category with its
    OKS (the engine's ``all_pairs``, computed once): the best per prediction and per ground
    truth, and the OKS of given pairs looked up instead of computed again."""

    def __init__(self, inp: EvalInput, matches: Matches) -> None:
        self.inp, self.matches = inp, matches
        self.ev, self.gt, self.values = all_pairs(inp, matches.evaluated)
        self._width = max(len(inp.gt), 1)
        keys = self.ev.astype(np.int64) * self._width + self.gt
        # the engine gives them by evaluated slot, then ground truth: most often sorted
        self._order: np.ndarray | None = None
        if not np.all(keys[1:] > keys[:-1]):
            self._order = np.argsort(keys, kind="stable")
            keys = keys[self._order]
        self._sorted = keys

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Best OKS of each evaluated prediction and each ground truth (NaN when no pair)."""
        best_ev = np.full(self.matches.evaluated.shape[0], -np.inf)
        best_gt = np.full(len(self.inp.gt), -np.inf)
        np.maximum.at(best_ev, self.ev, self.values)
        np.maximum.at(best_gt, self.gt, self.values)
        best_ev[np.isneginf(best_ev)] = np.nan
        best_gt[np.isneginf(best_gt)] = np.nan
        return best_ev, best_gt

    def oks(self, ev_pos: np.ndarray, gt_idx: np.ndarray) -> np.ndarray:
        """OKS of the pairs (evaluated position, ground-truth index), each of the same image
        and category (a match always is); computed where one is not among the pairs."""
        want = ev_pos.astype(np.int64) * self._width + gt_idx
        if want.size == 0:
            return np.zeros(0)
        at = np.minimum(np.searchsorted(self._sorted, want), max(self._sorted.size - 1, 0))
        if self._sorted.size and np.array_equal(self._sorted[at], want):
            return self.values[at if self._order is None else self._order[at]]
        return _pair_oks(self.inp, self.matches.evaluated[ev_pos], gt_idx)


def best_pair_oks(inp: EvalInput, matches: Matches) -> tuple[np.ndarray, np.ndarray]:
    """Best OKS of each evaluated prediction and each ground truth (NaN when no pair)."""
    return _Pairs(inp, matches).best()


def _keypoint_errors(
    inp: EvalInput, dt_idx: np.ndarray, gt_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(distance / sqrt(area) per keypoint, labeled mask) for matched pairs."""
    gt = inp.gt
    diff = inp.dt.keypoints[dt_idx] - gt.keypoints[gt_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.sqrt((diff**2).sum(axis=2)) / np.sqrt(gt.area[gt_idx])[:, None]
    return err, gt.labeled[gt_idx]


def per_instance(
    inp: EvalInput, matches: Matches, params: Params, pairs: _Pairs | None = None
) -> pa.Table:
    """One row per ground truth and per prediction (see ``EvaluationResult.per_instance``);
    ``pairs``: the evaluation's :class:`_Pairs` when at hand (computed otherwise)."""
    gt, dt = inp.gt, inp.dt
    n_g, n_d = len(gt), len(dt)
    n_t = params.oks_thresholds.shape[0]
    k = gt.keypoints.shape[1] if n_g else dt.keypoints.shape[1]
    ev = matches.evaluated
    pairs = pairs if pairs is not None else _Pairs(inp, matches)
    best_ev, best_gt = pairs.best()
    # the matches at the first threshold: one pair set seen from both sides
    matched_ev = np.flatnonzero(matches.dt_gt[0, 0] >= 0) if ev.size else np.zeros(0, np.int64)
    matched_gt = matches.dt_gt[0, 0][matched_ev] if ev.size else np.zeros(0, np.int64)
    matched_dt = ev[matched_ev] if ev.size else np.zeros(0, np.int64)
    matched_oks = pairs.oks(matched_ev, matched_gt)
    if matched_ev.size:
        matched_err, matched_lab = _keypoint_errors(inp, matched_dt, matched_gt)
    else:
        matched_err, matched_lab = np.zeros((0, k)), np.zeros((0, k), bool)

    # ground truth
    g_has = np.zeros(n_g, bool)
    g_has[matched_gt] = True
    g_partner_dt = np.full(n_g, -1, np.int64)
    g_partner_dt[matched_gt] = matched_dt
    g_oks = best_gt.copy()
    g_oks[matched_gt] = matched_oks
    gt_dt = matches.gt_partner(n_g)
    g_ignored = matches.gt_ignore[0] if n_g else np.zeros(0, bool)
    g_tp = (gt_dt >= 0).T & ~g_ignored[:, None]

    # predictions (all given; those past the top max_dets of their image were not evaluated)
    d_partner_gt = np.full(n_d, -1, np.int64)
    d_oks = np.full(n_d, np.nan)
    d_ignored = np.ones(n_d, bool)
    d_tp = np.zeros((n_d, n_t), bool)
    if ev.size:
        d_partner_gt[ev] = matches.dt_gt[0, 0]
        d_oks[ev] = best_ev
        d_ignored[ev] = matches.dt_ignore[0, 0]
        d_tp[ev] = matches.tp[0].T
    d_has = d_partner_gt >= 0
    d_oks[matched_dt] = matched_oks

    labels = inp.category_labels
    row = np.concatenate([inp.rows[gt.image], inp.rows[dt.image]]).astype(np.int64)
    kind_is_pred = np.concatenate([np.zeros(n_g, bool), np.ones(n_d, bool)])
    index = np.concatenate([gt.index, dt.index]).astype(np.int64)
    partner = np.concatenate(
        [
            np.where(g_has, dt.index[np.maximum(g_partner_dt, 0)] if n_d else -1, -1),
            np.where(d_has, gt.index[np.maximum(d_partner_gt, 0)] if n_g else -1, -1),
        ]
    ).astype(np.int64)
    order = np.lexsort((index, kind_is_pred, row))
    oks = np.concatenate([g_oks, d_oks])[order]
    score = np.concatenate([np.zeros(n_g), dt.score])[order]
    # the (G + D, K) errors written once, in the table's order (each matched pair twice:
    # its ground truth's row and its prediction's), not built per side and reordered
    position = np.empty(n_g + n_d, np.int64)
    position[order] = np.arange(n_g + n_d)
    errors = np.zeros((n_g + n_d, k))
    labeled = np.zeros((n_g + n_d, k), bool)
    for at in (position[matched_gt], position[n_g + matched_dt]):
        errors[at], labeled[at] = matched_err, matched_lab
    del matched_err, matched_lab
    has_partner = np.concatenate([g_has, d_has])[order]
    kinds = pa.DictionaryArray.from_arrays(
        pa.array(kind_is_pred[order].astype(np.int8)), pa.array(["gt", "pred"])
    ).cast(pa.string())
    return pa.table(
        {
            "row": pa.array(row[order], pa.int64()),
            "kind": kinds,
            "index": pa.array(index[order], pa.int64()),
            "category": pa.array(
                np.concatenate([labels[gt.category], labels[dt.category]])[order], pa.int64()
            ),
            "score": pa.array(score, pa.float64(), mask=~kind_is_pred[order]),
            "partner": pa.array(partner[order], pa.int64()),
            "oks": pa.array(oks, pa.float64(), mask=np.isnan(oks)),
            "ignored": pa.array(np.concatenate([g_ignored, d_ignored])[order], pa.bool_()),
            "tp": _fixed_lists(np.concatenate([g_tp, d_tp])[order], pa.bool_()),
            "keypoint_errors": _fixed_lists(
                errors, pa.float64(), valid=labeled & has_partner[:, None], rows_valid=has_partner
            ),
        }
    )


def _pair_oks(inp: EvalInput, dt_idx: np.ndarray, gt_idx: np.ndarray) -> np.ndarray:
    gt = inp.gt
    return oks_pairs(
        inp.dt.keypoints, gt.keypoints, gt.labeled, gt.area, gt.box, inp.sigmas, dt_idx, gt_idx
    )


#: every column ``per_sample`` can have (tp/fp/fn at .50 and .75 with those thresholds)
PER_SAMPLE_COLUMNS = (
    "row", "image_id", "num_gt", "num_gt_ignored", "num_pred", "tp_50", "fp_50", "fn_50",
    "tp_75", "fp_75", "fn_75", "mean_oks", "ap",
)  # fmt: skip


def per_sample(
    inp: EvalInput, matches: Matches, params: Params, pairs: _Pairs | None = None
) -> pa.Table:
    """One row per image (see ``EvaluationResult.per_sample``); ``pairs`` as
    :func:`per_instance`."""
    gt, dt = inp.gt, inp.dt
    n_i = inp.num_images
    thresholds = params.oks_thresholds
    ev = matches.evaluated
    ev_img = dt.image[ev]
    g_ignored = matches.gt_ignore[0] if len(gt) else np.zeros(0, bool)
    num_gt = np.bincount(gt.image[~g_ignored], minlength=n_i)
    num_ign = np.bincount(gt.image[g_ignored], minlength=n_i)
    num_pred = np.bincount(dt.image, minlength=n_i)
    columns: dict[str, pa.Array] = {
        "row": pa.array(inp.rows, pa.int64()),
        "image_id": pa.array(
            inp.image_ids.tolist() if inp.image_ids.dtype == object else inp.image_ids
        ),
        "num_gt": pa.array(num_gt, pa.int64()),
        "num_gt_ignored": pa.array(num_ign, pa.int64()),
        "num_pred": pa.array(num_pred, pa.int64()),
    }
    for label, value in (("50", 0.5), ("75", 0.75)):
        where = np.flatnonzero(np.isclose(thresholds, value))
        if where.size == 0:
            continue
        t = int(where[0])
        tp = (
            np.bincount(ev_img[matches.tp[0, t]], minlength=n_i)
            if ev.size
            else np.zeros(n_i, np.int64)
        )
        fp = (
            np.bincount(ev_img[matches.fp[0, t]], minlength=n_i)
            if ev.size
            else np.zeros(n_i, np.int64)
        )
        columns[f"tp_{label}"] = pa.array(tp, pa.int64())
        columns[f"fp_{label}"] = pa.array(fp, pa.int64())
        columns[f"fn_{label}"] = pa.array(num_gt - tp, pa.int64())
    mean_oks = np.full(n_i, np.nan)
    if ev.size:
        hits = np.flatnonzero(matches.tp[0, 0])
        if hits.size:
            pairs = pairs if pairs is not None else _Pairs(inp, matches)
            values = pairs.oks(hits, matches.dt_gt[0, 0, hits])
            sums = np.bincount(ev_img[hits], weights=values, minlength=n_i)
            counts = np.bincount(ev_img[hits], minlength=n_i)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_oks = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    columns["mean_oks"] = pa.array(mean_oks, pa.float64(), mask=np.isnan(mean_oks))
    ap = image_ap(inp, matches, params)
    columns["ap"] = pa.array(ap, pa.float64(), mask=np.isnan(ap))
    return pa.table(columns)


def image_ap(inp: EvalInput, matches: Matches, params: Params) -> np.ndarray:
    """AP[.5:.95] (area all) of each image evaluated alone; NaN where no cell is defined.

    For each (image, category) with non-ignored ground truth, the image's top predictions
    (already in score order) give a precision curve per threshold; the 101-point sampling is
    done with integer TP counts: the first index where ``tp / npig >= r`` is the first where
    ``tp >= k_r``, k_r the smallest integer whose ``k_r / npig`` reaches r in float64.
    """
    gt, dt = inp.gt, inp.dt
    n_i = inp.num_images
    n_t = params.oks_thresholds.shape[0]
    rec = params.recall_thresholds
    max_det = params.max_dets[-1]
    g_ok = ~matches.gt_ignore[0] if len(gt) else np.zeros(0, bool)
    cell_key = gt.category[g_ok] * n_i + gt.image[g_ok]
    cells, npig = np.unique(cell_key, return_counts=True)
    out = np.full(n_i, np.nan)
    if cells.size == 0:
        return out
    ev = matches.evaluated
    keep = matches.rank < max_det
    ev_idx = np.flatnonzero(keep)
    ev_key = dt.category[ev[ev_idx]] * n_i + dt.image[ev[ev_idx]]
    if backend() == "native":
        q_sum = _native_sums(cells, npig, ev_idx, ev_key, matches, params)
    else:
        q_sum = _numpy_sums(cells, npig, ev_idx, ev_key, matches, params)
    sums = np.bincount(cells % n_i, weights=q_sum, minlength=n_i)
    counts = np.bincount(cells % n_i, minlength=n_i) * (n_t * rec.shape[0])
    has = counts > 0
    out[has] = sums[has] / counts[has]
    return out


def _native_sums(
    cells: np.ndarray,
    npig: np.ndarray,
    ev_idx: np.ndarray,
    ev_key: np.ndarray,
    matches: Matches,
    params: Params,
) -> np.ndarray:
    """:func:`_numpy_sums` on the C kernel (``cell_sums``)."""
    from posetable.eval import _native

    where = np.minimum(np.searchsorted(cells, ev_key), cells.shape[0] - 1)
    inside = cells[where] == ev_key
    sel, c_of = ev_idx[inside], where[inside]
    order = sel[np.lexsort((matches.rank[sel], c_of))]
    bounds = np.searchsorted(np.sort(c_of), np.arange(cells.shape[0] + 1)).astype(np.int64)
    return _native.cell_precision_sums(matches.tp[0], matches.fp[0], order, bounds, npig, params)


def _numpy_sums(
    cells: np.ndarray,
    npig: np.ndarray,
    ev_idx: np.ndarray,
    ev_key: np.ndarray,
    matches: Matches,
    params: Params,
) -> np.ndarray:
    """Sum over thresholds and recall points of each cell's sampled precision (numpy)."""
    n_t = params.oks_thresholds.shape[0]
    rec = params.recall_thresholds
    max_det = params.max_dets[-1]
    ev = matches.evaluated
    width = max(int(matches.rank.max()) + 1 if ev.size else 1, 1)
    width = min(width, max_det)
    n_cells = cells.shape[0]
    tp = np.zeros((n_cells, n_t, width), bool)
    fp = np.zeros((n_cells, n_t, width), bool)
    nd = np.zeros(n_cells, np.int64)
    if ev_idx.size:
        where = np.searchsorted(cells, ev_key)
        where = np.minimum(where, n_cells - 1)
        inside = cells[where] == ev_key
        sel = ev_idx[inside]
        c_of = where[inside]
        r_of = matches.rank[sel]
        tp[c_of, :, r_of] = matches.tp[0][:, sel].T
        fp[c_of, :, r_of] = matches.fp[0][:, sel].T
        nd = np.bincount(c_of, minlength=n_cells)
    tp_cum = np.cumsum(tp, axis=2)
    fp_cum = np.cumsum(fp, axis=2)
    tps = tp_cum.astype(float)
    pr = tps / (fp_cum + tps + np.spacing(1))
    valid = np.arange(width)[None, None, :] < nd[:, None, None]
    pr = np.where(valid, pr, 0.0)
    pr = np.maximum.accumulate(pr[:, :, ::-1], axis=2)[:, :, ::-1]
    # k_r: smallest integer k with k / npig >= r, exactly as float64 division decides
    n = npig.astype(float)[:, None]
    k = np.maximum(np.floor(rec[None, :] * n) - 1, 0)
    for _ in range(3):
        k = np.where(k / n >= rec[None, :], k, k + 1)
    k = k.astype(np.int64)  # (cells, R)
    # first index where tp_cum >= k: position of the k-th TP (k = 0 -> index 0)
    first = np.full((n_cells, n_t, width + 2), width, np.int64)
    first[:, :, 0] = 0
    ci, ti, pi = np.nonzero(tp)
    first[ci, ti, tp_cum[ci, ti, pi]] = pi
    kk = np.minimum(k, width + 1)
    reach = first < nd[:, None, None]
    at_k = np.where(reach, np.take_along_axis(pr, np.minimum(first, width - 1), axis=2), 0.0)
    # the sampled precision (cells, T, R) summed over (T, R) as the kernel sums it: rows of
    # a (T * R, cells) block added in order (numpy's axis-0 sum), the same bits on both
    sums = np.zeros(n_cells)
    for lo in range(0, n_cells, SUM_CHUNK):
        hi = min(lo + SUM_CHUNK, n_cells)
        sampled = np.take_along_axis(at_k[lo:hi], kk[lo:hi, None, :], axis=2)
        block = np.ascontiguousarray(sampled.transpose(1, 2, 0).reshape(-1, hi - lo))
        sums[lo:hi] = block.sum(axis=0)
    return sums


#: cells per block of :func:`_numpy_sums`' sampled precision (memory: T x R x cells doubles)
SUM_CHUNK = 2048
