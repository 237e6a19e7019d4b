"""Vectorised OKS equals pycocotools' computeOks value for value, at any K."""

from __future__ import annotations

import numpy as np
import pytest

import posetable as pt
from posetable.eval import oks_matrix, oks_pairs
from posetable.eval.oks import pairwise_columns


def pycocotools_oks(dt: np.ndarray, gt: np.ndarray, vis: np.ndarray, area: float, bbox, sigmas):
    """pycocotools' computeOks for one (dt, gt) pair, as written in cocoeval.py."""
    variances = (sigmas * 2) ** 2
    k = len(sigmas)
    xg, yg = gt[:, 0], gt[:, 1]
    k1 = np.count_nonzero(vis > 0)
    x0, x1 = bbox[0] - bbox[2], bbox[0] + bbox[2] * 2
    y0, y1 = bbox[1] - bbox[3], bbox[1] + bbox[3] * 2
    xd, yd = dt[:, 0], dt[:, 1]
    if k1 > 0:
        dx, dy = xd - xg, yd - yg
    else:
        z = np.zeros(k)
        dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
        dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
    if k1 > 0:
        e = e[vis > 0]
    return np.sum(np.exp(-e)) / e.shape[0]


@pytest.mark.parametrize("k", [1, 5, 7, 8, 9, 16, 17, 21, 64, 127, 128, 129, 133])
def test_oks_pairs_equal_pycocotools_bit_for_bit(k):
    rng = np.random.default_rng(k)
    n_gt, n_dt = 40, 30
    gt = rng.random((n_gt, k, 2)) * 200
    vis = rng.choice([0, 1, 2], size=(n_gt, k), p=[0.4, 0.2, 0.4])
    vis[:5] = 0  # the 3x-box path
    vis[5:10] = 2  # every point labeled
    area = rng.choice([0.0, 1.0, 900.0, 5000.0, 40000.0], n_gt) * rng.random(n_gt)
    box = np.concatenate([rng.random((n_gt, 2)) * 150, rng.random((n_gt, 2)) * 60], axis=1)
    dt = gt[rng.integers(0, n_gt, n_dt)] + rng.normal(0, 8, (n_dt, k, 2))
    sigmas = rng.uniform(0.02, 0.2, k)
    pair_dt = np.repeat(np.arange(n_dt), n_gt)
    pair_gt = np.tile(np.arange(n_gt), n_dt)
    got = oks_pairs(dt, gt, vis > 0, area, box, sigmas, pair_dt, pair_gt)
    expected = np.array(
        [
            pycocotools_oks(dt[d], gt[g], vis[g], area[g], box[g], sigmas)
            for d, g in zip(pair_dt, pair_gt, strict=True)
        ]
    )
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("k", [3, 8, 17, 40, 100, 128])
def test_pairwise_columns_reproduce_numpy_sum(k):
    rng = np.random.default_rng(k)
    counts = rng.integers(1, k + 1, 3000)
    values = rng.random((k, 3000)) * rng.choice([1e-9, 1.0, 1e9], (k, 3000))
    values[np.arange(k)[:, None] >= counts[None, :]] = 0.0
    expected = np.array([np.sum(values[: counts[j], j]) for j in range(3000)])
    np.testing.assert_array_equal(pairwise_columns(values, counts), expected)


def test_oks_matrix_on_instances_uses_the_area_extra_or_the_box_rule():
    gt = pt.Keypoints2DInstances.create_empty(num_keypoints=3)
    gt.add_instance([[10, 10, 2], [30, 40, 2], [50, 60, 0]], instance_extras={"area": 400.0})
    gt.add_instance([[100, 100, 2], [120, 140, 1], [0, 0, 0]], instance_extras={"area": 900.0})
    dt = pt.Keypoints2DInstances(
        gt.keypoints + 2.0, keypoint_confidences=np.ones((2, 3)), instance_confidences=[0.9, 0.8]
    )
    sigmas = np.array([0.05, 0.07, 0.09])
    matrix = oks_matrix(dt, gt, sigmas=sigmas)
    assert matrix.shape == (2, 2)
    vis = gt.keypoint_visibilities
    for d in range(2):
        for g in range(2):
            box = gt.instance_bbs_xywh[g]
            area = gt.instance_extras["area"][g]
            assert matrix[d, g] == pycocotools_oks(
                dt.keypoints[d], gt.keypoints[g], vis[g], area, box, sigmas
            )
    with pytest.raises(pt.errors.InstancesError, match="K=3"):
        oks_matrix(dt, gt, sigmas=[0.1, 0.1])
