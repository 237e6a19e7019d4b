"""Reading a COCO keypoints file into flat columns (one row per image), checked.

See :mod:`posetable.formats.coco` for what is kept where. The file is decoded once into
columns (:mod:`posetable.formats._records`); every check is vectorised over all records,
and only records that need a private note are touched one by one.
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

from posetable.errors import FormatError
from posetable.formats._coco_annotations import read_annotations
from posetable.formats._coco_common import (
    DEFAULT_IMAGE_KEYS,
    IMAGE_FIELDS,
    types_part,
    with_private,
)
from posetable.formats._coco_parts import plan_parts
from posetable.formats._coco_schema import CocoSchema, coco_schema
from posetable.formats._coco_values import Reader
from posetable.formats._errors import MissingFileError
from posetable.formats._images import image_size, missing_files, resolve_image
from posetable.formats._json import check_text, decode_top, json_errors, read_bytes
from posetable.formats._notes import Notes, count_text, first_few, number_text
from posetable.formats._records import NUMBER, TEXT, Section, decode_section, rest_texts

MISSING_IMAGES = ("error", "warn", "skip")
IMAGE_TYPES = {"id": NUMBER, "width": NUMBER, "height": NUMBER}
_TEXTS = msgspec.json.Decoder(list[TEXT])


@dataclass
class CocoColumns:
    """A COCO file as flat arrays: M rows (images), T instances grouped by row."""

    coco: CocoSchema
    image_ids: np.ndarray
    images: list[str]
    widths: np.ndarray
    heights: np.ndarray
    image_fields: list[str | None]
    counts: np.ndarray
    keypoints: np.ndarray
    visibilities: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    extras: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)


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
    merge_parts: bool = False,
    int_fields: tuple[str, ...] = (),
) -> CocoColumns:
    """Read and check a COCO keypoints file (see :func:`posetable.formats.coco.table_from_coco`)."""
    if missing_images not in MISSING_IMAGES:
        raise FormatError(
            f"missing_images must be one of {list(MISSING_IMAGES)}, got {missing_images!r}"
        )
    file = Path(path)
    raw = read_bytes(file, "COCO annotation file")
    check_text(file, raw)
    with json_errors(file, raw):  # a parser's own error (nesting, syntax) names the file
        return _read_checked(
            file,
            raw,
            image_folder,
            notes=notes,
            category=category,
            oks_sigmas=oks_sigmas,
            flip_indices=flip_indices,
            schema=schema,
            missing_images=missing_images,
            merge_parts=merge_parts,
            int_fields=int_fields,
        )


def _read_checked(
    file: Path,
    raw: bytes,
    image_folder: str | os.PathLike[str] | None,
    *,
    notes: Notes,
    category: Any,
    oks_sigmas: Sequence[float] | None,
    flip_indices: Sequence[int] | None,
    schema: Any,
    missing_images: str,
    merge_parts: bool = False,
    int_fields: tuple[str, ...] = (),
) -> CocoColumns:
    reader = Reader(file, raw)
    top = decode_top(file, raw)
    for key in ("images", "categories"):
        if key not in top:
            raise reader.error(
                f"a COCO keypoints file needs an '{key}' list; its top-level keys are {list(top)}"
            )
    categories = orjson.loads(bytes(top["categories"]))
    plan = plan_parts(
        categories, top.get("annotations"), merge_parts=merge_parts, path=file, notes=notes
    )  # COCO-WholeBody parts as one keypoint set, Halpe's unnamed keypoints (_coco_parts)
    layout = plan.layout
    coco = coco_schema(
        plan.categories,
        path=file,
        notes=notes,
        category=category,
        oks_sigmas=oks_sigmas if oks_sigmas is not None or layout is None else layout.oks_sigmas,
        flip_indices=flip_indices
        if flip_indices is not None or layout is None
        else layout.flip_indices,
        schema=schema,
    )
    coco = plan.apply(coco)
    folder = None if image_folder is None else Path(image_folder).expanduser().absolute()
    if folder is not None and not folder.is_dir():
        raise MissingFileError(f"image folder {folder} does not exist (or is not a folder)")
    images = decode_section(file, raw, top["images"], "images", IMAGE_TYPES, ("file_name",))
    rows = _read_images(reader, images, folder, notes, missing_images)
    anns = read_annotations(
        reader,
        file,
        raw,
        top.get("annotations"),
        rows,
        coco,
        notes,
        parts=plan.parts,
        ints=int_fields,
    )
    keep = rows["keep"]
    extra_top = {
        key: orjson.loads(bytes(value))
        for key, value in top.items()
        if key not in ("images", "annotations", "categories")
    }
    metadata = {
        "coco": {
            **extra_top,  # info, licenses...: readable here; "top_level" is what export uses
            "source": str(file.absolute()),
            "categories": categories,
            "keypoint_category_ids": list(coco.keypoint_ids),
            "skeleton_base": coco.skeleton_base,
            "schema_lines": [list(p) for p in coco.lines],
            "schema_names": list(coco.schema.keypoint_names),
            "top_level_keys": list(top),
            "top_level": extra_top,
            "image_keys": images.keys if images.size else list(DEFAULT_IMAGE_KEYS),
            "annotation_keys": anns.keys,
            "other_annotations": anns.others,
            **({"parts": [list(p) for p in plan.parts]} if plan.parts else {}),
            **({"int_fields": list(anns.lifted)} if anns.lifted else {}),
        },
        "image_roots": [str(folder)] if folder is not None else [],
    }
    return CocoColumns(
        coco=coco,
        image_ids=rows["ids"][keep],
        images=[p for p, k in zip(rows["paths"], keep, strict=True) if k],
        widths=rows["widths"][keep],
        heights=rows["heights"][keep],
        image_fields=[f for f, k in zip(rows["fields"], keep, strict=True) if k],
        counts=anns.counts,
        keypoints=anns.keypoints,
        visibilities=anns.visibilities,
        boxes=anns.boxes,
        labels=anns.labels,
        extras=anns.extras,
        metadata=metadata,
    )


def _file_names(reader: Reader, images: Section) -> list[str]:
    """Every image's ``file_name``, decoded in one call (kept raw for export too)."""
    raws = images.columns["file_name"]
    joined = b"[" + b",".join(r if len(r) else b"null" for r in raws) + b"]"
    try:
        names = _TEXTS.decode(joined)
    except msgspec.ValidationError:  # an array or object: report the first such record
        names = [n if isinstance(n, str) else None for n in (_one_text(r) for r in raws)]
    bad = [i for i, n in enumerate(names) if not isinstance(n, str) or not n]
    if bad:
        i = bad[0]
        found = names[i]
        shown = repr(found) if isinstance(found, (int, float)) and found != "" else "nothing"
        raise reader.error(
            f"{images.name(i)} needs a non-empty 'file_name' string, found {shown} "
            f"({count_text(len(bad), 'image')} lack one)",
            images,
            i,
        )
    return names


