"""All (ground truth, prediction) pairs of the same image, and their OKS, over flat arrays.

Used by accepting predictions and the label-error finder; one vectorised pass over a whole
table, never a Python loop per image. The OKS is COCO's (pycocotools' formula, including the
3x-box path for ground truth without labeled points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posetable.instances import Keypoints2DInstances

AREA_FROM_BOX = 0.53  # the xtcocotools / CrowdPose rule for a missing segmentation area


@dataclass(frozen=True)
class FlatInstances:
    """Instances of many rows concatenated, with the row of each."""

    row: np.ndarray  # (N,) int64
    index: np.ndarray  # (N,) position within its row
    keypoints: np.ndarray  # (N, K, 2)
    visibility: np.ndarray  # (N, K) int32 (2 where only confidences are held)
    confidence: np.ndarray  # (N, K) float32 (1 where only visibilities are held)
    score: np.ndarray  # (N,) float64 (1 where absent)
    boxes: np.ndarray  # (N, 4) xyxy
    area: np.ndarray  # (N,)
    iscrowd: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N,)

    @classmethod
    def from_rows(
        cls, items: list[Keypoints2DInstances | None], num_keypoints: int
    ) -> FlatInstances:
        """Flatten a list of per-row instances (None = no instances)."""
        k = num_keypoints
        present = [(r, it) for r, it in enumerate(items) if it is not None and len(it)]
        if not present:
            z = np.zeros(0)
            return cls(
                z.astype(np.int64),
                z.astype(np.int64),
                np.zeros((0, k, 2)),
                np.zeros((0, k), np.int32),
                np.zeros((0, k), np.float32),
                z,
                np.zeros((0, 4)),
                z,
                z.astype(bool),
                z.astype(np.int32),
            )
        rows = np.concatenate([np.full(len(it), r, np.int64) for r, it in present])
        index = np.concatenate([np.arange(len(it)) for _, it in present])
        kp = np.concatenate([it.keypoints for _, it in present])
        vis = np.concatenate(
            [
                it.keypoint_visibilities
                if it.keypoint_visibilities is not None
                else np.full((len(it), k), 2, np.int32)
                for _, it in present
            ]
        )
        conf = np.concatenate(
            [
                it.keypoint_confidences
                if it.keypoint_confidences is not None
                else np.ones((len(it), k), np.float32)
                for _, it in present
            ]
        )
        score = np.concatenate(
            [
                it.instance_confidences if it.instance_confidences is not None else np.ones(len(it))
                for _, it in present
            ]
        )
        boxes = np.concatenate([it.instance_bbs for _, it in present])
        area = np.concatenate(
            [
                np.asarray(it.instance_extras["area"], np.float64)
                if "area" in it.instance_extras
                else (it.instance_bbs[:, 2] - it.instance_bbs[:, 0])
                * (it.instance_bbs[:, 3] - it.instance_bbs[:, 1])
                * AREA_FROM_BOX
                for _, it in present
            ]
        )
        crowd = np.concatenate(
            [
                np.asarray(it.instance_extras["iscrowd"]).astype(bool)
                if "iscrowd" in it.instance_extras
                else np.zeros(len(it), bool)
                for _, it in present
            ]
        )
        labels = np.concatenate([it.instance_labels for _, it in present])
        return cls(rows, index, kp, vis, conf, score, boxes, area, crowd, labels)

    def __len__(self) -> int:
        return int(self.row.shape[0])


def same_row_pairs(a_rows: np.ndarray, b_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ia, ib) of every pair of elements of ``a`` and ``b`` in the same row.

    Both inputs must be sorted by row.
    """
    if len(a_rows) == 0 or len(b_rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.union1d(a_rows, b_rows)
    a_start = np.searchsorted(a_rows, rows, "left")
    a_count = np.searchsorted(a_rows, rows, "right") - a_start
    b_start = np.searchsorted(b_rows, rows, "left")
    b_count = np.searchsorted(b_rows, rows, "right") - b_start
    pairs = a_count * b_count
    total = int(pairs.sum())
    group = np.repeat(np.arange(len(rows)), pairs)
    offset = np.arange(total) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    ia = a_start[group] + offset // np.maximum(b_count[group], 1)
    ib = b_start[group] + offset % np.maximum(b_count[group], 1)
    return ia.astype(np.int64), ib.astype(np.int64)


def pair_oks(
    gt: FlatInstances,
    dt_keypoints: np.ndarray,
    gi: np.ndarray,
    di: np.ndarray,
    sigmas: np.ndarray,
    *,
    gt_keypoints: np.ndarray | None = None,
    gt_visibility: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """OKS of each (gt[gi], dt[di]) pair, and the per-keypoint normalised squared error.

    ``gt_keypoints``/``gt_visibility`` override the ground truth's (e.g. flipped).
    Returns ``(oks (P,), e (P, K))`` with e as in pycocotools (d² / (2σ)² / (area+eps) / 2).
    """
    gkp = (gt.keypoints if gt_keypoints is None else gt_keypoints)[gi]
    gvis = (gt.visibility if gt_visibility is None else gt_visibility)[gi]
    dkp = dt_keypoints[di]
    variances = (2 * np.asarray(sigmas, np.float64)) ** 2
    labeled = gvis > 0
    k1 = labeled.sum(axis=1)
    dx = dkp[..., 0] - gkp[..., 0]
    dy = dkp[..., 1] - gkp[..., 1]
    # 3x-box path for ground truth without labeled points
    boxes = gt.boxes[gi]
    x0, y0 = boxes[:, 0], boxes[:, 1]
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bx0, bx1 = (x0 - w)[:, None], (x0 + 2 * w)[:, None]
    by0, by1 = (y0 - h)[:, None], (y0 + 2 * h)[:, None]
    zero = np.zeros_like(dx)
    box_dx = np.maximum(zero, bx0 - dkp[..., 0]) + np.maximum(zero, dkp[..., 0] - bx1)
    box_dy = np.maximum(zero, by0 - dkp[..., 1]) + np.maximum(zero, dkp[..., 1] - by1)
    use_box = (k1 == 0)[:, None]
    dx = np.where(use_box, box_dx, dx)
    dy = np.where(use_box, box_dy, dy)
    area = gt.area[gi][:, None]
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
    terms = np.where(use_box | labeled, np.exp(-e), 0.0)
    count = np.where(k1 == 0, gkp.shape[1], k1)
    oks = terms.sum(axis=1) / np.maximum(count, 1)
    return oks, e
