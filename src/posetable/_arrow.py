"""The Arrow layout of the keypoints column and fast columnar conversion.

One keypoints value (3LC's layout) is a struct::

    x_min, y_min, x_max, y_max: double
    instances: list<struct<vertices_2d: list<double>,
                           vertices_2d_additional_data: struct<visibility: list<int32>,
                                                               confidence: list<float>>,
                           bbs_2d: list<list<double>>>>
    instances_additional_data: struct<label: list<int32>, confidence: list<double>,
                                      <extra>: list<...>, ...>

Conversion works on whole batches: arrays are concatenated once and sliced by offsets, with
no Python object per instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posetable.errors import InstancesError, RowError
from posetable.instances import Keypoints2DInstances

KEYPOINTS_COLUMN = "keypoints"
POINT_DATA_TYPE = pa.struct(
    [pa.field("visibility", pa.list_(pa.int32())), pa.field("confidence", pa.list_(pa.float32()))]
)
INSTANCE_TYPE = pa.struct(
    [
        pa.field("vertices_2d", pa.list_(pa.float64())),
        pa.field("vertices_2d_additional_data", POINT_DATA_TYPE),
        pa.field("bbs_2d", pa.list_(pa.list_(pa.float64()))),
    ]
)


def extra_arrow_type(values: np.ndarray) -> pa.DataType:
    """The Arrow value type used to store one per-instance extra field."""
    kind = values.dtype.kind
    if kind == "b":
        return pa.bool_()
    if kind in "iu":
        return pa.int64()
    if kind == "f":
        return pa.float64()
    return pa.string()  # str as is; other objects JSON-encoded


def keypoints_type(extras: Mapping[str, pa.DataType]) -> pa.StructType:
    """The struct type of a keypoints column with the given extra instance fields."""
    data_fields = [pa.field("label", pa.list_(pa.int32())), pa.field("confidence", pa.list_(pa.float64()))]
    data_fields += [pa.field(name, pa.list_(t)) for name, t in sorted(extras.items())]
    return pa.struct(
        [
            pa.field("x_min", pa.float64()),
            pa.field("y_min", pa.float64()),
            pa.field("x_max", pa.float64()),
            pa.field("y_max", pa.float64()),
            pa.field("instances", pa.list_(INSTANCE_TYPE)),
            pa.field("instances_additional_data", pa.struct(data_fields)),
        ]
    )


def extras_of_type(struct_type: pa.DataType) -> dict[str, pa.DataType]:
    """The extra instance fields named by a keypoints struct type."""
    data = struct_type.field("instances_additional_data").type  # type: ignore[attr-defined]
    return {
        f.name: f.type.value_type for f in data if f.name not in ("label", "confidence")
    }


def _offsets(counts: np.ndarray) -> pa.Array:
    out = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=out[1:])
    return pa.array(out, pa.int32())


def _fixed_list(flat: np.ndarray, width: int, count: int, value_type: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    offsets = pa.array(np.arange(count + 1, dtype=np.int32) * width, pa.int32())
    values = pa.array(flat.ravel(), value_type)
    if mask is not None and mask.any():
        return pa.ListArray.from_arrays(offsets, values, mask=pa.array(mask))
    return pa.ListArray.from_arrays(offsets, values)


def _extra_values(values: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_string(arrow_type) and values.dtype.kind not in "US":
        values = np.asarray(
            [v if isinstance(v, str) else orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in values],
            dtype=object,
        )
    try:
        return pa.array(values, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InstancesError(f"instance extra values cannot be stored as {arrow_type}: {exc}") from exc


def instances_to_arrow(
    items: Sequence[Keypoints2DInstances],
    *,
    num_keypoints: int,
    extras: Mapping[str, pa.DataType],
    widths: Sequence[float] | np.ndarray,
    heights: Sequence[float] | np.ndarray,
    first_row: int = 0,
) -> pa.StructArray:
    """Build the keypoints column for a batch of rows in one pass."""
    m = len(items)
    counts = np.fromiter((len(it) for it in items), dtype=np.int64, count=m)
    for r, it in enumerate(items):
        if len(it) and it.num_keypoints != num_keypoints:
            raise RowError(
                f"row {first_row + r}: keypoints must have shape (N, K={num_keypoints}, 2), "
                f"got {tuple(it.keypoints.shape)}"
            )
        unknown = set(it.instance_extras) - set(extras)
        if unknown:
            raise RowError(
                f"row {first_row + r}: instance_extras {sorted(unknown)} are not columns of this "
                f"table (known: {sorted(extras)}); declare every extra field in the first rows"
            )
    present = [it for it in items if len(it)]
    total = int(counts.sum())
    k = num_keypoints
    kp = np.concatenate([it.keypoints for it in present]) if present else np.zeros((0, k, 2))
    boxes = np.concatenate([it.instance_bbs for it in present]) if present else np.zeros((0, 4))
    labels = np.concatenate([it.instance_labels for it in present]) if present else np.zeros(0, np.int32)

    def per_point(attr: str, dtype: type) -> tuple[np.ndarray, np.ndarray | None]:
        arrays, mask = [], []
        for it in present:
            value = getattr(it, attr)
            arrays.append(np.zeros((len(it), k), dtype) if value is None else value.astype(dtype))
            mask.append(np.full(len(it), value is None))
        if not arrays:
            return np.zeros((0, k), dtype), None
        m_arr = np.concatenate(mask)
        return np.concatenate(arrays), (m_arr if m_arr.any() else None)

    vis, vis_mask = per_point("keypoint_visibilities", np.int32)
    conf, conf_mask = per_point("keypoint_confidences", np.float32)
    point_data = pa.StructArray.from_arrays(
        [
            _fixed_list(vis, k, total, pa.int32(), vis_mask),
            _fixed_list(conf, k, total, pa.float32(), conf_mask),
        ],
        fields=list(POINT_DATA_TYPE),
    )
    bbs_inner = _fixed_list(boxes, 4, total, pa.float64())
    bbs = pa.ListArray.from_arrays(pa.array(np.arange(total + 1, dtype=np.int32)), bbs_inner)
    instance = pa.StructArray.from_arrays(
        [_fixed_list(kp, 2 * k, total, pa.float64()), point_data, bbs], fields=list(INSTANCE_TYPE)
    )
    row_offsets = _offsets(counts)
    instances = pa.ListArray.from_arrays(row_offsets, instance)

    data_type = keypoints_type(extras).field("instances_additional_data").type
    data_columns = [pa.ListArray.from_arrays(row_offsets, pa.array(labels, pa.int32()))]
    conf_rows = np.fromiter((it.instance_confidences is None for it in items), dtype=bool, count=m)
    inst_conf = np.concatenate(
        [np.zeros(len(it)) if it.instance_confidences is None else it.instance_confidences for it in present]
    ) if present else np.zeros(0)
    data_columns.append(
        pa.ListArray.from_arrays(
            row_offsets,
            pa.array(inst_conf, pa.float64()),
            mask=pa.array(conf_rows) if conf_rows.any() else None,
        )
    )
    for name, arrow_type in sorted(extras.items()):
        missing = np.fromiter(
            (len(it) > 0 and name not in it.instance_extras for it in items), dtype=bool, count=m
        )
        parts = [it.instance_extras[name] for it in items if name in it.instance_extras]
        values = _extra_values(np.concatenate(parts) if parts else np.zeros(0), arrow_type)
        offsets = _offsets(np.where(missing, 0, counts))
        mask = pa.array(missing) if missing.any() else None
        data_columns.append(pa.ListArray.from_arrays(offsets, values, mask=mask))
    additional = pa.StructArray.from_arrays(data_columns, fields=list(data_type))
    zeros = pa.array(np.zeros(m), pa.float64())
    return pa.StructArray.from_arrays(
        [
            zeros,
            zeros,
            pa.array(np.asarray(widths, dtype=np.float64)),
            pa.array(np.asarray(heights, dtype=np.float64)),
            instances,
            additional,
        ],
        fields=list(keypoints_type(extras)),
    )


def _list_parts(array: pa.Array) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """(lengths with nulls as 0, flat values, null mask) of a possibly sliced list array."""
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
    return lengths.astype(np.int64), pc.list_flatten(array), array.is_null().to_numpy(zero_copy_only=False)


def _numpy(array: pa.Array) -> np.ndarray:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return np.asarray(array.to_pylist(), dtype=object)
    return array.to_numpy(zero_copy_only=False)


def instances_from_arrow(column: pa.Array | pa.ChunkedArray) -> list[Keypoints2DInstances]:
    """Decode a keypoints column (any slice of a table) into one object per row."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    m = len(column)
    if m == 0:
        return []
    fields = {column.type.field(i).name: f for i, f in enumerate(column.flatten())}
    widths = fields["x_max"].to_numpy(zero_copy_only=False)
    heights = fields["y_max"].to_numpy(zero_copy_only=False)
    counts, inst, _ = _list_parts(fields["instances"])
    inst_fields = {inst.type.field(i).name: f for i, f in enumerate(inst.flatten())}
    v_len, v_flat, _ = _list_parts(inst_fields["vertices_2d"])
    total = int(counts.sum())
    if total and np.any(v_len != v_len[0]):
        raise InstancesError(f"every instance must have the same number of vertices, got {sorted(set(v_len.tolist()))}")
    k = int(v_len[0]) // 2 if total else 0
    kp = v_flat.to_numpy(zero_copy_only=False).reshape(total, k, 2)
    pdata = {POINT_DATA_TYPE.field(i).name: f for i, f in enumerate(inst_fields["vertices_2d_additional_data"].flatten())}
    per_point = {}
    for name, dtype in (("visibility", np.int32), ("confidence", np.float32)):
        lengths, flat, nulls = _list_parts(pdata[name])
        values = np.zeros((total, k), dtype)
        if (~nulls).any():
            values[~nulls] = flat.to_numpy(zero_copy_only=False).reshape(-1, k)
        per_point[name] = (values, nulls)
    b_len, b_flat, _ = _list_parts(inst_fields["bbs_2d"])
    box_values = pc.list_flatten(b_flat).to_numpy(zero_copy_only=False).reshape(-1, 4)
    boxes = np.zeros((total, 4))
    box_start = np.concatenate([[0], np.cumsum(b_len)[:-1]]) if total else np.zeros(0, np.int64)
    has_box = b_len > 0
    boxes[has_box] = box_values[box_start[has_box]]
    data = {
        column.type.field("instances_additional_data").type.field(i).name: f
        for i, f in enumerate(fields["instances_additional_data"].flatten())
    }
    row_data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, arr in data.items():
        lengths, flat, nulls = _list_parts(arr)
        row_data[name] = (_numpy(flat), np.concatenate([[0], np.cumsum(lengths)]), nulls)
    starts = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for r in range(m):
        a, b = int(starts[r]), int(starts[r + 1])
        vis, vis_null = per_point["visibility"]
        conf, conf_null = per_point["confidence"]
        has_vis = b > a and not vis_null[a:b].any()
        has_conf = b > a and not conf_null[a:b].any()
        extras: dict[str, np.ndarray] = {}
        nulls: list[str] = []
        labels = None
        inst_conf = None
        for name, (flat, starts_of, null_rows) in row_data.items():
            if null_rows[r]:
                if name not in ("label", "confidence"):
                    nulls.append(name)
                continue
            values = flat[int(starts_of[r]) : int(starts_of[r + 1])]
            if name == "label":
                labels = values
            elif name == "confidence":
                inst_conf = values
            else:
                extras[name] = values
        item = Keypoints2DInstances(
            kp[a:b],
            keypoint_visibilities=vis[a:b] if has_vis else None,
            keypoint_confidences=conf[a:b] if has_conf else None,
            instance_labels=labels,
            instance_confidences=inst_conf,
            instance_bbs=boxes[a:b],
            instance_extras=extras,
            image_width=float(widths[r]),
            image_height=float(heights[r]),
            num_keypoints=k or None,
        )
        item._null_extras = tuple(nulls)
        out.append(item)
    return out
