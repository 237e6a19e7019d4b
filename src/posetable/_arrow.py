"""The Arrow layout of the keypoints column and fast columnar conversion.

One keypoints value (3LC's layout) is a struct::

    x_min, y_min, x_max, y_max: double
    instances: list<struct<vertices_2d: list<double>,
                           vertices_2d_additional_data: struct<visibility: list<int32>,
                                                               confidence: list<float>>,
                           bbs_2d: list<list<double>>>>
    instances_additional_data: struct<label: list<int32>, confidence: list<double>,
                                      <extra>: list<...>, ...>

A row holds per-point ``visibility`` (ground truth) or ``confidence`` (predictions); the
other list is null. ``instances_additional_data.confidence`` is null for a row without
instance scores, and an extra field is null for a row whose instances lack it. Extra fields
are stored as ``bool``, ``int64``, ``float64`` or ``string``; values that are none of these
(lists, dicts, mixed types: COCO's ``segmentation``, WholeBody's ``face_kpts``) are stored
JSON-encoded as ``large_string`` and decoded on read, so they come back as they were given.

Conversion works on whole batches over flat arrays (all instances of all rows concatenated,
rows cut by offsets): no Python object per instance or keypoint. This module builds the
column; :mod:`posetable._arrow_decode` reads it back.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import orjson

from posetable._arrow_decode import (
    FlatKeypoints,
    derive_boxes,
    flat_from_arrow,
    instances_from_arrow,
    instances_from_flat,
    instances_from_values,
    json_extra_type,
)

# Decoding lives in its own module (which needs nothing from this one); its names and the
# shared json_extra_type / derive_boxes stay importable from here.
from posetable._lazy import LazyModule
from posetable.errors import RowError
from posetable.instances import FIXED_INSTANCE_FIELDS, Keypoints2DInstances, object_array

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = LazyModule("pyarrow")

KEYPOINTS_COLUMN = "keypoints"


@functools.cache
def point_data_type() -> pa.DataType:
    """The per-point data of an instance: visibility (ground truth) or confidence."""
    return pa.struct(
        [
            pa.field("visibility", pa.list_(pa.int32())),
            pa.field("confidence", pa.list_(pa.float32())),
        ]
    )


@functools.cache
def instance_type() -> pa.DataType:
    """One instance: its points, their per-point data and its box."""
    return pa.struct(
        [
            pa.field("vertices_2d", pa.list_(pa.float64())),
            pa.field("vertices_2d_additional_data", point_data_type()),
            pa.field("bbs_2d", pa.list_(pa.list_(pa.float64()))),
        ]
    )


# -- types ----------------------------------------------------------------------------------
def extra_arrow_type(values: np.ndarray) -> pa.DataType:
    """The Arrow value type used to store one per-instance extra field.

    Example:
        >>> import numpy as np
        >>> extra_arrow_type(np.array([1, 2])), extra_arrow_type(np.array([0.5]))
        (DataType(int64), DataType(double))
    """
    kind = values.dtype.kind
    if kind == "b":
        return pa.bool_()
    if kind in "iu":
        return pa.int64()
    if kind == "f":
        return pa.float64()
    if kind in "US":
        return pa.string()
    if kind == "O" and len(values):
        if all(isinstance(v, str) for v in values):
            return pa.string()
        if all(isinstance(v, (bool, np.bool_)) for v in values):
            return pa.bool_()
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return pa.int64()
    return json_extra_type()


def keypoints_type(extras: Mapping[str, pa.DataType]) -> pa.StructType:
    """The struct type of a keypoints column with the given extra instance fields."""
    data_fields = [
        pa.field("label", pa.list_(pa.int32())),
        pa.field("confidence", pa.list_(pa.float64())),
    ]
    data_fields += [pa.field(name, pa.list_(t)) for name, t in sorted(extras.items())]
    return pa.struct(
        [
            pa.field("x_min", pa.float64()),
            pa.field("y_min", pa.float64()),
            pa.field("x_max", pa.float64()),
            pa.field("y_max", pa.float64()),
            pa.field("instances", pa.list_(instance_type())),
            pa.field("instances_additional_data", pa.struct(data_fields)),
        ]
    )


def extras_of_type(struct_type: pa.DataType) -> dict[str, pa.DataType]:
    """The extra instance fields named by a keypoints struct type."""
    data = struct_type.field("instances_additional_data").type
    return {f.name: f.type.value_type for f in data if f.name not in FIXED_INSTANCE_FIELDS}


# -- encoding ------------------------------------------------------------------------------
def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    if out[-1] > np.iinfo(np.int32).max:
        raise RowError(f"a batch holds too many values for one Arrow list: {int(out[-1])}")
    return out.astype(np.int32)


def _list(counts: np.ndarray, values: pa.Array, null: np.ndarray | None = None) -> pa.ListArray:
    """A list array of ``counts[i]`` values per entry; entries flagged in ``null`` are null
    (they must have count 0)."""
    offsets = pa.array(_offsets(counts))
    if null is not None and null.any():
        return pa.ListArray.from_arrays(offsets, values, mask=pa.array(null))
    return pa.ListArray.from_arrays(offsets, values)


def _fixed(
    flat: np.ndarray, width: int, value_type: pa.DataType, null: np.ndarray | None
) -> pa.Array:
    """One list of ``width`` values per entry of ``flat`` (rows of null entries skipped)."""
    count = flat.shape[0]
    if null is not None and null.any():
        lengths = np.where(null, 0, width)
        return _list(lengths, pa.array(flat[~null].ravel(), value_type), null)
    return _list(np.full(count, width), pa.array(flat.ravel(), value_type))


def _extra_values(values: np.ndarray, arrow_type: pa.DataType, name: str) -> pa.Array:
    if len(values) == 0:  # no instance has a value (a batch of rows without instances)
        return pa.array([], arrow_type)
    if arrow_type == json_extra_type():
        encoded = [orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in values]
        return pa.array(encoded, json_extra_type())
    if pa.types.is_string(arrow_type) and values.dtype.kind == "O":
        bad = [v for v in values if not isinstance(v, str)]
        if bad:
            raise RowError(
                f"instance extra {name!r} must hold text like the table's first rows, "
                f"got {bad[0]!r}"
            )
    try:
        return pa.array(values, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
        raise RowError(
            f"instance extra {name!r} must hold {arrow_type} values like the table's first rows: "
            f"{exc}"
        ) from exc


def _locate(
    offsets: np.ndarray, flat_index: int, first_row: int, numbers: Sequence[int] | None = None
) -> str:
    row = int(np.searchsorted(offsets, flat_index, side="right") - 1)
    name = first_row + row if numbers is None else numbers[row]
    return f"row {name}, instance {flat_index - int(offsets[row])}"


def keypoints_column(
    counts: Sequence[int] | np.ndarray,
    keypoints: np.ndarray,
    *,
    widths: Sequence[float] | np.ndarray,
    heights: Sequence[float] | np.ndarray,
    visibilities: np.ndarray | None = None,
    confidences: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    instance_confidences: np.ndarray | None = None,
    extras: Mapping[str, np.ndarray] | None = None,
    extra_types: Mapping[str, pa.DataType] | None = None,
    num_keypoints: int | None = None,
    first_row: int = 0,
) -> pa.StructArray:
    """Build a keypoints column from flat arrays (the fast path for importers).

    Instances of all rows are concatenated; row ``i`` holds ``counts[i]`` of them. Values
    are checked in one vectorised pass; errors name the row and instance.

    Args:
        counts: (M,) instances per row.
        keypoints: (T, K, 2) pixel coordinates, T = ``sum(counts)``.
        widths: (M,) image widths (the ``x_max`` of each value).
        heights: (M,) image heights.
        visibilities: (T, K) 0/1/2 (ground truth), or None.
        confidences: (T, K) per-keypoint confidences (predictions), or None.
        boxes: (T, 4) xyxy boxes; derived from the labeled points when None.
        labels: (T,) class indices (default 0).
        instance_confidences: (T,) instance scores, or None.
        extras: per-instance fields, each (T,).
        extra_types: the Arrow value type of each extra (inferred when not given).
        num_keypoints: K, needed when T is 0.
        first_row: the row number of the first row, for messages.

    Example:
        >>> import numpy as np
        >>> column = keypoints_column(
        ...     [1, 0], np.zeros((1, 2, 2)), widths=[64, 32], heights=[48, 24],
        ...     visibilities=np.array([[2, 0]]))
        >>> [len(v["instances"]) for v in column.to_pylist()]
        [1, 0]
    """
    counts_a = np.asarray(counts, dtype=np.int64).reshape(-1)
    kp = np.asarray(keypoints, dtype=np.float64)
    total = int(counts_a.sum())
    k = int(num_keypoints) if num_keypoints is not None else (kp.shape[1] if kp.ndim == 3 else 0)
    if total == 0 and kp.size == 0:
        kp = kp.reshape(0, k, 2)
    if kp.shape != (total, k, 2):
        raise RowError(
            f"rows {first_row}..{first_row + len(counts_a) - 1}: keypoints must have shape "
            f"(T={total}, K={k}, 2), got {tuple(kp.shape)}"
        )
    offsets = np.zeros(len(counts_a) + 1, dtype=np.int64)
    np.cumsum(counts_a, out=offsets[1:])
    bad = ~np.isfinite(kp)
    if bad.any():
        t, j = (int(v) for v in np.argwhere(bad)[0][:2])
        raise RowError(
            f"{_locate(offsets, t, first_row)}: keypoints must be finite, got "
            f"{kp[t, j].tolist()} at keypoint {j}"
        )
    vis = None
    if visibilities is not None:
        vis = np.asarray(visibilities)
        if vis.shape != (total, k):
            raise RowError(f"visibilities must have shape (T={total}, K={k}), got {vis.shape}")
        out_of_range = (
            (vis < 0) | (vis > 2) | (vis != np.round(vis) if vis.dtype.kind == "f" else False)
        )
        if np.any(out_of_range):
            t, j = (int(v) for v in np.argwhere(out_of_range)[0])
            raise RowError(
                f"{_locate(offsets, t, first_row)}: keypoint_visibilities must be 0, 1 or 2, "
                f"got {vis[t, j].item()!r} at keypoint {j}"
            )
        vis = vis.astype(np.int32)
    conf = None
    if confidences is not None:
        conf = np.asarray(confidences, dtype=np.float32)
        if conf.shape != (total, k):
            raise RowError(f"confidences must have shape (T={total}, K={k}), got {conf.shape}")
    box = derive_boxes(kp, None if vis is None else vis > 0) if boxes is None else boxes
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (total, 4) or not np.all(np.isfinite(box)):
        raise RowError(f"boxes must be a finite (T={total}, 4) array, got shape {box.shape}")
    lab = np.zeros(total, np.int32) if labels is None else np.asarray(labels).astype(np.int32)
    inst = None if instance_confidences is None else np.asarray(instance_confidences, np.float64)
    extra_values = {
        name: (np.asarray(v) if not isinstance(v, np.ndarray) else v, None)
        for name, v in (extras or {}).items()
    }
    for name, (values, _) in extra_values.items():
        if values.shape != (total,):
            raise RowError(f"extra {name!r} must have shape (T={total},), got {values.shape}")
    types = dict(extra_types or {})
    for name, (values, _) in extra_values.items():
        if name not in types:
            types[name] = extra_arrow_type(values)
    m = len(counts_a)
    return encode_flat(
        counts_a,
        kp,
        vis=vis,
        vis_null=None,
        conf=conf,
        conf_null=None,
        boxes=box,
        labels=lab,
        inst_conf=inst,
        inst_conf_null_rows=None,
        extras=extra_values,
        extra_types=types,
        widths=np.asarray(widths, dtype=np.float64).reshape(m),
        heights=np.asarray(heights, dtype=np.float64).reshape(m),
    )


def encode_flat(
    counts: np.ndarray,
    kp: np.ndarray,
    *,
    vis: np.ndarray | None,
    vis_null: np.ndarray | None,
    conf: np.ndarray | None,
    conf_null: np.ndarray | None,
    boxes: np.ndarray,
    labels: np.ndarray,
    inst_conf: np.ndarray | None,
    inst_conf_null_rows: np.ndarray | None,
    extras: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    extra_types: Mapping[str, pa.DataType],
    widths: np.ndarray,
    heights: np.ndarray,
    x_min: np.ndarray | None = None,
    y_min: np.ndarray | None = None,
) -> pa.StructArray:
    """Assemble the struct column from checked flat arrays (no validation here).

    ``vis_null``/``conf_null`` flag instances (T,) without that per-point list;
    ``inst_conf_null_rows`` flags rows (M,) without instance scores; each extra is
    ``(values of the rows that have it, rows (M,) that lack it or None)``.
    """
    m = len(counts)
    total, k = kp.shape[0], kp.shape[1]
    all_null = np.ones(total, dtype=bool)
    vis_arr = _fixed(
        np.zeros((total, k), np.int32) if vis is None else vis,
        k,
        pa.int32(),
        all_null if vis is None else vis_null,
    )
    conf_arr = _fixed(
        np.zeros((total, k), np.float32) if conf is None else conf,
        k,
        pa.float32(),
        all_null if conf is None else conf_null,
    )
    point_data = pa.StructArray.from_arrays([vis_arr, conf_arr], fields=list(point_data_type()))
    bbs = _list(np.ones(total, np.int64), _fixed(boxes, 4, pa.float64(), None))
    instance = pa.StructArray.from_arrays(
        [_fixed(kp.reshape(total, 2 * k), 2 * k, pa.float64(), None), point_data, bbs],
        fields=list(instance_type()),
    )
    instances = _list(counts, instance)
    data_type = keypoints_type(extra_types).field("instances_additional_data").type
    columns = [_list(counts, pa.array(labels, pa.int32()))]
    if inst_conf is None:
        columns.append(_list(np.zeros(m, np.int64), pa.array([], pa.float64()), np.ones(m, bool)))
    else:
        null_rows = inst_conf_null_rows
        kept = counts if null_rows is None else np.where(null_rows, 0, counts)
        columns.append(_list(kept, pa.array(inst_conf, pa.float64()), null_rows))
    for name, arrow_type in sorted(extra_types.items()):
        values, missing = extras.get(name, (np.zeros(0), np.ones(m, bool)))
        if missing is None and values.shape[0] != counts.sum():
            missing = np.ones(m, bool)
        kept = counts if missing is None else np.where(missing, 0, counts)
        columns.append(_list(kept, _extra_values(values, arrow_type, name), missing))
    additional = pa.StructArray.from_arrays(columns, fields=list(data_type))
    zeros = np.zeros(m)
    return pa.StructArray.from_arrays(
        [
            pa.array(zeros if x_min is None else x_min, pa.float64()),
            pa.array(zeros if y_min is None else y_min, pa.float64()),
            pa.array(widths, pa.float64()),
            pa.array(heights, pa.float64()),
            instances,
            additional,
        ],
        fields=list(keypoints_type(extra_types)),
    )


def instances_to_arrow(
    items: Sequence[Keypoints2DInstances],
    *,
    num_keypoints: int,
    extras: Mapping[str, pa.DataType],
    widths: Sequence[float] | np.ndarray,
    heights: Sequence[float] | np.ndarray,
    first_row: int = 0,
    row_numbers: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
) -> pa.StructArray:
    """Build the keypoints column for a batch of rows in one pass.

    Every item is checked again here (the objects are mutable): K, finite coordinates,
    visibility in {0, 1, 2}, boxes, extras known to the table.
    """
    m = len(items)
    k = num_keypoints

    def row_name(r: int) -> int:
        return first_row + r if row_numbers is None else int(row_numbers[r])

    # one pass over the rows gathers every array; the checks below are vectorised
    known = set(extras)
    names = list(extras)
    counts = np.zeros(m, dtype=np.int64)
    kps: list[np.ndarray] = []
    viss: list[np.ndarray | None] = []
    confs: list[np.ndarray | None] = []
    box_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    score_parts: list[np.ndarray] = []
    no_conf_rows = np.zeros(m, dtype=bool)
    x_min = np.zeros(m)
    y_min = np.zeros(m)
    extra_parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    extra_missing = {name: np.zeros(m, dtype=bool) for name in names}
    for r, it in enumerate(items):
        x_min[r] = it.x_min or 0.0
        y_min[r] = it.y_min or 0.0
        scores = it.instance_confidences
        no_conf_rows[r] = scores is None
        points = it.keypoints
        shape = getattr(points, "shape", None)
        if not shape or not shape[0]:
            continue
        if len(shape) != 3 or shape[1] != k or shape[2] != 2:
            raise RowError(
                f"row {row_name(r)}: keypoints must have shape (N, K={k}, 2), got {tuple(shape)}"
            )
        counts[r] = shape[0]
        item_extras = it.instance_extras
        if item_extras and not item_extras.keys() <= known:
            raise RowError(
                f"row {row_name(r)}: instance_extras {sorted(set(item_extras) - known)} are not "
                f"fields of this table (known: {sorted(extras)}); name every extra field in the "
                "first rows"
            )
        kps.append(points)
        viss.append(it.keypoint_visibilities)
        confs.append(it.keypoint_confidences)
        box_parts.append(it.instance_bbs)
        label_parts.append(it.instance_labels)
        if scores is not None:
            score_parts.append(scores)
        for name in names:
            values = item_extras.get(name)
            if values is None:
                extra_missing[name][r] = True
            elif len(values) != shape[0]:
                raise RowError(
                    f"row {row_name(r)}: instance_extras[{name!r}] must have one value per "
                    f"instance (N={shape[0]}), got {len(values)}"
                )
            else:
                extra_parts[name].append(np.asarray(values))
    total = int(counts.sum())
    offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    present_counts = counts[counts > 0]

    def cat(arrays: list[np.ndarray], empty: np.ndarray, dtype: type) -> np.ndarray:
        return np.concatenate(arrays).astype(dtype, copy=False) if arrays else empty

    kp = cat(kps, np.zeros((0, k, 2)), np.float64)
    bad = ~np.isfinite(kp)
    if bad.any():
        t, j = (int(v) for v in np.argwhere(bad)[0][:2])
        raise RowError(
            f"{_locate(offsets, t, first_row, row_numbers)}: keypoints must be finite, "
            f"got {kp[t, j].tolist()} at keypoint {j}"
        )

    def per_point(
        values: list[np.ndarray | None], attr: str, dtype: type
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if all(v is None for v in values):
            return None, None
        arrays = [
            np.zeros((int(n), k), dtype) if v is None else np.asarray(v)
            for n, v in zip(present_counts, values, strict=True)
        ]
        for n, a in zip(present_counts, arrays, strict=True):
            if a.shape != (n, k):
                raise RowError(f"{attr} must have shape (N={n}, K={k}), got {a.shape}")
        null = np.repeat([v is None for v in values], present_counts)
        return np.concatenate(arrays).astype(dtype, copy=False), (null if null.any() else None)

    vis, vis_null = per_point(viss, "keypoint_visibilities", np.int64)
    if vis is not None:
        out_of_range = (vis < 0) | (vis > 2)
        if vis_null is not None:
            out_of_range &= ~vis_null[:, None]
        if out_of_range.any():
            t, j = (int(v) for v in np.argwhere(out_of_range)[0])
            raise RowError(
                f"{_locate(offsets, t, first_row, row_numbers)}: keypoint_visibilities must be "
                f"0, 1 or 2, got {int(vis[t, j])} at keypoint {j}"
            )
        vis = vis.astype(np.int32)
    conf, conf_null = per_point(confs, "keypoint_confidences", np.float32)
    boxes = cat(box_parts, np.zeros((0, 4)), np.float64)
    if boxes.shape != (total, 4) or not np.all(np.isfinite(boxes)):
        raise RowError(
            f"rows {first_row}..{first_row + m - 1}: instance_bbs must be finite (N, 4) boxes"
        )
    inverted = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if inverted.size:
        t = int(inverted[0])
        raise RowError(
            f"{_locate(offsets, t, first_row, row_numbers)}: instance_bbs must be "
            f"[x1, y1, x2, y2] with x2 >= x1 and y2 >= y1, got {boxes[t].tolist()}"
        )
    labels = cat(label_parts, np.zeros(0, np.int32), np.int64)
    if classes is not None and len(labels):
        bad_label = (labels < 0) | (labels >= len(classes))
        if bad_label.any():
            t = int(np.flatnonzero(bad_label)[0])
            shown = f"{list(classes)[:5]}{'...' if len(classes) > 5 else ''}"
            raise RowError(
                f"{_locate(offsets, t, first_row, row_numbers)}: instance label must be in "
                f"[0, {len(classes) - 1}] (classes {shown}), got {int(labels[t])}"
            )
    inst_conf = None if no_conf_rows.all() else cat(score_parts, np.zeros(0), np.float64)
    extra_values: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name in names:
        missing = extra_missing[name]
        extra_values[name] = (
            concat_values(extra_parts[name]),
            missing if missing.any() else None,
        )
    return encode_flat(
        counts,
        kp.reshape(total, k, 2),
        vis=vis,
        vis_null=vis_null,
        conf=conf,
        conf_null=conf_null,
        boxes=boxes,
        labels=labels.astype(np.int32),
        inst_conf=inst_conf,
        inst_conf_null_rows=no_conf_rows
        if (no_conf_rows.any() and inst_conf is not None)
        else None,
        extras=extra_values,
        extra_types=extras,
        widths=x_min + np.asarray(widths, dtype=np.float64).reshape(m),
        heights=y_min + np.asarray(heights, dtype=np.float64).reshape(m),
        x_min=x_min,
        y_min=y_min,
    )


def concat_values(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate per-instance values of one extra field without losing values."""
    if not parts:
        return np.zeros(0)
    kinds = {p.dtype.kind for p in parts}
    if len(kinds) == 1 and "O" not in kinds:
        return np.concatenate(parts)
    if kinds <= set("iuf"):
        return np.concatenate([p.astype(np.float64) for p in parts])
    return object_array([v for p in parts for v in p.tolist()])


__all__ = [
    "KEYPOINTS_COLUMN",
    "FlatKeypoints",
    "concat_values",
    "derive_boxes",
    "encode_flat",
    "extra_arrow_type",
    "extras_of_type",
    "flat_from_arrow",
    "instance_type",
    "instances_from_arrow",
    "instances_from_flat",
    "instances_from_values",
    "instances_to_arrow",
    "json_extra_type",
    "keypoints_column",
    "keypoints_type",
    "point_data_type",
]
