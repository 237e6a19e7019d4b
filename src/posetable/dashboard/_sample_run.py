"""The sample the dashboard opens with ``--sample``: the bundled COCO table and a run on it.

The run's predictions are synthetic and say so in their ``model_info``: each labeled
ground-truth instance is perturbed with seeded Gaussian noise scaled like OKS (per keypoint
``sigma * sqrt(area)``, times a per-instance difficulty), keypoint confidences fall with the
error, unlabeled keypoints get low confidences; one instance is missed, one spurious
detection and one left/right swap are added, so every page has something real to show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posetable.instances import Keypoints2DInstances
from posetable.sample import SAMPLE_TABLE_NAME, sample_table
from posetable.store import resolve_store
from posetable.table import StoreLike, Table

SAMPLE_RUN_NAME = "coco-sample-perturbed"
SAMPLE_MODEL_INFO: dict[str, Any] = {
    "model": "perturbed-ground-truth",
    "kind": "synthetic",
    "seed": 0,
    "description": (
        "not a real model: ground truth plus seeded Gaussian noise, with keypoint "
        "confidences that fall with the error, one missed person, one spurious detection "
        "and one left/right swap"
    ),
}


def _perturb(
    gt: Keypoints2DInstances,
    sigmas: np.ndarray,
    flips: tuple[int, ...] | None,
    rng: np.random.Generator,
    row: int,
) -> Keypoints2DInstances:
    labeled_any = (
        gt.keypoint_visibilities
        if gt.keypoint_visibilities is not None
        else np.ones(gt.keypoints.shape[:2])
    ) > 0
    keep = np.asarray(labeled_any.any(axis=1), dtype=bool)
    if row == 0 and keep.sum() > 1:  # one missed person
        keep[np.flatnonzero(keep)[-1]] = False
    source = gt.select(keep)
    n, k = len(source), gt.num_keypoints
    boxes = source.instance_bbs
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * 0.53, 1.0)
    if "area" in source.instance_extras:
        area = np.maximum(np.asarray(source.instance_extras["area"], dtype=np.float64), 1.0)
    scale = np.sqrt(area)[:, None] * sigmas[None, :]
    difficulty = rng.uniform(0.2, 1.6, size=(n, 1))
    noise = rng.normal(size=(n, k, 2)) * (difficulty * scale)[..., None]
    points = source.keypoints + noise
    vis = (
        source.keypoint_visibilities
        if source.keypoint_visibilities is not None
        else np.full((n, k), 2)
    )
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    unlabeled = vis == 0
    points[unlabeled] = (
        centre[:, None, :] + rng.normal(size=(n, k, 2)) * np.sqrt(area)[:, None, None] * 0.2
    )[unlabeled]
    error = np.linalg.norm(noise, axis=2) / np.maximum(2 * scale, 1e-9)
    confidence = np.clip(np.exp(-0.5 * error**2) * rng.uniform(0.85, 1.0, (n, k)), 0.02, 0.99)
    confidence[unlabeled] = rng.uniform(0.02, 0.3, unlabeled.sum())
    confidence[vis == 1] *= 0.7
    if row == 1 and n and flips is not None:  # a left/right swap
        points[0] = points[0][list(flips)]
    scores = np.clip(confidence.mean(axis=1) + rng.normal(0, 0.05, n), 0.05, 0.99)
    out = Keypoints2DInstances(
        points,
        keypoint_confidences=confidence.astype(np.float32),
        instance_labels=source.instance_labels,
        instance_confidences=scores,
        image_width=gt.image_width,
        image_height=gt.image_height,
    )
    if row == 2 and gt.image_width and gt.image_height:  # a spurious detection
        w, h = gt.image_width, gt.image_height
        pose = np.column_stack([rng.uniform(0.05, 0.25, k) * w, rng.uniform(0.05, 0.3, k) * h])
        out.add_instance(pose, confidence=rng.uniform(0.1, 0.4, k), instance_confidence=0.15)
    return out


def sample_predictions(table: Table, *, seed: int = 0) -> list[Keypoints2DInstances | None]:
    """Seeded synthetic predictions for every row of ``table`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sigmas = np.asarray(table.schema.sigmas, dtype=np.float64)
    out: list[Keypoints2DInstances | None] = []
    for row, record in enumerate(table.iter_rows()):
        gt = record["keypoints"]
        out.append(_perturb(gt, sigmas, table.schema.flip_indices, rng, row) if len(gt) else None)
    return out


def prepare_sample(store: StoreLike = None) -> tuple[Table, str | None]:
    """The sample table (imported once) and its run (made once); returns (table, run name)."""
    resolved = resolve_store(store)
    if SAMPLE_TABLE_NAME in resolved.table_names():
        table = Table.open(SAMPLE_TABLE_NAME, store=resolved)
    else:
        table = sample_table(store=resolved)
    try:
        from posetable.runs import Run
    except ImportError:  # runs not available in this build
        return table, None
    if (resolved.runs_dir / SAMPLE_RUN_NAME / "manifest.json").is_file():
        return table, SAMPLE_RUN_NAME
    Run.from_predictions(
        table, sample_predictions(table), name=SAMPLE_RUN_NAME, model_info=SAMPLE_MODEL_INFO
    )
    return table, SAMPLE_RUN_NAME
