"""COCO annotations -> instance columns grouped by row (see :mod:`posetable.formats.coco`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from msgspec import UNSET, Raw

from posetable._arrow import derive_boxes
from posetable.formats._coco_common import (
    ANNOTATION_FIELDS,
    AREA_FACTOR,
    DEFAULT_ANNOTATION_KEYS,
    DERIVED_AREA,
    DERIVED_BBOX,
    DERIVED_ID,
    DERIVED_ISCROWD,
    DERIVED_NUM_KEYPOINTS,
    box_sizes,
    types_part,
    with_private,
)
from posetable.formats._coco_parts import lift_ints, merged_keypoints, part_extras
from posetable.formats._coco_schema import CocoSchema
from posetable.formats._coco_values import LIST_BATCH, Reader
from posetable.formats._json import Numbers
from posetable.formats._notes import Notes, count_text, first_few, number_text
from posetable.formats._records import NUMBER, Section, decode_section, rest_texts

ANNOTATION_TYPES = {
    "id": NUMBER,
    "image_id": NUMBER,
    "category_id": NUMBER,
    "area": NUMBER,
    "iscrowd": NUMBER,
    "num_keypoints": NUMBER,
}


@dataclass
class Annotations:
    """Instance columns in row order (T instances), plus what export needs."""

    counts: np.ndarray
    keypoints: np.ndarray
    visibilities: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    extras: dict[str, np.ndarray]
    keys: list[str]
    others: list[dict[str, Any]]
    lifted: tuple[str, ...] = ()


def read_annotations(
    reader: Reader,
    file: Path,
    raw: bytes,
    section_raw: Raw | None,
    rows: dict[str, Any],
    coco: CocoSchema,
    notes: Notes,
    *,
    parts: tuple[tuple[str, int], ...] = (),
    ints: tuple[str, ...] = (),
) -> Annotations:
    """Check the annotations and turn those of the keypoint layout into instances.

    ``parts``: COCO-WholeBody part fields read after ``keypoints`` (``merge_parts=True``);
    ``ints``: integer fields lifted into int64 extras (PoseTrack's ``track_id``).
    """
    part_fields = tuple(field for field, _ in parts)
    typed = {**ANNOTATION_TYPES, **dict.fromkeys(ints, NUMBER)}
    anns = decode_section(
        file, raw, section_raw, "annotations", typed, ("keypoints", "bbox", *part_fields)
    )
    n, m = anns.size, len(rows["ids"])
    id_col = reader.numbers(anns, "id")
    ann_ids = reader.whole(anns, id_col, "id")
    reader.unique(anns, ann_ids, id_col.present)
    image_col = reader.numbers(anns, "image_id")
    row = _rows_of(reader, anns, image_col, rows["ids"])
    cat_col = reader.numbers(anns, "category_id")
    reader.require(anns, cat_col, "category_id")
    cat_ids = reader.whole(anns, cat_col, "category_id")
    labels = _labels(cat_ids, coco.label_of)
    if (labels < 0).any():
        i = int(np.flatnonzero(labels < 0)[0])
        raise reader.error(
            f"{anns.name(i)}: category_id {int(cat_ids[i])} is not the id of any category "
            f"(known: {first_few(sorted(coco.label_of), limit=8)})",
            anns,
            i,
        )
    if (id_col.present & (ann_ids == 0)).any():
        zero = int(np.flatnonzero(id_col.present & (ann_ids == 0))[0])
        notes.add(
            f"annotation id 0 (annotations[{zero}]) is accepted, but pycocotools marks matches "
            "by annotation id and reads 0 as 'unmatched', so it mis-scores that ground truth"
        )
    in_layout = np.isin(cat_ids, np.asarray(coco.keypoint_ids, dtype=np.int64))
    kept = rows["keep"][row] if m else np.zeros(n, dtype=bool)
    chosen = np.flatnonzero(in_layout & kept)
    others = _others(anns, np.flatnonzero(~in_layout & kept), labels, coco, notes)
    every = len(chosen) == n
    sub = None if every else chosen
    derived = np.zeros(len(chosen), dtype=np.int64)
    ids = _ids(ann_ids[chosen], id_col, chosen, derived, notes, ann_ids[id_col.present])
    if parts:
        names = coco.schema.keypoint_names
        kp, vis, kp_float = merged_keypoints(reader, anns, sub, parts, names, notes)
    else:
        kp, vis, kp_float = _keypoints(reader, anns, sub, coco)
    boxes, box_private, given_wh = _boxes(reader, anns, sub, kp, vis, derived, notes)
    body = kp.shape[1] - sum(size for _, size in parts)  # num_keypoints counts body points
    extras, types = _scalars(
        reader, anns, sub, boxes, given_wh, (vis[:, :body] > 0).sum(axis=1), derived, notes
    )
    moved = part_extras(anns, chosen, parts) if parts else {}
    moved.update(lift_ints(reader, anns, chosen, ints))
    extras.update(moved)
    extras["id"] = ids
    extras["coco_order"] = chosen.astype(np.int64)
    extras["coco_derived"] = derived
    written = {"id": id_col, "image_id": image_col, "category_id": cat_col}
    for key, col in written.items():
        for i in np.flatnonzero(col.written_float[chosen]).tolist():
            types.setdefault(i, {})[key] = "float"
        for i in np.flatnonzero(col.null[chosen]).tolist():
            types.setdefault(i, {})[key] = "null"
    skip = ANNOTATION_FIELDS | frozenset(part_fields) | frozenset(moved)
    extras["coco_fields"] = _fields(anns, chosen, every, kp_float, box_private, types, skip)
    sort = np.argsort(row[chosen], kind="stable")
    counts = np.bincount(row[chosen], minlength=m)[rows["keep"]] if m else np.zeros(0, np.int64)
    # already in row order (a file grouped by image): views, not copies of every column
    order: np.ndarray | slice = slice(None) if _is_identity(sort) else sort
    return Annotations(
        counts=counts,
        keypoints=kp[order],
        visibilities=vis[order],
        boxes=boxes[order],
        labels=labels[chosen][order].astype(np.int32),
        extras={name: values[order] for name, values in extras.items()},
        keys=anns.keys if n else list(DEFAULT_ANNOTATION_KEYS),
        others=others,
        lifted=tuple(name for name in ints if name in moved),
    )


def _is_identity(order: np.ndarray) -> bool:
    """``order`` is ``0, 1, ..., n - 1``."""
    return bool(np.array_equal(order, np.arange(len(order))))


def _labels(cat_ids: np.ndarray, label_of: dict[int, int]) -> np.ndarray:
    """The label (category index) of each category id, -1 for an unknown id."""
    known = np.array(sorted(label_of), dtype=np.int64)
    if not len(known):
        return np.full(len(cat_ids), -1, dtype=np.int64)
    index = np.array([label_of[int(c)] for c in known], dtype=np.int64)
    pos = np.clip(np.searchsorted(known, cat_ids), 0, len(known) - 1)
    return np.where(known[pos] == cat_ids, index[pos], -1)


def _rows_of(reader: Reader, anns: Section, col: Numbers, image_ids: np.ndarray) -> np.ndarray:
    """The row (image position) of each annotation; unknown image ids are an error."""
    reader.require(anns, col, "image_id")
    n, m = anns.size, len(image_ids)
    wanted = np.nan_to_num(col.values)
    sorter = np.argsort(image_ids, kind="stable")
    pos = np.clip(np.searchsorted(image_ids[sorter], wanted), 0, max(m - 1, 0))
    row = sorter[pos] if m else np.zeros(n, dtype=np.int64)
    known = (image_ids[row] == wanted) if m else np.zeros(n, dtype=bool)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise reader.error(
            f"{anns.name(i)}: image_id {anns.columns['image_id'][i]!r} is not the id of any "
            f"image ({count_text(int((~known).sum()), 'annotation')} point to unknown images)",
            anns,
            i,
        )
    return row


def _others(
    anns: Section, outside: np.ndarray, labels: np.ndarray, coco: CocoSchema, notes: Notes
) -> list[dict[str, Any]]:
    """Annotations of categories without this keypoint layout, verbatim for export."""
    if not outside.size:
        return []
    out = []
    for i in outside.tolist():
        record = {}
        for key in anns.keys:
            value = anns.columns[key][i]
            if value is UNSET or (isinstance(value, Raw) and not len(value)):
                continue
            record[key] = orjson.loads(bytes(value)) if isinstance(value, Raw) else value
        out.append({"index": int(i), "annotation": record})
    names = sorted({coco.schema.classes[int(labels[i])] for i in outside.tolist()})
    notes.add(
        f"{count_text(int(outside.size), 'annotation')} of categories outside the keypoint "
        f"layout ({first_few(repr(x) for x in names)}) are not instances; they are kept for "
        "export"
    )
    return out


def _ids(
    ids: np.ndarray,
    col: Numbers,
    chosen: np.ndarray,
    derived: np.ndarray,
    notes: Notes,
    given: np.ndarray,
) -> np.ndarray:
    """Annotation ids; absent (or null) ones are numbered after the largest given."""
    ids = ids.copy()
    lacking = ~col.present[chosen]
    if not lacking.any():
        return ids
    start = int(given.max(initial=0)) + 1
    ids[lacking] = np.arange(start, start + int(lacking.sum()))
    derived[lacking & ~col.null[chosen]] |= DERIVED_ID
    notes.add(
        f"{count_text(int(lacking.sum()), 'annotation')} had no 'id' (or null): numbered from "
        f"{start} (export writes back what the file had)"
    )
    return ids


def _keypoints(
    reader: Reader,
    anns: Section,
    sub: np.ndarray | None,
    coco: CocoSchema,
    batch: int = LIST_BATCH,
) -> tuple[np.ndarray, np.ndarray, dict[int, Any]]:
    """(points (T, K, 2), visibilities (T, K), number types): decoded ``batch`` annotations
    at a time into arrays made once, so memory holds the result and one batch, never the
    whole field's text or values. A batch with anything wrong hands over to
    :func:`_keypoints_whole`, which names the first fault of the file as it always did."""
    k = coco.schema.num_keypoints
    t = anns.size if sub is None else len(sub)
    kp = np.empty((t, k, 2), dtype=np.float64)
    vis = np.empty((t, k), dtype=np.int32)
    kp_float: dict[int, Any] = {}
    for start, col in reader.list_batches(anns, "keypoints", sub, batch):
        n = len(col.present)
        if not col.present.all() or np.any(col.lengths != 3 * k):
            return _keypoints_whole(reader, anns, sub, coco)
        values = col.flat.reshape(n, k, 3)
        raw_vis = values[..., 2]
        if not np.isin(raw_vis, (0.0, 1.0, 2.0)).all():
            return _keypoints_whole(reader, anns, sub, coco)
        kp[start : start + n] = values[..., :2]
        vis[start : start + n] = raw_vis
        kp_float.update(
            (start + j, flag) for j, flag in _float_flags(col.flat, col.float_whole, n, k).items()
        )
    return kp, vis, kp_float


def _float_flags(
    flat: np.ndarray, float_whole: np.ndarray | None, t: int, k: int
) -> dict[int, Any]:
    """Annotations whose keypoints have whole numbers written as floats: ``"float"`` where
    every whole value was, else the positions of those that were."""
    kp_float: dict[int, Any] = {}
    if float_whole is not None:
        flags = float_whole.reshape(t, 3 * k)
        flagged = flags.sum(axis=1)
        wholes = (np.mod(flat, 1) == 0).reshape(t, 3 * k).sum(axis=1)
        for j in np.flatnonzero(flagged).tolist():
            all_float = flagged[j] == wholes[j]
            kp_float[j] = "float" if all_float else np.flatnonzero(flags[j]).tolist()
    return kp_float


def _keypoints_whole(
    reader: Reader, anns: Section, sub: np.ndarray | None, coco: CocoSchema
) -> tuple[np.ndarray, np.ndarray, dict[int, Any]]:
    """:func:`_keypoints` of the whole field at once: the checks in the order that names
    a file's first fault (and the reference the batched decode is tested against)."""
    k = coco.schema.num_keypoints
    col = reader.lists(anns, "keypoints", sub)
    t = len(col.present)

    def at(j: int) -> int:
        return j if sub is None else int(sub[j])

    if not col.present.all():
        i = at(int(np.flatnonzero(~col.present)[0]))
        raise reader.error(
            f"{anns.name(i)} has no 'keypoints', but its category has a keypoint layout of K={k}",
            anns,
            i,
        )
    wrong = col.lengths != 3 * k
    if wrong.any():
        j = int(np.flatnonzero(wrong)[0])
        more = f" ({count_text(int(wrong.sum()), 'annotation')} wrong)" if wrong.sum() > 1 else ""
        raise reader.error(
            f"{anns.name(at(j))}: 'keypoints' must hold 3K = {3 * k} values (x, y, v for K={k} "
            f"keypoints), found {int(col.lengths[j])}{more}",
            anns,
            at(j),
        )
    values = col.flat.reshape(t, k, 3)
    raw_vis = values[..., 2]
    bad = ~np.isin(raw_vis, (0.0, 1.0, 2.0))
    if bad.any():
        j, p = (int(v) for v in np.argwhere(bad)[0])
        more = f" ({count_text(int(bad.sum()), 'value')} wrong)" if bad.sum() > 1 else ""
        raise reader.error(
            f"{anns.name(at(j))}: visibility must be 0, 1 or 2, found "
            f"{number_text(raw_vis[j, p])} for keypoint {p} "
            f"({coco.schema.keypoint_names[p]!r}){more}",
            anns,
            at(j),
        )
    kp_float = _float_flags(col.flat, col.float_whole, t, k)
    return np.ascontiguousarray(values[..., :2]), raw_vis.astype(np.int32), kp_float


def _boxes(
    reader: Reader,
    anns: Section,
    sub: np.ndarray | None,
    kp: np.ndarray,
    vis: np.ndarray,
    derived: np.ndarray,
    notes: Notes,
) -> tuple[np.ndarray, dict[int, bytes], np.ndarray]:
    col = reader.batched_lists(anns, "bbox", sub)
    t = len(col.present)
    wrong = col.present & (col.lengths != 4)
    if wrong.any():
        j = int(np.flatnonzero(wrong)[0])
        i = j if sub is None else int(sub[j])
        raise reader.error(
            f"{anns.name(i)}: 'bbox' must be [x, y, width, height], found "
            f"{int(col.lengths[j])} values",
            anns,
            i,
        )
    present = col.present
    given = col.flat.reshape(-1, 4)
    xyxy = given.copy()
    xyxy[:, 2:] += given[:, :2]
    bad = (given[:, 2] < 0) | (given[:, 3] < 0) | ~np.isfinite(xyxy).all(axis=1)
    if bad.any():  # the table refuses x2 < x1 (and every later save of the row would fail)
        j = int(np.flatnonzero(present)[np.flatnonzero(bad)[0]])
        i = j if sub is None else int(sub[j])
        found = given[int(np.flatnonzero(bad)[0])].tolist()
        raise reader.error(
            f"{anns.name(i)}: 'bbox' [x, y, width, height] must have width >= 0 and "
            f"height >= 0 (and finite corners), found {found}"
            + (f" ({int(bad.sum())} annotations have such a bbox)" if bad.sum() > 1 else ""),
            anns,
            i,
        )
    boxes = np.zeros((t, 4))
    boxes[present] = xyxy
    if not present.all():
        absent = ~present
        boxes[absent] = derive_boxes(kp[absent], vis[absent] > 0)
        derived[absent] |= DERIVED_BBOX
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'bbox': derived from the "
            "labeled keypoints (export leaves it out, as the file did)"
        )
    inexact = np.zeros(t, dtype=bool)
    inexact[present] = np.any(box_sizes(xyxy[:, :2], xyxy[:, 2:]) != given[:, 2:], axis=1)
    if col.float_whole is not None:
        inexact[present] |= col.float_whole.reshape(-1, 4).any(axis=1)
    texts = anns.columns["bbox"]
    private = {
        j: b'"bbox":' + bytes(texts[j if sub is None else int(sub[j])])
        for j in np.flatnonzero(inexact).tolist()
    }  # the file's own text keeps its exact numbers and number types
    given_wh = np.full((t, 2), np.nan)
    given_wh[present] = given[:, 2:]
    return boxes, private, given_wh


