"""The label-error finder as it was before it read flat Arrow columns (test-only reference).

A frozen copy of ``posetable.label_errors.find_label_errors`` over the per-row helpers of
``posetable._pairs`` (``FlatInstances.from_rows`` over one ``Keypoints2DInstances`` per
row, ``pair_oks`` over every pair at once; imported, they are unchanged and still serve
accepting predictions), kept so that a test can check the vectorised finder gives
identical tables on real data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from posetable._pairs import FlatInstances, pair_oks, same_row_pairs
from posetable._validate import as_index
from posetable.errors import RunError
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
SWAP_GAIN = 0.2  # object scales a mirrored pair must fit better by to count as a swap
MISPLACED_SCALE = 0.2  # a keypoint this many object scales off counts as misplaced


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


def reference_find_label_errors(
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
    if top is not None and (as_index(top) is None or isinstance(top, float) or top < 0):
        raise RunError(f"top must be None or a whole number >= 0, got {top!r}"[:200])
    inst_thr = check_instance_threshold(instance_confidence_threshold)
    kp_thr = check_keypoint_threshold(keypoint_confidence_threshold) or 0.0
    schema = table.schema
    k = schema.num_keypoints
    mapping = run.rows_in(table)
    rows = sorted(mapping)
    records = table.rows(rows) if rows else []
    gt_items: list[Keypoints2DInstances | None] = [r["keypoints"] for r in records]
    every_prediction = run.all_predictions()
    dt_items = [every_prediction[mapping[row]] for row in rows]
    gt = FlatInstances.from_rows(gt_items, k)
    dt = FlatInstances.from_rows(dt_items, k)
    # low-scoring predictions still show that something is there (no spurious label), but
    # only confident ones are evidence of a missing label or of a wrong keypoint
    confident_dt = dt.score >= inst_thr if inst_thr is not None else np.ones(len(dt), bool)
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
    confident_pairs = np.flatnonzero(confident_dt[di])
    # the best confident pair of each ground truth (-1 where none: no prediction may pass)
    best_confident, _ = _best_per_group(gi[confident_pairs], quality[confident_pairs], len(gt))
    gt_best = np.full(len(gt), -1, np.int64)
    has_best = best_confident >= 0
    gt_best[has_best] = confident_pairs[best_confident[has_best]]
    gt_any, gt_any_q = _best_per_group(gi, quality, len(gt))
    dt_best, dt_best_oks = _best_per_group(di, quality, len(dt))
    labeled = gt.visibility > 0
    k1 = labeled.sum(axis=1)
    row_of = np.asarray(rows, np.int64)
    names = np.asarray(schema.keypoint_names, dtype=object)
    parts: list[dict[str, np.ndarray]] = []

    def add(
        kind: str,
        *,
        row: np.ndarray,
        instance: np.ndarray,
        prediction: np.ndarray,
        keypoint: np.ndarray,
        score: np.ndarray,
        details: list[str],
    ) -> None:
        parts.append(
            {
                "row": row_of[row] if len(row) else np.zeros(0, np.int64),
                "instance": np.asarray(instance, np.int64),
                "prediction": np.asarray(prediction, np.int64),
                "kind": np.full(len(row), kind, dtype=object),
                "keypoint": np.asarray(keypoint, np.int64),
                "score": np.clip(np.asarray(score, np.float64), 0.0, 1.0),
                "detail": np.asarray(details, dtype=object),
            }
        )

    has_flips = schema.flip_indices is not None
    g = np.flatnonzero((gt_best >= 0) & ~gt.iscrowd & (k1 > 0))
    pair = gt_best[g]
    d = di[pair]
    direct, mirrored = oks[pair], oks_flip[pair]
    # per-keypoint distance in units of the object scale sqrt(area):
    # pycocotools' e = d^2 / (2 sigma)^2 / area / 2
    scale_terms = 2 * (2 * sigmas) ** 2
    distance = np.sqrt(e[pair] * scale_terms)
    distance_flip = np.sqrt(e_flip[pair] * scale_terms)
    confident = dt.confidence[d] >= kp_thr
    usable = labeled[g] & confident
    swapped_points = np.zeros_like(usable)
    if "swap" in kinds and has_flips:
        # each left/right pair: as labeled (i->i, j->j) against mirrored (i->j, j->i)
        first = np.flatnonzero(flips > np.arange(k))
        second = flips[first]
        gain = (distance[:, first] + distance[:, second]) - (
            distance_flip[:, first] + distance_flip[:, second]
        )
        hit = (gain > SWAP_GAIN) & (
            distance_flip[:, first] + distance_flip[:, second]
            < 0.5 * (distance[:, first] + distance[:, second])
        )
        hit &= usable[:, first] & usable[:, second]
        whole = (mirrored - direct > 0.2) & (mirrored >= MATCH_OKS)
        suspect = whole | hit.any(axis=1)
        total_gain = np.where(hit, gain, 0.0).sum(axis=1)
        score = np.maximum(np.where(whole, mirrored - direct, 0.0), 1.0 - np.exp(-total_gain))
        at = np.flatnonzero(suspect)
        single = hit[at].sum(axis=1) == 1
        details = []
        for n_at, row_hits in zip(at, hit[at], strict=True):
            pairs = [f"{names[first[q]]}/{names[second[q]]}" for q in np.flatnonzero(row_hits)]
            text = f"OKS {direct[n_at]:.2f} as labeled, {mirrored[n_at]:.2f} mirrored"
            details.append(text + (f"; swapped: {', '.join(pairs)}" if pairs else ""))
        add(
            "swap",
            row=gt.row[g[at]],
            instance=gt.index[g[at]],
            prediction=dt.index[d[at]],
            keypoint=np.where(single, first[np.argmax(hit[at], axis=1)], -1),
            score=score[at],
            details=details,
        )
        swapped_points[:, first] = hit
        swapped_points[:, second] |= hit
        swapped_points[suspect & whole] = True
    matched = direct >= MATCH_OKS
    if "misplaced_keypoint" in kinds:
        candidates = usable & ~swapped_points
        enough = candidates.sum(axis=1) >= 3
        median = np.full(len(g), np.inf)
        if enough.any():
            masked = np.where(candidates[enough], distance[enough], np.nan)
            median[enough] = np.nanmedian(masked, axis=1)
        off = candidates & (distance > MISPLACED_SCALE) & (distance > 4 * median[:, None])
        off &= matched[:, None]
        at, kp = np.nonzero(off)
        add(
            "misplaced_keypoint",
            row=gt.row[g[at]],
            instance=gt.index[g[at]],
            prediction=dt.index[d[at]],
            keypoint=kp,
            score=1.0 - np.exp(-(distance[at, kp] - median[at])),
            details=[
                f"{names[i]} is {dist:.2f} object scales from the prediction while the rest "
                f"agree (median {med:.2f})"
                for i, dist, med in zip(kp, distance[at, kp], median[at], strict=True)
            ],
        )
    if "suspicious_visibility" in kinds:
        boxes = gt.boxes[g]
        px, py = dt.keypoints[d, :, 0], dt.keypoints[d, :, 1]
        inside = (px >= boxes[:, :1]) & (px <= boxes[:, 2:3])
        inside &= (py >= boxes[:, 1:2]) & (py <= boxes[:, 3:4])
        odd = (gt.visibility[g] == 0) & inside & confident & matched[:, None]
        at, kp = np.nonzero(odd)
        conf = dt.confidence[d[at], kp]
        add(
            "suspicious_visibility",
            row=gt.row[g[at]],
            instance=gt.index[g[at]],
            prediction=dt.index[d[at]],
            keypoint=kp,
            score=conf,
            details=[
                f"{names[i]} is unlabeled (v=0) but predicted inside the box "
                f"with confidence {c:.2f}"
                for i, c in zip(kp, conf, strict=True)
            ],
        )
    if "spurious_annotation" in kinds:
        predicted_rows = np.zeros(len(rows), bool)
        predicted_rows[[r for r, item in enumerate(dt_items) if item is not None]] = True
        best = np.where(gt_any >= 0, gt_any_q, 0.0)
        lonely = ~gt.iscrowd & (k1 > 0) & predicted_rows[gt.row] & (best < 0.1)
        at = np.flatnonzero(lonely)
        add(
            "spurious_annotation",
            row=gt.row[at],
            instance=gt.index[at],
            prediction=np.full(len(at), -1),
            keypoint=np.full(len(at), -1),
            score=1.0 - best[at],
            details=[f"no prediction comes near (best OKS {b:.2f})" for b in best[at]],
        )
    if "missing_annotation" in kinds:
        best = np.where(dt_best >= 0, dt_best_oks, 0.0)
        at = np.flatnonzero((best < MATCH_OKS) & confident_dt)
        add(
            "missing_annotation",
            row=dt.row[at],
            instance=np.full(len(at), -1),
            prediction=dt.index[at],
            keypoint=np.full(len(at), -1),
            score=np.minimum(dt.score[at] * (1.0 - best[at]), 1.0),
            details=[
                f"confident prediction (score {s:.2f}) matches no ground truth (best OKS {b:.2f})"
                for s, b in zip(dt.score[at], best[at], strict=True)
            ],
        )
    return _ranked(parts, table, top)


def _ranked(parts: list[dict[str, np.ndarray]], table: Table, top: int | None) -> pa.Table:
    columns = ("row", "instance", "prediction", "kind", "keypoint", "score", "detail")
    joined = {c: np.concatenate([p[c] for p in parts]) if parts else np.zeros(0) for c in columns}
    result = pa.table(
        {
            "row": pa.array(joined["row"].astype(np.int64)),
            "instance": pa.array(joined["instance"].astype(np.int64)),
            "prediction": pa.array(joined["prediction"].astype(np.int64)),
            "kind": pa.array(joined["kind"].tolist(), pa.string()),
            "keypoint": pa.array(joined["keypoint"].astype(np.int64)),
            "score": pa.array(joined["score"].astype(np.float64)),
            "detail": pa.array(joined["detail"].tolist(), pa.string()),
        }
    )
    rows = result.column("row").to_numpy()
    images = (
        table.take(rows, columns=["image"]).column("image")
        if len(rows)
        else pa.array([], pa.string())
    )
    result = result.add_column(1, "image", images)
    order = (
        np.lexsort((rows, -result.column("score").to_numpy()))
        if len(rows)
        else np.zeros(0, np.int64)
    )
    result = result.take(pa.array(order, pa.int64()))
    return result.slice(0, top) if top is not None else result
