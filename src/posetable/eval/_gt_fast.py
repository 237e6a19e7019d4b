"""The fast path for a COCO ground-truth file: DuckDB streams the annotations into columns.

A COCO file is one JSON object, so DuckDB cannot stream it as a list of records. This
finds the byte span of the top-level ``annotations`` array, hands that span to DuckDB's
JSON reader (as a file of its own, in ``/dev/shm`` when there is one) and parses the rest
(images, categories: a small part of the file) with orjson. The file's bytes are dropped
before DuckDB starts, and the annotations come back in record batches of a few megabytes,
each turned into numpy columns at once, so the memory held is the columns plus one batch.
Numbers are typed in SQL (``_io.json_integer`` / ``json_number``), never cast via text.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from posetable.eval import _io
from posetable.eval._io import (
    CocoGroundTruth,
    _labeled_box,
    _pycocotools_duplicates,
    file_size,
    identifiers,
    json_integer,
    json_number,
    known_annotations,
    positions,
    read_json_sql,
    sorted_unique,
    strings_in_arrays,
)

logger = logging.getLogger(__name__)
_KEY = b'"annotations"'
_NEXT_KEY = re.compile(rb'\]\s*,\s*"(?:images|categories|info|licenses|type)"\s*:')
_COLUMNS = (
    "{'id': 'JSON', 'image_id': 'JSON', 'category_id': 'JSON', 'keypoints': 'DOUBLE[]', "
    "'bbox': 'DOUBLE[]', 'area': 'JSON', 'iscrowd': 'JSON', 'num_keypoints': 'JSON'}"
)
MIN_BYTES = 1 << 20  # below this the plain reader is as fast


@dataclass(frozen=True)
class _Header:
    """What evaluation needs from the document besides its annotations."""

    image_ids: np.ndarray
    category_raw: np.ndarray  # the categories' ids in file order
    category_ids: np.ndarray
    num_keypoints: int  # 0 when no category names its keypoints (then the first annotation)


class _NotTheSpan(Exception):
    """DuckDB could not read the candidate span: the array ends elsewhere."""


def read_ground_truth_fast(target: Path) -> CocoGroundTruth | None:
    """The ground truth read with DuckDB, or None when the file needs the plain reader."""
    if file_size(target) < MIN_BYTES:
        return None
    data: bytes | None = None
    try:
        data = target.read_bytes()
    except OSError:
        return None
    start, ends = _bounds(data)
    for end in ends:
        if data is None:  # a later candidate (rare): the bytes were dropped for the first
            data = target.read_bytes()
        rest = _rest(data, start, end)
        header = _header(rest, target) if rest is not None else None
        del rest
        if header is None:
            continue
        with _span_file(data, start, end) as handle:
            data = None  # the annotations are read from the span file; the bytes are done
            try:
                return _read_annotations(target, header, Path(handle.name))
            except _NotTheSpan:
                continue
    return None


def _header(rest: dict[str, Any], target: Path) -> _Header | None:
    images, cats = rest.get("images"), rest.get("categories")
    if not isinstance(images, list) or not isinstance(cats, list):
        return None
    try:
        image_ids = sorted_unique(identifiers(images, "id", "images", target), "image", target)
        cat_raw = identifiers(cats, "id", "categories", target)
        category_ids = sorted_unique(cat_raw, "category", target)
    except Exception:  # the plain reader reports it
        return None
    names = [c.get("keypoints") for c in cats if isinstance(c, dict) and c.get("keypoints")]
    first = names[0] if names else []
    if not isinstance(first, list):
        return None
    return _Header(image_ids, cat_raw, category_ids, len(first))


def _bounds(data: bytes) -> tuple[int, list[int]]:
    """Where the top-level annotations array starts, and the candidates for its end.

    The array ends at a ``]`` followed by the next top-level key, or (when it is the last
    key) at the last ``]`` of the file. Each candidate is checked by :func:`_rest`, the
    span by DuckDB parsing it.
    """
    at = data.find(_KEY)
    if at < 0 or data.find(_KEY, at + 1) >= 0:
        return 0, []
    match = re.compile(rb"\s*:\s*\[").match(data, at + len(_KEY))
    if match is None:
        return 0, []
    start = match.end() - 1
    ends = [m.start() + 1 for m in _NEXT_KEY.finditer(data, start)][:3]
    closing = data.rstrip()
    if closing.endswith(b"}"):
        last = closing.rfind(b"]", start, len(closing) - 1)
        if last > start and not closing[last + 1 : -1].strip():
            ends.append(last + 1)  # annotations is the last key
    return start, ends


def _rest(data: bytes, start: int, end: int) -> dict[str, Any] | None:
    """The document with ``[]`` in place of ``data[start:end]``, when that parses to an
    object whose annotations are ``[]``."""
    try:
        rest = orjson.loads(data[:start] + b"[]" + data[end:])
    except orjson.JSONDecodeError:
        return None
    return rest if isinstance(rest, dict) and rest.get("annotations") == [] else None


def _span_file(data: bytes, start: int, end: int) -> IO[bytes]:
    """The bytes ``data[start:end]`` in a temporary file (in memory where ``/dev/shm`` is),
    deleted when closed."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    handle = tempfile.NamedTemporaryFile(suffix=".json", dir=folder)  # noqa: SIM115
    handle.write(memoryview(data)[start:end])  # a view: no copy of the annotations
    handle.flush()
    return handle


