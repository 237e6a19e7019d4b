"""Decoding the keypoints column (see :mod:`posetable._arrow` for the layout).

Two paths give identical objects: :func:`flat_from_arrow` turns any number of rows into
flat numpy arrays with a fixed number of Arrow/numpy calls (no Python work per instance),
and :func:`instances_from_values` decodes a handful of rows through their Python values,
which is cheaper than the columnar path's fixed cost for a single ``table[i]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from posetable._lazy import LazyModule
from posetable.errors import RowError
from posetable.instances import FIXED_INSTANCE_FIELDS, Keypoints2DInstances, object_array

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = LazyModule("pyarrow")


def json_extra_type() -> pa.DataType:
    """The type of extras that are not bool/int/float/string, stored JSON-encoded."""
    return pa.large_string()


def derive_boxes(keypoints: np.ndarray, labeled: np.ndarray | None) -> np.ndarray:
    """xyxy boxes around the labeled points of each instance ((0, 0, 0, 0) when none is)."""
    n = keypoints.shape[0]
    boxes = np.zeros((n, 4), dtype=np.float64)
    if n == 0 or keypoints.shape[1] == 0:
        return boxes
    mask = np.ones(keypoints.shape[:2], dtype=bool) if labeled is None else labeled
    has = mask.any(axis=1)
    if has.any():
        x = np.where(mask, keypoints[..., 0], np.inf)
        y = np.where(mask, keypoints[..., 1], np.inf)
        boxes[has, 0] = x[has].min(axis=1)
        boxes[has, 1] = y[has].min(axis=1)
        x = np.where(mask, keypoints[..., 0], -np.inf)
        y = np.where(mask, keypoints[..., 1], -np.inf)
        boxes[has, 2] = x[has].max(axis=1)
        boxes[has, 3] = y[has].max(axis=1)
    return boxes


@dataclass(frozen=True)
class FlatKeypoints:
    """A keypoints column as flat numpy arrays: the instances of all rows concatenated.

    Row ``i`` holds instances ``offsets[i]:offsets[i + 1]``. Per-point arrays are zeros
    where ``*_rows`` says a row lacks them.

    Attributes:
        counts: (M,) instances per row.
        offsets: (M + 1,) start of each row's instances.
        keypoints: (T, K, 2) float64.
        visibilities: (T, K) int32 (0 where a row has none).
        has_visibilities: (M,) rows holding visibilities.
        confidences: (T, K) float32 (0 where a row has none).
        has_confidences: (M,) rows holding per-keypoint confidences.
        boxes: (T, 4) xyxy float64.
        labels: (T,) int32.
        instance_confidences: (T,) float64 (0 where a row has none).
        has_instance_confidences: (M,) rows holding instance scores.
        extras: name -> ((T,) values, (M,) rows lacking the field).
        x_min, y_min, widths, heights: (M,) float64.
    """

    counts: np.ndarray
    offsets: np.ndarray
    keypoints: np.ndarray
    visibilities: np.ndarray
    has_visibilities: np.ndarray
    confidences: np.ndarray
    has_confidences: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    instance_confidences: np.ndarray
    has_instance_confidences: np.ndarray
    extras: dict[str, tuple[np.ndarray, np.ndarray]]
    x_min: np.ndarray
    y_min: np.ndarray
    widths: np.ndarray
    heights: np.ndarray

    @property
    def num_keypoints(self) -> int:
        """K."""
        return int(self.keypoints.shape[1])


def _as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        if column.num_chunks == 0:
            return pa.array([], column.type)
        return column.combine_chunks()
    return column


def _children(struct: pa.Array) -> dict[str, pa.Array]:
    """The children of a (possibly sliced) struct array, with the slice applied."""
    return {struct.type.field(i).name: child for i, child in enumerate(struct.flatten())}


def _lengths(array: pa.Array) -> np.ndarray:
    """Entries per list (0 for a null list), from the offsets: no compute kernel call."""
    offsets = np.asarray(array.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    lengths = offsets[1:] - offsets[:-1]
    if array.null_count:
        lengths[_nulls(array)] = 0
    return lengths


def _flatten(array: pa.Array) -> pa.Array:
    """The values of a (possibly sliced) list array, without a compute kernel call when the
    array has no null lists."""
    if array.null_count:
        return array.flatten()
    offsets = array.offsets
    start = offsets[0].as_py()
    return array.values.slice(start, offsets[len(offsets) - 1].as_py() - start)


def _nulls(array: pa.Array) -> np.ndarray:
    if array.null_count == 0:
        return np.zeros(len(array), dtype=bool)
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(array: pa.Array, dtype: type) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def _values(array: pa.Array, arrow_type: pa.DataType) -> np.ndarray:
    if arrow_type == json_extra_type():
        return object_array([orjson.loads(v) for v in array.to_pylist()])
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return object_array(array.to_pylist())
    if pa.types.is_integer(arrow_type):
        return _numbers(array, np.int64)
    if pa.types.is_boolean(arrow_type):
        return _numbers(array, bool)
    return array.to_numpy(zero_copy_only=False)


def _per_point(array: pa.Array, total: int, k: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """(T, K) values and a (T,) null-or-empty flag of a per-point list child."""
    lengths = _lengths(array)
    absent = lengths == 0 if k else _nulls(array)
    if total and not absent.all():
        flat = _numbers(_flatten(array), dtype)
        values: np.ndarray
        if absent.any():
            values = np.zeros((total, k), dtype=dtype)
            values[~absent] = flat.reshape(-1, k)
        else:
            values = flat.reshape(total, k)
    else:
        values = np.zeros((total, k), dtype=dtype)
    return values, absent


def flat_from_arrow(
    column: pa.Array | pa.ChunkedArray, *, num_keypoints: int | None = None
) -> FlatKeypoints:
    """Decode a keypoints column (any slice of a table) into flat arrays, vectorised.

    Example:
        >>> import numpy as np
        >>> from posetable._arrow import keypoints_column
        >>> column = keypoints_column([2], np.ones((2, 3, 2)), widths=[9], heights=[9],
        ...                           visibilities=np.full((2, 3), 2))
        >>> flat = flat_from_arrow(column)
        >>> flat.counts.tolist(), flat.keypoints.shape, flat.has_visibilities.tolist()
        ([2], (2, 3, 2), [True])
    """
    array = _as_array(column)
    m = len(array)
    top = _children(array)
    instances = top["instances"]
    counts = _lengths(instances)
    offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    inst = _children(_flatten(instances))
    vertices = inst["vertices_2d"]
    if total:
        v_len = _lengths(vertices)
        first = int(v_len[0])
        if first % 2 or np.any(v_len != first):
            raise RowError(
                "every instance must have the same even number of vertices, got lengths "
                f"{sorted(set(v_len.tolist()))}"
            )
        k = first // 2
        if num_keypoints is not None and k != num_keypoints:
            raise RowError(f"keypoints must have K={num_keypoints} points, got {k}")
        kp = _numbers(_flatten(vertices), np.float64).reshape(total, k, 2)
    else:
        k = int(num_keypoints or 0)
        kp = np.zeros((0, k, 2))
    point_data = _children(inst["vertices_2d_additional_data"])
    vis, vis_null = _per_point(point_data["visibility"], total, k, np.int32)
    conf, conf_null = _per_point(point_data["confidence"], total, k, np.float32)
    boxes = np.zeros((total, 4))
    if total:
        bbs = inst["bbs_2d"]
        b_len = _lengths(bbs)
        box_values = _numbers(_flatten(_flatten(bbs)), np.float64).reshape(-1, 4)
        if np.all(b_len == 1):
            boxes = box_values
        else:
            starts = np.zeros(total, dtype=np.int64)
            np.cumsum(b_len[:-1], out=starts[1:])
            has_box = b_len > 0
            boxes[has_box] = box_values[starts[has_box]]
            missing = ~has_box
            boxes[missing] = derive_boxes(
                kp[missing], np.where(vis_null[missing, None], True, vis[missing] > 0)
            )
    data = _children(top["instances_additional_data"])
    labels = np.zeros(total, dtype=np.int32)
    label_arr = data["label"]
    label_null = _nulls(label_arr)
    if total and not label_null.all():
        labels[np.repeat(~label_null, counts)] = _numbers(_flatten(label_arr), np.int32)
    inst_arr = data["confidence"]
    conf_rows_null = _nulls(inst_arr)
    inst_conf = np.zeros(total)
    if total and not conf_rows_null.all():
        inst_conf[np.repeat(~conf_rows_null, counts)] = _numbers(_flatten(inst_arr), np.float64)
    extras: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    data_type = array.type.field("instances_additional_data").type
    for f in data_type:
        if f.name in FIXED_INSTANCE_FIELDS:
            continue
        child = data[f.name]
        missing = _nulls(child)
        raw = _values(_flatten(child), f.type.value_type)
        if missing.any():
            full = np.zeros(total, dtype=raw.dtype)
            if raw.dtype.kind == "O":
                full[:] = None
            full[np.repeat(~missing, counts)] = raw
            raw = full
        extras[f.name] = (raw, missing)
    return FlatKeypoints(
        counts=counts,
        offsets=offsets,
        keypoints=kp,
        visibilities=vis,
        has_visibilities=_rows_with(vis_null, offsets, counts),
        confidences=conf,
        has_confidences=_rows_with(conf_null, offsets, counts),
        boxes=boxes,
        labels=labels,
        instance_confidences=inst_conf,
        has_instance_confidences=~conf_rows_null,
        extras=extras,
        x_min=_float_column(top["x_min"]),
        y_min=_float_column(top["y_min"]),
        widths=_float_column(top["x_max"]),
        heights=_float_column(top["y_max"]),
    )


def _float_column(array: pa.Array) -> np.ndarray:
    if array.null_count:
        array = array.fill_null(np.nan)
    return _numbers(array, np.float64)


def _rows_with(null: np.ndarray, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Rows that have instances and none of them null."""
    if not null.any():
        return counts > 0
    running = np.zeros(len(null) + 1, dtype=np.int64)
    np.cumsum(null, out=running[1:])
    nulls_per_row = running[offsets[1:]] - running[offsets[:-1]]
    return (counts > 0) & (nulls_per_row == 0)


