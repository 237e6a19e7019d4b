"""Per-point values evaluation does not carry: ground-truth visibility (0/1/2) and predicted
keypoint confidences, read from the same sources in the engine's instance order.

The engine's ground truth is every instance of the table (or file) in order, and its
predictions are in the order the adapters of :mod:`posetable.eval._columns` produce; these
readers follow the same orders, so row ``i`` here is instance ``i`` there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable.eval._data import EvalInput


def ground_truth_visibility(ground_truth: Any, inp: EvalInput) -> np.ndarray | None:
    """(G, K) visibility of the engine's ground truth, or None where the source has none."""
    from posetable.table import Table

    k = int(inp.sigmas.shape[0])
    if isinstance(ground_truth, Table):
        from posetable.eval._columns import flatten_keypoints

        column = ground_truth.to_arrow(columns=["keypoints"]).column("keypoints")
        flat = flatten_keypoints(column, np.arange(len(ground_truth)), k)
        vis = flat.visibility
    elif isinstance(ground_truth, (str, os.PathLike)):
        from posetable.eval._io import read_ground_truth

        vis = read_ground_truth(ground_truth).keypoints[..., 2]
    else:
        return None
    if vis is None or vis.shape != (len(inp.gt), k):
        return None
    return np.asarray(vis).astype(np.int64)


def prediction_confidences(
    predictions: Any, ground_truth: Any, inp: EvalInput
) -> np.ndarray | None:
    """(D, K) keypoint confidences of the engine's predictions (NaN where a prediction has
    none), or None where the source carries none at all."""
    k = int(inp.sigmas.shape[0])
    n = len(inp.dt)
    out: np.ndarray | None
    if hasattr(predictions, "prediction_columns") and hasattr(predictions, "predictions_arrow"):
        out = _run_confidences(predictions, ground_truth, k)
    elif isinstance(predictions, pa.Table):
        out = _arrow_confidences(predictions.column("keypoints"), k)
    elif isinstance(predictions, (str, os.PathLike)):
        out = _results_confidences(predictions, inp, k)
    elif isinstance(predictions, Mapping):
        pairs = sorted(((int(r), it) for r, it in predictions.items()), key=lambda p: p[0])
        out = _instance_confidences([it for _, it in pairs], k)
    elif isinstance(predictions, Sequence):
        out = _instance_confidences(list(predictions), k)
    else:
        out = None
    if out is None or out.shape != (n, k) or np.isnan(out).all():
        return None
    return out


def _instance_confidences(items: list[Any], k: int) -> np.ndarray:
    parts = []
    for item in items:
        if item is None or len(item) == 0:
            continue
        conf = item.keypoint_confidences
        parts.append(np.full((len(item), k), np.nan) if conf is None else np.asarray(conf, float))
    return np.concatenate(parts) if parts else np.zeros((0, k))


def _arrow_confidences(column: pa.ChunkedArray | pa.Array, k: int) -> np.ndarray | None:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    instances = pc.list_flatten(pc.struct_field(column, "instances"))
    data = pc.struct_field(instances, "vertices_2d_additional_data")
    if "confidence" not in {data.type.field(i).name for i in range(data.type.num_fields)}:
        return None
    lists = pc.struct_field(data, "confidence")
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    out = np.full((len(instances), k), np.nan)
    given = lengths == k
    if given.any():
        values = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(float)
        starts = np.cumsum(lengths) - lengths
        take = starts[given][:, None] + np.arange(k)[None, :]
        out[given] = values[take]
    return out


def _run_confidences(run: Any, ground_truth: Any, k: int) -> np.ndarray | None:
    from posetable._rows import SAMPLE_ID

    table = ground_truth if hasattr(ground_truth, "sample_ids") else None
    columns = run.prediction_columns(table)
    stored = run.predictions_arrow()
    conf = _arrow_confidences(stored.column("keypoints"), k)
    if conf is None:
        return None
    counts = pc.fill_null(
        pc.list_value_length(pc.struct_field(_combined(stored.column("keypoints")), "instances")),
        0,
    ).to_numpy(zero_copy_only=False)
    samples = np.repeat(stored.column(SAMPLE_ID).to_numpy(), counts)
    index = np.arange(samples.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    key = samples.astype(np.int64) * (1 << 20) + index
    want = (
        columns.column(SAMPLE_ID).to_numpy().astype(np.int64) * (1 << 20)
        + columns.column("index").to_numpy()
    )
    order = np.argsort(key, kind="stable")
    where = np.searchsorted(key[order], want)
    where = np.minimum(where, max(key.shape[0] - 1, 0))
    if key.size == 0:
        return np.zeros((0, k))
    found = key[order][where] == want
    out = np.full((want.shape[0], k), np.nan)
    out[found] = conf[order[where[found]]]
    return out


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _results_confidences(path: Any, inp: EvalInput, k: int) -> np.ndarray | None:
    from posetable.eval._io import positions, read_results

    res = read_results(path, k)
    keep = positions(res.category_ids, inp.category_ids) >= 0 if len(res) else np.zeros(0, bool)
    return np.asarray(res.keypoints[keep, :, 2], float)