def _read_annotations(target: Path, header: _Header, span: Path) -> CocoGroundTruth | None:
    """Stream the annotations of ``span`` through DuckDB; None when the plain reader must
    read the file.

    Raises:
        _NotTheSpan: DuckDB could not parse the span.
    """
    import duckdb
    import pyarrow as pa

    from posetable.eval._duck import Chunks, batches, connection, release, turn

    query = (
        f"SELECT {json_integer('id')}, {json_integer('image_id')}, "
        f"{json_integer('category_id')}, keypoints, bbox, {json_number('area')}, "
        f"{json_number('iscrowd')}, {json_number('num_keypoints')} "
        f"FROM {read_json_sql(span, _COLUMNS)}"
    )
    k = header.num_keypoints
    chunks = Chunks()
    large = file_size(target) >= _io.RELEASE_BYTES
    with turn(large), ThreadPoolExecutor(max_workers=1) as pool:
        strings = pool.submit(strings_in_arrays, span)  # on the other core, meanwhile
        try:
            with connection() as con:
                for batch in batches(con, query, row_bytes=8 * (3 * (k or 17) + 12)):
                    if not k and batch.num_rows:
                        first = batch.column(3)[0]
                        k = len(first) // 3 if first.is_valid else 0
                    part = _annotation_batch(batch, k) if k else None
                    if part is None:
                        return None
                    chunks.add(**part)
        except (duckdb.Error, pa.ArrowException, RuntimeError, ValueError):
            raise _NotTheSpan from None
        finally:
            if large:
                release()  # before the columns are joined: DuckDB's memory is not needed now
        if not chunks.rows or strings.result():
            return None  # none, or "2" in a list (DuckDB reads it as 2.0): the plain reader
        points = chunks.take("points")  # the largest first: joining holds one column twice
        columns = {name: chunks.take(name) for name in _FIELDS}
    if columns["missing"].any() and _has_null(span):
        return None  # "area": null is an error, not a missing area: the plain reader names it
    return _assemble(target, header, k, points, **columns)


_FIELDS = ("ids", "images", "categories", "vis", "box", "has_box", "area", "iscrowd", "num_kpts",
           "missing")  # fmt: skip