SMALL_DECODE_ROWS = 8


def instances_from_arrow(
    column: pa.Array | pa.ChunkedArray, *, num_keypoints: int | None = None
) -> list[Keypoints2DInstances]:
    """Decode a keypoints column (any slice of a table) into one object per row.

    A few rows (a single ``table[i]``) are decoded from their Python values, which costs
    less than the fixed overhead of the columnar path; more rows go through
    :func:`flat_from_arrow`. Both give identical objects (a test checks it).
    """
    array = _as_array(column)
    if len(array) <= SMALL_DECODE_ROWS:
        return instances_from_values(array, num_keypoints=num_keypoints)
    return instances_from_flat(flat_from_arrow(array, num_keypoints=num_keypoints))


def _extra_from_values(values: list[Any], arrow_type: pa.DataType) -> np.ndarray:
    if arrow_type == json_extra_type():
        return object_array([orjson.loads(v) for v in values])
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return object_array(values)
    if pa.types.is_integer(arrow_type):
        return np.array(values, dtype=np.int64)
    if pa.types.is_boolean(arrow_type):
        return np.array(values, dtype=bool)
    return np.array(values, dtype=arrow_type.to_pandas_dtype())


def instances_from_values(
    column: pa.Array | pa.ChunkedArray, *, num_keypoints: int | None = None
) -> list[Keypoints2DInstances]:
    """Decode a few rows of a keypoints column through their Python values."""
    array = _as_array(column)
    data_type = array.type.field("instances_additional_data").type
    extra_types = {
        f.name: f.type.value_type for f in data_type if f.name not in FIXED_INSTANCE_FIELDS
    }
    out = []
    for value in array.to_pylist():
        instances = value["instances"] or []
        n = len(instances)
        if n:
            lengths = {len(inst["vertices_2d"] or ()) for inst in instances}
            if len(lengths) != 1 or next(iter(lengths)) % 2:
                raise RowError(
                    "every instance must have the same even number of vertices, got lengths "
                    f"{sorted(lengths)}"
                )
            k = next(iter(lengths)) // 2
            if num_keypoints is not None and k != num_keypoints:
                raise RowError(f"keypoints must have K={num_keypoints} points, got {k}")
        else:
            k = int(num_keypoints or 0)
        kp = np.array([inst["vertices_2d"] for inst in instances], dtype=np.float64)
        kp = kp.reshape(n, k, 2)
        per_point = [inst["vertices_2d_additional_data"] or {} for inst in instances]

        def points(
            key: str, dtype: type, data: list[dict[str, Any]] = per_point
        ) -> np.ndarray | None:
            values = [d.get(key) for d in data]
            if not values or any(not v for v in values):
                return None
            return np.array(values, dtype=dtype)

        vis = points("visibility", np.int32)
        conf = points("confidence", np.float32)
        boxes = np.zeros((n, 4))
        missing_box = []
        for i, inst in enumerate(instances):
            if inst["bbs_2d"]:
                boxes[i] = inst["bbs_2d"][0]
            else:
                missing_box.append(i)
        if missing_box:
            labeled = None if vis is None else vis[missing_box] > 0
            boxes[missing_box] = derive_boxes(kp[missing_box], labeled)
        data = value["instances_additional_data"] or {}
        labels = data.get("label")
        inst_conf = data.get("confidence")
        extras = {}
        nulls = []
        for name, arrow_type in extra_types.items():
            values = data.get(name)
            if values is None:
                nulls.append(name)
            else:
                extras[name] = _extra_from_values(values, arrow_type)
        width, height = value["x_max"], value["y_max"]
        out.append(
            Keypoints2DInstances._from_trusted(
                kp,
                keypoint_visibilities=vis,
                keypoint_confidences=conf,
                instance_labels=(
                    np.zeros(n, np.int32) if labels is None else np.array(labels, np.int32)
                ),
                instance_confidences=None if inst_conf is None else np.array(inst_conf, np.float64),
                instance_bbs=boxes,
                instance_extras=extras,
                x_min=float(value["x_min"] or 0.0),
                y_min=float(value["y_min"] or 0.0),
                x_max=None if width is None else float(width),
                y_max=None if height is None else float(height),
                num_keypoints=k,
                null_extras=tuple(nulls),
            )
        )
    return out


