"""Edits from the dashboard: keypoint changes, undo, accepting predictions.

Every request names the revision it was based on. A base that is no longer the latest is
refused with :class:`~posetable.errors.ConflictError` before anything else is checked, so
nobody's change is silently lost. A save writes one new revision through
:meth:`Table.with_rows` with only the rows that really changed.

An edited row arrives as its full list of instances::

    {"source": 0, "keypoints": [[x, y], ...], "visibility": [2, 1, 0, ...],
     "box": [x1, y1, x2, y2], "label": 0}

``source`` is the index of the instance it came from in the base revision (its COCO
fields such as ``id``, ``area`` and ``iscrowd`` are kept; ``num_keypoints`` is recounted),
or null for a new instance (fields filled: a new ``id``, ``area`` = box area x 0.53,
``iscrowd`` 0). A row may also carry ``"weight": W``, its sample weight (tables with a
``weight`` column, see :mod:`~posetable.dashboard._weights`), saved in the same revision.

A row takes at most ``MAX_INSTANCES_PER_ROW`` instances, and a visible (v=2) keypoint that
was moved or added must lie within the image or at most one image size outside it (the page
clamps points to the image; anything farther is a client bug or a hostile request, refused
with the row, instance, keypoint and values). Points already stored are not re-judged, so
an imported outlier never blocks saving its row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._rows import RowLayout
from posetable.accept import NEW_INSTANCE_EXTRAS, largest_annotation_id
from posetable.dashboard._new_pose import fit_to_box, new_instance_pose
from posetable.dashboard._state import DashboardState
from posetable.dashboard._weights import (
    WEIGHT_COLUMN,
    as_stored,
    check_weight,
    require_weight_column,
)
from posetable.errors import ConflictError, InstancesError, RevisionError, RowError
from posetable.instances import Keypoints2DInstances
from posetable.table import Table

AREA_FROM_BOX = 0.53  # the xtcocotools / CrowdPose rule for an area without a segmentation
MAX_INSTANCES_PER_ROW = 10_000


def base_table(state: DashboardState, name: str, base_revision: Any) -> Table:
    """The revision an edit is based on (the one the page showed).

    The edit is computed from it and commits by the table's rule (DESIGN §1b): on top of
    it, or of a newer latest that changed none of the same rows; otherwise the library's
    ConflictError (409) names both revisions and nothing is saved.
    """
    if isinstance(base_revision, bool) or not isinstance(base_revision, int):
        raise RevisionError(f"base_revision must be a revision number, got {base_revision!r}")
    latest = state.latest_revision(name)
    if not 1 <= base_revision <= latest:
        raise ConflictError(
            f"table {name!r} has no revision {base_revision} to edit (latest is {latest}); "
            f"nothing was saved; reload revision {latest} and redo the edit"
        )
    return state.table(name, base_revision)


def _numbers(value: Any, shape: tuple[int, ...], what: str, where: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise RowError(f"{where}: {what} must be numbers, got {value!r}") from exc
    if array.shape != shape:
        raise RowError(f"{where}: {what} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise RowError(f"{where}: {what} must be finite numbers, got NaN or inf")
    return array


def _next_id(table: Table) -> int:
    """The id a new instance gets: above every annotation id of the table (all categories)."""
    return largest_annotation_id(table) + 1


def _default_extra(
    name: str, arrow_type: pa.DataType, box: np.ndarray, visibility: np.ndarray, new_id: int
) -> Any:
    if name == "id":
        return new_id
    if name == "area":
        return float((box[2] - box[0]) * (box[3] - box[1]) * AREA_FROM_BOX)
    if name == "num_keypoints":
        return int((visibility > 0).sum())
    if name in NEW_INSTANCE_EXTRAS:  # e.g. coco_order -1: export files it after the others
        return NEW_INSTANCE_EXTRAS[name]
    if pa.types.is_boolean(arrow_type):
        return False
    if pa.types.is_integer(arrow_type):
        return 0
    if pa.types.is_floating(arrow_type):
        return 0.0
    return ""


def instances_from_json(
    items: Any,
    *,
    current: Keypoints2DInstances,
    table: Table,
    row: int,
    next_id: int,
) -> tuple[Keypoints2DInstances, int]:
    """Validate one row's instance list from the browser into ``Keypoints2DInstances``."""
    where = f"table {table.ref}, row {row}"
    if not isinstance(items, list):
        raise RowError(f"{where}: instances must be a list, got {type(items).__name__}")
    if len(items) > MAX_INSTANCES_PER_ROW:
        raise RowError(
            f"{where}: a row holds at most {MAX_INSTANCES_PER_ROW:,} instances, got {len(items):,}"
        )
    schema = table.schema
    k = schema.num_keypoints
    layout = RowLayout.from_arrow_schema(schema, table.dataset.schema)
    extra_types = dict(layout.extras or {})
    names = list(current.instance_extras) if len(current) else list(extra_types)
    sources: set[int] = set()
    keypoints, visibilities, boxes, labels = [], [], [], []
    extras: dict[str, list[Any]] = {n: [] for n in names}
    for i, item in enumerate(items):
        at = f"{where}, instance {i}"
        if not isinstance(item, Mapping):
            raise RowError(f"{at}: an instance must be an object, got {type(item).__name__}")
        kp = _numbers(item.get("keypoints"), (k, 2), f"keypoints (K={k} points of x, y)", at)
        vis = _numbers(item.get("visibility"), (k,), "visibility", at)
        if not np.all(np.isin(vis, (0, 1, 2))):
            bad = vis[~np.isin(vis, (0, 1, 2))][0]
            raise RowError(f"{at}: visibility must be 0, 1 or 2, got {bad:g}")
        label = item.get("label", 0)
        if (
            isinstance(label, bool)
            or not isinstance(label, int)
            or not 0 <= label < len(schema.classes)
        ):
            raise RowError(
                f"{at}: label must be a class index in [0, {len(schema.classes) - 1}] "
                f"({', '.join(schema.classes[:5])}), got {label!r}"
            )
        box = _box(item.get("box"), kp, vis, at)
        source = item.get("source")
        if source is not None:
            if (
                isinstance(source, bool)
                or not isinstance(source, int)
                or not 0 <= source < len(current)
            ):
                raise RowError(
                    f"{at}: source must name an instance 0..{len(current) - 1} of the row, "
                    f"got {source!r}"
                )
            if source in sources:
                raise RowError(
                    f"{at}: instance {source} appears twice; copy it as a new instance instead"
                )
            sources.add(source)
        _check_inside(kp, vis, current, source, at, schema.keypoint_names)
        for name in names:
            if source is not None and name in current.instance_extras:
                value = current.instance_extras[name][source]
                if name == "num_keypoints":
                    value = int((vis > 0).sum())
            else:
                value = _default_extra(name, extra_types.get(name, pa.float64()), box, vis, next_id)
                if name == "id":
                    next_id += 1
            extras[name].append(value)
        keypoints.append(kp)
        visibilities.append(vis.astype(np.int32))
        boxes.append(box)
        labels.append(label)
    n = len(items)
    try:
        made = Keypoints2DInstances(
            np.asarray(keypoints, dtype=np.float64).reshape(n, k, 2),
            keypoint_visibilities=np.asarray(visibilities, dtype=np.int32).reshape(n, k),
            instance_labels=np.asarray(labels, dtype=np.int32),
            instance_bbs=np.asarray(boxes, dtype=np.float64).reshape(n, 4),
            instance_extras={
                name: np.asarray(values, dtype=current.instance_extras[name].dtype)
                if name in current.instance_extras
                else np.asarray(values)
                for name, values in extras.items()
            }
            if n
            else {},
            image_width=current.image_width,
            image_height=current.image_height,
            num_keypoints=k,
        )
    except InstancesError as exc:
        raise RowError(f"{where}: {exc}") from exc
    return made, next_id