def _annotation_batch(batch: Any, k: int) -> dict[str, np.ndarray] | None:
    """One record batch as columns: ``points`` and :data:`_FIELDS` (``missing``: (N, 3),
    where area, iscrowd, num_keypoints are absent); None when something is unusual."""
    from posetable.eval._duck import list_values, nulls, numbers

    n = batch.num_rows
    ints: list[np.ndarray] = []
    for i in range(3):
        column = numbers(batch.column(i), np.int64)
        if column is None or batch.column(i).null_count:
            return None
        ints.append(column)
    kp_col = batch.column(3)
    flat = None if kp_col.null_count else list_values(kp_col)
    if flat is None or np.any(flat[0] != 3 * k) or not np.all(np.isfinite(flat[1])):
        return None
    values = flat[1].reshape(n, k, 3)
    vis = values[..., 2]
    if np.any((vis != 0) & (vis != 1) & (vis != 2)):
        return None
    box_col = batch.column(4)
    boxes = list_values(box_col)
    if boxes is None:
        return None
    has_box = ~nulls(box_col)
    if np.any(boxes[0][has_box] != 4):
        return None
    box = np.zeros((n, 4))
    box[has_box] = boxes[1].reshape(-1, 4)
    missing = np.stack([nulls(batch.column(i)) for i in (5, 6, 7)], axis=1)
    scalars: list[np.ndarray] = []  # area, iscrowd, num_keypoints; 0 where missing
    for j, i in enumerate((5, 6, 7)):
        column = numbers(batch.column(i), np.float64)
        if column is None:
            return None
        scalars.append(np.where(missing[:, j], 0.0, column))
    return {
        "points": np.ascontiguousarray(values[..., :2]),
        "ids": ints[0],
        "images": ints[1],
        "categories": ints[2],
        "vis": vis.astype(np.int8),
        "box": box,
        "has_box": has_box,
        "area": scalars[0],
        "iscrowd": scalars[1],
        "num_kpts": scalars[2],
        "missing": missing,
    }


def _has_null(path: Path) -> bool:
    """Whether the file holds the JSON literal ``null`` (read in chunks: bounded memory)."""
    tail = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            if b"null" in tail + chunk[:3] or b"null" in chunk:
                return True
            tail = chunk[-3:]
    return False


def _assemble(
    target: Path,
    header: _Header,
    k: int,
    points: np.ndarray,
    ids: np.ndarray,
    images: np.ndarray,
    categories: np.ndarray,
    vis: np.ndarray,
    box: np.ndarray,
    has_box: np.ndarray,
    area: np.ndarray,
    iscrowd: np.ndarray,
    num_kpts: np.ndarray,
    missing: np.ndarray,
) -> CocoGroundTruth | None:
    """The columns of all batches as a :class:`CocoGroundTruth` (defaults filled as the
    plain reader fills them); None when a number is not finite."""
    labeled = vis > 0
    if not has_box.all():
        box[~has_box] = _labeled_box(points[~has_box], labeled[~has_box])
    if missing[:, 0].any():
        area[missing[:, 0]] = (box[:, 2] * box[:, 3] * 0.53)[missing[:, 0]]
    if missing[:, 2].any():
        num_kpts[missing[:, 2]] = labeled.sum(axis=1)[missing[:, 2]]
    finite = [np.isfinite(a).all() for a in (points, box, area, iscrowd, num_kpts)]
    if not all(finite):
        return None
    ann_img = positions(images, header.image_ids)
    ann_cat = positions(categories, header.category_ids)
    known = known_annotations(ann_img, ann_cat, target)
    columns = [ann_img, ann_cat, points, vis, box, area, iscrowd, num_kpts, ids]
    if not known.all():
        columns = [c[known] for c in columns]
    ann_img, ann_cat, points, vis, box, area, iscrowd, num_kpts, ids = columns
    first_label: dict[Any, int] = {}
    for i, v in enumerate(header.category_raw.tolist()):
        first_label.setdefault(v, i)
    category_labels = np.asarray(
        [first_label[v] for v in header.category_ids.tolist()], dtype=np.int64
    )
    n = ann_img.shape[0]
    order = np.argsort(ann_img, kind="stable")
    index = np.empty(n, np.int64)
    if n:
        from posetable.eval._engine import group_starts

        index[order] = np.arange(n) - group_starts(ann_img[order])
    out = CocoGroundTruth(
        path=target,
        image_ids=header.image_ids,
        category_ids=header.category_ids,
        category_labels=category_labels,
        num_keypoints=k,
        ann_image=ann_img,
        ann_category=ann_cat,
        points=points,
        visibility=vis,
        box=box,
        area=area,
        iscrowd=iscrowd,
        num_kpts=num_kpts,
        ids=ids,
        index=index,
    )
    return _pycocotools_duplicates(out)