def instances_from_flat(flat: FlatKeypoints) -> list[Keypoints2DInstances]:
    """One :class:`Keypoints2DInstances` per row of a :class:`FlatKeypoints` (array views)."""
    out = []
    k = flat.num_keypoints
    offsets = flat.offsets.tolist()
    has_vis = flat.has_visibilities.tolist()
    has_conf = flat.has_confidences.tolist()
    has_inst = flat.has_instance_confidences.tolist()
    widths = flat.widths.tolist()
    heights = flat.heights.tolist()
    x_min = flat.x_min.tolist()
    y_min = flat.y_min.tolist()
    extras = [(name, values, missing.tolist()) for name, (values, missing) in flat.extras.items()]
    for r in range(len(flat.counts)):
        a, b = offsets[r], offsets[r + 1]
        item_extras = {}
        nulls = []
        for name, values, missing in extras:
            if missing[r]:
                nulls.append(name)
            else:
                item_extras[name] = values[a:b]
        out.append(
            Keypoints2DInstances._from_trusted(
                flat.keypoints[a:b],
                keypoint_visibilities=flat.visibilities[a:b] if has_vis[r] else None,
                keypoint_confidences=flat.confidences[a:b] if has_conf[r] else None,
                instance_labels=flat.labels[a:b],
                instance_confidences=flat.instance_confidences[a:b] if has_inst[r] else None,
                instance_bbs=flat.boxes[a:b],
                instance_extras=item_extras,
                x_min=x_min[r] if x_min[r] == x_min[r] else 0.0,
                y_min=y_min[r] if y_min[r] == y_min[r] else 0.0,
                x_max=None if widths[r] != widths[r] else widths[r],
                y_max=None if heights[r] != heights[r] else heights[r],
                num_keypoints=k,
                null_extras=tuple(nulls),
            )
        )
    return out
