"""Writing a table as COCO keypoints JSON (see :mod:`posetable.formats.coco`).

The keypoints column is decoded once into flat arrays; number formatting (whole numbers as
ints unless the file wrote floats) is decided over whole arrays; only the final dicts are
built per annotation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa
from msgspec import Raw

from posetable._arrow import flat_from_arrow
from posetable.formats._coco_common import (
    DERIVED_AREA,
    DERIVED_BBOX,
    DERIVED_ID,
    DERIVED_ISCROWD,
    DERIVED_NUM_KEYPOINTS,
    PRIVATE,
    box_sizes,
)
from posetable.formats._coco_parts import part_defaults, part_float_mask, split_fields
from posetable.formats._images import resolve_image
from posetable.formats._notes import show_progress, stages

if TYPE_CHECKING:
    from posetable.table import Table

_EXACT_INT = 2.0**53
_FIELDS = msgspec.json.Decoder(dict[str, Raw])
_DEFAULT_ANNOTATION_KEYS = [
    "id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd",
]  # fmt: skip


def _numbers(values: np.ndarray, as_float: np.ndarray | None = None) -> list[Any]:
    """Python numbers of an array: whole values as ints, unless ``as_float`` says otherwise."""
    out = values.astype(object)
    whole = (np.mod(values, 1) == 0) & (np.abs(values) < _EXACT_INT)
    if as_float is not None:
        whole &= ~as_float
    out[whole] = values[whole].astype(np.int64).astype(object)
    return out.tolist()


def _typed(value: Any, kind: str | None) -> Any:
    if kind == "null":
        return None
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


def _load(text: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A record's kept fields (values as raw JSON, copied verbatim) and its private note."""
    if not text:
        return {}, {}
    try:
        fields = _FIELDS.decode(text)
    except msgspec.MsgspecError:
        return {}, {}
    private = fields.pop(PRIVATE, None)
    return fields, (orjson.loads(bytes(private)) if private is not None else {})


def _ordered(values: dict[str, Any], order: list[str]) -> dict[str, Any]:
    out = {key: values[key] for key in order if key in values}
    for key, value in values.items():
        if key not in out:
            out[key] = value
    return out


def _file_name(image: str, fields: dict[str, Any], roots: list[str]) -> str:
    original = fields.get("file_name")
    if isinstance(original, Raw):
        original = msgspec.json.decode(original)
    if isinstance(original, str):
        expected = resolve_image(Path(roots[0]), original) if roots else original
        if image == expected:
            return original
    for root in roots:
        prefix = os.path.join(root, "")
        if image.startswith(prefix):
            return image[len(prefix) :].replace(os.sep, "/")
    return image


def _categories(table: Table, meta: dict[str, Any]) -> list[dict[str, Any]]:
    schema = table.schema
    names = list(schema.keypoint_names)
    base = int(meta.get("skeleton_base", 1))
    skeleton = [[a + base, b + base] for a, b in schema.lines]
    original = [dict(c) for c in meta.get("categories") or []]
    keypoint_ids = set(meta.get("keypoint_category_ids") or [])
    names_changed = names != meta.get("schema_names")
    lines_changed = [list(p) for p in schema.lines] != meta.get("schema_lines")
    for cat in original:
        if cat.get("id") in keypoint_ids:
            if names_changed:
                cat["keypoints"] = names
            if lines_changed:
                cat["skeleton"] = skeleton
    next_id = max((int(c["id"]) for c in original), default=0) + 1
    for label in range(len(original), len(schema.classes)):
        cls = schema.classes[label]
        original.append(
            {
                "supercategory": cls,
                "id": next_id,
                "name": cls,
                "keypoints": names,
                "skeleton": skeleton,
            }
        )
        next_id += 1
    return original


