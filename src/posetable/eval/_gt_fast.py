"""The fast path for a COCO ground-truth file: DuckDB reads the annotations into columns.

A COCO file is one JSON object, so DuckDB cannot stream it as a list of records. This
finds the byte span of the top-level ``annotations`` array, hands that span to DuckDB's
parallel JSON reader (as a file of its own, in ``/dev/shm`` when there is one) and parses
the rest (images, categories: a small part of the file) with orjson.

The split is checked, not trusted: the rest with ``[]`` in place of the span must parse to
an object whose ``annotations`` is ``[]``, and the span must parse as a JSON array; then
the two parts are exactly the file. Anything unusual (a second ``"annotations"`` string, a
null or mistyped field, keypoints of another K, a visibility outside 0/1/2, non-finite
numbers) returns None and the plain reader runs, which names the problem precisely.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posetable.eval._duck import cursor
from posetable.eval._io import (
    CocoGroundTruth,
    _labeled_box,
    _pycocotools_duplicates,
    identifiers,
    json_numbers,
    known_annotations,
    positions,
    sorted_unique,
)

logger = logging.getLogger(__name__)
_KEY = b'"annotations"'
_NEXT_KEY = re.compile(rb'\]\s*,\s*"(?:images|categories|info|licenses|type)"\s*:')
# Scalars come as JSON text so that their JSON types are checked (see ``_io.json_numbers``):
# DuckDB would turn "12" into 12 and 12.7 into 13 without a word.
_COLUMNS = (
    "{'id': 'JSON', 'image_id': 'JSON', 'category_id': 'JSON', 'keypoints': 'DOUBLE[]', "
    "'bbox': 'DOUBLE[]', 'area': 'JSON', 'iscrowd': 'JSON', 'num_keypoints': 'JSON'}"
)
MIN_BYTES = 1 << 20  # below this the plain reader is as fast


def read_ground_truth_fast(target: Path) -> CocoGroundTruth | None:
    """The ground truth read with DuckDB, or None when the file needs the plain reader."""
    try:
        data = target.read_bytes()
    except OSError:
        return None
    if len(data) < MIN_BYTES:
        return None
    for rest, span in _splits(data):
        images, cats = rest.get("images"), rest.get("categories")
        if not isinstance(images, list) or not isinstance(cats, list):
            continue
        table = _duckdb_annotations(span)
        if table is None:
            continue  # not the array's true end after all
        try:
            image_ids = sorted_unique(identifiers(images, "id", "images", target), "image", target)
            cat_raw = identifiers(cats, "id", "categories", target)
            category_ids = sorted_unique(cat_raw, "category", target)
        except Exception:  # the plain reader reports it
            return None
        return _assemble(target, image_ids, cat_raw, category_ids, cats, table)
    return None


def _splits(data: bytes) -> Iterator[tuple[dict[str, Any], memoryview]]:
    """Candidate (document without its annotations, annotations array bytes) splits.

    The array ends at a ``]`` followed by the next top-level key, or (when it is the last
    key) at the last ``]`` of the file. Each candidate is checked by parsing the rest; the
    caller checks the span by parsing it.
    """
    at = data.find(_KEY)
    if at < 0 or data.find(_KEY, at + 1) >= 0:
        return
    match = re.compile(rb"\s*:\s*\[").match(data, at + len(_KEY))
    if match is None:
        return
    start = match.end() - 1
    ends = [m.start() + 1 for m in _NEXT_KEY.finditer(data, start)][:3]
    closing = data.rstrip()
    if closing.endswith(b"}"):
        last = closing.rfind(b"]", start, len(closing) - 1)
        if last > start and not closing[last + 1 : -1].strip():
            ends.append(last + 1)  # annotations is the last key
    for end in ends:
        try:
            rest = orjson.loads(data[:start] + b"[]" + data[end:])
        except orjson.JSONDecodeError:
            continue
        if isinstance(rest, dict) and rest.get("annotations") == []:
            yield rest, memoryview(data)[start:end]  # a view: no copy of the annotations


def _duckdb_annotations(span: bytes | memoryview) -> pa.Table | None:
    import duckdb

    folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    try:
        with tempfile.NamedTemporaryFile(suffix=".json", dir=folder) as handle:
            handle.write(span)
            handle.flush()
            quoted = handle.name.replace("'", "''")
            con = cursor()
            try:
                return con.sql(
                    f"SELECT id, image_id, category_id, keypoints, bbox, area, iscrowd, "
                    f"num_keypoints FROM read_json('{quoted}', format='array', "
                    f"columns={_COLUMNS}, maximum_object_size=1073741824)"
                ).to_arrow_table()
            finally:
                con.close()
    except (duckdb.Error, OSError, RuntimeError, ValueError):
        return None


def _numbers(table: pa.Table, name: str, default: np.ndarray) -> np.ndarray | None:
    column = table.column(name)
    try:
        numbers = pc.cast(pc.cast(column, pa.string()), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None  # a string, true/false or null: the plain reader names it
    values = numbers.to_numpy(zero_copy_only=False).astype(np.float64)
    if column.null_count:
        values = np.where(column.is_null().to_numpy(zero_copy_only=False), default, values)
    return values if np.all(np.isfinite(values)) else None


def _assemble(
    target: Path,
    image_ids: np.ndarray,
    cat_raw: np.ndarray,
    category_ids: np.ndarray,
    cats: list[Any],
    table: pa.Table,
) -> CocoGroundTruth | None:
    n = table.num_rows
    if table.column("keypoints").null_count:
        return None
    ints = {
        name: json_numbers(table.column(name), pa.int64())
        for name in ("id", "image_id", "category_id")
    }
    ann_ids, ann_images, ann_categories = ints["id"], ints["image_id"], ints["category_id"]
    if ann_ids is None or ann_images is None or ann_categories is None:
        return None
    names = [c.get("keypoints") for c in cats if isinstance(c, dict) and c.get("keypoints")]
    kp_col = table.column("keypoints").combine_chunks()
    lengths = pc.list_value_length(kp_col).to_numpy(zero_copy_only=False)
    if n == 0:
        return None
    k3 = 3 * len(names[0] or ()) if names else int(lengths[0])
    flat = pc.list_flatten(kp_col)
    if k3 == 0 or k3 % 3 or np.any(lengths != k3) or flat.null_count:
        return None
    k = k3 // 3
    kp = flat.to_numpy(zero_copy_only=False).reshape(n, k, 3)
    vis = kp[..., 2]
    if not np.all(np.isfinite(kp)) or np.any((vis != 0) & (vis != 1) & (vis != 2)):
        return None
    labeled = vis > 0
    box_col = table.column("bbox").combine_chunks()
    has_box = ~box_col.is_null().to_numpy(zero_copy_only=False)
    box = np.zeros((n, 4))
    if has_box.any():
        b_len = pc.list_value_length(box_col).to_numpy(zero_copy_only=False)
        b_flat = pc.list_flatten(box_col)
        if np.any(b_len[has_box] != 4) or b_flat.null_count:
            return None
        box[has_box] = b_flat.to_numpy(zero_copy_only=False).reshape(-1, 4)
    if not has_box.all():
        box[~has_box] = _labeled_box(kp[~has_box, :, :2], labeled[~has_box])
    area = _numbers(table, "area", box[:, 2] * box[:, 3] * 0.53)
    iscrowd = _numbers(table, "iscrowd", np.zeros(n))
    num_kpts = _numbers(table, "num_keypoints", labeled.sum(axis=1).astype(float))
    if area is None or iscrowd is None or num_kpts is None or not np.all(np.isfinite(box)):
        return None
    ann_img = positions(ann_images, image_ids)
    ann_cat = positions(ann_categories, category_ids)
    known = known_annotations(ann_img, ann_cat, target)
    kept = np.flatnonzero(known)
    ann_img, ann_cat = ann_img[kept], ann_cat[kept]
    first_label: dict[Any, int] = {}
    for i, v in enumerate(cat_raw.tolist()):
        first_label.setdefault(v, i)
    category_labels = np.asarray([first_label[v] for v in category_ids.tolist()], dtype=np.int64)
    order = np.argsort(ann_img, kind="stable")
    index = np.empty(kept.shape[0], np.int64)
    if kept.size:
        from posetable.eval._engine import group_starts

        index[order] = np.arange(kept.shape[0]) - group_starts(ann_img[order])
    out = CocoGroundTruth(
        path=target,
        image_ids=image_ids,
        category_ids=category_ids,
        category_labels=category_labels,
        num_keypoints=k,
        ann_image=ann_img,
        ann_category=ann_cat,
        keypoints=kp[kept],
        box=box[kept],
        area=area[kept],
        iscrowd=iscrowd[kept],
        num_kpts=num_kpts[kept],
        ids=ann_ids[kept],
        index=index,
    )
    return _pycocotools_duplicates(out)
