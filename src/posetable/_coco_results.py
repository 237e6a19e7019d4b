"""A run's predictions as a COCO keypoint results JSON (what ``COCO.loadRes`` reads).

One entry per predicted instance: ``image_id`` (the table's ``image_id`` column, else the
row index, as :func:`posetable.eval.read_coco_results` reads it back), ``category_id``
(the table's COCO category of the label), ``keypoints`` ``[x1, y1, c1, ...]`` with each
point's confidence, ``score`` and ``bbox`` ``[x, y, w, h]``. Written from flat arrays, so
``Run.from_coco_results`` of the file gives the same predictions back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._arrow_decode import flat_from_arrow
from posetable.eval._columns import table_category_ids

if TYPE_CHECKING:
    from posetable.runs import Run


def write_coco_results(run: Run, path: str | os.PathLike[str]) -> Path:
    """Write ``run``'s predictions as a COCO keypoint results JSON; returns the path."""
    table = run.table()
    predictions = run.predictions_arrow()
    k = table.schema.num_keypoints
    flat = flat_from_arrow(predictions.column(KEYPOINTS_COLUMN), num_keypoints=k)
    rows = np.repeat(predictions.column("row").to_numpy().astype(np.int64), flat.counts)
    if "image_id" in table.columns:
        ids = table.to_arrow(columns=["image_id"]).column("image_id").to_numpy()
    else:
        ids = np.arange(len(table), dtype=np.int64)
    points = np.concatenate([flat.keypoints, flat.confidences[..., None]], axis=2)
    boxes = flat.boxes
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    columns = zip(
        ids[rows].tolist(),
        table_category_ids(table)[flat.labels].tolist(),
        points.reshape(len(points), -1).tolist(),
        flat.instance_confidences.tolist(),
        xywh.tolist(),
        strict=True,
    )
    entries = [
        {"image_id": i, "category_id": c, "keypoints": p, "score": s, "bbox": b}
        for i, c, p, s, b in columns
    ]
    out = Path(path)
    out.write_bytes(orjson.dumps(entries))
    return out