def _check_inside(
    kp: np.ndarray,
    vis: np.ndarray,
    current: Keypoints2DInstances,
    source: int | None,
    at: str,
    names: Any,
) -> None:
    """Refuse a moved or new visible keypoint more than one image size outside the image."""
    width, height = current.image_width, current.image_height
    if not width or not height or width <= 0 or height <= 0:
        return
    x0, y0 = current.x_min or 0.0, current.y_min or 0.0
    x, y = kp[:, 0], kp[:, 1]
    far = (vis == 2) & (
        (x < x0 - width) | (x > x0 + 2 * width) | (y < y0 - height) | (y > y0 + 2 * height)
    )
    if source is not None and far.any():
        stored = current.keypoints[source]
        unchanged = (stored[:, 0] == x) & (stored[:, 1] == y)
        far &= ~unchanged
    if far.any():
        j = int(np.flatnonzero(far)[0])
        name = f" ({names[j]})" if j < len(names) else ""
        raise RowError(
            f"{at}, keypoint {j}{name}: a visible (v=2) keypoint must lie within the image "
            f"({width:g} x {height:g}) or at most one image size outside it, got "
            f"x={x[j]:g}, y={y[j]:g}"
        )


def _box(value: Any, kp: np.ndarray, vis: np.ndarray, at: str) -> np.ndarray:
    if value is None:
        labeled = vis > 0
        if not labeled.any():
            return np.zeros(4)
        pts = kp[labeled]
        return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])
    box = _numbers(value, (4,), "box [x1, y1, x2, y2]", at)
    if box[2] < box[0] or box[3] < box[1]:
        raise RowError(f"{at}: box must have x2 >= x1 and y2 >= y1, got {box.tolist()}")
    return box


