"""Finding label errors by comparing ground truth with a run's predictions.

Each suspect has a ``kind`` and a ``score`` in [0, 1] (higher = more suspicious):

- ``swap``: left/right swapped — the ground truth mirrored with the table's flip indices
  fits the prediction much better than as labeled (whole instance, or one flip pair).
- ``missing_annotation``: a confident prediction that matches no ground truth.
- ``spurious_annotation``: ground truth that no prediction comes near.
- ``misplaced_keypoint``: one keypoint far off while the rest of the instance agrees.
- ``suspicious_visibility``: a v=0 (unlabeled) point the model places confidently inside
  the instance's box.

Everything is computed over flat arrays of all (ground truth, prediction) pairs of a table:
both sides are decoded from their Arrow keypoints columns in one pass each (no object per
row or instance), and the OKS of every pair, as labeled and mirrored, is computed in chunks
of pairs, so memory stays bounded however large the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from posetable._label_flat import PairOks, best_per_group, flat_inputs, row_nanmedian
from posetable._pairs import same_row_pairs
from posetable._text_columns import fixed, join, names_of
from posetable._validate import as_index
from posetable.errors import RunError, UnsupportedError
from posetable.filtering import check_instance_threshold, check_keypoint_threshold
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
Describe = Callable[[np.ndarray], pa.Array]  # the details of some suspects of one kind


def find_label_errors(
    table: Table,
    run: Run,
    *,
    top: int | None = None,
    instance_confidence_threshold: float = 0.5,
    keypoint_confidence_threshold: float = 0.5,
    kinds: tuple[str, ...] = KINDS,
    engine: str = "local",
) -> pa.Table:
    """A ranked table of suspected label errors in ``table`` according to ``run``.

    Args:
        table: the run's table revision (or one descending from it).
        run: a finished run.
        top: keep only the ``top`` highest-scoring suspects.
        instance_confidence_threshold: predictions scoring under it are ignored.
        keypoint_confidence_threshold: predicted keypoints under it are not trusted.
        kinds: which kinds of suspects to look for.
        engine: ``"local"`` (this process) or ``"ray"``: Ray Data finds each fragment's
            suspects (the ``[ray]`` extra) and the driver ranks them: the same table.

    Returns:
        Columns ``row``, ``image``, ``instance`` (ground-truth index or -1), ``prediction``
        (prediction index or -1), ``kind``, ``keypoint`` (index or -1), ``score``,
        ``detail``; sorted by score, highest first.

    Raises:
        UnsupportedError: an unknown engine.
        RunError: a run that is not finished or not of this table, or a bad argument.

    Example:
        ``pt.find_label_errors(table, run, top=20).to_pandas()``
    """
    if engine == "ray":
        from posetable.diagnose._ray_label_errors import find_label_errors_ray

        return find_label_errors_ray(
            table,
            run,
            top=top,
            instance_confidence_threshold=instance_confidence_threshold,
            keypoint_confidence_threshold=keypoint_confidence_threshold,
            kinds=kinds,
        )
    if engine != "local":
        raise UnsupportedError(f"engine must be 'local' or 'ray', got {engine!r}")
    return label_errors_of_rows(
        table,
        run,
        None,
        top=top,
        instance_confidence_threshold=instance_confidence_threshold,
        keypoint_confidence_threshold=keypoint_confidence_threshold,
        kinds=kinds,
    )


def label_errors_of_rows(
    table: Table,
    run: Run,
    only: np.ndarray | None,
    *,
    predictions: pa.Table | None = None,
    top: int | None = None,
    instance_confidence_threshold: float = 0.5,
    keypoint_confidence_threshold: float = 0.5,
    kinds: tuple[str, ...] = KINDS,
) -> pa.Table:
    """:func:`find_label_errors` on the rows ``only`` of ``table`` (all when None): every
    suspect depends on its own row alone, so these are exactly the full table's suspects of
    those rows (the dashboard finds an edited revision's suspects this way). ``predictions``:
    the run's entries of those rows (``sample_id``, ``keypoints``) when at hand."""
    if top is not None and (as_index(top) is None or isinstance(top, float) or top < 0):
        raise RunError(f"top must be None or a whole number >= 0, got {top!r}"[:200])
    inst_thr = check_instance_threshold(instance_confidence_threshold)
    kp_thr = check_keypoint_threshold(keypoint_confidence_threshold) or 0.0
    schema = table.schema
    k = schema.num_keypoints
    rows, gt, dt = flat_inputs(table, run, only, predictions)
    # low-scoring predictions still show that something is there (no spurious label), but
    # only confident ones are evidence of a missing label or of a wrong keypoint
    confident_dt = dt.score >= inst_thr if inst_thr is not None else np.ones(len(dt), bool)
    sigmas = schema.sigmas
    flips = np.asarray(schema.flip_indices if schema.flip_indices is not None else range(k))
    gi, di = same_row_pairs(gt.row, dt.row)
    pairs = PairOks(gt, dt.keypoints, sigmas, flips)
    oks, oks_flip = pairs.oks(gi, di)
    quality = np.maximum(oks, oks_flip)
    confident_pairs = np.flatnonzero(confident_dt[di])
    # the best confident pair of each ground truth (-1 where none: no prediction may pass)
    best_confident, _ = best_per_group(gi[confident_pairs], quality[confident_pairs], len(gt))
    gt_best = np.full(len(gt), -1, np.int64)
    has_best = best_confident >= 0
    gt_best[has_best] = confident_pairs[best_confident[has_best]]
    gt_any, gt_any_q = best_per_group(gi, quality, len(gt))
    dt_best, dt_best_oks = best_per_group(di, quality, len(dt))
    labeled = gt.visibility > 0
    k1 = labeled.sum(axis=1)
    row_of = rows
    names = list(schema.keypoint_names)
    parts: list[_Part] = []

    def add(
        kind: str,
        *,
        row: np.ndarray,
        instance: np.ndarray,
        prediction: np.ndarray,
        keypoint: np.ndarray,
        score: np.ndarray,
        describe: Describe,
    ) -> None:
        parts.append(
            _Part(
                kind=kind,
                row=row_of[row] if len(row) else np.zeros(0, np.int64),
                instance=np.asarray(instance, np.int64),
                prediction=np.asarray(prediction, np.int64),
                keypoint=np.asarray(keypoint, np.int64),
                score=np.clip(np.asarray(score, np.float64), 0.0, 1.0),
                describe=describe,
            )
        )

    has_flips = schema.flip_indices is not None
    g = np.flatnonzero((gt_best >= 0) & ~gt.iscrowd & (k1 > 0))
    pair = gt_best[g]
    d = di[pair]
    direct, mirrored = oks[pair], oks_flip[pair]
    # the per-keypoint errors of the chosen pairs only (elementwise: the same values as
    # computing them for every pair)
    e, e_flip = pairs.errors(gi[pair], d)
    # per-keypoint distance in units of the object scale sqrt(area):
    # pycocotools' e = d^2 / (2 sigma)^2 / area / 2
    scale_terms = 2 * (2 * sigmas) ** 2
    distance = np.sqrt(e * scale_terms)
    distance_flip = np.sqrt(e_flip * scale_terms)
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

        def swap_details(
            sel: np.ndarray, at: np.ndarray = at, hit: np.ndarray = hit, first: np.ndarray = first
        ) -> pa.Array:
            details = []
            second = flips[first].tolist()
            pair_names = [f"{names[a]}/{names[b]}" for a, b in zip(first, second, strict=True)]
            for n_at in at[sel].tolist():
                pairs = [pair_names[q] for q in np.flatnonzero(hit[n_at]).tolist()]
                text = f"OKS {direct[n_at]:.2f} as labeled, {mirrored[n_at]:.2f} mirrored"
                details.append(text + (f"; swapped: {', '.join(pairs)}" if pairs else ""))
            return pa.array(details, pa.string())

        add(
            "swap",
            row=gt.row[g[at]],
            instance=gt.index[g[at]],
            prediction=dt.index[d[at]],
            keypoint=np.where(single, first[np.argmax(hit[at], axis=1)], -1),
            score=score[at],
            describe=swap_details,
        )
        swapped_points[:, first] = hit
        swapped_points[:, second] |= hit
        swapped_points[suspect & whole] = True
    matched = direct >= MATCH_OKS
    if "misplaced_keypoint" in kinds:
        candidates = usable & ~swapped_points
        enough = candidates.sum(axis=1) >= 3
        median = np.full(len(g), np.inf)
        if enough.all():
            median = row_nanmedian(np.where(candidates, distance, np.nan))
        elif enough.any():
            masked = np.where(candidates[enough], distance[enough], np.nan)
            median[enough] = row_nanmedian(masked)
        off = candidates & (distance > MISPLACED_SCALE) & (distance > 4 * median[:, None])
        off &= matched[:, None]
        at, kp = np.nonzero(off)
        far, med = distance[at, kp], median[at]
        add(
            "misplaced_keypoint",
            row=gt.row[g[at]],
            instance=gt.index[g[at]],
            prediction=dt.index[d[at]],
            keypoint=kp,
            score=1.0 - np.exp(-(far - med)),
            describe=_text(
                names,
                ("name", kp),
                " is ",
                ("fixed", far),
                " object scales from the prediction while the rest agree (median ",
                ("fixed", med),
                ")",
            ),
        )
    if "suspicious_visibility" in kinds:
        boxes = gt.boxes[g]
        px, py = pairs.dx[d], pairs.dy[d]
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
            describe=_text(
                names,
                ("name", kp),
                " is unlabeled (v=0) but predicted inside the box with confidence ",
                ("fixed", conf),
            ),
        )
    if "spurious_annotation" in kinds:
        # every row considered has an entry in the run (its predictions, possibly none)
        best = np.where(gt_any >= 0, gt_any_q, 0.0)
        lonely = ~gt.iscrowd & (k1 > 0) & (best < 0.1)
        at = np.flatnonzero(lonely)
        add(
            "spurious_annotation",
            row=gt.row[at],
            instance=gt.index[at],
            prediction=np.full(len(at), -1),
            keypoint=np.full(len(at), -1),
            score=1.0 - best[at],
            describe=_text(names, "no prediction comes near (best OKS ", ("fixed", best[at]), ")"),
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
            describe=_text(
                names,
                "confident prediction (score ",
                ("fixed", dt.score[at]),
                ") matches no ground truth (best OKS ",
                ("fixed", best[at]),
                ")",
            ),
        )
    return _ranked(parts, table, top)