def _check_inside(reader: Reader, images: Section, names: list[str], folder: Path | None) -> None:
    """Refuse a ``file_name`` that leaves the image folder (``../x.jpg``, an absolute path
    elsewhere): the import never resolves a name outside the folder it was given. Without
    a folder, names are kept as written (nothing is resolved), except ``..`` ones.
    """
    joined = "\n" + "\n".join(names)
    if ".." not in joined and "\n/" not in joined:
        return  # the usual case: plain relative names, checked without a loop
    prefix = None if folder is None else os.path.join(str(folder), "")
    for i, name in enumerate(names):
        if ".." not in name and not name.startswith("/"):
            continue
        normal = os.path.normpath(name)
        if os.path.isabs(normal):
            if prefix is None or os.path.normpath(normal).startswith(prefix):
                continue
            where = f"the absolute path {normal}, outside the image folder {folder}"
        elif normal == ".." or normal.startswith(".." + os.sep):
            where = (
                f"{os.path.normpath(os.path.join(str(folder), name))}, outside the image folder "
                f"{folder}"
                if folder is not None
                else "a path that climbs out of whatever folder it is read from"
            )
        else:
            continue  # "a/../b.jpg" stays inside
        raise reader.error(
            f"{images.name(i)}: 'file_name' {name!r} is {where}; file names must be relative "
            "to the image folder and stay inside it",
            images,
            i,
        )


