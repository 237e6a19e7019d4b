"""One gather over the keypoints column: every per-keypoint list of every instance at once.

A skeleton change (add, remove, reorder, map between layouts) is a *plan*: for each new
keypoint, the old keypoint it takes its values from, or ``-1`` for a point that has none
(x = y = 0, visibility 0, confidence 0). :func:`gather_column` applies a plan to a whole
batch of the keypoints column (see :mod:`posetable._arrow` for the layout) with one numpy
fancy-index per per-keypoint list (vertices, visibility, confidence): no Python work per
row, instance or keypoint. Everything else in the column (boxes, labels, instance scores,
extra fields, the image size) is passed through as the same Arrow buffers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from posetable._arrow_decode import _as_array, _children, _flatten, _lengths, _nulls, _numbers
from posetable.errors import RowError

#: The COCO field holding the number of labeled keypoints of an instance.
NUM_KEYPOINTS_FIELD = "num_keypoints"


def _offsets(lengths: np.ndarray) -> pa.Array:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    if out[-1] > np.iinfo(np.int32).max:
        raise RowError(f"a batch holds too many values for one Arrow list: {int(out[-1])}")
    return pa.array(out.astype(np.int32))


def _list(lengths: np.ndarray, values: pa.Array, null: np.ndarray | None) -> pa.ListArray:
    if null is not None and null.any():
        return pa.ListArray.from_arrays(_offsets(lengths), values, mask=pa.array(null))
    return pa.ListArray.from_arrays(_offsets(lengths), values)


def _struct(children: list[pa.Array], like: pa.Array) -> pa.StructArray:
    """A struct array with ``like``'s fields and validity and new children."""
    mask = pa.array(_nulls(like)) if like.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(like.type), mask=mask)


def gather_points(values: np.ndarray, source: np.ndarray, fill: float | int = 0) -> np.ndarray:
    """Take ``values[:, source]`` along the keypoint axis; ``-1`` entries become ``fill``.

    Example:
        >>> import numpy as np
        >>> gather_points(np.array([[1, 2, 3]]), np.array([2, -1, 0])).tolist()
        [[3, 0, 1]]
    """
    # np.take gives a C-contiguous result; values[:, source] would be a transposed copy
    have = source >= 0
    out = np.take(values, np.where(have, source, 0), axis=1)
    if not have.all():
        out[:, ~have] = fill
    return out


def _per_point_list(
    lists: pa.Array, source: np.ndarray, k: int, dtype: type, where: str, *, count: bool = False
) -> tuple[pa.Array, tuple[np.ndarray, np.ndarray] | None]:
    """A per-point list child (visibility or confidence) gathered; also, per instance, the
    number of points > 0 before and after when ``count`` (-1 where the instance has no such
    list; None when no instance has it or ``count`` is False)."""
    lengths = _lengths(lists)
    present = lengths > 0
    if not present.any():
        return lists, None
    if np.any(lengths[present] != k):
        bad = sorted(set(lengths[present].tolist()) - {k})
        raise RowError(f"{where} lists must hold K={k} values, got lengths {bad}")
    flat = _numbers(_flatten(lists), dtype).reshape(-1, k)
    new = gather_points(flat, source)
    arrow_type = lists.type.value_type
    null = _nulls(lists) if lists.null_count else None
    column = _list(np.where(present, len(source), 0), pa.array(new.ravel(), arrow_type), null)
    if not count:
        return column, None
    before = np.full(len(lists), -1, dtype=np.int64)
    after = np.full(len(lists), -1, dtype=np.int64)
    before[present] = (flat > 0).sum(axis=1)
    after[present] = (new > 0).sum(axis=1)
    return column, (before, after)


def _recounted(
    child: pa.Array, counts: np.ndarray, labeled: tuple[np.ndarray, np.ndarray] | None
) -> pa.Array:
    """The ``num_keypoints`` list child changed by the number of labeled points (v > 0) each
    instance lost or gained, where it has visibilities (clamped at 0): a value a file gave
    apart from its count (pycocotools reads it) stays apart by the same amount."""
    value_type = child.type.value_type
    if labeled is None or not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        return child
    missing = _nulls(child)
    has = np.repeat(~missing, counts)
    old = _numbers(_flatten(child), np.float64)
    before, after = labeled[0][has], labeled[1][has]
    known = before >= 0
    new = old.copy()
    new[known] = np.maximum(old[known] + (after[known] - before[known]), 0)
    lengths = np.where(missing, 0, counts)
    return _list(lengths, pa.array(new.astype(value_type.to_pandas_dtype())), missing)


def gather_column(
    column: pa.Array | pa.ChunkedArray, source: np.ndarray, *, num_keypoints: int, recount: bool
) -> pa.StructArray:
    """The keypoints column with keypoint ``j`` of every instance taken from old keypoint
    ``source[j]`` (``-1``: x = y = 0, v = 0, confidence 0).

    ``recount`` changes COCO's ``num_keypoints`` field (where the column has it) by the
    number of labeled points each instance loses; it is for plans that drop old points.

    Example:
        >>> import numpy as np
        >>> from posetable._arrow import keypoints_column, flat_from_arrow
        >>> col = keypoints_column([1], np.array([[[1.0, 2.0], [3.0, 4.0]]]), widths=[9],
        ...     heights=[9], visibilities=np.array([[2, 1]]))
        >>> out = flat_from_arrow(gather_column(col, np.array([1, -1, 0]), num_keypoints=2,
        ...     recount=False))
        >>> out.keypoints.tolist(), out.visibilities.tolist()
        ([[[3.0, 4.0], [0.0, 0.0], [1.0, 2.0]]], [[1, 0, 2]])
    """
    array = _as_array(column)
    k = int(num_keypoints)
    source = np.asarray(source, dtype=np.int64)
    top = _children(array)
    instances = top["instances"]
    counts = _lengths(instances)
    inst = _flatten(instances)
    parts = _children(inst)
    vertices = parts["vertices_2d"]
    total = len(inst)
    v_len = _lengths(vertices)
    if total and np.any(v_len != 2 * k):
        bad = sorted(set(v_len.tolist()) - {2 * k})
        raise RowError(f"every instance must have {2 * k} vertex values (K={k}), got {bad}")
    kp = _numbers(_flatten(vertices), np.float64).reshape(total, k, 2)
    moved = gather_points(kp, source)
    new_k = len(source)
    new_vertices = _list(np.full(total, 2 * new_k), pa.array(moved.ravel(), pa.float64()), None)
    point_data = parts["vertices_2d_additional_data"]
    point_parts = _children(point_data)
    vis, vis_counts = _per_point_list(
        point_parts["visibility"], source, k, np.int32, "visibility", count=recount
    )
    conf, _ = _per_point_list(point_parts["confidence"], source, k, np.float32, "confidence")
    new_point_data = _struct([vis, conf], point_data)
    new_inst = _struct([new_vertices, new_point_data, parts["bbs_2d"]], inst)
    null_rows = _nulls(instances) if instances.null_count else None
    new_instances = _list(counts, new_inst, null_rows)
    additional = top["instances_additional_data"]
    extra = _children(additional)
    if recount and NUM_KEYPOINTS_FIELD in extra:
        extra[NUM_KEYPOINTS_FIELD] = _recounted(extra[NUM_KEYPOINTS_FIELD], counts, vis_counts)
        additional = _struct(list(extra.values()), additional)
    names = [f.name for f in array.type]
    children = [
        new_instances
        if n == "instances"
        else additional
        if n == "instances_additional_data"
        else top[n]
        for n in names
    ]
    out = _struct(children, array)
    return pa.concat_arrays([out]) if array.offset else out