def apply_edit(
    state: DashboardState, name: str, base_revision: Any, rows: Any, *, note: str | None = None
) -> Table:
    """Save edited rows as one new revision (only rows that really changed are written)."""
    table = base_table(state, name, base_revision)
    if not isinstance(rows, Mapping) or not rows:
        raise RowError(
            'an edit must name at least one row: {"rows": {"ROW": {"instances": [...]}}}'
        )
    n = len(table)
    positions = []
    for key in rows:
        try:
            position = int(key)
        except (TypeError, ValueError) as exc:
            raise RowError(f"row {key!r} is not a row number") from exc
        if not 0 <= position < n:
            raise RowError(
                f"row {position} does not exist: table {table.ref} has {n} rows (0..{n - 1})"
            )
        positions.append(position)
    table.check_editable(rows=positions)  # a stale save hears of the conflict first
    current = dict(zip(positions, table.rows(positions), strict=True))
    next_id = _next_id(state.table(name))  # new COCO ids above every id of the latest
    changed: dict[int, dict[str, Any]] = {}
    for key, position in zip(rows, positions, strict=True):
        body = rows[key]
        if not isinstance(body, Mapping) or "instances" not in body:
            raise RowError(f'row {position}: expected {{"instances": [...]}}, got {body!r}'[:200])
        old = current[position][KEYPOINTS_COLUMN]
        new, next_id = instances_from_json(
            body["instances"], current=old, table=table, row=position, next_id=next_id
        )
        if not _same(old, new):
            changed[position] = {KEYPOINTS_COLUMN: new}
        if "weight" in body:  # the row's sample weight, edited with its instances
            require_weight_column(table)
            weight = check_weight(body["weight"], where=f"row {position}: ")
            if current[position][WEIGHT_COLUMN] != as_stored(table, weight):
                changed.setdefault(position, {})[WEIGHT_COLUMN] = weight
    if not changed:
        raise RowError(
            f"nothing to save: the rows {sorted(positions)} equal revision {table.revision}"
        )
    arguments: dict[str, Any] = {"source": "dashboard"}
    if note:
        arguments["note"] = str(note)[:500]
    return table.with_rows(changed, operation="edit_rows", arguments=arguments)


