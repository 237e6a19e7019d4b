"""Object keypoint similarity (OKS), vectorised and bit-exact with pycocotools.

pycocotools (``COCOeval.computeOks``) computes, for a ground truth with k1 > 0 labeled points::

    e = (dx**2 + dy**2) / (2 * sigma)**2 / (area + eps) / 2
    oks = sum(exp(-e)[v > 0]) / k1

and for a ground truth without labeled points (k1 == 0) it measures each predicted point's
distance outside the ground-truth box grown by one width / height on every side, over all K
points. Here every (prediction, ground truth) pair of a whole dataset is computed at once;
the sum is taken per group of pairs with the same k1 over the compacted labeled values, so
numpy's pairwise summation adds the same numbers in the same order as pycocotools does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from posetable._validate import check_sigmas
from posetable.errors import InstancesError

if TYPE_CHECKING:
    from posetable.instances import Keypoints2DInstances

EPS = float(np.spacing(1))
__all__ = ["oks_matrix", "oks_pairs"]


def exp_neg(e: np.ndarray) -> np.ndarray:
    """``np.exp(-e)`` for e >= 0, the same values, without numpy's slow underflow path.

    exp(-e) is exactly 0 for e >= 746; values between 700 and 746 (subnormal results) are
    rare and computed as they are.
    """
    out = np.exp(-np.minimum(e, 700.0))
    out *= e < 700.0
    mid = (e >= 700.0) & (e < 746.0)
    if mid.any():
        out[mid] = np.exp(-e[mid])
    return out


def pairwise_columns(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` (K, P): each column's first ``counts`` rows, added in the
    order numpy's pairwise summation adds a 1-D array of that length (rows past the count
    must hold 0). Exact for K <= 128, where numpy's sum is an unrolled 8-way loop.

    For n < 8 numpy folds left to right from 0; for 8 <= n <= 128 it keeps 8 running sums
    over the first n - n % 8 values, combines them as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))
    and adds the rest one by one. Adding 0.0 to a non-negative sum changes nothing, so
    masked rows reproduce every column's own length.
    """
    k, p = values.shape
    small = np.zeros(p)
    for row in range(min(k, 8)):
        small = small + values[row]
    if k < 8:
        return small
    unrolled = counts - counts % 8
    rows = np.arange(k)[:, None]
    blocks = np.where(rows < unrolled[None, :], values, 0.0)
    r = blocks[0:8].copy()
    for start in range(8, k - k % 8, 8):
        r += blocks[start : start + 8]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for row in range(8, k):
        tail = (row >= unrolled) & (row < counts)
        total = total + np.where(tail, values[row], 0.0)
    return np.where(counts < 8, small, total)