def _scalars(
    reader: Reader,
    anns: Section,
    sub: np.ndarray | None,
    boxes: np.ndarray,
    given_wh: np.ndarray,
    labeled: np.ndarray,
    derived: np.ndarray,
    notes: Notes,
) -> tuple[dict[str, np.ndarray], dict[int, dict[str, str]]]:
    types: dict[int, dict[str, str]] = {}
    area = reader.numbers(anns, "area", sub)
    area_values = area.values.copy()
    if not area.present.all():
        absent = ~area.present
        sizes = np.where(np.isnan(given_wh), boxes[:, 2:] - boxes[:, :2], given_wh)
        area_values[absent] = sizes[absent, 0] * sizes[absent, 1] * AREA_FACTOR
        derived[absent & ~area.null] |= DERIVED_AREA
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'area': filled with bbox "
            f"width * height * {AREA_FACTOR} (the xtcocotools / CrowdPose rule), marked derived "
            "so export leaves it out"
        )
    crowd = reader.numbers(anns, "iscrowd", sub)
    crowd_values = reader.whole(anns, crowd, "iscrowd", sub).copy()
    if not crowd.present.all():
        absent = ~crowd.present
        crowd_values[absent] = 0
        derived[absent & ~crowd.null] |= DERIVED_ISCROWD
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'iscrowd': filled with 0, "
            "marked derived"
        )
    num = reader.numbers(anns, "num_keypoints", sub)
    num_values = _num_keypoints(reader, anns, sub, num, labeled, derived, notes)
    for key, col in (("area", area), ("iscrowd", crowd), ("num_keypoints", num)):
        for j in np.flatnonzero(col.written_float).tolist():
            types.setdefault(j, {})[key] = "float"
        for j in np.flatnonzero(col.written_bool).tolist():
            types.setdefault(j, {})[key] = "bool"
        for j in np.flatnonzero(col.null).tolist():
            types.setdefault(j, {})[key] = "null"
    return {"area": area_values, "iscrowd": crowd_values, "num_keypoints": num_values}, types


