"""Accepting a run's predictions as ground truth, as a new table revision.

The rules (3LC's): predicted keypoints kept by the keypoint-confidence filter get
visibility 2, filtered-out ones visibility 1; accepting never produces visibility 0 (only a
manual edit does). A confidence threshold keeps what is ``>=`` it (keypoints and instance
scores alike).

Each kept prediction is first matched to the row's ground truth, greedily in score order as
COCO matches (same class only): to an instance with labeled keypoints when their OKS is
>= 0.5, else to a box-only instance (a box, no labeled keypoint: COCO's ``num_keypoints``
0) when their boxes overlap with IoU >= 0.5. Then, per row:

- ``replace``: a matched instance is **replaced** by its prediction (keypoints, box and class
  from the prediction; the annotation's ``id`` and the fields a model does not predict, such
  as ``area``, ``iscrowd``, the segmentation and the file order, are kept; ``num_keypoints``
  is recounted); an unmatched prediction is **added** as a new instance with a new ``id``
  after the table's largest; a labeled instance no prediction matches is **removed**;
  box-only and crowd instances no prediction matches are **kept** as they are.
- ``add_unmatched``: only the predictions that match no instance are **added**; every
  instance is kept: the missing annotations.

Predictions inside a crowd region (half their box or more) are never accepted.
:func:`accept_predictions_plan` says all of this per row before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._pairs import AREA_FROM_BOX, FlatInstances, pair_oks, same_row_pairs
from posetable._rows import RowLayout
from posetable._validate import check_rows
from posetable.errors import RunError
from posetable.filtering import (
    check_instance_threshold,
    check_keypoint_threshold,
    filter_predictions,
)
from posetable.instances import Keypoints2DInstances
from posetable.runs import Run
from posetable.table import Table

MODES = ("replace", "add_unmatched")
MATCH_OKS = 0.5  # a prediction matches an instance with labeled keypoints at OKS >= this
MATCH_IOU = 0.5  # ... a box-only instance at box IoU >= this
IN_CROWD = 0.5  # a prediction with this much of its box inside a crowd region is not accepted
# values of a new instance's extras where the type's zero would be wrong: ``coco_order`` -1
# = "not from the file" (formats/coco.py: export writes it after the file's annotations)
NEW_INSTANCE_EXTRAS: dict[str, Any] = {"coco_order": -1}
PLAN_COLUMNS = (
    "row",
    "action",
    "gt_before",
    "predictions",
    "accepted",
    "added",
    "replaced",
    "kept",
    "removed",
    "gt_after",
    "keypoints_visible",
    "keypoints_occluded",
    "replaced_ids",
    "removed_ids",
)
#: The plan's count columns that add up over rows (what a preview totals).
PLAN_COUNTS = tuple(
    c
    for c in PLAN_COLUMNS
    if c not in ("row", "action", "gt_before", "gt_after") and not c.endswith("_ids")
)


def largest_annotation_id(table: Table) -> int:
    """The largest annotation id of a table (and of the COCO annotations kept aside), 0 if none.

    New instances (accepted predictions, instances drawn in the dashboard) take ids above it.
    """
    layout = RowLayout.from_arrow_schema(table.schema, table.dataset.schema)
    return _largest_id(table, layout.extras or {})


def _largest_id(table: Table, extras: dict[str, pa.DataType]) -> int:
    """The largest annotation id of the table (and of the COCO annotations kept aside)."""
    top = 0
    if "id" in extras:
        data = table.dataset.to_table(columns=[f"{KEYPOINTS_COLUMN}.instances_additional_data.id"])
        ids = pc.list_flatten(data.column(0))
        top = int(pc.max(ids).as_py() or 0) if len(ids) else 0
    others = (table.metadata.get("coco") or {}).get("other_annotations") or []
    for other in others:  # annotations of other categories keep their ids on export
        value = (other.get("annotation") or {}).get("id") if isinstance(other, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            top = max(top, value)
    return top


def _rank_in_row(row: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each prediction's place in its row by score, highest first (ties: input order)."""
    n = len(row)
    order = np.lexsort((np.arange(n), -score, row))
    sorted_rows = row[order]
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.searchsorted(sorted_rows, sorted_rows, "left")
    return rank


