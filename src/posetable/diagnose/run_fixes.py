"""One-click fixes that take a run's predictions as evidence (the dashboard's suspect fixes).

Where a run says what is wrong with a label (:func:`~posetable.find_label_errors`), the fix is
often one step, and each is saved as one revision (operation ``fix_from_run``) whose
arguments name the action, row, instance, prediction, keypoint, run and a ``note``:

- ``snap_keypoint``: move one keypoint onto the prediction's. A labeled point keeps its
  visibility; an unlabeled one (v=0) gets the accept rule's: v=2 when the prediction's
  confidence is >= ``keypoint_confidence_threshold``, else v=1.
- ``accept_instance``: replace the instance by its prediction, by the accept rule
  (:mod:`posetable.accept`): keypoints, box and class from the prediction, kept keypoints
  (confidence >= the threshold) v=2, the others v=1, never 0; the annotation's ``id`` and
  the fields a model does not predict are kept, ``num_keypoints`` recounted.
- ``add_prediction``: add the prediction as a new instance (the missing annotation): a new
  ``id`` above the table's largest, ``area`` from the box, visibility by the same rule.
- ``mirror_instance``: swap the left/right names of the instance by the schema's flip
  indices (the points stay where they are): all pairs, or the pair of ``keypoint``.
- ``drop_instance``: remove the instance (a spurious annotation).

The prediction is the one named (``prediction=``, its index in the run's row, as the
suspect and the per-instance metrics give it) or, when not named, the one the accept rule
matches to the instance (greedy by score, same class, OKS >= 0.5). Nothing is written when a
step cannot be done; the error names the row, instance, prediction or keypoint.

Example:
    >>> import tempfile
    >>> import posetable as pt
    >>> from posetable.sample import sample_table
    >>> from posetable.dashboard._sample_run import sample_predictions
    >>> table = sample_table(store=tempfile.mkdtemp())
    >>> run = pt.Run.from_predictions(table, sample_predictions(table), name="demo")
    >>> fixed = apply_run_fix(table, run, 0, "snap_keypoint", instance=0, keypoint=0)
    >>> fixed.operation, fixed.info.arguments["note"]
    ('fix_from_run', 'snapped nose of instance 0 to prediction 0 of run demo (row 0)')
    >>> bool((fixed[0]["keypoints"].keypoints[0, 0] == run.predictions(0).keypoints[0, 0]).all())
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._pairs import FlatInstances
from posetable._rows import RowLayout
from posetable.accept import _match, _new_extras, largest_annotation_id
from posetable.errors import RowError, RunError, UnsupportedError
from posetable.filtering import check_keypoint_threshold
from posetable.instances import Keypoints2DInstances
from posetable.runs import Run
from posetable.table import Table

#: action -> what it does (the start of the note a fixed revision records)
RUN_FIXES = {
    "snap_keypoint": "snapped a keypoint to the prediction",
    "accept_instance": "replaced the instance by its prediction",
    "add_prediction": "added the prediction as a new instance",
    "mirror_instance": "swapped the left/right names of the instance",
    "drop_instance": "dropped the instance",
}
#: which actions a suspect kind of :func:`~posetable.find_label_errors` offers
SUSPECT_FIXES = {
    "swap": ("mirror_instance", "accept_instance"),
    "misplaced_keypoint": ("snap_keypoint", "accept_instance"),
    "suspicious_visibility": ("snap_keypoint",),
    "missing_annotation": ("add_prediction",),
    "spurious_annotation": ("drop_instance",),
}
_NEEDS_INSTANCE = ("snap_keypoint", "accept_instance", "mirror_instance", "drop_instance")


@dataclass(frozen=True)
class RunFix:
    """A fixed row (not written yet) and what was done: ``note`` and the recorded fields."""

    instances: Keypoints2DInstances
    note: str
    recorded: dict[str, Any]


def _index(value: Any, what: str, count: int | None = None, where: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RowError(f"{where}{what} must be a whole number, got {value!r}"[:200])
    number = int(value)
    if count is not None and not 0 <= number < count:
        raise RowError(f"{where}there is no {what} {number} (0..{count - 1})")
    return number


def _predictions(table: Table, run: Run, row: int) -> Keypoints2DInstances:
    mapping = run.rows_in(table)
    predicted = run.predictions(mapping[row]) if row in mapping else None
    if predicted is None or not len(predicted):
        raise RunError(f"run {run.name!r} has no predictions for row {row} of {table.ref}")
    return predicted


def matched_prediction(
    table: Table, run: Run, row: int, instance: int, predictions: Keypoints2DInstances
) -> int:
    """The prediction the accept rule matches to ``instance`` of ``row`` (RunError if none)."""
    gt: Keypoints2DInstances = table[row][KEYPOINTS_COLUMN]
    k = table.schema.num_keypoints
    match, _ = _match(
        FlatInstances.from_rows([gt], k),
        FlatInstances.from_rows([predictions], k),
        np.asarray(table.schema.sigmas, np.float64),
    )
    hits = np.flatnonzero(match == instance)
    if not len(hits):
        raise RunError(
            f"table {table.ref}, row {row}: no prediction of run {run.name!r} matches "
            f"instance {instance} (same class, OKS >= 0.5); name the prediction to use"
        )
    return int(hits[0])


def _visibility(predictions: Keypoints2DInstances, j: int, threshold: float) -> np.ndarray:
    """The accept rule: confidence >= threshold -> 2, else 1 (2 without confidences)."""
    conf = predictions.keypoint_confidences
    if conf is None:
        return np.full(predictions.num_keypoints, 2, np.int32)
    return np.where(np.asarray(conf[j]) >= threshold, 2, 1).astype(np.int32)


def _with_visibility(gt: Keypoints2DInstances) -> Keypoints2DInstances:
    out = gt.copy()
    if out.keypoint_visibilities is None and len(out):
        out.keypoint_visibilities = np.full((len(out), out.num_keypoints), 2, np.int32)
    return out


def run_fix(
    table: Table,
    run: Run | None,
    row: int,
    action: str,
    *,
    instance: int | None = None,
    prediction: int | None = None,
    keypoint: int | None = None,
    keypoint_confidence_threshold: float = 0.5,
) -> RunFix:
    """The row's instances with one action applied (nothing is written); see the module.

    Raises:
        UnsupportedError: an unknown action, or a mirror on a table without flip indices.
        RowError: a row, instance, prediction or keypoint that does not exist.
        RunError: no predictions for the row, or none that matches the instance.
    """
    if action not in RUN_FIXES:
        raise UnsupportedError(
            f"action {action!r} is not a one-click fix; the actions are: {', '.join(RUN_FIXES)}"
        )
    n = len(table)
    row = _index(row, "row", n, f"table {table.ref}: ")
    where = f"table {table.ref}, row {row}: "
    checked = check_keypoint_threshold(keypoint_confidence_threshold)
    threshold = 0.0 if checked is None else float(checked)  # None: every keypoint kept
    gt = _with_visibility(table[row][KEYPOINTS_COLUMN])
    k = table.schema.num_keypoints
    names = table.schema.keypoint_names
    inst = -1
    if action in _NEEDS_INSTANCE:
        if instance is None:
            raise RowError(f"{where}{action} needs the instance it applies to")
        inst = _index(instance, "instance", len(gt), where)
    if keypoint is not None:
        keypoint = _index(keypoint, "keypoint", k, where)
    recorded: dict[str, Any] = {"action": action, "row": row}
    if inst >= 0:
        recorded["instance"] = inst
    if keypoint is not None:
        recorded["keypoint"] = keypoint
    if action == "drop_instance":
        note = f"dropped instance {inst} (row {row})"
        return RunFix(gt.select(np.arange(len(gt)) != inst), note, recorded)
    if action == "mirror_instance":
        return _mirror(table, gt, row, inst, keypoint, recorded)
    if run is None:
        raise RunError(f"{where}{action} needs a run (its predictions are the evidence)")
    predictions = _predictions(table, run, row)
    if prediction is None:
        if inst < 0:
            raise RowError(f"{where}{action} needs the prediction to add")
        prediction = matched_prediction(table, run, row, inst, predictions)
    prediction = _index(prediction, "prediction", len(predictions), where)
    recorded.update(prediction=prediction, run=run.name, keypoint_confidence_threshold=threshold)
    visibility = _visibility(predictions, prediction, threshold)
    source = f"prediction {prediction} of run {run.name}"
    vis = gt.keypoint_visibilities
    if vis is None:  # only an empty row has none (_with_visibility fills the others)
        vis = np.zeros((0, k), np.int32)
    if action == "snap_keypoint":
        if keypoint is None:
            raise RowError(f"{where}snap_keypoint needs the keypoint to move")
        gt.keypoints[inst, keypoint] = predictions.keypoints[prediction, keypoint]
        if vis[inst, keypoint] == 0:
            vis[inst, keypoint] = visibility[keypoint]
            if "num_keypoints" in gt.instance_extras:
                gt.instance_extras["num_keypoints"][inst] = int((vis[inst] > 0).sum())
        note = f"snapped {names[keypoint]} of instance {inst} to {source} (row {row})"
        return RunFix(gt, note, recorded)
    if action == "accept_instance":
        gt.keypoints[inst] = predictions.keypoints[prediction]
        vis[inst] = visibility
        gt.instance_bbs[inst] = predictions.instance_bbs[prediction]
        gt.instance_labels[inst] = predictions.instance_labels[prediction]
        if "num_keypoints" in gt.instance_extras:
            gt.instance_extras["num_keypoints"][inst] = k
        kept = int((visibility == 2).sum())
        note = (
            f"replaced instance {inst} by {source} ({kept} keypoints v=2, {k - kept} v=1 "
            f"at confidence >= {threshold:g}) (row {row})"
        )
        return RunFix(gt, note, recorded)
    # add_prediction
    boxes = np.asarray(predictions.instance_bbs[prediction : prediction + 1], np.float64)
    extras = RowLayout.from_arrow_schema(table.schema, table.dataset.schema).extras or {}
    added = Keypoints2DInstances(
        predictions.keypoints[prediction : prediction + 1],
        keypoint_visibilities=visibility[None, :],
        instance_labels=predictions.instance_labels[prediction : prediction + 1],
        instance_bbs=boxes,
        instance_extras=_new_extras(extras, boxes, k, largest_annotation_id(table.latest()) + 1),
        image_width=gt.image_width,
        image_height=gt.image_height,
        num_keypoints=k,
    )
    gt._append(added)
    recorded["instance"] = len(gt) - 1
    kept = int((visibility == 2).sum())
    note = (
        f"added {source} as instance {len(gt) - 1} ({kept} keypoints v=2, {k - kept} v=1 "
        f"at confidence >= {threshold:g}) (row {row})"
    )
    return RunFix(gt, note, recorded)


def _mirror(
    table: Table,
    gt: Keypoints2DInstances,
    row: int,
    instance: int,
    keypoint: int | None,
    recorded: dict[str, Any],
) -> RunFix:
    flips = table.schema.flip_indices
    if flips is None:
        raise UnsupportedError(
            f"table {table.ref} has no flip indices, so left and right cannot be swapped"
        )
    flip = np.asarray(flips, np.int64)
    names = table.schema.keypoint_names
    if keypoint is None:
        order = flip
        what = "every left/right pair"
    else:
        if flip[keypoint] == keypoint:
            raise RowError(
                f"table {table.ref}, row {row}: keypoint {keypoint} ({names[keypoint]}) has "
                "no left/right partner to swap with"
            )
        order = np.arange(len(flip))
        order[[keypoint, flip[keypoint]]] = [flip[keypoint], keypoint]
        what = f"{names[keypoint]}/{names[int(flip[keypoint])]}"
    for array in (gt.keypoints, gt.keypoint_visibilities, gt.keypoint_confidences):
        if array is not None:
            array[instance] = array[instance][order]
    note = f"swapped {what} of instance {instance} (row {row})"
    return RunFix(gt, note, recorded)


def apply_run_fix(
    table: Table,
    run: Run | None,
    row: int,
    action: str,
    *,
    instance: int | None = None,
    prediction: int | None = None,
    keypoint: int | None = None,
    keypoint_confidence_threshold: float = 0.5,
    arguments: Mapping[str, Any] | None = None,
) -> Table:
    """Apply one action (:func:`run_fix`) and save the row as a new revision.

    The revision's operation is ``fix_from_run``; its arguments hold what :func:`run_fix`
    recorded (action, row, instance, prediction, keypoint, run, threshold) and the ``note``,
    plus any ``arguments`` given (the dashboard adds ``source``). A stale ``table`` raises
    :class:`~posetable.errors.ConflictError` before anything else (DESIGN §1b).
    """
    if isinstance(row, (int, np.integer)) and not isinstance(row, bool):
        table.check_editable(rows=[int(row)] if 0 <= int(row) < len(table) else None)
    fixed = run_fix(
        table,
        run,
        row,
        action,
        instance=instance,
        prediction=prediction,
        keypoint=keypoint,
        keypoint_confidence_threshold=keypoint_confidence_threshold,
    )
    recorded = {**fixed.recorded, "note": fixed.note, **dict(arguments or {})}
    return table.with_rows(
        {int(row): {KEYPOINTS_COLUMN: fixed.instances}},
        operation="fix_from_run",
        arguments=recorded,
    )
