"""A run's predictions as flat evaluation columns: one Arrow IPC file, read memory-mapped.

``predictions.parquet`` keeps the posetable keypoints struct (the record, read by the
dashboard, accepting and exports); evaluating a run needs only flat arrays, and decoding the
nested struct costs more than the evaluation itself. So a run also keeps
``predictions_eval.arrow``: one row per predicted instance with ``row``, ``sample_id``,
``index`` (within its row), ``label``, ``score``, ``area`` (pycocotools' detection area) and
``keypoints`` (x0, y0, x1, y1, ... as a fixed-size list of 2K float64), uncompressed, so
reading it maps the file instead of decoding it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from posetable._rows import SAMPLE_ID

EVAL_COLUMNS_FILE = "predictions_eval.arrow"


def prediction_columns_table(
    rows: np.ndarray,
    sample_ids: np.ndarray,
    index: np.ndarray,
    labels: np.ndarray,
    score: np.ndarray,
    area: np.ndarray,
    keypoints: np.ndarray,
) -> pa.Table:
    """The flat columns of N predicted instances (keypoints (N, K, 2))."""
    n, k = keypoints.shape[0], keypoints.shape[1]
    flat = pa.array(np.ascontiguousarray(keypoints, np.float64).reshape(n * 2 * k), pa.float64())
    return pa.table(
        {
            "row": pa.array(rows, pa.int64()),
            SAMPLE_ID: pa.array(sample_ids, pa.int64()),
            "index": pa.array(index, pa.int64()),
            "label": pa.array(labels, pa.int64()),
            "score": pa.array(score, pa.float64()),
            "area": pa.array(area, pa.float64()),
            "keypoints": pa.FixedSizeListArray.from_arrays(flat, 2 * k),
        },
        metadata={b"num_keypoints": str(k).encode()},
    )


def write_prediction_columns(folder: Path, data: pa.Table) -> Path:
    """Write ``data`` as ``<folder>/predictions_eval.arrow`` (atomically: temp + rename)."""
    target = folder / EVAL_COLUMNS_FILE
    staging = folder / f".{EVAL_COLUMNS_FILE}.{uuid.uuid4().hex}"
    with pa.OSFile(str(staging), "wb") as sink, pa.ipc.new_file(sink, data.schema) as writer:
        writer.write_table(data)
    os.replace(staging, target)
    return target


def read_prediction_columns(folder: Path) -> pa.Table | None:
    """The flat columns of a run folder (memory-mapped), or None for a run written without."""
    path = folder / EVAL_COLUMNS_FILE
    if not path.is_file():
        return None
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def keypoint_array(data: pa.Table) -> np.ndarray:
    """(N, K, 2) float64 keypoints of the flat columns (no copy for a single chunk)."""
    column = data.column("keypoints")
    width = column.type.list_size
    chunks = [c.flatten().to_numpy(zero_copy_only=False) for c in column.chunks]
    values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.zeros(0)
    return values.reshape(data.num_rows, width // 2, 2)


def rows_for_samples(ids: np.ndarray, target_sample_ids: np.ndarray) -> np.ndarray:
    """The row holding each sample id of ``ids`` in a table whose rows hold
    ``target_sample_ids``; -1 where that table no longer has the sample."""
    if target_sample_ids.shape[0] == 0:
        return np.full(ids.shape[0], -1, np.int64)
    if np.all(target_sample_ids[1:] > target_sample_ids[:-1]):  # most tables: no sort needed
        where = np.minimum(np.searchsorted(target_sample_ids, ids), target_sample_ids.shape[0] - 1)
        return np.where(target_sample_ids[where] == ids, where, -1).astype(np.int64)
    order = np.argsort(target_sample_ids, kind="stable")
    where = np.minimum(np.searchsorted(target_sample_ids[order], ids), order.shape[0] - 1)
    found = target_sample_ids[order][where] == ids
    return np.where(found, order[where], -1).astype(np.int64)
