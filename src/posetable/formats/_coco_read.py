"""Reading a COCO keypoints file into flat columns (one row per image), checked.

See :mod:`posetable.formats.coco` for what is kept where. Every check is vectorised over
all records; only the records that need a private note (a whole number written as a float,
a box whose ``x + w`` does not give ``w`` back exactly) are touched one by one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
from msgspec import Raw

from posetable.errors import FormatError
from posetable.formats._coco_schema import CocoSchema, coco_schema
from posetable.formats._errors import MissingFileError
from posetable.formats._images import image_size, missing_files, resolve_image
from posetable.formats._json import (
    BadValue,
    NumberLists,
    Numbers,
    decode_records,
    decode_top,
    encode_rest,
    get_field,
    number_lists,
    numbers,
    read_bytes,
    record_line,
    strings,
)
from posetable.formats._notes import Notes, count_text, first_few

ANNOTATION_FIELDS = frozenset(
    {"id", "image_id", "category_id", "keypoints", "bbox", "area", "iscrowd", "num_keypoints"}
)
IMAGE_FIELDS = frozenset({"id", "width", "height"})
PRIVATE = "__posetable__"
# coco_derived bits: the field was absent from the file and posetable filled it.
DERIVED_AREA, DERIVED_ISCROWD, DERIVED_NUM_KEYPOINTS, DERIVED_ID, DERIVED_BBOX = 1, 2, 4, 8, 16
AREA_FACTOR = 0.53
MISSING_IMAGES = ("error", "warn", "skip")
DEFAULT_IMAGE_KEYS = ("id", "file_name", "width", "height")
DEFAULT_ANNOTATION_KEYS = (
    "id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd",
)  # fmt: skip


@dataclass
class CocoColumns:
    """A COCO file as flat arrays: M rows (images), T instances grouped by row."""

    coco: CocoSchema
    image_ids: np.ndarray
    images: list[str]
    widths: np.ndarray
    heights: np.ndarray
    image_fields: list[str]
    counts: np.ndarray
    keypoints: np.ndarray
    visibilities: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    extras: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)


class _Reader:
    """Holds the file for error messages while the columns are read."""

    def __init__(self, path: Path, raw: bytes) -> None:
        self.path = path
        self.raw = raw
        self.sections: dict[str, list[dict[str, Raw]]] = {}

    def error(self, text: str, record: dict[str, Raw] | None = None) -> FormatError:
        line = record_line(self.raw, record) if record is not None else None
        return FormatError(text, path=self.path, line=line)

    def numbers(self, records: Sequence[dict[str, Raw]], key: str, what: str) -> Numbers:
        try:
            return numbers(get_field(records, key))
        except BadValue as exc:
            raise self.error(
                f"{self.name(records, exc.index, what)}: '{key}' {exc.text}", records[exc.index]
            ) from None

    def lists(self, records: Sequence[dict[str, Raw]], key: str, what: str) -> NumberLists:
        try:
            return number_lists(get_field(records, key))
        except BadValue as exc:
            raise self.error(
                f"{self.name(records, exc.index, what)}: '{key}' {exc.text}", records[exc.index]
            ) from None

    def name(self, records: Sequence[dict[str, Raw]], index: int, what: str) -> str:
        """``annotation id 7 (annotations[3])``: the id and the position in the file."""
        record = records[index]
        section = self.sections.get(what, records)
        position = next((i for i, r in enumerate(section) if r is record), index)
        raw_id = record.get("id")
        text = bytes(raw_id).decode(errors="replace")[:40] if raw_id is not None else None
        label = "annotation" if what == "annotations" else "image"
        return f"{label} id {text} ({what}[{position}])" if text else f"{what}[{position}] (no id)"


def _whole_ints(
    col: Numbers, reader: _Reader, records: Sequence[dict[str, Raw]], key: str, what: str
) -> np.ndarray:
    """The values of an integer field as int64, or an error naming the first non-integer."""
    if col.ints is not None:
        return col.ints
    values = np.nan_to_num(col.values)
    bad = col.present & (np.mod(values, 1) != 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise reader.error(
            f"{reader.name(records, i, what)}: '{key}' must be an integer, found {col.values[i]!r}",
            records[i],
        )
    return values.astype(np.int64)


def _first_absent(
    col: Numbers, reader: _Reader, records: Sequence[dict[str, Raw]], key: str, what: str
) -> None:
    if not col.present.all():
        i = int(np.flatnonzero(~col.present)[0])
        missing = int((~col.present).sum())
        raise reader.error(
            f"{reader.name(records, i, what)} has no '{key}' ({count_text(missing, what[:-1])} "
            f"lack it); every {what[:-1]} needs one",
            records[i],
        )


def _duplicates(
    ids: np.ndarray,
    present: np.ndarray,
    reader: _Reader,
    records: Sequence[dict[str, Raw]],
    what: str,
) -> None:
    given = ids[present]
    ranked = np.sort(given, kind="stable")
    same = np.flatnonzero(ranked[1:] == ranked[:-1])
    if same.size:
        value = int(ranked[same[0]])
        where = np.flatnonzero(present & (ids == value))[:2].tolist()
        label = "annotation" if what == "annotations" else "image"
        raise reader.error(
            f"duplicate {label} id {value}: {what}[{where[0]}] and {what}[{where[1]}] "
            f"({count_text(int(same.size), 'repeat')} in all); ids must be unique",
            records[where[1]],
        )


def _with_private(rest: bytes | None, private: dict[str, Any]) -> bytes:
    note = orjson.dumps(private)
    if rest is None:
        return b'{"' + PRIVATE.encode() + b'":' + note + b"}"
    return rest[:-1] + b',"' + PRIVATE.encode() + b'":' + note + b"}"


def read_coco(
    path: str | os.PathLike[str],
    image_folder: str | os.PathLike[str] | None,
    *,
    notes: Notes,
    category: Any = None,
    oks_sigmas: Sequence[float] | None = None,
    flip_indices: Sequence[int] | None = None,
    schema: Any = None,
    missing_images: str = "error",
) -> CocoColumns:
    """Read and check a COCO keypoints file (see :func:`posetable.formats.coco.table_from_coco`)."""
    if missing_images not in MISSING_IMAGES:
        raise FormatError(
            f"missing_images must be one of {list(MISSING_IMAGES)}, got {missing_images!r}"
        )
    file = Path(path)
    raw = read_bytes(file, "COCO annotation file")
    reader = _Reader(file, raw)
    top = decode_top(file, raw)
    for key in ("images", "categories"):
        if key not in top:
            raise reader.error(
                f"a COCO keypoints file needs an '{key}' list; its top-level keys are {list(top)}"
            )
    categories = orjson.loads(bytes(top["categories"]))
    coco = coco_schema(
        categories,
        path=file,
        notes=notes,
        category=category,
        oks_sigmas=oks_sigmas,
        flip_indices=flip_indices,
        schema=schema,
    )
    folder = None if image_folder is None else Path(image_folder).expanduser().absolute()
    if folder is not None and not folder.is_dir():
        raise MissingFileError(f"image folder {folder} does not exist (or is not a folder)")
    image_records = decode_records(file, top["images"], "images")
    ann_records = (
        decode_records(file, top["annotations"], "annotations") if "annotations" in top else []
    )
    reader.sections = {"images": image_records, "annotations": ann_records}
    rows = _read_images(reader, image_records, folder, notes, missing_images)
    anns = _read_annotations(reader, ann_records, rows, coco, notes)
    metadata = {
        "coco": {
            "source": str(file.absolute()),
            "categories": categories,
            "keypoint_category_ids": list(coco.keypoint_ids),
            "skeleton_base": coco.skeleton_base,
            "schema_lines": [list(p) for p in coco.lines],
            "schema_names": list(coco.schema.keypoint_names),
            "top_level_keys": list(top),
            "top_level": {
                key: orjson.loads(bytes(value))
                for key, value in top.items()
                if key not in ("images", "annotations", "categories")
            },
            "image_keys": list(image_records[0]) if image_records else list(DEFAULT_IMAGE_KEYS),
            "annotation_keys": anns.pop("keys"),
            "other_annotations": anns.pop("others"),
        },
        "image_roots": [str(folder)] if folder is not None else [],
    }
    return CocoColumns(
        coco=coco,
        image_ids=rows["ids"][rows["keep"]],
        images=[p for p, k in zip(rows["paths"], rows["keep"], strict=True) if k],
        widths=rows["widths"][rows["keep"]],
        heights=rows["heights"][rows["keep"]],
        image_fields=[f for f, k in zip(rows["fields"], rows["keep"], strict=True) if k],
        counts=anns["counts"],
        keypoints=anns["keypoints"],
        visibilities=anns["visibilities"],
        boxes=anns["boxes"],
        labels=anns["labels"],
        extras=anns["extras"],
        metadata=metadata,
    )


def _read_images(
    reader: _Reader,
    records: list[dict[str, Raw]],
    folder: Path | None,
    notes: Notes,
    missing_images: str,
) -> dict[str, Any]:
    what = "images"
    m = len(records)
    id_col = reader.numbers(records, "id", what)
    _first_absent(id_col, reader, records, "id", what)
    ids = _whole_ints(id_col, reader, records, "id", what)
    _duplicates(ids, id_col.present, reader, records, what)
    try:
        names = strings(get_field(records, "file_name"))
    except BadValue as exc:
        raise reader.error(
            f"{reader.name(records, exc.index, what)}: 'file_name' {exc.text}", records[exc.index]
        ) from None
    empty = [i for i, n in enumerate(names) if not n]
    if empty:
        i = empty[0]
        raise reader.error(
            f"{reader.name(records, i, what)} needs a non-empty 'file_name' "
            f"({count_text(len(empty), 'image')} lack one)",
            records[i],
        )
    file_names = [str(n) for n in names]
    paths = [resolve_image(folder, n) for n in file_names]
    keep = np.ones(m, dtype=bool)
    if folder is not None and m:
        missing = missing_files(paths)
        if missing.size:
            listed = first_few((file_names[i] for i in missing.tolist()), limit=5)
            text = (
                f"{missing.size} of {m} image files named in the file are missing under "
                f"{folder}: {listed}"
            )
            if missing_images == "error":
                raise MissingFileError(
                    f"{reader.path}: {text}; pass missing_images='warn' to import them anyway "
                    "or missing_images='skip' to leave them out"
                )
            if missing_images == "skip":
                keep[missing] = False
                notes.add(text + "; those images (and their annotations) were left out")
            else:
                notes.add(text + "; imported anyway (missing_images='warn')")
    sizes = {}
    absent_size = np.zeros(m, dtype=bool)
    for key in ("width", "height"):
        col = reader.numbers(records, key, what)
        values = np.where(col.present, np.nan_to_num(col.values), 1)
        bad = col.present & ((values <= 0) | (np.mod(values, 1) != 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise reader.error(
                f"{reader.name(records, i, what)}: '{key}' must be a positive integer, found "
                f"{col.values[i]!r}",
                records[i],
            )
        sizes[key] = (values.astype(np.int64), col)
        absent_size |= ~col.present & keep
    widths, w_col = sizes["width"]
    heights, h_col = sizes["height"]
    if absent_size.any():
        if folder is None:
            i = int(np.flatnonzero(absent_size)[0])
            raise reader.error(
                f"{reader.name(records, i, what)} has no 'width'/'height' "
                f"({count_text(int(absent_size.sum()), 'image')} lack them); pass the image "
                "folder so they can be read from the image files",
                records[i],
            )
        for i in np.flatnonzero(absent_size).tolist():
            w, h = image_size(paths[i])
            if not w_col.present[i]:
                widths[i] = w
            if not h_col.present[i]:
                heights[i] = h
        notes.add(
            f"{count_text(int(absent_size.sum()), 'image')} had no width/height: read from the "
            "image headers (export leaves them out, as the file did)"
        )
    fields = [encode_rest(r, IMAGE_FIELDS) for r in records]
    sized = (("id", id_col), ("width", w_col), ("height", h_col))
    special = id_col.written_float | w_col.written_float | h_col.written_float
    special |= ~w_col.present | ~h_col.present
    for i in np.flatnonzero(special).tolist():
        private: dict[str, Any] = {}
        types = {key: "float" for key, col in sized if col.written_float[i]}
        if types:
            private["types"] = types
        absent = [key for key, col in (("width", w_col), ("height", h_col)) if not col.present[i]]
        if absent:
            private["absent"] = absent
        fields[i] = _with_private(fields[i], private)
    return {
        "ids": ids,
        "paths": paths,
        "widths": widths,
        "heights": heights,
        "fields": [b.decode() if b is not None else "" for b in fields],
        "keep": keep,
    }


def _read_annotations(
    reader: _Reader,
    records: list[dict[str, Raw]],
    rows: dict[str, Any],
    coco: CocoSchema,
    notes: Notes,
) -> dict[str, Any]:
    what = "annotations"
    k = coco.schema.num_keypoints
    m = len(rows["ids"])
    n = len(records)
    id_col = reader.numbers(records, "id", what)
    ann_ids = _whole_ints(id_col, reader, records, "id", what)
    _duplicates(ann_ids, id_col.present, reader, records, what)
    image_col = reader.numbers(records, "image_id", what)
    _first_absent(image_col, reader, records, "image_id", what)
    image_ids = rows["ids"]
    ann_image = np.nan_to_num(image_col.values)
    sorter = np.argsort(image_ids, kind="stable")
    pos = np.clip(np.searchsorted(image_ids[sorter], ann_image), 0, max(m - 1, 0))
    row = sorter[pos] if m else np.zeros(n, dtype=np.int64)
    known = (image_ids[row] == ann_image) if m else np.zeros(n, dtype=bool)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise reader.error(
            f"{reader.name(records, i, what)}: image_id "
            f"{bytes(records[i]['image_id']).decode()} is not the id of any image "
            f"({count_text(int((~known).sum()), 'annotation')} point to unknown images)",
            records[i],
        )
    cat_col = reader.numbers(records, "category_id", what)
    _first_absent(cat_col, reader, records, "category_id", what)
    cat_ids = _whole_ints(cat_col, reader, records, "category_id", what)
    labels_all = np.fromiter((coco.label_of.get(c, -1) for c in cat_ids.tolist()), np.int64, n)
    if (labels_all < 0).any():
        i = int(np.flatnonzero(labels_all < 0)[0])
        raise reader.error(
            f"{reader.name(records, i, what)}: category_id {int(cat_ids[i])} is not the id of any "
            f"category (known: {first_few(sorted(coco.label_of), limit=8)})",
            records[i],
        )
    if (id_col.present & (ann_ids == 0)).any():
        zero = int(np.flatnonzero(id_col.present & (ann_ids == 0))[0])
        notes.add(
            f"annotation id 0 ({what}[{zero}]) is accepted, but pycocotools marks matches by "
            "annotation id and reads 0 as 'unmatched', so it mis-scores that ground truth"
        )
    in_layout = np.isin(cat_ids, np.asarray(coco.keypoint_ids, dtype=np.int64))
    kept_row = rows["keep"][row] if m else np.zeros(n, dtype=bool)
    chosen = np.flatnonzero(in_layout & kept_row)
    others = []
    outside = np.flatnonzero(~in_layout & kept_row)
    if outside.size:
        others = [
            {"index": int(i), "annotation": orjson.loads(msgspec.json.encode(records[i]))}
            for i in outside.tolist()
        ]
        names = sorted({coco.schema.classes[int(labels_all[i])] for i in outside.tolist()})
        notes.add(
            f"{count_text(int(outside.size), 'annotation')} of categories outside the keypoint "
            f"layout ({first_few(repr(x) for x in names)}) are not instances; they are kept "
            "for export"
        )
    derived = np.zeros(len(chosen), dtype=np.int64)
    ids = ann_ids[chosen].copy()
    if not id_col.present.all():
        absent = ~id_col.present[chosen]
        start = int(ann_ids[id_col.present].max(initial=0)) + 1
        ids[absent] = np.arange(start, start + int(absent.sum()))
        derived[absent] |= DERIVED_ID
        if absent.any():
            notes.add(
                f"{count_text(int(absent.sum()), 'annotation')} had no 'id': numbered from {start} "
                "(export leaves them out, as the file did)"
            )
    sub = [records[i] for i in chosen.tolist()]
    kp, vis, kp_float = _keypoints(reader, sub, k, coco)
    boxes, box_private, box_absent, given_wh = _boxes(reader, sub, kp, vis)
    derived[box_absent] |= DERIVED_BBOX
    if box_absent.any():
        notes.add(
            f"{count_text(int(box_absent.sum()), 'annotation')} had no 'bbox': derived from "
            "the labeled keypoints (export leaves it out, as the file did)"
        )
    labeled = (vis > 0).sum(axis=1)
    extras, types = _scalars(reader, sub, boxes, given_wh, labeled, derived, notes)
    extras["id"] = ids
    extras["coco_order"] = chosen.astype(np.int64)
    extras["coco_derived"] = derived
    written_float = {
        "id": id_col.written_float[chosen],
        "image_id": image_col.written_float[chosen],
        "category_id": cat_col.written_float[chosen],
    }
    extras["coco_fields"] = _fields(sub, kp_float, box_private, types, written_float)
    order = np.argsort(row[chosen], kind="stable")
    counts = np.bincount(row[chosen], minlength=m)[rows["keep"]] if m else np.zeros(0, np.int64)
    keys = list(sub[0]) if sub else list(DEFAULT_ANNOTATION_KEYS)
    return {
        "counts": counts,
        "keypoints": kp[order],
        "visibilities": vis[order],
        "boxes": boxes[order],
        "labels": labels_all[chosen][order].astype(np.int32),
        "extras": {name: values[order] for name, values in extras.items()},
        "keys": keys,
        "others": others,
    }


def _keypoints(
    reader: _Reader, sub: list[dict[str, Raw]], k: int, coco: CocoSchema
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    what = "annotations"
    t = len(sub)
    col = reader.lists(sub, "keypoints", what)
    if not col.present.all():
        i = int(np.flatnonzero(~col.present)[0])
        raise reader.error(
            f"{reader.name(sub, i, what)} has no 'keypoints' but its category has a keypoint "
            f"layout of K={k}",
            sub[i],
        )
    wrong = col.lengths != 3 * k
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise reader.error(
            f"{reader.name(sub, i, what)}: 'keypoints' must hold 3K = {3 * k} values "
            f"(x, y, v for K={k} keypoints), found {int(col.lengths[i])}"
            + (f" ({count_text(int(wrong.sum()), 'annotation')} wrong)" if wrong.sum() > 1 else ""),
            sub[i],
        )
    values = col.flat.reshape(t, k, 3)
    raw_vis = values[..., 2]
    bad = ~np.isin(raw_vis, (0.0, 1.0, 2.0))
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise reader.error(
            f"{reader.name(sub, i, what)}: visibility must be 0, 1 or 2, found {raw_vis[i, j]!r} "
            f"for keypoint {j} ({coco.schema.keypoint_names[j]!r})"
            + (f" ({count_text(int(bad.sum()), 'value')} are wrong)" if bad.sum() > 1 else ""),
            sub[i],
        )
    kp_float: list[Any] = [None] * t
    if col.float_whole is not None:
        fw = col.float_whole.reshape(t, 3 * k)
        whole = np.mod(col.flat, 1).reshape(t, 3 * k) == 0
        flagged = fw.sum(axis=1)
        wholes = whole.sum(axis=1)
        for i in np.flatnonzero(flagged).tolist():
            kp_float[i] = "float" if flagged[i] == wholes[i] else np.flatnonzero(fw[i]).tolist()
    return np.ascontiguousarray(values[..., :2]), raw_vis.astype(np.int32), kp_float


def _boxes(
    reader: _Reader, sub: list[dict[str, Raw]], kp: np.ndarray, vis: np.ndarray
) -> tuple[np.ndarray, list[Any], np.ndarray, np.ndarray]:
    from posetable._arrow import derive_boxes

    what = "annotations"
    t = len(sub)
    col = reader.lists(sub, "bbox", what)
    wrong = col.present & (col.lengths != 4)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise reader.error(
            f"{reader.name(sub, i, what)}: 'bbox' must be [x, y, width, height], found "
            f"{int(col.lengths[i])} values",
            sub[i],
        )
    boxes = np.zeros((t, 4))
    given = col.flat.reshape(-1, 4)
    present = col.present
    xyxy = given.copy()
    xyxy[:, 2:] += given[:, :2]
    boxes[present] = xyxy
    absent = ~present
    if absent.any():
        boxes[absent] = derive_boxes(kp[absent], vis[absent] > 0)
    inexact = np.zeros(t, dtype=bool)
    inexact[present] = np.any(xyxy[:, 2:] - xyxy[:, :2] != given[:, 2:], axis=1)
    if col.float_whole is not None:
        inexact[present] |= col.float_whole.reshape(-1, 4).any(axis=1)
    private: list[Any] = [None] * t
    for i in np.flatnonzero(inexact).tolist():
        # the file's own text keeps its exact numbers and number types
        private[i] = orjson.loads(bytes(sub[i]["bbox"]))
    given_wh = np.full((t, 2), np.nan)
    given_wh[present] = given[:, 2:]
    return boxes, private, absent, given_wh


def _scalars(
    reader: _Reader,
    sub: list[dict[str, Raw]],
    boxes: np.ndarray,
    given_wh: np.ndarray,
    labeled: np.ndarray,
    derived: np.ndarray,
    notes: Notes,
) -> tuple[dict[str, np.ndarray], dict[int, dict[str, str]]]:
    what = "annotations"
    types: dict[int, dict[str, str]] = {}
    area = reader.numbers(sub, "area", what)
    area_values = area.values.copy()
    if not area.present.all():
        absent = ~area.present
        w = np.where(np.isnan(given_wh[:, 0]), boxes[:, 2] - boxes[:, 0], given_wh[:, 0])[absent]
        h = np.where(np.isnan(given_wh[:, 1]), boxes[:, 3] - boxes[:, 1], given_wh[:, 1])[absent]
        area_values[absent] = w * h * AREA_FACTOR
        derived[absent] |= DERIVED_AREA
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'area': filled with bbox "
            f"width * height * {AREA_FACTOR} (the xtcocotools / CrowdPose rule), marked derived "
            "so export leaves it out"
        )
    crowd = reader.numbers(sub, "iscrowd", what)
    crowd_values = _whole_ints(crowd, reader, sub, "iscrowd", what).copy()
    if not crowd.present.all():
        absent = ~crowd.present
        crowd_values[absent] = 0
        derived[absent] |= DERIVED_ISCROWD
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'iscrowd': filled with 0, "
            "marked derived"
        )
    num = reader.numbers(sub, "num_keypoints", what)
    num_values = _whole_ints(num, reader, sub, "num_keypoints", what).copy()
    if not num.present.all():
        absent = ~num.present
        num_values[absent] = labeled[absent]
        derived[absent] |= DERIVED_NUM_KEYPOINTS
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'num_keypoints': filled with "
            "the count of labeled points (v > 0), marked derived"
        )
    differ = num.present & (num_values != labeled)
    if differ.any():
        ids = [_id_text(sub[i]) for i in np.flatnonzero(differ).tolist()]
        notes.add(
            f"{count_text(int(differ.sum()), 'annotation')} have a num_keypoints different from "
            f"their count of labeled points (v > 0), kept as given since pycocotools reads it "
            f"(annotation ids {first_few(ids)})"
        )
    for key, col in (("area", area), ("iscrowd", crowd), ("num_keypoints", num)):
        for i in np.flatnonzero(col.written_float).tolist():
            types.setdefault(i, {})[key] = "float"
        for i in np.flatnonzero(col.written_bool).tolist():
            types.setdefault(i, {})[key] = "bool"
    return {"area": area_values, "iscrowd": crowd_values, "num_keypoints": num_values}, types


def _id_text(record: dict[str, Raw]) -> str:
    value = record.get("id")
    return bytes(value).decode(errors="replace") if value is not None else "?"


def _fields(
    sub: list[dict[str, Raw]],
    kp_float: list[Any],
    box_private: list[Any],
    types: dict[int, dict[str, str]],
    written_float: dict[str, np.ndarray],
) -> np.ndarray:
    """The ``coco_fields`` text of each annotation: unmodelled fields + private notes."""
    rests = [encode_rest(r, ANNOTATION_FIELDS) for r in sub]
    for key, mask in written_float.items():
        for i in np.flatnonzero(mask).tolist():
            types.setdefault(i, {})[key] = "float"
    for i, flag in enumerate(kp_float):
        if flag is not None:
            types.setdefault(i, {})["keypoints"] = flag
    special = set(types) | {i for i, b in enumerate(box_private) if b is not None}
    for i in special:
        private: dict[str, Any] = {}
        if i in types:
            private["types"] = types[i]
        if box_private[i] is not None:
            private["bbox"] = box_private[i]
        rests[i] = _with_private(rests[i], private)
    out = np.empty(len(sub), dtype=object)
    out[:] = [b.decode() if b is not None else "" for b in rests]
    return out