def fix(
    state: DashboardState,
    name: str,
    base_revision: Any,
    row: Any,
    instance: Any,
    rule: Any,
    keypoint: Any = None,
) -> Table:
    """Apply a check finding's one-click fix (``posetable.diagnose.fixes``) as a new revision.

    Like an edit it names its base revision and is refused with ConflictError (409) when
    that is stale in the row; the revision records the rule, row, instance and a note.
    """
    from posetable.diagnose.fixes import apply_fix

    table = base_table(state, name, base_revision)
    for value, what in ((row, "row"), (instance, "instance")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RowError(f"{what} must be a whole number, got {value!r}"[:200])
    if not isinstance(rule, str):
        raise RowError(f"rule must be a rule name, got {rule!r}"[:200])
    if keypoint is not None and (isinstance(keypoint, bool) or not isinstance(keypoint, int)):
        raise RowError(f"keypoint must be a whole number or null, got {keypoint!r}"[:200])
    return apply_fix(
        table, row, instance, rule, keypoint=keypoint, arguments={"source": "dashboard"}
    )


def run_fix(
    state: DashboardState,
    name: str,
    base_revision: Any,
    action: Any,
    *,
    row: Any,
    instance: Any = None,
    prediction: Any = None,
    keypoint: Any = None,
    run: Any = None,
    keypoint_confidence_threshold: Any = 0.5,
) -> Table:
    """Apply a one-click fix with a run's prediction as evidence
    (:mod:`posetable.diagnose.run_fixes`: snap a keypoint, accept or add a prediction, swap
    left/right, drop an instance) as a new revision; stale -> ConflictError (409)."""
    from posetable.diagnose.run_fixes import RUN_FIXES, apply_run_fix

    table = base_table(state, name, base_revision)
    if not isinstance(action, str) or action not in RUN_FIXES:
        raise RowError(f"action must be one of {', '.join(RUN_FIXES)}, got {action!r}"[:300])
    for value, what in ((row, "row"), (instance, "instance"), (prediction, "prediction")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise RowError(f"{what} must be a whole number, got {value!r}"[:200])
    if keypoint is not None and (isinstance(keypoint, bool) or not isinstance(keypoint, int)):
        raise RowError(f"keypoint must be a whole number or null, got {keypoint!r}"[:200])
    if isinstance(keypoint_confidence_threshold, bool) or not isinstance(
        keypoint_confidence_threshold, (int, float)
    ):
        raise RowError(
            f"keypoint_confidence_threshold must be a number, got "
            f"{keypoint_confidence_threshold!r}"[:200]
        )
    opened = None
    if run is not None:
        if not isinstance(run, str):
            raise RowError(f"run must be a run name, got {run!r}"[:200])
        opened = state.open_run(run)
    return apply_run_fix(
        table,
        opened,
        row,
        action,
        instance=instance,
        prediction=prediction,
        keypoint=keypoint,
        keypoint_confidence_threshold=float(keypoint_confidence_threshold),
        arguments={"source": "dashboard"},
    )


def _same(a: Keypoints2DInstances, b: Keypoints2DInstances) -> bool:
    if len(a) != len(b):
        return False
    if len(a) == 0:
        return True
    va = a.keypoint_visibilities
    vb = b.keypoint_visibilities
    return bool(
        np.array_equal(a.keypoints, b.keypoints)
        and (va is None) == (vb is None)
        and (va is None or vb is None or np.array_equal(va, vb))
        and np.array_equal(a.instance_bbs, b.instance_bbs)
        and np.array_equal(a.instance_labels, b.instance_labels)
        and set(a.instance_extras) == set(b.instance_extras)
        and all(
            np.array_equal(a.instance_extras[k], b.instance_extras[k]) for k in a.instance_extras
        )
    )


def undo(state: DashboardState, name: str, base_revision: Any) -> Table:
    """Undo the revision the page showed: a new revision that reverts exactly its change.

    Later saves (another tab's, of other rows) are kept; if one changed the same rows, the
    library's ConflictError (409) says so and nothing is written.
    """
    table = base_table(state, name, base_revision)
    if table.parent is None:
        raise RevisionError(
            f"revision {table.revision} of {name!r} is the first; there is nothing to undo"
        )
    return table.revert()


def accept(
    state: DashboardState,
    name: str,
    base_revision: Any,
    run: str,
    *,
    rows: Iterable[int] | None,
    keypoint_confidence_threshold: float,
    instance_confidence_threshold: float | None,
    mode: str,
    plan_only: bool = False,
) -> Table | pa.Table:
    """Accept a run's predictions for rows (``pt.accept_predictions``), or only plan it."""
    from posetable.accept import accept_predictions, accept_predictions_plan

    table = base_table(state, name, base_revision)
    opened = state.open_run(run)
    if rows is not None and not isinstance(rows, list):
        raise RowError(f"rows must be a list of row numbers or null, got {rows!r}"[:200])
    chosen = None if rows is None else [_row_number(r) for r in rows]
    for value, what in (
        (keypoint_confidence_threshold, "keypoint_confidence_threshold"),
        (instance_confidence_threshold, "instance_confidence_threshold"),
    ):
        if value is None and what == "instance_confidence_threshold":
            continue  # null: every prediction, whatever its score
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise RowError(f"{what} must be a number, got {value!r}")
    function = accept_predictions_plan if plan_only else accept_predictions
    return function(
        table,
        opened,
        rows=chosen,
        keypoint_confidence_threshold=float(keypoint_confidence_threshold),
        instance_confidence_threshold=(
            None if instance_confidence_threshold is None else float(instance_confidence_threshold)
        ),
        mode=mode,
    )


def _row_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(f"rows must be row numbers, got {value!r}")
    return value


def new_instance(
    table: Table,
    row: int,
    *,
    center: tuple[float, float] | None = None,
    size: float | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    """A new instance for a row: the default pose (:mod:`~posetable.dashboard._new_pose`)
    scaled into ``box`` (x1, y1, x2, y2 pixels: the box the user drew), every keypoint
    visible (v=2), the box as drawn.

    Without ``box``: the pose's unit square scaled to ``size`` pixels (default half the
    image's shorter side), centred on ``center`` (default the image centre), clipped to the
    image. ``source`` in the
    answer is null (a new instance); ``pose_source`` says where the pose came from.
    """
    n = len(table)
    if isinstance(row, bool) or not 0 <= int(row) < n:
        raise RowError(f"row {row} does not exist: table {table.ref} has {n} rows (0..{n - 1})")
    record = table.take([int(row)], columns=["width", "height"]).to_pylist()[0]
    width, height = float(record["width"]), float(record["height"])
    pose, origin = new_instance_pose(table)
    if box is not None:
        drawn = np.asarray(box, dtype=np.float64)
        if (
            drawn.shape != (4,)
            or not np.isfinite(drawn).all()
            or drawn[2] <= drawn[0]
            or drawn[3] <= drawn[1]
        ):
            raise RowError(
                f"row {row}: a box must be x1 < x2 and y1 < y2 (pixels), got {list(box)}"
            )
        if drawn[2] < -width or drawn[0] > 2 * width or drawn[3] < -height or drawn[1] > 2 * height:
            raise RowError(
                f"row {row}: the box {drawn.tolist()} lies more than one image size "
                f"outside the image ({width:g} x {height:g})"
            )
        points = fit_to_box(pose, drawn)
        corners = [float(v) for v in drawn]
    else:
        side = 0.5 * min(width, height) if size is None else float(size)
        if not math.isfinite(side) or side <= 0:
            raise RowError(f"size must be a positive number of pixels, got {size!r}")
        cx, cy = (width / 2, height / 2) if center is None else (float(center[0]), float(center[1]))
        points = (pose - 0.5) * side + np.array([cx, cy])  # the unit square, centred
        points[:, 0] = np.clip(points[:, 0], 0.0, width)
        points[:, 1] = np.clip(points[:, 1], 0.0, height)
        corners = [
            float(points[:, 0].min()),
            float(points[:, 1].min()),
            float(points[:, 0].max()),
            float(points[:, 1].max()),
        ]
    return {
        "source": None,
        "keypoints": points.tolist(),
        "visibility": [2] * table.schema.num_keypoints,
        "box": corners,
        "label": 0,
        "pose_source": origin,
    }