def _images(
    data: pa.Table, meta: dict[str, Any], roots: list[str]
) -> tuple[list[dict[str, Any]], np.ndarray]:
    m = data.num_rows
    images = data.column("image").to_pylist()
    widths = data.column("width").to_numpy(zero_copy_only=False).tolist()
    heights = data.column("height").to_numpy(zero_copy_only=False).tolist()
    if "image_id" in data.column_names:
        id_col = data.column("image_id")
        ids = np.asarray(id_col.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        lacking = np.asarray(id_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if lacking.any():
            start = int(ids.max(initial=0)) + 1
            ids[lacking] = np.arange(start, start + int(lacking.sum()))
    else:
        ids = np.arange(1, m + 1, dtype=np.int64)
    fields_col = (
        data.column("coco_image_fields").to_pylist()
        if "coco_image_fields" in data.column_names
        else [None] * m
    )
    order = list(meta.get("image_keys") or ["id", "file_name", "width", "height"])
    out = []
    for r in range(m):
        fields, private = _load(fields_col[r])
        types = private.get("types", {})
        absent = set(private.get("absent", ()))
        record = dict(fields)
        record["id"] = _typed(int(ids[r]), types.get("id"))
        record["file_name"] = _file_name(images[r], fields, roots)
        if "width" not in absent:
            record["width"] = _typed(int(widths[r]), types.get("width"))
        if "height" not in absent:
            record["height"] = _typed(int(heights[r]), types.get("height"))
        out.append(_ordered(record, order))
    return out, ids


def _annotations(
    data: pa.Table,
    table: Table,
    meta: dict[str, Any],
    image_ids: np.ndarray,
    categories: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    k = table.schema.num_keypoints
    flat = flat_from_arrow(data.column("keypoints"), num_keypoints=k)
    t = int(flat.counts.sum())
    rows = np.repeat(np.arange(len(flat.counts)), flat.counts)
    extras = {name: values for name, (values, _) in flat.extras.items()}
    missing = {name: np.repeat(lacking, flat.counts) for name, (_, lacking) in flat.extras.items()}

    def extra(name: str, default: np.ndarray) -> np.ndarray:
        if name not in extras:
            return default
        values = np.asarray(extras[name])
        return np.where(missing[name], default, values) if missing[name].any() else values

    fields_text = extras.get("coco_fields", np.full(t, "", dtype=object))
    loaded = [_load(v) for v in np.asarray(fields_text, dtype=object).tolist()]
    fields = [f for f, _ in loaded]
    privates = [p for _, p in loaded]
    derived = extra("coco_derived", np.zeros(t, np.int64)).astype(np.int64)
    vis = np.where(flat.has_visibilities[rows][:, None], flat.visibilities, 2).astype(np.float64)
    labeled = (vis > 0).sum(axis=1)
    boxes = flat.boxes
    xywh = boxes.copy()
    xywh[:, 2:] = box_sizes(boxes[:, :2], boxes[:, 2:])
    area = extra("area", xywh[:, 2] * xywh[:, 3]).astype(np.float64)
    crowd = extra("iscrowd", np.zeros(t, np.int64)).astype(np.int64)
    num = extra("num_keypoints", labeled).astype(np.int64)
    ann_ids = _annotation_ids(extras, missing, t)
    position = extra("coco_order", np.full(t, -1, np.int64)).astype(np.int64)
    values = np.concatenate([flat.keypoints, vis[..., None]], axis=2).reshape(t, 3 * k)
    kp_float = np.zeros((t, 3 * k), dtype=bool)
    box_float = np.zeros((t, 4), dtype=bool)
    parts = meta.get("parts") or []  # COCO-WholeBody parts merged on import (_coco_parts)
    if parts:
        kp_float = part_float_mask(privates, parts, k)
    for i, private in enumerate(privates if not parts else ()):
        kind = private.get("types", {}).get("keypoints")
        if kind == "float":
            kp_float[i] = True
        elif isinstance(kind, list):
            kp_float[i, [j for j in kind if j < 3 * k]] = True
    keypoints = _numbers(values, kp_float)
    part_values = _part_values(extras, missing, flat.keypoints, vis, parts)
    part_values.update(_int_values(extras, missing, meta.get("int_fields") or []))
    bbox = _numbers(xywh, box_float)
    area_py = _numbers(area)
    cat_ids = [c.get("id") for c in categories]
    labels = flat.labels.tolist()
    order = list(meta.get("annotation_keys") or _DEFAULT_ANNOTATION_KEYS)
    out = []
    for i in range(t):
        private = privates[i]
        types = private.get("types", {})
        bits = int(derived[i])
        record = dict(fields[i])
        if not bits & DERIVED_ID:
            record["id"] = _typed(int(ann_ids[i]), types.get("id"))
        record["image_id"] = _typed(int(image_ids[rows[i]]), types.get("image_id"))
        label = labels[i]
        record["category_id"] = _typed(
            cat_ids[label] if label < len(cat_ids) else label + 1, types.get("category_id")
        )
        if parts:
            record.update(split_fields(keypoints[i], parts, k, private))
        else:
            record["keypoints"] = keypoints[i]
        for name, lifted in part_values.items():
            if lifted[i] is not None:
                record[name] = lifted[i]
        if not bits & DERIVED_NUM_KEYPOINTS:
            record["num_keypoints"] = _typed(int(num[i]), types.get("num_keypoints"))
        if not bits & DERIVED_BBOX:
            original = private.get("bbox")
            record["bbox"] = original if _same_box(original, boxes[i]) else bbox[i]
        if not bits & DERIVED_AREA:
            record["area"] = _typed(area_py[i], types.get("area"))
        if not bits & DERIVED_ISCROWD:
            record["iscrowd"] = _typed(int(crowd[i]), types.get("iscrowd"))
        out.append(_ordered(record, order))
    return _in_file_order(out, position, meta, set(image_ids.tolist()))


def _part_values(
    extras: dict[str, np.ndarray],
    missing: dict[str, np.ndarray],
    keypoints: np.ndarray,
    vis: np.ndarray,
    parts: list[Any],
) -> dict[str, list[Any]]:
    """``<part>_valid`` / ``<part>_box`` of each annotation: the extras, else from the points."""
    out: dict[str, list[Any]] = {}
    if not parts:
        return out
    for part, (valid, box) in part_defaults(keypoints, vis, parts).items():
        for name, default in ((f"{part}_valid", valid), (f"{part}_box", box)):
            if name not in extras:
                continue
            values = np.asarray(extras[name], dtype=object).tolist()
            for i in np.flatnonzero(missing[name]).tolist():  # added after the import
                values[i] = bool(default[i]) if default.ndim == 1 else _numbers(default[i])
            out[name] = values
    return out


def _int_values(
    extras: dict[str, np.ndarray], missing: dict[str, np.ndarray], names: list[str]
) -> dict[str, list[Any]]:
    """Integer fields lifted into extras on import (``track_id``); None where lacking."""
    out: dict[str, list[Any]] = {}
    for name in names:
        if name in extras:
            values: list[Any] = np.asarray(extras[name], dtype=np.int64).tolist()
            for i in np.flatnonzero(missing[name]).tolist():
                values[i] = None
            out[name] = values
    return out


def _annotation_ids(
    extras: dict[str, np.ndarray], missing: dict[str, np.ndarray], t: int
) -> np.ndarray:
    """The ``id`` extra; instances without one get new ids after the largest."""
    if "id" not in extras:
        return np.arange(1, t + 1, dtype=np.int64)
    ids = np.asarray(extras["id"], dtype=np.int64).copy()
    lacking = missing["id"] | (ids < 0)  # -1: an instance added after the import
    if lacking.any():
        start = int(ids[~lacking].max(initial=0)) + 1
        ids[lacking] = np.arange(start, start + int(lacking.sum()))
    return ids


def _same_box(original: Any, box: np.ndarray) -> bool:
    if not isinstance(original, list) or len(original) != 4:
        return False
    x, y, w, h = (float(v) for v in original)
    return [x, y, x + w, y + h] == box.tolist()


def _in_file_order(
    annotations: list[dict[str, Any]],
    position: np.ndarray,
    meta: dict[str, Any],
    image_ids: set[int],
) -> list[dict[str, Any]]:
    others = [
        (int(o["index"]), o["annotation"])
        for o in meta.get("other_annotations") or []
        if o.get("annotation", {}).get("image_id") in image_ids
    ]
    if not others and (position < 0).all():
        return annotations
    big = np.iinfo(np.int64).max // 2
    keys = np.where(position < 0, big + np.arange(len(position)), position)
    merged = [(int(key), ann) for key, ann in zip(keys.tolist(), annotations, strict=True)] + others
    merged.sort(key=lambda item: item[0])
    return [ann for _, ann in merged]


def write_coco(table: Table, path: Path, *, progress: bool | None = None) -> Path:
    """Write ``table`` to ``path`` as COCO keypoints JSON, atomically."""
    meta = table.metadata.get("coco") or {}
    roots = [str(r) for r in table.metadata.get("image_roots") or []]
    wanted = ["image", "width", "height", "keypoints"] + [
        c for c in ("image_id", "coco_image_fields") if c in table.columns
    ]
    enabled = show_progress(progress, len(table))
    names = ["read", "build", "write"]
    with stages(names, enabled=enabled, description=f"export {path.name}") as step:
        step("read")
        data = table.to_arrow(columns=wanted)
        step("build")
        categories = _categories(table, meta)
        images, image_ids = _images(data, meta, roots)
        annotations = _annotations(data, table, meta, image_ids, categories)
        top = dict(meta.get("top_level") or {})
        top.update({"images": images, "annotations": annotations, "categories": categories})
        order = list(meta.get("top_level_keys") or ["images", "annotations", "categories"])
        if "annotations" not in order and not annotations:
            del top["annotations"]
        document = _ordered(top, order)
        step("write")
        payload = msgspec.json.encode(document)  # kept fields are raw JSON, written as is
        path = path.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(payload)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return path