def _sum_by_count(values: np.ndarray, mask: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row sums of ``values`` (P, K) over ``mask``, as numpy sums each compacted row.

    Groups rows by count so each group is summed by numpy itself (any K, including K > 128
    where numpy's pairwise sum recurses).
    """
    n_rows, k = values.shape
    out = np.empty(n_rows)
    if n_rows == 0:
        return out
    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    bounds = np.flatnonzero(np.diff(sorted_counts)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n_rows]])
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = order[a:b]
        n = int(sorted_counts[a])
        if n == k:
            out[rows] = values[rows].sum(axis=1)
        elif n == 0:
            out[rows] = 0.0
        else:
            out[rows] = values[rows][mask[rows]].reshape(b - a, n).sum(axis=1)
    return out


def _labeled_first(labeled: np.ndarray) -> np.ndarray:
    """(K, N): for each instance, its labeled keypoint indices first, then the others
    (both in index order), from elementwise cumulative counts instead of a sort."""
    k = labeled.shape[0]
    seen = np.cumsum(labeled, axis=0)
    counts = seen[-1]
    rest = np.cumsum(~labeled, axis=0)
    position = np.where(labeled, seen - 1, counts[None, :] + rest - 1)
    order = np.empty_like(position)
    np.put_along_axis(
        order, position, np.broadcast_to(np.arange(k)[:, None], position.shape), axis=0
    )
    return order


SCREEN_MARGIN = 1e-3


def _estimate(d2: np.ndarray, labeled: np.ndarray, scale: np.ndarray, variances: np.ndarray,
              n: np.ndarray) -> np.ndarray:  # fmt: skip
    """OKS estimated from exact squared distances with a float32 exp (error below 1e-6)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = d2 * (0.5 / variances)
        e *= 1.0 / scale
        np.minimum(e, 80.0, out=e)  # exp(-80) is still a normal float32
        e32 = e.astype(np.float32)
    np.negative(e32, out=e32)
    np.exp(e32, out=e32)
    e32 *= labeled
    estimate = e32.sum(axis=0, dtype=np.float64) / n
    return np.where(np.isfinite(estimate), estimate, np.inf)


class PointColumns:
    """Keypoints in a (K, N) layout: per-keypoint rows make every OKS step elementwise.

    Attributes:
        x, y: (K, N) coordinates.
        labeled: (K, N) bool or None (predictions).
        order: (K, N) per instance, its labeled keypoints first (stable), or None.
        counts: (N,) number of labeled keypoints, or None.
    """

    def __init__(self, keypoints: np.ndarray, labeled: np.ndarray | None = None) -> None:
        t = np.ascontiguousarray(keypoints.transpose(2, 1, 0))  # (2, K, N)
        self.x, self.y = t[0], t[1]
        self.labeled = None if labeled is None else np.ascontiguousarray(labeled.T)
        self.counts = None if labeled is None else labeled.sum(axis=1)
        self.order = None if self.labeled is None else _labeled_first(self.labeled)


def oks_columns(
    dt: PointColumns,
    gt: PointColumns,
    gt_area: np.ndarray,
    gt_box: np.ndarray,
    sigmas: np.ndarray,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    *,
    dt_extent: np.ndarray | None = None,
    min_oks: float | None = None,
) -> np.ndarray:
    """:func:`oks_pairs` on keypoints already in the (K, N) layout.

    With ``min_oks``, a float32 estimate first screens the pairs with labeled points: those
    clearly below it (by a margin 10^4 times any float32 error) get the estimate, which is
    all a caller that keeps OKS >= ``min_oks`` needs; every other pair gets the exact value.
    """
    if gt.labeled is None or gt.counts is None or gt.order is None:
        raise ValueError("ground-truth PointColumns need the labeled mask")
    k = gt.x.shape[0]
    variances = ((np.asarray(sigmas, dtype=np.float64) * 2) ** 2)[:, None]
    out = np.empty(pair_dt.shape[0])
    if out.size == 0:
        return out
    pair_counts = gt.counts[pair_gt]
    std = np.flatnonzero(pair_counts > 0)
    box = np.flatnonzero(pair_counts == 0)
    if std.size:
        sd, sg, n = pair_dt[std], pair_gt[std], pair_counts[std]
        dx = dt.x[:, sd] - gt.x[:, sg]
        dy = dt.y[:, sd] - gt.y[:, sg]
        d2 = dx * dx
        d2 += dy * dy  # dx**2 + dy**2, exact
        scale = gt_area[sg] + EPS
        if min_oks is not None and min_oks > SCREEN_MARGIN:
            estimate = _estimate(d2, gt.labeled[:, sg], scale, variances, n)
            low = estimate < min_oks - SCREEN_MARGIN
            out[std[low]] = estimate[low]
            high = ~low
            std, sg, n, scale = std[high], sg[high], n[high], scale[high]
            d2 = d2[:, high]
        e = d2 / variances
        e /= scale
        e /= 2
        values = exp_neg(e)
        if k > 128:
            out[std] = _sum_by_count(values.T, gt.labeled[:, sg].T, n) / n
        elif k < 8:
            values *= gt.labeled[:, sg]  # fewer than 8: a left fold, zeros change nothing
            out[std] = pairwise_columns(values, n) / n
        else:
            full = n == k
            if not full.all():
                values = np.take_along_axis(values, gt.order[:, sg], axis=0)
                values[np.arange(k)[:, None] >= n[None, :]] = 0.0
            out[std] = pairwise_columns(values, n) / n
    if box.size and dt_extent is not None:
        bb = gt_box[pair_gt[box]]
        ext = dt_extent[box]
        inside = (
            (ext[:, 0] >= bb[:, 0] - bb[:, 2])
            & (ext[:, 2] <= bb[:, 0] + bb[:, 2] * 2)
            & (ext[:, 1] >= bb[:, 1] - bb[:, 3])
            & (ext[:, 3] <= bb[:, 1] + bb[:, 3] * 2)
            & (gt_area[pair_gt[box]] + EPS > 0)
        )
        out[box[inside]] = 1.0  # every point inside: each e is 0, the mean of K ones is 1
        box = box[~inside]
    if box.size:
        bd, bg = pair_dt[box], pair_gt[box]
        bb = gt_box[bg]
        x0 = bb[:, 0] - bb[:, 2]
        x1 = bb[:, 0] + bb[:, 2] * 2
        y0 = bb[:, 1] - bb[:, 3]
        y1 = bb[:, 1] + bb[:, 3] * 2
        xd = dt.x[:, bd]
        yd = dt.y[:, bd]
        dx = np.maximum(0.0, x0 - xd) + np.maximum(0.0, xd - x1)
        dy = np.maximum(0.0, y0 - yd) + np.maximum(0.0, yd - y1)
        e = (dx**2 + dy**2) / variances / (gt_area[bg] + EPS) / 2
        values = exp_neg(e)
        full = np.full(box.shape[0], k)
        sums = (
            _sum_by_count(values.T, np.ones(values.T.shape, bool), full)
            if k > 128
            else pairwise_columns(values, full)
        )
        out[box] = sums / k
    return out


def oks_pairs(
    dt_keypoints: np.ndarray,
    gt_keypoints: np.ndarray,
    gt_labeled: np.ndarray,
    gt_area: np.ndarray,
    gt_box: np.ndarray,
    sigmas: np.ndarray,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    *,
    dt_extent: np.ndarray | None = None,
) -> np.ndarray:
    """OKS of each (prediction, ground truth) pair, exactly as pycocotools computes it.

    Args:
        dt_keypoints: (D, K, 2) predicted x, y.
        gt_keypoints: (G, K, 2) ground-truth x, y.
        gt_labeled: (G, K) bool, visibility > 0.
        gt_area: (G,) ground-truth areas (the OKS scale s**2).
        gt_box: (G, 4) ground-truth ``[x, y, w, h]`` (for ground truth with no labeled point).
        sigmas: (K,) OKS sigmas.
        pair_dt: (P,) prediction index of each pair.
        pair_gt: (P,) ground-truth index of each pair.
        dt_extent: optional (P, 4) x0, y0, x1, y1 around each pair's predicted points; a
            prediction wholly inside the 3x box of a ground truth without labeled points
            then gets its OKS of exactly 1 without computing it.

    Returns:
        (P,) float64 OKS values.

    Example:
        >>> import numpy as np
        >>> gt = np.array([[[10.0, 10.0], [20.0, 20.0]]])
        >>> dt = gt + 1.0
        >>> oks_pairs(dt, gt, np.ones((1, 2), bool), np.array([100.0]),
        ...           np.array([[10.0, 10.0, 10.0, 10.0]]), np.array([0.1, 0.1]),
        ...           np.array([0]), np.array([0])).round(6).tolist()
        [0.778801]
    """
    used_dt, dt_inv = np.unique(pair_dt, return_inverse=True)
    used_gt, gt_inv = np.unique(pair_gt, return_inverse=True)
    return oks_columns(
        PointColumns(dt_keypoints[used_dt]),
        PointColumns(gt_keypoints[used_gt], gt_labeled[used_gt]),
        gt_area[used_gt],
        gt_box[used_gt],
        sigmas,
        dt_inv.ravel(),
        gt_inv.ravel(),
        dt_extent=dt_extent,
    )


def oks_matrix(
    predictions: Keypoints2DInstances,
    ground_truth: Keypoints2DInstances,
    *,
    sigmas: np.ndarray | list[float],
    areas: np.ndarray | None = None,
) -> np.ndarray:
    """(N_pred, N_gt) OKS between the instances of one image, as pycocotools computes it.

    The ground-truth area is ``areas`` when given, else the instance extra ``area``, else
    the box w*h*0.53 (the xtcocotools / CrowdPose rule). Ground truth without visibility
    counts every point as labeled.

    Example:
        >>> import posetable as pt
        >>> gt = pt.Keypoints2DInstances.create_empty(num_keypoints=2)
        >>> gt.add_instance([[10, 10, 2], [20, 20, 2]], instance_extras={"area": 100.0})
        >>> dt = pt.Keypoints2DInstances.create_empty(num_keypoints=2,
        ...     include_keypoint_confidences=True, include_instance_confidences=True)
        >>> dt.add_instance([[11, 11], [21, 21]], confidence=[1, 1], instance_confidence=0.9)
        >>> oks_matrix(dt, gt, sigmas=[0.1, 0.1]).round(6).tolist()
        [[0.778801]]
    """
    k = ground_truth.num_keypoints if len(ground_truth) else predictions.num_keypoints
    sig = check_sigmas(sigmas, k, error=InstancesError)
    n_dt, n_gt = len(predictions), len(ground_truth)
    if n_dt and predictions.num_keypoints != k:
        raise InstancesError(
            f"predictions must have K={k} keypoints like the ground truth, "
            f"got {predictions.num_keypoints}"
        )
    if n_dt == 0 or n_gt == 0:
        return np.zeros((n_dt, n_gt))
    box = ground_truth.instance_bbs_xywh
    if areas is None:
        given = ground_truth.instance_extras.get("area")
        areas = box[:, 2] * box[:, 3] * 0.53 if given is None else given
    area = np.asarray(areas, dtype=np.float64)
    if area.shape != (n_gt,):
        raise InstancesError(f"areas must have shape (N={n_gt},), got {area.shape}")
    vis = ground_truth.keypoint_visibilities
    labeled = np.ones((n_gt, k), bool) if vis is None else vis > 0
    pair_dt = np.repeat(np.arange(n_dt), n_gt)
    pair_gt = np.tile(np.arange(n_gt), n_dt)
    values = oks_pairs(
        predictions.keypoints, ground_truth.keypoints, labeled, area, box, sig, pair_dt, pair_gt
    )
    return values.reshape(n_dt, n_gt)