def _greedy(
    gi: np.ndarray,
    di: np.ndarray,
    similarity: np.ndarray,
    threshold: float,
    rank: np.ndarray,
    match: np.ndarray,
    taken: np.ndarray,
) -> None:
    """COCO's greedy matching over candidate pairs, in place: predictions in score order
    each take their most similar free instance. One vectorised step per rank (the
    predictions of one step are in different rows, so they never compete)."""
    ok = similarity >= threshold
    gi, di, similarity = gi[ok], di[ok], similarity[ok]
    if not len(gi):
        return
    step = rank[di]
    order = np.lexsort((gi, -similarity, di, step))
    gi, di, step = gi[order], di[order], step[order]
    bounds = np.flatnonzero(np.diff(step)) + 1
    for start, stop in zip([0, *bounds.tolist()], [*bounds.tolist(), len(step)], strict=True):
        g, d = gi[start:stop], di[start:stop]
        free = ~taken[g] & (match[d] < 0)
        g, d = g[free], d[free]
        first = np.ones(len(d), bool)
        first[1:] = d[1:] != d[:-1]
        match[d[first]] = g[first]
        taken[g[first]] = True


def _box_overlap(gt_boxes: np.ndarray, dt_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, intersection over the prediction's box area) of box pairs (xyxy)."""
    lo = np.maximum(gt_boxes[:, :2], dt_boxes[:, :2])
    hi = np.minimum(gt_boxes[:, 2:], dt_boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=1)
    gt_area = np.prod(gt_boxes[:, 2:] - gt_boxes[:, :2], axis=1)
    dt_area = np.prod(dt_boxes[:, 2:] - dt_boxes[:, :2], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(inter > 0, inter / (gt_area + dt_area - inter), 0.0)
        inside = np.where(inter > 0, inter / dt_area, 0.0)
    return iou, inside


def _match(
    gt: FlatInstances, dt: FlatInstances, sigmas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(flat ground-truth index each prediction matches or -1, predictions in a crowd)."""
    match = np.full(len(dt), -1, np.int64)
    in_crowd = np.zeros(len(dt), bool)
    gi, di = same_row_pairs(gt.row, dt.row)
    same_class = gt.labels[gi] == dt.labels[di]
    gi, di = gi[same_class], di[same_class]
    if not len(gi):
        return match, in_crowd
    rank = _rank_in_row(dt.row, dt.score)
    taken = np.zeros(len(gt), bool)
    labeled = (gt.visibility > 0).any(axis=1) & ~gt.iscrowd
    on = labeled[gi]
    oks, _ = pair_oks(gt, dt.keypoints, gi[on], di[on], sigmas)
    _greedy(gi[on], di[on], oks, MATCH_OKS, rank, match, taken)
    box_only = ~labeled & ~gt.iscrowd
    on = box_only[gi]
    iou, _ = _box_overlap(gt.boxes[gi[on]], dt.boxes[di[on]])
    _greedy(gi[on], di[on], iou, MATCH_IOU, rank, match, taken)
    on = gt.iscrowd[gi]
    _, inside = _box_overlap(gt.boxes[gi[on]], dt.boxes[di[on]])
    in_crowd[di[on][inside >= IN_CROWD]] = True
    return match, in_crowd & (match < 0)


def _new_extras(
    extras: dict[str, pa.DataType], boxes: np.ndarray, k: int, first_id: int
) -> dict[str, np.ndarray]:
    """The extras of new instances: a new id, area from the box, zeros for the rest."""
    n = len(boxes)
    values: dict[str, np.ndarray] = {}
    for name, arrow_type in extras.items():
        if name == "area":
            values[name] = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * AREA_FROM_BOX
        elif name == "num_keypoints":
            values[name] = np.full(n, k, np.int64)
        elif name == "id":
            values[name] = np.arange(first_id, first_id + n, dtype=np.int64)
        elif name in NEW_INSTANCE_EXTRAS:
            values[name] = np.full(n, NEW_INSTANCE_EXTRAS[name], np.int64)
        elif pa.types.is_large_string(arrow_type):  # a JSON-valued field (segmentation...)
            values[name] = np.asarray([None] * n, dtype=object)
        elif pa.types.is_string(arrow_type):
            values[name] = np.asarray([""] * n, dtype=object)
        elif pa.types.is_boolean(arrow_type):
            values[name] = np.zeros(n, bool)
        else:
            values[name] = np.zeros(n, np.int64 if pa.types.is_integer(arrow_type) else np.float64)
    return values


@dataclass
class _RowChange:
    """What accepting does to one row."""

    row: int
    predictions: int
    before: Keypoints2DInstances
    after: Keypoints2DInstances
    action: str
    accepted: int = 0
    added: int = 0
    replaced_ids: list[int] = field(default_factory=list)
    replaced: int = 0
    removed_ids: list[int] = field(default_factory=list)
    removed: int = 0
    visible: int = 0
    occluded: int = 0

    def record(self) -> dict[str, Any]:
        kept = len(self.before) - self.replaced - self.removed
        return {
            "row": self.row,
            "action": self.action,
            "gt_before": len(self.before),
            "predictions": self.predictions,
            "accepted": self.accepted,
            "added": self.added,
            "replaced": self.replaced,
            "kept": kept,
            "removed": self.removed,
            "gt_after": len(self.after),
            "keypoints_visible": self.visible,
            "keypoints_occluded": self.occluded,
            "replaced_ids": self.replaced_ids,
            "removed_ids": self.removed_ids,
        }


def _row_change(
    row: int,
    gt: Keypoints2DInstances,
    kept: Keypoints2DInstances,
    mask: np.ndarray,
    partner: np.ndarray,
    skip: np.ndarray,
    *,
    predictions: int,
    mode: str,
    extras: dict[str, pa.DataType],
    k: int,
    next_id: int,
) -> _RowChange:
    """One row's new instances: ``partner[j]`` is the ground truth prediction j matched
    (its index in the row, or -1); ``skip[j]``: prediction j is in a crowd region."""
    visibility = np.where(mask, 2, 1).astype(np.int32)
    n_gt = len(gt)
    gt_vis = (
        gt.keypoint_visibilities
        if gt.keypoint_visibilities is not None
        else np.full((n_gt, k), 2, np.int32)
    )
    crowd = (
        np.asarray(gt.instance_extras["iscrowd"]).astype(bool)
        if "iscrowd" in gt.instance_extras
        else np.zeros(n_gt, bool)
    )
    removable = (gt_vis > 0).any(axis=1) & ~crowd
    replace = mode == "replace"
    by_gt = np.full(n_gt, -1, np.int64)
    if replace:
        matched = np.flatnonzero(partner >= 0)
        by_gt[partner[matched]] = matched
    removed = np.flatnonzero((by_gt < 0) & removable) if replace else np.zeros(0, np.int64)
    stays = np.setdiff1d(np.arange(n_gt), removed)
    new = np.flatnonzero((partner < 0) & ~skip)
    after = gt.select(stays)
    if after.keypoint_visibilities is None and len(after):
        after.keypoint_visibilities = np.full((len(after), k), 2, np.int32)
    ids = gt.instance_extras.get("id")
    change = _RowChange(row, predictions, gt, after, "none")
    for position, i in enumerate(stays.tolist()):
        j = int(by_gt[i])
        if j < 0:
            continue
        after.keypoints[position] = kept.keypoints[j]
        after.keypoint_visibilities[position] = visibility[j]  # type: ignore[index]
        after.instance_bbs[position] = kept.instance_bbs[j]
        after.instance_labels[position] = kept.instance_labels[j]
        if "num_keypoints" in after.instance_extras:
            after.instance_extras["num_keypoints"][position] = k
        change.replaced += 1
        change.visible += int(mask[j].sum())
        change.occluded += int((~mask[j]).sum())
        if ids is not None:
            change.replaced_ids.append(int(ids[i]))
    if len(new):
        boxes = kept.instance_bbs[new]
        added = Keypoints2DInstances(
            kept.keypoints[new],
            keypoint_visibilities=visibility[new],
            instance_labels=kept.instance_labels[new],
            instance_bbs=boxes,
            instance_extras=_new_extras(extras, boxes, k, next_id),
            image_width=gt.image_width,
            image_height=gt.image_height,
            num_keypoints=k,
        )
        after._append(added)
        change.added = len(new)
        change.visible += int(mask[new].sum())
        change.occluded += int((~mask[new]).sum())
    change.removed = len(removed)
    if ids is not None:
        change.removed_ids = [int(ids[i]) for i in removed]
    change.accepted = change.added + change.replaced
    if change.added or change.replaced or change.removed:
        change.action = "replace" if replace else "add"
    return change


def _chosen_rows(table: Table, rows: Iterable[int] | None, mapping: dict[int, int]) -> list[int]:
    n = len(table)
    if rows is None:
        return sorted(mapping)
    chosen = []
    for r in rows:
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not -n <= r < n:
            raise RunError(f"row {r!r} does not exist: table {table.ref} has {n} rows")
        chosen.append(int(r) % n)
    return sorted(set(chosen))


def _plan(
    table: Table,
    run: Run,
    rows: Iterable[int] | None,
    keypoint_confidence_threshold: float,
    instance_confidence_threshold: float | None,
    mode: str,
) -> tuple[list[_RowChange], pa.Table]:
    if mode not in MODES:
        raise RunError(f"mode must be one of {list(MODES)}, got {mode!r}")
    kp_thr = check_keypoint_threshold(keypoint_confidence_threshold)
    inst_thr = check_instance_threshold(instance_confidence_threshold)
    mapping = run.rows_in(table)
    with_predictions = [r for r in _chosen_rows(table, rows, mapping) if r in mapping]
    current = table.rows(with_predictions) if with_predictions else []
    extras = RowLayout.from_arrow_schema(table.schema, table.dataset.schema).extras or {}
    k = table.schema.num_keypoints
    # (row, ground truth, kept predictions, kept-keypoint mask, number of predictions)
    todo: list[tuple[int, Keypoints2DInstances, Keypoints2DInstances, np.ndarray, int]] = []
    for row, record in zip(with_predictions, current, strict=True):
        predictions = run.predictions(mapping[row])
        if predictions is None:
            continue
        kept, mask = filter_predictions(
            predictions,
            keypoint_confidence_threshold=kp_thr,
            instance_confidence_threshold=inst_thr,
        )
        todo.append((row, record[KEYPOINTS_COLUMN], kept, mask, len(predictions)))
    gt = FlatInstances.from_rows([t[1] for t in todo], k)
    dt = FlatInstances.from_rows([t[2] for t in todo], k)
    match, in_crowd = _match(gt, dt, np.asarray(table.schema.sigmas, np.float64))
    dt_start = np.searchsorted(dt.row, np.arange(len(todo)), "left")
    next_id = _largest_id(table, extras) + 1
    changes: list[_RowChange] = []
    for n_row, (row, truth, kept, mask, predicted) in enumerate(todo):
        flat = slice(int(dt_start[n_row]), int(dt_start[n_row]) + len(kept))
        partner = np.where(match[flat] >= 0, gt.index[np.maximum(match[flat], 0)], -1)
        change = _row_change(
            row,
            truth,
            kept,
            mask,
            partner,
            in_crowd[flat],
            predictions=predicted,
            mode=mode,
            extras=extras,
            k=k,
            next_id=next_id,
        )
        next_id += change.added
        changes.append(change)
    records = [c.record() for c in changes]
    plan = pa.table(
        {
            "row": pa.array([r["row"] for r in records], pa.int64()),
            "action": pa.array([r["action"] for r in records], pa.string()),
            **{
                name: pa.array([r[name] for r in records], pa.int64())
                for name in PLAN_COLUMNS[2:-2]
            },
            **{
                name: pa.array([r[name] for r in records], pa.list_(pa.int64()))
                for name in PLAN_COLUMNS[-2:]
            },
        }
    )
    return changes, plan


def accept_predictions_plan(
    table: Table,
    run: Run,
    *,
    rows: Iterable[int] | None = None,
    keypoint_confidence_threshold: float = 0.5,
    instance_confidence_threshold: float | None = 0.0,
    mode: str = "replace",
) -> pa.Table:
    """What :func:`accept_predictions` would change, per row, without writing anything.

    Returns one row per chosen table row with predictions: ``row``, ``action`` (``replace``,
    ``add`` or ``none``), ``gt_before``, ``predictions`` (all of the run's for the row),
    ``accepted`` (written into the row: ``added`` as new instances + ``replaced`` instances,
    which keep their ids), ``kept`` (instances left as they are), ``removed``, ``gt_after``,
    ``keypoints_visible`` (accepted keypoints set to v=2), ``keypoints_occluded`` (set to
    v=1), and the annotation ids of the ``replaced_ids`` and ``removed_ids`` instances
    (empty lists when the table has no ``id`` field).

    Example:
        >>> import posetable as pt
        >>> from posetable.sample import sample_table
        >>> from posetable.dashboard._sample_run import sample_predictions
        >>> import tempfile
        >>> table = sample_table(store=tempfile.mkdtemp())
        >>> run = pt.Run.from_predictions(table, sample_predictions(table), name="demo")
        >>> plan = pt.accept_predictions_plan(table, run, rows=[1])
        >>> plan.select(["row", "replaced", "kept", "removed"]).to_pylist()
        [{'row': 1, 'replaced': 1, 'kept': 1, 'removed': 1}]
    """
    rows = check_rows(rows, len(table), argument="rows", where=f"table {table.ref}")
    _, plan = _plan(
        table, run, rows, keypoint_confidence_threshold, instance_confidence_threshold, mode
    )
    return plan


def accept_predictions(
    table: Table,
    run: Run,
    *,
    rows: Iterable[int] | None = None,
    keypoint_confidence_threshold: float = 0.5,
    instance_confidence_threshold: float | None = 0.0,
    mode: str = "replace",
) -> Table:
    """Accept a run's predictions as ground truth: a new revision (parent = ``table``).

    How predictions and instances are matched, and what is replaced, added, kept or removed:
    see :mod:`posetable.accept`; :func:`accept_predictions_plan` shows it without writing.

    Args:
        table: the revision to edit (the run's revision or one descending from it).
        run: a finished run.
        rows: table rows to change (default: every row the run has predictions for).
        keypoint_confidence_threshold: keypoints with confidence >= it get v=2, others v=1.
        instance_confidence_threshold: predictions scoring under it are not accepted.
        mode: ``"replace"`` or ``"add_unmatched"``.

    Example:
        ``fixed = pt.accept_predictions(table, run, rows=[3, 7],
        keypoint_confidence_threshold=0.4, instance_confidence_threshold=0.3)``
    """
    rows = check_rows(rows, len(table), argument="rows", where=f"table {table.ref}")
    changes, plan = _plan(
        table, run, rows, keypoint_confidence_threshold, instance_confidence_threshold, mode
    )
    changed = {c.row: c.after for c in changes if c.action != "none"}
    if not changed:
        raise RunError(
            f"accepting run {run.name!r} into {table.ref} changes no row "
            f"(mode={mode!r}, rows={'all' if rows is None else rows}); nothing was written"
        )

    def total(name: str) -> int:
        return int(pc.sum(plan.column(name)).as_py() or 0)

    arguments = {
        "run": run.name,
        "run_table": run.table_ref,
        "mode": mode,
        "keypoint_confidence_threshold": keypoint_confidence_threshold,
        "instance_confidence_threshold": instance_confidence_threshold,
        "accepted": total("accepted"),
        "added": total("added"),
        "replaced": total("replaced"),
        "removed": total("removed"),
    }
    return table.with_rows(
        {row: {KEYPOINTS_COLUMN: value} for row, value in changed.items()},
        operation="accept_predictions",
        arguments=arguments,
    )
