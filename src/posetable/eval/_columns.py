"""Tables and predictions -> flat evaluation columns (columnar Arrow reads, no object per instance).

Ground truth from a Table: the ``keypoints`` column (posetable's nested Arrow layout) is
flattened with ``pyarrow.compute``; COCO's ``area``, ``iscrowd``, ``id``,
``num_keypoints`` come from the instance extras and, where a table lacks them (tables made
from scratch), are derived: area = box w*h*0.53, iscrowd 0, num_keypoints = count of v>0,
id = a running number from 1. Image identity is the ``image_id`` column when the table has
one (tables imported from COCO do), else the row index. Category ids come from
``table.metadata["coco"]["categories"]`` (label i is entry i) when present, else label + 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from posetable._lazy import LazyModule
from posetable.errors import InstancesError, RowError
from posetable.eval._data import (
    Frame,
    GroundTruthColumns,
    PredictionColumns,
    empty_predictions,
    frame,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

    from posetable._run_columns import PredictionArrays
    from posetable.instances import Keypoints2DInstances
    from posetable.table import Table
else:
    pa = LazyModule("pyarrow")
    pc = LazyModule("pyarrow.compute")

AREA_FROM_BOX = 0.53


def table_frame(table: Table) -> Frame:
    """The frame of a table: ``image_id`` column (or row index) and COCO category ids."""
    n = len(table)
    if "image_id" in table.columns:
        column = table.to_arrow(columns=["image_id"]).column("image_id")
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise RowError(f"row {row}: image_id is null; every row needs an image id to evaluate")
        if not pa.types.is_integer(column.type):
            raise RowError(f"the image_id column must hold integers, got {column.type}")
        ids = column.to_numpy().astype(np.int64)
        uniq, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            dup = int(uniq[counts > 1][0])
            rows = np.flatnonzero(ids == dup)[:2].tolist()
            raise RowError(
                f"rows {rows[0]} and {rows[1]} share image_id {dup}; image ids must be unique "
                "to evaluate"
            )
    else:
        ids = np.arange(n, dtype=np.int64)
    return frame(ids, table_category_ids(table), table.schema.num_keypoints)


def table_category_ids(table: Table) -> np.ndarray:
    """COCO category id of each label: from the table's COCO metadata, else label + 1."""
    n_labels = len(table.schema.classes)
    cats = (table.metadata.get("coco") or {}).get("categories")
    if isinstance(cats, list) and len(cats) == n_labels:
        try:
            ids = np.asarray([int(c["id"]) for c in cats], dtype=np.int64)
        except (KeyError, TypeError, ValueError):
            ids = None
        if ids is not None and np.unique(ids).shape[0] == n_labels:
            return ids
    return np.arange(1, n_labels + 1, dtype=np.int64)


