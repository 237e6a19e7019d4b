"""Finding label errors by comparing ground truth with a run's predictions.

Each suspect has a ``kind`` and a ``score`` in [0, 1] (higher = more suspicious):

- ``swap``: left/right swapped — the ground truth mirrored with the table's flip indices
  fits the prediction much better than as labeled (whole instance, or one flip pair).
- ``missing_annotation``: a confident prediction that matches no ground truth.
- ``spurious_annotation``: ground truth that no prediction comes near.
- ``misplaced_keypoint``: one keypoint far off while the rest of the instance agrees.
- ``suspicious_visibility``: a v=0 (unlabeled) point the model places confidently inside
  the instance's box.

Everything is computed over flat arrays of all (ground truth, prediction) pairs of a table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from posetable._pairs import FlatInstances, pair_oks, same_row_pairs
from posetable.filtering import check_instance_threshold, check_keypoint_threshold
from posetable.instances import Keypoints2DInstances
from posetable.runs import Run
from posetable.table import Table

KINDS = (
    "swap",
    "missing_annotation",
    "spurious_annotation",
    "misplaced_keypoint",
    "suspicious_visibility",
)
MATCH_OKS = 0.5


def _best_per_group(
    group: np.ndarray, value: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each group id in [0, size): the index of its max value (-1) and that value (0)."""
    best_index = np.full(size, -1, np.int64)
    best_value = np.zeros(size)
    if len(group) == 0:
        return best_index, best_value
    order = np.lexsort((-value, group))
    first = np.ones(len(order), bool)
    first[1:] = group[order][1:] != group[order][:-1]
    winners = order[first]
    best_index[group[winners]] = winners
    best_value[group[winners]] = value[winners]
    return best_index, best_value


