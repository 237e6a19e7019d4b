"""Predictions made from a table's ground truth with seeded noise (tests and benchmarks)."""

from __future__ import annotations

import numpy as np

import posetable as pt


def noisy_predictions(
    table: pt.Table,
    *,
    seed: int = 0,
    noise: float = 0.03,
    scores_above_one: bool = False,
    confidence_range: tuple[float, float] = (0.3, 1.0),
) -> list[pt.Keypoints2DInstances | None]:
    """One prediction per labeled, non-crowd ground-truth instance, jittered by ``noise``
    times the box size, with keypoint confidences and instance scores."""
    rng = np.random.default_rng(seed)
    out: list[pt.Keypoints2DInstances | None] = []
    for row in table:
        gt = row["keypoints"]
        vis = gt.keypoint_visibilities
        keep = (vis > 0).any(axis=1) if vis is not None else np.ones(len(gt), bool)
        if "iscrowd" in gt.instance_extras:
            keep &= np.asarray(gt.instance_extras["iscrowd"]) == 0
        chosen = gt.select(keep)
        n, k = len(chosen), chosen.num_keypoints
        size = np.maximum(chosen.instance_bbs[:, 2:] - chosen.instance_bbs[:, :2], 1.0)
        keypoints = chosen.keypoints + rng.normal(0, 1, (n, k, 2)) * noise * size[:, None, :]
        confidences = rng.uniform(*confidence_range, (n, k)).astype(np.float32)
        if chosen.keypoint_visibilities is not None:
            confidences[chosen.keypoint_visibilities == 0] *= 0.3
        scores = rng.uniform(0.5, 2.0 if scores_above_one else 1.0, n)
        out.append(
            pt.Keypoints2DInstances(
                keypoints,
                keypoint_confidences=confidences,
                instance_labels=chosen.instance_labels,
                instance_confidences=scores,
                image_width=row["width"],
                image_height=row["height"],
            )
        )
    return out