def _num_keypoints(
    reader: Reader,
    anns: Section,
    sub: np.ndarray | None,
    num: Numbers,
    labeled: np.ndarray,
    derived: np.ndarray,
    notes: Notes,
) -> np.ndarray:
    values = reader.whole(anns, num, "num_keypoints", sub).copy()
    if not num.present.all():
        absent = ~num.present
        values[absent] = labeled[absent]
        derived[absent & ~num.null] |= DERIVED_NUM_KEYPOINTS
        notes.add(
            f"{count_text(int(absent.sum()), 'annotation')} had no 'num_keypoints': filled with "
            "the count of labeled points (v > 0), marked derived"
        )
    differ = num.present & (values != labeled)
    if differ.any():
        rows = np.flatnonzero(differ)
        ids = [anns.id_text(int(j if sub is None else sub[j])) for j in rows.tolist()]
        notes.add(
            f"{count_text(int(differ.sum()), 'annotation')} have a num_keypoints different from "
            "their count of labeled points (v > 0), kept as given since pycocotools reads it "
            f"(annotation ids {first_few(ids)})"
        )
    return values


def _fields(
    anns: Section,
    chosen: np.ndarray,
    every: bool,
    kp_float: dict[int, Any],
    box_private: dict[int, bytes],
    types: dict[int, dict[str, str]],
    skip: frozenset[str] = ANNOTATION_FIELDS,
) -> np.ndarray:
    """The ``coco_fields`` text of each instance: unmodelled fields + private notes."""
    rests = rest_texts(anns, skip)
    if not every:
        rests = [rests[i] for i in chosen.tolist()]
    for j, flag in kp_float.items():
        if isinstance(flag, dict):  # merged part fields: number types per field
            types.setdefault(j, {}).update(flag)
        else:
            types.setdefault(j, {})["keypoints"] = flag
    for j in set(types) | set(box_private):
        parts = [types_part(types[j])] if j in types else []
        if j in box_private:
            parts.append(box_private[j])
        rests[j] = with_private(rests[j], parts)
    out = np.empty(len(rests), dtype=object)
    for i, text in enumerate(rests):  # one at a time, so bytes and text never both peak
        out[i] = text.decode() if text is not None else ""
        rests[i] = None
    return out