def find_label_errors(
    table: Table,
    run: Run,
    *,
    top: int | None = None,
    instance_confidence_threshold: float = 0.5,
    keypoint_confidence_threshold: float = 0.5,
    kinds: tuple[str, ...] = KINDS,
) -> pa.Table:
    """A ranked table of suspected label errors in ``table`` according to ``run``.

    Args:
        table: the run's table revision (or one descending from it).
        run: a finished run.
        top: keep only the ``top`` highest-scoring suspects.
        instance_confidence_threshold: predictions scoring under it are ignored.
        keypoint_confidence_threshold: predicted keypoints under it are not trusted.
        kinds: which kinds of suspects to look for.

    Returns:
        Columns ``row``, ``image``, ``instance`` (ground-truth index or -1), ``prediction``
        (prediction index or -1), ``kind``, ``keypoint`` (index or -1), ``score``,
        ``detail``; sorted by score, highest first.

    Example:
        ``pt.find_label_errors(table, run, top=20).to_pandas()``
    """
    inst_thr = check_instance_threshold(instance_confidence_threshold)
    kp_thr = check_keypoint_threshold(keypoint_confidence_threshold) or 0.0
    schema = table.schema
    k = schema.num_keypoints
    mapping = run.rows_in(table)
    rows = sorted(mapping)
    records = table.rows(rows) if rows else []
    gt_items: list[Keypoints2DInstances | None] = [r["keypoints"] for r in records]
    dt_items: list[Keypoints2DInstances | None] = []
    for row in rows:
        pred = run.predictions(mapping[row])
        if pred is not None and inst_thr is not None and pred.instance_confidences is not None:
            pred = pred.select(pred.instance_confidences >= inst_thr)
        dt_items.append(pred)
    gt = FlatInstances.from_rows(gt_items, k)
    dt = FlatInstances.from_rows(dt_items, k)
    sigmas = schema.sigmas
    flips = np.asarray(schema.flip_indices if schema.flip_indices is not None else range(k))
    gi, di = same_row_pairs(gt.row, dt.row)
    oks, e = pair_oks(gt, dt.keypoints, gi, di, sigmas)
    oks_flip, e_flip = pair_oks(
        gt,
        dt.keypoints,
        gi,
        di,
        sigmas,
        gt_keypoints=gt.keypoints[:, flips],
        gt_visibility=gt.visibility[:, flips],
    )
    quality = np.maximum(oks, oks_flip)
    gt_best, gt_best_q = _best_per_group(gi, quality, len(gt))
    dt_best, dt_best_oks = _best_per_group(di, oks, len(dt))
    labeled = gt.visibility > 0
    k1 = labeled.sum(axis=1)
    out: dict[str, list[Any]] = {
        c: [] for c in ("row", "instance", "prediction", "kind", "keypoint", "score", "detail")
    }

    def add(
        row: int,
        instance: int,
        prediction: int,
        kind: str,
        keypoint: int,
        score: float,
        detail: str,
    ) -> None:
        out["row"].append(rows[row])
        out["instance"].append(instance)
        out["prediction"].append(prediction)
        out["kind"].append(kind)
        out["keypoint"].append(keypoint)
        out["score"].append(float(np.clip(score, 0.0, 1.0)))
        out["detail"].append(detail)

    rows_with_predictions = np.zeros(len(rows), bool)
    rows_with_predictions[[r for r, item in enumerate(dt_items) if item is not None]] = True
    names = schema.keypoint_names
    for g in np.flatnonzero(gt_best >= 0):
        pair = gt_best[g]
        d = di[pair]
        if gt.iscrowd[g] or k1[g] == 0:
            continue
        direct, mirrored = oks[pair], oks_flip[pair]
        if (
            "swap" in kinds
            and schema.flip_indices is not None
            and mirrored - direct > 0.2
            and mirrored >= MATCH_OKS
        ):
            add(
                gt.row[g],
                gt.index[g],
                dt.index[d],
                "swap",
                -1,
                mirrored - direct,
                f"OKS {direct:.2f} as labeled, {mirrored:.2f} with left/right mirrored",
            )
            continue
        sim = np.exp(-e[pair])
        sim_flip = np.exp(-e_flip[pair])
        confident = dt.confidence[d] >= kp_thr
        flagged: set[int] = set()
        if "swap" in kinds and schema.flip_indices is not None:
            for i in range(k):
                j = int(flips[i])
                if j <= i or not (labeled[g, i] and labeled[g, j]):
                    continue
                as_labeled = (sim[i] + sim[j]) / 2
                swapped = (sim_flip[i] + sim_flip[j]) / 2
                if swapped - as_labeled > 0.5 and confident[i] and confident[j]:
                    add(
                        gt.row[g],
                        gt.index[g],
                        dt.index[d],
                        "swap",
                        i,
                        swapped - as_labeled,
                        f"{names[i]} and {names[j]} look swapped",
                    )
                    flagged.update((i, j))
        if direct < MATCH_OKS:
            continue
        if "misplaced_keypoint" in kinds:
            usable = labeled[g] & confident
            for i in np.flatnonzero(usable):
                if i in flagged:
                    continue
                others = sim[usable & (np.arange(k) != i)]
                if len(others) >= 2 and sim[i] < 0.1 and np.median(others) >= 0.6:
                    add(
                        gt.row[g],
                        gt.index[g],
                        dt.index[d],
                        "misplaced_keypoint",
                        int(i),
                        float(np.median(others) - sim[i]),
                        f"{names[i]} is far from the prediction while the rest agree",
                    )
        if "suspicious_visibility" in kinds:
            x0, y0, x1, y1 = gt.boxes[g]
            px, py = dt.keypoints[d, :, 0], dt.keypoints[d, :, 1]
            inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
            for i in np.flatnonzero((gt.visibility[g] == 0) & inside & confident):
                add(
                    gt.row[g],
                    gt.index[g],
                    dt.index[d],
                    "suspicious_visibility",
                    int(i),
                    float(dt.confidence[d, i]),
                    f"{names[i]} is unlabeled (v=0) but predicted inside the box with confidence "
                    f"{dt.confidence[d, i]:.2f}",
                )
    if "spurious_annotation" in kinds:
        for g in range(len(gt)):
            if gt.iscrowd[g] or k1[g] == 0 or not rows_with_predictions[gt.row[g]]:
                continue
            best = gt_best_q[g] if gt_best[g] >= 0 else 0.0
            if best < 0.1:
                add(
                    gt.row[g],
                    gt.index[g],
                    -1,
                    "spurious_annotation",
                    -1,
                    1.0 - best,
                    f"no prediction comes near (best OKS {best:.2f})",
                )
    if "missing_annotation" in kinds:
        for d in range(len(dt)):
            best = dt_best_oks[d] if dt_best[d] >= 0 else 0.0
            if best < MATCH_OKS:
                score = float(dt.score[d]) * (1.0 - best)
                add(
                    dt.row[d],
                    -1,
                    dt.index[d],
                    "missing_annotation",
                    -1,
                    min(score, 1.0),
                    f"confident prediction (score {dt.score[d]:.2f}) matches no ground truth "
                    f"(best OKS {best:.2f})",
                )
    result = pa.table(
        {
            "row": pa.array(out["row"], pa.int64()),
            "instance": pa.array(out["instance"], pa.int64()),
            "prediction": pa.array(out["prediction"], pa.int64()),
            "kind": pa.array(out["kind"], pa.string()),
            "keypoint": pa.array(out["keypoint"], pa.int64()),
            "score": pa.array(out["score"], pa.float64()),
            "detail": pa.array(out["detail"], pa.string()),
        }
    )
    images = (
        table.take(result.column("row").to_numpy(), columns=["image"]).column("image")
        if len(result)
        else pa.array([], pa.string())
    )
    result = result.add_column(1, "image", images)
    order = (
        np.lexsort((result.column("row").to_numpy(), -result.column("score").to_numpy()))
        if len(result)
        else np.zeros(0, np.int64)
    )
    result = result.take(pa.array(order, pa.int64()))
    return result.slice(0, top) if top is not None else result