def _text(names: list[str], *pieces: str | tuple[str, np.ndarray]) -> Describe:
    """Details made of literal text, keypoint names (``("name", index)``) and numbers with
    two decimals (``("fixed", values)``), one array entry per suspect, written in Arrow."""

    def describe(sel: np.ndarray) -> pa.Array:
        columns: list[pa.Array | str] = []
        for piece in pieces:
            if isinstance(piece, str):
                columns.append(piece)
            elif piece[0] == "name":
                columns.append(names_of(names, piece[1][sel]))
            else:
                columns.append(fixed(piece[1][sel]))
        return join(*columns)

    return describe


@dataclass(frozen=True)
class _Part:
    """The suspects of one kind: arrays of equal length, and their details on request."""

    kind: str
    row: np.ndarray
    instance: np.ndarray
    prediction: np.ndarray
    keypoint: np.ndarray
    score: np.ndarray
    describe: Describe  # positions within the part -> details


def _ranked(parts: list[_Part], table: Table, top: int | None) -> pa.Table:
    """The suspects sorted by score (highest first, then row), the first ``top``; details
    are written for the suspects kept only."""

    def joined(name: str, dtype: type) -> np.ndarray:
        arrays = [getattr(p, name) for p in parts]
        return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)

    rows, score = joined("row", np.int64), joined("score", np.float64)
    order = np.lexsort((rows, -score)) if len(rows) else np.zeros(0, np.int64)
    if top is not None:
        order = order[:top]
    sizes = np.asarray([len(p.row) for p in parts], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    part_of = np.searchsorted(starts[1:], order, side="right")
    # each part describes its kept suspects in output order; then one take interleaves them
    by_part = np.argsort(part_of, kind="stable")
    texts = [pa.array([], pa.string())]
    for i, part in enumerate(parts):
        chosen = by_part[
            np.searchsorted(part_of[by_part], i) : np.searchsorted(part_of[by_part], i, "right")
        ]
        if chosen.size:
            texts.append(part.describe(order[chosen] - starts[i]))
    place = np.empty(len(order), np.int64)
    place[by_part] = np.arange(len(order))
    detail = pa.concat_arrays(texts).take(pa.array(place, pa.int64()))
    kinds = pa.array([p.kind for p in parts], pa.string())
    kind = kinds.take(pa.array(part_of, pa.int64())) if len(order) else pa.array([], pa.string())
    picked = rows[order]
    if len(picked):
        unique, inverse = np.unique(picked, return_inverse=True)
        image = table.take(unique, columns=["image"]).column("image").combine_chunks()
        images = image.take(pa.array(inverse.ravel(), pa.int64()))
    else:
        images = pa.array([], pa.string())
    return pa.table(
        {
            "row": pa.array(picked, pa.int64()),
            "image": images,
            "instance": pa.array(joined("instance", np.int64)[order], pa.int64()),
            "prediction": pa.array(joined("prediction", np.int64)[order], pa.int64()),
            "kind": kind,
            "keypoint": pa.array(joined("keypoint", np.int64)[order], pa.int64()),
            "score": pa.array(score[order], pa.float64()),
            "detail": detail,
        }
    )