def _one_text(value: Any) -> Any:
    try:
        return _TEXTS.decode(b"[" + (bytes(value) or b"null") + b"]")[0]
    except msgspec.ValidationError:
        return None


def _check_missing(
    reader: Reader,
    names: list[str],
    paths: list[str],
    folder: Path,
    notes: Notes,
    missing_images: str,
) -> np.ndarray:
    keep = np.ones(len(paths), dtype=bool)
    missing = missing_files(paths)
    if not missing.size:
        return keep
    listed = first_few((names[i] for i in missing.tolist()), limit=5)
    text = (
        f"{missing.size} of {len(paths)} image files named in the file are missing under "
        f"{folder}: {listed}"
    )
    if missing_images == "error":
        raise MissingFileError(
            f"{reader.path}: {text}; pass missing_images='warn' to import them anyway or "
            "missing_images='skip' to leave them out"
        )
    if missing_images == "skip":
        keep[missing] = False
        notes.add(text + "; those images (and their annotations) were left out")
    else:
        notes.add(text + "; imported anyway (missing_images='warn')")
    return keep


def _read_images(
    reader: Reader,
    images: Section,
    folder: Path | None,
    notes: Notes,
    missing_images: str,
) -> dict[str, Any]:
    id_col = reader.numbers(images, "id")
    reader.require(images, id_col, "id")
    ids = reader.whole(images, id_col, "id")
    reader.unique(images, ids, id_col.present)
    names = _file_names(reader, images)
    _check_inside(reader, images, names, folder)
    paths = [resolve_image(folder, n) for n in names]
    keep = np.ones(images.size, dtype=bool)
    if folder is not None and images.size:
        keep = _check_missing(reader, names, paths, folder, notes, missing_images)
    cols = {key: reader.numbers(images, key) for key in ("width", "height")}
    sizes = {}
    for key, col in cols.items():
        values = np.where(col.present, np.nan_to_num(col.values), 1)
        bad = col.present & ((values <= 0) | (np.mod(values, 1) != 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise reader.error(
                f"{images.name(i)}: '{key}' must be a positive integer, found "
                f"{number_text(col.values[i])}",
                images,
                i,
            )
        sizes[key] = values.astype(np.int64)
    absent = (~cols["width"].present | ~cols["height"].present) & keep
    if absent.any():
        _sizes_from_headers(reader, images, absent, folder, paths, sizes, cols, notes)
    fields = rest_texts(images, IMAGE_FIELDS)
    sized = (("id", id_col), ("width", cols["width"]), ("height", cols["height"]))
    special = np.zeros(images.size, dtype=bool)
    for _, col in sized:
        special |= col.written_float | ~col.present
    for i in np.flatnonzero(special).tolist():
        parts = []
        types = {key: "float" for key, col in sized if col.written_float[i]}
        types.update({key: "null" for key, col in sized[1:] if col.null[i]})
        if types:
            parts.append(types_part(types))
        lacking = [key for key, col in sized[1:] if not col.present[i] and not col.null[i]]
        if lacking:
            parts.append(b'"absent":' + orjson.dumps(lacking))
        fields[i] = with_private(fields[i], parts)
    return {
        "ids": ids,
        "paths": paths,
        "widths": sizes["width"],
        "heights": sizes["height"],
        "fields": [b.decode() if b is not None else None for b in fields],
        "keep": keep,
    }


def _sizes_from_headers(
    reader: Reader,
    images: Section,
    absent: np.ndarray,
    folder: Path | None,
    paths: list[str],
    sizes: dict[str, np.ndarray],
    cols: dict[str, Any],
    notes: Notes,
) -> None:
    if folder is None:
        i = int(np.flatnonzero(absent)[0])
        raise reader.error(
            f"{images.name(i)} has no 'width'/'height' ({count_text(int(absent.sum()), 'image')} "
            "lack them); pass the image folder so they can be read from the image files",
            images,
            i,
        )
    for i in np.flatnonzero(absent).tolist():
        width, height = image_size(paths[i])
        if not cols["width"].present[i]:
            sizes["width"][i] = width
        if not cols["height"].present[i]:
            sizes["height"][i] = height
    notes.add(
        f"{count_text(int(absent.sum()), 'image')} had no width/height: read from the image "
        "headers (export leaves them out, as the file did)"
    )
