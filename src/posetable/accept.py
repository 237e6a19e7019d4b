"""Accepting a run's predictions as ground truth, as a new table revision.

The rules (3LC's): predicted keypoints kept by the keypoint-confidence filter get
visibility 2, filtered-out ones visibility 1; accepting never produces visibility 0 (only a
manual edit does). ``replace`` swaps the chosen rows' ground truth for the kept predictions;
``add_unmatched`` adds only kept predictions that match no ground truth (OKS < 0.5 with
every instance): the missing annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable._pairs import AREA_FROM_BOX, FlatInstances, pair_oks, same_row_pairs
from posetable._rows import RowLayout
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
MATCH_OKS = 0.5


def _next_ids(table: Table) -> int:
    layout = RowLayout.from_arrow_schema(table.schema, table.dataset.schema)
    if "id" not in (layout.extras or {}):
        return 1
    column = table.dataset.to_table(columns=["keypoints"]).column("keypoints")
    ids = pc.list_flatten(
        pc.struct_field(pc.struct_field(column, "instances_additional_data"), "id")
    )
    top = pc.max(ids).as_py() if len(ids) else None
    return int(top or 0) + 1


def _as_ground_truth(
    kept: Keypoints2DInstances, mask: np.ndarray, extras: Mapping[str, pa.DataType], first_id: int
) -> Keypoints2DInstances:
    n, k = len(kept), kept.num_keypoints
    visibility = np.where(mask, 2, 1).astype(np.int32)
    boxes = kept.instance_bbs
    values: dict[str, np.ndarray] = {}
    for name, arrow_type in extras.items():
        if name == "area":
            values[name] = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * AREA_FROM_BOX
        elif name == "iscrowd":
            values[name] = np.zeros(n, np.int64)
        elif name == "num_keypoints":
            values[name] = np.full(n, k, np.int64)
        elif name == "id":
            values[name] = np.arange(first_id, first_id + n, dtype=np.int64)
        elif pa.types.is_large_string(arrow_type):  # a JSON-valued field (segmentation...)
            values[name] = np.asarray([None] * n, dtype=object)
        elif pa.types.is_string(arrow_type):
            values[name] = np.asarray([""] * n, dtype=object)
        elif pa.types.is_boolean(arrow_type):
            values[name] = np.zeros(n, bool)
        else:
            values[name] = np.zeros(n, np.int64 if pa.types.is_integer(arrow_type) else np.float64)
    return Keypoints2DInstances(
        kept.keypoints,
        keypoint_visibilities=visibility,
        instance_labels=kept.instance_labels,
        instance_bbs=boxes,
        instance_extras=values,
        image_width=kept.image_width,
        image_height=kept.image_height,
    )


def _concat(a: Keypoints2DInstances, b: Keypoints2DInstances) -> Keypoints2DInstances:
    out = a.copy()
    for i in range(len(b)):
        out._append(b.select([i]))
    return out


def _plan(
    table: Table,
    run: Run,
    rows: Iterable[int] | None,
    keypoint_confidence_threshold: float,
    instance_confidence_threshold: float | None,
    mode: str,
) -> tuple[dict[int, Keypoints2DInstances], pa.Table]:
    if mode not in MODES:
        raise RunError(f"mode must be one of {list(MODES)}, got {mode!r}")
    kp_thr = check_keypoint_threshold(keypoint_confidence_threshold)
    inst_thr = check_instance_threshold(instance_confidence_threshold)
    mapping = run.rows_in(table)
    n = len(table)
    if rows is None:
        chosen = sorted(mapping)
    else:
        chosen = []
        for r in rows:
            if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not -n <= r < n:
                raise RunError(f"row {r!r} does not exist: table {table.ref} has {n} rows")
            chosen.append(int(r) % n)
        chosen = sorted(set(chosen))
    with_predictions = [r for r in chosen if r in mapping]
    current = table.rows(with_predictions) if with_predictions else []
    layout = RowLayout.from_arrow_schema(table.schema, table.dataset.schema)
    extras = layout.extras or {}
    next_id = _next_ids(table)
    k = table.schema.num_keypoints
    changes: dict[int, Keypoints2DInstances] = {}
    plan: dict[str, list[Any]] = {
        name: []
        for name in (
            "row",
            "action",
            "gt_before",
            "predictions",
            "accepted",
            "gt_after",
            "keypoints_visible",
            "keypoints_occluded",
        )
    }
    # (row, kept predictions, kept-keypoint mask, ground truth, number of predictions)
    kept_rows: list[tuple[int, Keypoints2DInstances, np.ndarray, Keypoints2DInstances, int]] = []
    for row, record in zip(with_predictions, current, strict=True):
        predictions = run.predictions(mapping[row])
        if predictions is None:
            continue
        kept, mask = filter_predictions(
            predictions,
            keypoint_confidence_threshold=kp_thr,
            instance_confidence_threshold=inst_thr,
        )
        kept_rows.append((row, kept, mask, record["keypoints"], len(predictions)))
    if mode == "add_unmatched" and kept_rows:
        gt_flat = FlatInstances.from_rows([r[3] for r in kept_rows], k)
        dt_flat = FlatInstances.from_rows([r[1] for r in kept_rows], k)
        gi, di = same_row_pairs(gt_flat.row, dt_flat.row)
        oks, _ = pair_oks(gt_flat, dt_flat.keypoints, gi, di, table.schema.sigmas)
        best = np.zeros(len(dt_flat))
        np.maximum.at(best, di, oks)
        unmatched = best < MATCH_OKS
        selected = np.split(unmatched, np.cumsum([len(r[1]) for r in kept_rows])[:-1])
    for n_row, (row, kept, mask, gt, predicted) in enumerate(kept_rows):
        if mode == "add_unmatched":
            pick = selected[n_row]
            kept, mask = kept.select(pick), mask[pick]
        accepted = _as_ground_truth(kept, mask, extras, next_id)
        next_id += len(accepted)
        new = accepted if mode == "replace" else _concat(gt, accepted) if len(accepted) else gt
        changed = mode == "replace" or len(accepted) > 0
        if changed:
            changes[row] = new
        plan["row"].append(row)
        plan["action"].append(("replace" if mode == "replace" else "add") if changed else "none")
        plan["gt_before"].append(len(gt))
        plan["predictions"].append(predicted)
        plan["accepted"].append(len(accepted))
        plan["gt_after"].append(len(new))
        plan["keypoints_visible"].append(int(mask.sum()))
        plan["keypoints_occluded"].append(int((~mask).sum()))
    return changes, pa.table(
        {
            "row": pa.array(plan["row"], pa.int64()),
            "action": pa.array(plan["action"], pa.string()),
            **{name: pa.array(plan[name], pa.int64()) for name in list(plan)[2:]},
        }
    )


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

    Returns one row per chosen table row with predictions: ``row``, ``action``,
    ``gt_before``, ``predictions``, ``accepted``, ``gt_after``, ``keypoints_visible`` (get
    v=2) and ``keypoints_occluded`` (get v=1).
    """
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
    branch: bool = False,
) -> Table:
    """Accept a run's predictions as ground truth: a new revision (parent = ``table``).

    Args:
        table: the revision to edit (the run's revision or one descending from it).
        run: a finished run.
        rows: table rows to change (default: every row the run has predictions for).
        keypoint_confidence_threshold: keypoints with confidence >= it get v=2, others v=1.
        instance_confidence_threshold: predictions scoring under it are not accepted.
        mode: ``"replace"`` or ``"add_unmatched"``.
        branch: allow editing a revision that is not the latest (see ``Table.with_rows``).

    Example:
        ``fixed = pt.accept_predictions(table, run, rows=[3, 7],
        keypoint_confidence_threshold=0.4)``
    """
    changes, plan = _plan(
        table, run, rows, keypoint_confidence_threshold, instance_confidence_threshold, mode
    )
    if not changes:
        raise RunError(
            f"accepting run {run.name!r} into {table.ref} changes no row "
            f"(mode={mode!r}, rows={'all' if rows is None else list(rows)}); nothing was written"
        )
    arguments = {
        "run": run.name,
        "run_table": run.table_ref,
        "mode": mode,
        "keypoint_confidence_threshold": keypoint_confidence_threshold,
        "instance_confidence_threshold": instance_confidence_threshold,
        "accepted": int(pc.sum(plan.column("accepted")).as_py() or 0),
    }
    return table.with_rows(
        {row: {"keypoints": value} for row, value in changes.items()},
        operation="accept_predictions",
        arguments=arguments,
        branch=branch,
    )
