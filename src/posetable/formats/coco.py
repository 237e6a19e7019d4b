"""COCO keypoints JSON <-> tables, lossless.

Import (:func:`table_from_coco`) makes one row per image, images without annotations
included, in the file's order. Export (:func:`export_coco`) of a table that came from COCO
gives back the same JSON: the same ids, fields, values and number types (key order aside,
which is kept too where the file was consistent).

Where each part of the file goes:

* **Rows**: ``image`` (the absolute path under the image folder when one is given, else the
  ``file_name``), ``width``, ``height``, the user column ``image_id`` (int64, the COCO id) and
  ``coco_image_fields``: the image's other fields (``file_name``, ``license``,
  ``coco_url``...) as JSON text, kept for export. A ``file_name`` is never resolved
  outside the image folder: one that leaves it (``../x.jpg``, an absolute path elsewhere)
  is a FormatError naming the image id; without a folder names are kept as written,
  except ``..`` ones, which are refused too.
* **Instances** (the ``keypoints`` column): x, y (float64 pixels) and visibility 0/1/2 per
  point, the box (COCO ``xywh`` -> ``xyxy``; a negative width or height is a FormatError
  naming the annotation, as a table holds only boxes with x2 >= x1, y2 >= y1), the label
  (the category's index in the file's ``categories``), and the extras ``area`` (float),
  ``iscrowd`` (int), ``id`` (int64), ``num_keypoints`` (int) exactly as given, plus three
  private extras:

  - ``coco_derived``: a bitmask of the fields the file lacked and posetable filled
    (1 ``area`` = bbox w*h*0.53, 2 ``iscrowd`` = 0, 4 ``num_keypoints`` = count of v > 0,
    8 ``id``, 16 ``bbox`` from the labeled points); export leaves them out again;
  - ``coco_order``: the annotation's position in the file (export restores the order);
  - ``coco_fields``: the fields posetable does not model (``segmentation``, WholeBody's
    ``face_kpts``...) as JSON text ("" when none). A private ``"__posetable__"`` entry in it
    records, only where needed, number types that differ from the default (a whole number
    written as ``2.0``: ``"types": {"keypoints": "float"}``, or the indices of such values)
    and the file's ``bbox`` text when ``x + w - x`` does not give ``w`` back exactly.

  An instance added after the import may carry ``id`` -1, ``coco_order`` -1,
  ``coco_derived`` 0 and ``coco_fields`` "": export gives it a new id (after the largest)
  and writes it after the file's annotations.

  Whole numbers are written as ints unless recorded otherwise, so a file that wrote ints
  gets ints back and Horse-10's ``2.0`` visibilities come back as floats.
* **Table metadata** ``metadata["coco"]``: ``categories`` (complete, in file order; label
  ``i`` is ``categories[i]`` and ``schema.classes`` are their names), the file's other
  top-level values (``info``, ``licenses``... even when empty) both under their own keys and
  in ``top_level`` (which export uses, so a top-level key can never clash with posetable's)
  with ``top_level_keys`` (their order), the image and
  annotation key orders, ``keypoint_category_ids``, ``skeleton_base`` (1, or 0 for a file
  whose skeleton was 0-based), the schema lines and names as imported (an edited schema is
  written into the categories on export), ``other_annotations`` (annotations of categories
  without this keypoint layout, verbatim) and ``source``. ``metadata["image_roots"]`` lists
  the absolute image folder.

Everything the import assumed or filled is reported in ONE
:class:`~posetable.errors.PosetableWarning` with counts. Bad input raises a
:class:`~posetable.errors.FormatError` naming the file, the line and the annotation or image
id, and nothing is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from posetable._arrow import keypoints_column
from posetable.errors import SchemaError
from posetable.formats._coco_read import CocoColumns, read_coco
from posetable.formats._imported import rows_table
from posetable.formats._notes import Notes, show_progress, stages
from posetable.schema import Keypoints2DSchema
from posetable.store import check_if_exists, resolve_store

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table

__all__ = ["export_coco", "table_from_coco"]

IMAGE_ID_COLUMN = "image_id"
_BATCH_ROWS = 8192  # rows per batch handed to the store (bounded memory while writing)
IMAGE_FIELDS_COLUMN = "coco_image_fields"
EXTRA_TYPES = {
    "area": pa.float64(),
    "iscrowd": pa.int64(),
    "id": pa.int64(),
    "num_keypoints": pa.int64(),
    "coco_derived": pa.int64(),
    "coco_order": pa.int64(),
    "coco_fields": pa.string(),
}


def _alias(primary: Any, alias: Any, names: str) -> Any:
    if primary is not None and alias is not None:
        first, second = names.split("/")
        raise SchemaError(f"give {first} or its alias {second}, not both")
    return primary if primary is not None else alias


def table_from_coco(
    annotation_file: str | os.PathLike[str],
    image_folder: str | os.PathLike[str] | None = None,
    *,
    name: str,
    store: StoreLike = None,
    category: str | int | Sequence[str | int] | None = None,
    oks_sigmas: Sequence[float] | None = None,
    flip_indices: Sequence[int] | None = None,
    sigmas: Sequence[float] | None = None,
    flip_idx: Sequence[int] | None = None,
    schema: Keypoints2DSchema | None = None,
    missing_images: str = "error",
    progress: bool | None = None,
    if_exists: str = "error",
    merge_parts: bool = False,
) -> Table:
    """Import a COCO keypoints JSON as a new table (or a new revision of ``name``).

    Args:
        annotation_file: the COCO keypoints JSON.
        image_folder: the folder ``images[].file_name`` is relative to; when given, the
            ``image`` column holds absolute paths and missing files are checked.
        name: the table name.
        store: the store (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        category: the keypoint category (name or id, or a list) to import when the file has
            keypoint categories with different K; default all (they must share K).
        oks_sigmas: K OKS sigmas (alias ``sigmas``); default pycocotools' COCO-17 values
            when the keypoint names are COCO's, else uniform ``1/K`` with a warning.
        flip_indices: K flip indices (alias ``flip_idx``); default COCO's for COCO names,
            else derived from ``left``/``right`` name pairs with a warning.
        schema: a complete schema to use instead (its K must match; classes are the file's).
        missing_images: ``"error"`` (default: list the first few missing files),
            ``"warn"`` (import them anyway) or ``"skip"`` (leave those images out).
        progress: draw a progress bar (default: for large files only).
        if_exists: when ``name`` already holds a table: ``"error"`` (default: raise
            ``TableExistsError`` naming it, before the file is read) or ``"new_revision"``.
        merge_parts: COCO-WholeBody files: read the part fields (``foot_kpts``,
            ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``) after the 17 body points
            as ONE K=133 keypoint set with COCO-WholeBody's names and sigmas, the parts'
            ``*_valid``/``*_box`` as instance extras; export writes the part fields back
            (see :mod:`posetable.formats._coco_parts`). Default False: the part fields
            stay extra fields of each annotation.

    Returns:
        The new table revision.

    Raises:
        FormatError: the file breaks the format (names the file, line and record id).
        MissingFileError: the file, the image folder or (by default) an image is missing.

    Example:
        >>> import posetable as pt, tempfile
        >>> from posetable.sample import sample_annotations, sample_images
        >>> table = pt.Table.from_coco(sample_annotations(), sample_images(), name="people",
        ...                            store=tempfile.mkdtemp())
        >>> len(table), table.schema.num_keypoints, table[0]["image_id"]
        (4, 17, 785)
        >>> table.metadata["coco"]["categories"][0]["name"]
        'person'
    """
    from posetable.table import Table

    source = Path(annotation_file)
    check_if_exists(resolve_store(store), name, if_exists, f"the import of {source.absolute()}")
    notes = Notes(source)
    size = source.stat().st_size if source.is_file() else 0
    enabled = show_progress(progress, size // 500)
    started = time.perf_counter()
    with stages(["read", "write"], enabled=enabled, description=f"import {source.name}") as step:
        step("read")
        columns = read_coco(
            source,
            image_folder,
            notes=notes,
            category=category,
            oks_sigmas=_alias(oks_sigmas, sigmas, "oks_sigmas/sigmas"),
            flip_indices=_alias(flip_indices, flip_idx, "flip_indices/flip_idx"),
            schema=schema,
            missing_images=missing_images,
            merge_parts=merge_parts,
        )
        data = _coco_arrow(columns)
        coco_schema, metadata = columns.coco.schema, columns.metadata
        del columns  # the Arrow table holds what is written: the arrays go before the write
        step("write")
        table = Table.from_arrow(
            data.to_reader(max_chunksize=_BATCH_ROWS),
            name=name,
            schema=coco_schema,
            store=store,
            metadata=metadata,
            if_exists=if_exists,
            operation="import_coco",
            arguments={
                "annotation_file": str(source.absolute()),
                "image_folder": None
                if image_folder is None
                else str(Path(image_folder).absolute()),
                "category": _json_argument(category),
                "missing_images": missing_images,
                **({"merge_parts": True} if merge_parts else {}),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
    notes.emit()
    return table


def _json_argument(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int)) else list(value)


def _coco_arrow(columns: CocoColumns) -> pa.Table:
    """The Arrow table (posetable's row layout) of an imported COCO file."""
    k = columns.coco.schema.num_keypoints
    column = keypoints_column(
        columns.counts,
        columns.keypoints,
        widths=columns.widths,
        heights=columns.heights,
        visibilities=columns.visibilities,
        boxes=columns.boxes,
        labels=columns.labels,
        extras=columns.extras,
        extra_types=EXTRA_TYPES,
        num_keypoints=k,
    )
    return rows_table(
        columns.images,
        np.asarray(columns.widths),
        np.asarray(columns.heights),
        column,
        {
            IMAGE_ID_COLUMN: pa.array(np.asarray(columns.image_ids), pa.int64()),
            IMAGE_FIELDS_COLUMN: pa.array(columns.image_fields, pa.string()),
        },
    )


def export_coco(
    table: Table, path: str | os.PathLike[str], *, progress: bool | None = None
) -> Path:
    """Write a table revision as COCO keypoints JSON; returns the path written.

    A table imported from COCO gives back the file it came from (ids, fields, values and
    number types), with its edits applied. Any other table gets image ids ``1..M`` (or its
    ``image_id`` column), annotation ids ``1..T`` (or its ``id`` extra), ``area`` from the
    box, ``iscrowd`` 0, ``num_keypoints`` counted, and one category per schema class. The
    file is written whole or not at all.

    Example:
        >>> import posetable as pt, tempfile, json
        >>> from posetable.sample import sample_annotations
        >>> table = pt.Table.from_coco(sample_annotations(), name="s", store=tempfile.mkdtemp())
        >>> out = table.export_coco(tempfile.mkdtemp() + "/out.json")
        >>> json.loads(out.read_text()) == json.loads(sample_annotations().read_text())
        True
    """
    from posetable.formats._coco_write import write_coco

    return write_coco(table, Path(path), progress=progress)