# -- Arrow keypoints column -> flat arrays --------------------------------------------------
def _field(array: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(array, name)


def _lengths(array: pa.Array) -> np.ndarray:
    return (
        pc.fill_null(pc.list_value_length(array), -1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )


def _per_instance(
    lists: pa.Array, counts: np.ndarray, default: np.ndarray, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-instance values of a per-row list column; rows with a null list keep ``default``.

    Returns (values, given) where ``given`` marks instances whose value came from the data.
    """
    lengths = _lengths(lists)
    given_rows = lengths >= 0
    if np.any(given_rows & (lengths != counts)):
        row = int(np.flatnonzero(given_rows & (lengths != counts))[0])
        raise RowError(f"row {row}: {what} has {lengths[row]} values for {counts[row]} instances")
    out = default.copy()
    given = np.repeat(given_rows, counts)
    flat = pc.list_flatten(lists)
    if len(flat):
        values = flat.to_numpy(zero_copy_only=False) if flat.null_count == 0 else None
        if values is None:
            raise RowError(f"{what} holds null values")
        out[given] = values
    return out, given


@dataclass(frozen=True)
class FlatInstances:
    """The instances of many rows as flat arrays (rows in the given order)."""

    row: np.ndarray  # (N,) row of each instance
    index: np.ndarray  # (N,) index within its row
    keypoints: np.ndarray  # (N, K, 2)
    visibility: np.ndarray | None  # (N, K) int, None when no row has it
    has_visibility: np.ndarray  # (N,) bool
    box: np.ndarray  # (N, 4) xyxy
    label: np.ndarray  # (N,)
    confidence: np.ndarray | None  # (N,) instance confidences (NaN where absent)
    extras: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (values, given)


def flatten_keypoints(column: pa.Array | pa.ChunkedArray, rows: np.ndarray, k: int, *,
                      extras: Sequence[str] = ()) -> FlatInstances:  # fmt: skip
    """Flatten a keypoints column (one value per entry of ``rows``) into instance arrays."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    instances = _field(column, "instances")
    counts = np.maximum(_lengths(instances), 0)
    total = int(counts.sum())
    flat = pc.list_flatten(instances)
    row = np.repeat(rows, counts).astype(np.int64)
    starts = np.cumsum(counts) - counts
    index = np.arange(total) - np.repeat(starts, counts)
    verts = _field(flat, "vertices_2d")
    v_len = _lengths(verts)
    if total and np.any(v_len != 2 * k):
        i = int(np.flatnonzero(v_len != 2 * k)[0])
        raise RowError(
            f"row {row[i]}, instance {index[i]}: expected K={k} keypoints, "
            f"got {max(v_len[i], 0) // 2}"
        )
    keypoints = pc.list_flatten(verts).to_numpy(zero_copy_only=False).reshape(total, k, 2)
    point_data = _field(flat, "vertices_2d_additional_data")
    vis_lists = _field(point_data, "visibility")
    vis_len = _lengths(vis_lists)
    has_vis = vis_len >= 0
    visibility = None
    if has_vis.any():
        visibility = np.full((total, k), 2, np.int64)
        visibility[has_vis] = (
            pc.list_flatten(vis_lists).to_numpy(zero_copy_only=False).reshape(-1, k)
        )
    bbs = _field(flat, "bbs_2d")
    b_len = _lengths(bbs)
    box = np.zeros((total, 4))
    if total and np.any(b_len > 0):
        inner = pc.list_flatten(bbs)
        firsts = np.cumsum(np.maximum(b_len, 0)) - np.maximum(b_len, 0)
        inner_vals = pc.list_flatten(inner).to_numpy(zero_copy_only=False).reshape(-1, 4)
        box[b_len > 0] = inner_vals[firsts[b_len > 0]]
        del inner
    data = _field(column, "instances_additional_data")
    names = {data.type.field(i).name for i in range(data.type.num_fields)}
    label, _ = _per_instance(_field(data, "label"), counts, np.zeros(total), "label")
    confidence = None
    if "confidence" in names:
        conf, _ = _per_instance(
            _field(data, "confidence"), counts, np.full(total, np.nan), "confidence"
        )
        confidence = conf
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in extras:
        if name in names:
            values = _field(data, name)
            value_type = values.type.value_type
            if (
                pa.types.is_integer(value_type)
                or pa.types.is_floating(value_type)
                or pa.types.is_boolean(value_type)
            ):
                found[name] = _per_instance(
                    pc.cast(values, pa.list_(pa.float64())), counts, np.full(total, np.nan), name
                )
    return FlatInstances(
        row=row,
        index=index,
        keypoints=keypoints,
        visibility=visibility,
        has_visibility=has_vis,
        box=box,
        label=label.astype(np.int64),
        confidence=confidence,
        extras=found,
    )


GT_BATCH_ROWS = 1 << 15  # rows read and flattened at a time: the Arrow column never whole


def table_ground_truth(table: Table, fr: Frame) -> GroundTruthColumns:
    """The table's ground truth as flat columns: the keypoints column read in record
    batches, each flattened at once (the memory held is the columns plus one batch)."""
    parts: list[GroundTruthColumns] = []
    start = instances = 0
    batches = table.iter_batches(batch_rows=GT_BATCH_ROWS, columns=["keypoints"], read_ahead=2)
    for batch in batches:
        rows = np.arange(start, start + batch.num_rows)
        parts.append(ground_truth_columns(batch.column(0), rows, fr, first_id=1 + instances))
        start += batch.num_rows
        instances += len(parts[-1])
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return ground_truth_columns(pa.array([], _keypoints_type(table)), np.zeros(0, np.int64), fr)
    return GroundTruthColumns(
        **{
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in GroundTruthColumns.__dataclass_fields__
        }
    )


def _keypoints_type(table: Table) -> pa.DataType:
    return table.to_arrow(columns=["keypoints"]).schema.field("keypoints").type


def ground_truth_columns(
    data: pa.Array | pa.ChunkedArray, rows: np.ndarray, fr: Frame, *, first_id: int = 1
) -> GroundTruthColumns:
    """The ground truth of some table rows (``data``: their keypoints column, one value per
    entry of ``rows``) as flat columns; ids a row lacks are running numbers from
    ``first_id``."""
    k = fr.num_keypoints
    flat = flatten_keypoints(data, rows, k, extras=("area", "iscrowd", "id", "num_keypoints"))
    n = flat.row.shape[0]
    labeled = flat.visibility > 0 if flat.visibility is not None else np.ones((n, k), bool)
    xyxy = flat.box
    box = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)

    def extra(name: str, default: np.ndarray) -> np.ndarray:
        if name not in flat.extras:
            return default
        values, given = flat.extras[name]
        return np.where(given & ~np.isnan(values), values, default)

    area = extra("area", box[:, 2] * box[:, 3] * AREA_FROM_BOX)
    iscrowd = extra("iscrowd", np.zeros(n))
    num_kpts = extra("num_keypoints", labeled.sum(axis=1).astype(float))
    ids = extra("id", np.arange(first_id, first_id + n, dtype=float))
    _check_labels(flat.label, flat.row, flat.index, fr, "ground truth")
    return GroundTruthColumns(
        image=fr.row_position[flat.row],
        category=fr.label_position[flat.label],
        keypoints=flat.keypoints,
        labeled=labeled,
        box=box,
        area=area,
        ignore=(iscrowd != 0) | (num_kpts == 0),
        crowd=np.trunc(iscrowd) != 0,
        id_zero=ids == 0,
        index=flat.index,
        ids=ids.astype(np.int64),
    )


def _check_labels(
    labels: np.ndarray, rows: np.ndarray, index: np.ndarray, fr: Frame, what: str
) -> None:
    bad = (labels < 0) | (labels >= fr.label_position.shape[0])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InstancesError(
            f"row {rows[i]}, {what} instance {index[i]}: label must be in "
            f"[0, {fr.label_position.shape[0] - 1}], got {labels[i]}"
        )


# -- predictions ------------------------------------------------------------------------------
def predictions_from_instances(
    items: Sequence[Keypoints2DInstances | None] | Mapping[int, Keypoints2DInstances | None],
    fr: Frame,
) -> PredictionColumns:
    """Predictions given per row (a sequence aligned with rows, or a row -> instances map)."""
    n_rows = fr.row_position.shape[0]
    if isinstance(items, Mapping):
        pairs = sorted(((int(r), it) for r, it in items.items()), key=lambda p: p[0])
        for r, _ in pairs:
            if not 0 <= r < n_rows:
                raise InstancesError(
                    f"predictions for row {r}, but the ground truth has rows 0..{n_rows - 1}"
                )
    else:
        if len(items) != n_rows:
            raise InstancesError(
                f"predictions must be aligned with the {n_rows} ground-truth rows "
                f"(None where a row has none), got {len(items)}"
            )
        pairs = list(enumerate(items))
    k = fr.num_keypoints
    kps, scores, labels, areas, rows, counts = [], [], [], [], [], []
    for r, item in pairs:
        if item is None or len(item) == 0:
            continue
        if item.num_keypoints != k:
            raise InstancesError(
                f"row {r}: predictions must have K={k} keypoints, got {item.num_keypoints}"
            )
        if item.instance_confidences is None:
            raise InstancesError(
                f"row {r}: predictions need a score per instance (instance_confidences), got None"
            )
        kps.append(item.keypoints)
        scores.append(item.instance_confidences)
        labels.append(item.instance_labels)
        given = item.instance_extras.get("area")
        if given is not None and np.asarray(given).dtype.kind in "iuf":
            areas.append(np.asarray(given, dtype=np.float64))
        else:
            b = item.instance_bbs
            areas.append((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        rows.append(r)
        counts.append(len(item))
    if not kps:
        return empty_predictions(k)
    count = np.asarray(counts)
    row = np.repeat(np.asarray(rows, np.int64), count)
    index = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return _checked_predictions(
        fr,
        row,
        index,
        np.concatenate(kps),
        np.concatenate(scores),
        np.concatenate(labels),
        np.concatenate(areas),
    )


def predictions_from_arrow(data: pa.Table, fr: Frame) -> PredictionColumns:
    """Predictions as an Arrow table with ``row`` (int) and ``keypoints`` (posetable layout)."""
    for name in ("row", "keypoints"):
        if name not in data.column_names:
            raise InstancesError(
                f"a predictions table needs columns 'row' and 'keypoints', missing {name!r}"
            )
    rows = data.column("row").to_numpy().astype(np.int64)
    _check_rows(rows, fr)
    if np.unique(rows).shape[0] != rows.shape[0]:
        raise InstancesError(
            "the predictions table lists a row more than once; give one entry per row"
        )
    flat = flatten_keypoints(data.column("keypoints"), rows, fr.num_keypoints, extras=("area",))
    n = flat.row.shape[0]
    conf = flat.confidence
    if n and (conf is None or np.isnan(conf).any()):
        i = 0 if conf is None else int(np.flatnonzero(np.isnan(conf))[0])
        raise InstancesError(
            f"row {flat.row[i]}: predictions need a score per instance (instance confidence), "
            "got null"
        )
    xyxy = flat.box
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    if "area" in flat.extras:
        values, given = flat.extras["area"]
        area = np.where(given & ~np.isnan(values), values, area)
    return _checked_predictions(
        fr,
        flat.row,
        flat.index,
        flat.keypoints,
        conf if conf is not None else np.zeros(0),
        flat.label,
        area,
    )


def predictions_from_arrays(data: PredictionArrays, fr: Frame) -> PredictionColumns:
    """Predictions as a run's flat evaluation arrays (``Run.prediction_arrays``)."""
    rows = np.asarray(data.row)
    _check_rows(rows, fr)
    keypoints = data.keypoints
    if rows.size and keypoints.shape[1] != fr.num_keypoints:
        raise InstancesError(
            f"predictions must have K={fr.num_keypoints} keypoints like the ground truth, "
            f"got K={keypoints.shape[1]}"
        )
    return _checked_predictions(fr, rows, data.index, keypoints, data.score, data.label, data.area)


def _check_rows(rows: np.ndarray, fr: Frame) -> None:
    """An InstancesError naming the first prediction row the ground truth does not have."""
    n_rows = fr.row_position.shape[0]
    if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
        bad = int(rows[(rows < 0) | (rows >= n_rows)][0])
        raise InstancesError(
            f"predictions for row {bad}, but the ground truth has rows 0..{n_rows - 1}"
        )


def _checked_predictions(
    fr: Frame, row: np.ndarray, index: np.ndarray, kp: np.ndarray, score: np.ndarray,
    labels: np.ndarray, area: np.ndarray,
) -> PredictionColumns:  # fmt: skip
    bad = ~np.isfinite(kp).all(axis=(1, 2)) | ~np.isfinite(score)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "score" if not np.isfinite(score[i]) else "keypoints"
        raise InstancesError(
            f"row {row[i]}, prediction {index[i]}: {what} must be finite, got NaN or inf"
        )
    labels = labels.astype(np.int64)
    _check_labels(labels, row, index, fr, "prediction")
    return PredictionColumns(
        image=fr.row_position[row],
        category=fr.label_position[labels],
        keypoints=np.ascontiguousarray(kp, dtype=np.float64),
        score=score.astype(np.float64),
        area=area.astype(np.float64),
        index=index.astype(np.int64),
    )
