"""Ultralytics YOLO-pose folders <-> tables, and YOLO-style prediction files.

Import (:func:`table_from_yolo`) reads one split of a ``data.yaml`` dataset: one row per
image (sorted, as Ultralytics lists them; images without a label file have no instances),
``image`` the absolute path, ``width``/``height`` from the image header (EXIF rotation
applied, as Ultralytics does). Each label line ``cls cx cy w h x1 y1 [v1] ...``
(normalised) becomes an instance in pixels; for ``kpt_shape [K, 2]`` a point at (0, 0) has
visibility 0 and any other 2. The schema takes ``names`` (classes), ``kpt_shape`` (K),
``kpt_names``, ``flip_idx``, ``kpt_oks_sigmas`` (else pycocotools' COCO-17 values for
``[17, 3]`` data with COCO or no keypoint names, which is what Ultralytics uses, else
uniform 1/K) and an optional ``skeleton`` (0-based pairs). The whole YAML, the split and
what the file gave are kept in ``metadata["yolo"]`` (``yaml_text``, the file itself, and
``data``, its values with mapping keys as text); ``metadata["image_roots"]`` holds the
dataset root.

Export (:func:`export_yolo`) writes ``data.yaml``, ``labels/<split>/*.txt`` and the images
(symlinked or copied) so that YOLO -> table -> YOLO gives the same label values (within
1e-6) and the same YAML metadata.

:func:`read_yolo_predictions` reads predicted label files (``cls cx cy w h x y conf ...
[box_conf]``, as Ultralytics' ``save_txt`` with ``save_conf`` writes them) into
per-row predicted instances with keypoint and instance confidences.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable._arrow import keypoints_column
from posetable._validate import check_number
from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import image_sizes, missing_files
from posetable.formats._imported import rows_table
from posetable.formats._notes import Notes, first_few, show_progress, stages
from posetable.formats._yolo_labels import LabelLines, parse_lines, read_files
from posetable.formats._yolo_yaml import (
    YoloLayout,
    find_yaml,
    label_paths,
    load_yaml,
    split_images,
    yolo_layout,
)
from posetable.instances import Keypoints2DInstances
from posetable.store import check_if_exists, resolve_store

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table

__all__ = ["export_yolo", "read_yolo_predictions", "table_from_yolo"]

TOLERANCE = 0.01  # Ultralytics accepts normalised values up to 1.01 and down to -0.01


def table_from_yolo(
    data_yaml: str | os.PathLike[str],
    *,
    split: str = "train",
    name: str,
    store: StoreLike = None,
    tolerance: float = TOLERANCE,
    missing_images: str = "error",
    progress: bool | None = None,
    if_exists: str = "error",
) -> Table:
    """Import one split of an Ultralytics YOLO-pose dataset as a new table.

    Args:
        data_yaml: the dataset's data.yaml (or a folder holding exactly one YAML file).
        split: ``"train"``, ``"val"``, ``"test"`` or another key of the YAML.
        name: the table name.
        store: the store (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        tolerance: how far normalised values may lie outside [0, 1] (Ultralytics: 0.01).
        missing_images: images a list file names that do not exist: ``"error"`` (default,
            listing the first few), or ``"skip"``/``"warn"`` (left out, with a warning:
            without the file there is no image size to turn the labels into pixels).
        progress: draw progress bars (default: for large datasets only).
        if_exists: when ``name`` already holds a table: ``"error"`` (default: raise
            ``TableExistsError`` naming it, before anything is read) or ``"new_revision"``.

    Raises:
        FormatError: a label line with the wrong number of columns (says how many
            ``kpt_shape`` implies), a value out of range, a class id outside ``names``, a
            bad ``flip_idx``...; each names the file and line.
        MissingFileError: the YAML, a split folder or list file does not exist.

    Example:
        >>> import posetable as pt, tempfile
        >>> from posetable.sample import sample_annotations, sample_images
        >>> coco = pt.Table.from_coco(sample_annotations(), sample_images(), name="c",
        ...                           store=tempfile.mkdtemp())
        >>> data_yaml = coco.export_yolo(tempfile.mkdtemp())
        >>> table = pt.Table.from_yolo(data_yaml, name="y", store=tempfile.mkdtemp())
        >>> len(table), table.schema.num_keypoints, table.metadata["yolo"]["kpt_shape"]
        (4, 17, [17, 3])
    """
    from posetable.table import Table

    started = time.perf_counter()
    check_if_exists(
        resolve_store(store), name, if_exists, f"the import of {data_yaml} split {split!r}"
    )
    tolerance = check_number(tolerance, "tolerance", low=0.0, high=1.0, error=FormatError)
    yaml_path = find_yaml(data_yaml)
    data = load_yaml(yaml_path)
    layout = yolo_layout(data, yaml_path)
    notes = Notes(yaml_path)
    root, images = split_images(data, yaml_path, split, notes)
    images = _existing(images, yaml_path, split, missing_images, notes)
    enabled = show_progress(progress, len(images))
    names = ["labels", "image sizes", "write"]
    with stages(names, enabled=enabled, description=f"import {split}") as step:
        step("labels")
        labels = label_paths(images)
        lines = parse_lines(labels, read_files(labels, progress=enabled))
        cls, boxes, points, vis = _check_labels(lines, layout, tolerance)
        step("image sizes")
        widths, heights = image_sizes(images, progress=enabled)
        w = widths[lines.file_index].astype(np.float64)
        h = heights[lines.file_index].astype(np.float64)
        scale = np.stack([w, h], axis=1)
        keypoints = points * scale[:, None, :]
        centre, size = boxes[:, :2] * scale, boxes[:, 2:] * scale
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        counts = np.bincount(lines.file_index, minlength=len(images))
        column = keypoints_column(
            counts,
            keypoints,
            widths=widths,
            heights=heights,
            visibilities=vis,
            boxes=xyxy,
            labels=cls,
            num_keypoints=layout.num_keypoints,
        )
        arrow = rows_table(images, widths, heights, column)
        step("write")
        table = Table.from_arrow(
            arrow,
            name=name,
            schema=layout.schema,
            store=store,
            metadata=_metadata(data, yaml_path, split, layout, root, images),
            if_exists=if_exists,
            operation="import_yolo",
            arguments={
                "data_yaml": str(yaml_path.absolute()),
                "split": split,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
    notes.emit()
    return table


def _existing(
    images: list[str], yaml_path: Path, split: str, missing_images: str, notes: Notes
) -> list[str]:
    """The images that exist; the missing ones are an error or left out with a note."""
    if missing_images not in ("error", "warn", "skip"):
        raise FormatError(
            f"missing_images must be one of ['error', 'warn', 'skip'], got {missing_images!r}"
        )
    missing = missing_files(images)
    if not missing.size:
        return images
    text = (
        f"{missing.size} of {len(images)} images of split '{split}' do not exist: "
        f"{first_few(images[i] for i in missing.tolist())}"
    )
    if missing_images == "error":
        raise MissingFileError(f"{yaml_path}: {text}; pass missing_images='skip' to leave them out")
    notes.add(text + "; they were left out (their size, needed for pixels, is unknown)")
    gone = set(missing.tolist())
    return [p for i, p in enumerate(images) if i not in gone]


def _metadata(
    data: dict[str, Any],
    yaml_path: Path,
    split: str,
    layout: YoloLayout,
    root: Path,
    images: list[str],
) -> dict[str, Any]:
    schema = layout.schema
    roots = [str(root)]
    prefix = os.path.join(str(root), "")
    outside = [p for p in images if not p.startswith(prefix)]
    if outside:
        roots.append(os.path.commonpath([os.path.dirname(p) for p in outside]))
    return {
        "yolo": {
            **_json_safe(data),  # every YAML key; the ones below are posetable's
            "yaml_text": yaml_path.read_text(encoding="utf-8-sig"),
            "data": _json_safe(data),
            "yaml": str(yaml_path.absolute()),
            "split": split,
            "kpt_shape": [layout.num_keypoints, layout.ndim],
            "imported": {
                "keypoint_names": list(schema.keypoint_names),
                "flip_indices": None if schema.flip_indices is None else list(schema.flip_indices),
                "oks_sigmas": list(schema.oks_sigmas) if schema.oks_sigmas_given else None,
                "lines": [list(p) for p in schema.lines],
            },
        },
        "image_roots": roots,
    }


def _json_safe(value: Any) -> Any:
    """YAML values as JSON values: mapping keys become text (``{0: person}`` -> ``"0"``)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _width_hint(found: int, k: int, ndim: int) -> str:
    other = 5 + k * (5 - ndim)
    if found == other:
        return f"; the line looks like kpt_shape [{k}, {5 - ndim}]: check kpt_shape in the YAML"
    if found == 5:
        return "; that is a detection label (class and box) without keypoints"
    if found > 5 and (found - 5) % ndim == 0:
        return f"; that would be {(found - 5) // ndim} keypoints of {ndim} values, not {k}"
    return ""


def _check_labels(
    lines: LabelLines, layout: YoloLayout, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Class ids, normalised boxes (cx, cy, w, h), points (L, K, 2) and visibilities."""
    k, ndim = layout.num_keypoints, layout.ndim
    width = 5 + k * ndim
    wrong = lines.widths != width
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        found = int(lines.widths[i])
        more = int(wrong.sum())
        raise lines.error(
            i,
            f"expected {width} columns (class, 4 box values and {k} keypoints x {ndim} values "
            f"for kpt_shape [{k}, {ndim}]), found {found}{_width_hint(found, k, ndim)}"
            + (f" ({more} lines are wrong)" if more > 1 else ""),
        )
    table = lines.table(width)
    cls = table[:, 0]
    bad = (np.mod(cls, 1) != 0) | (cls < 0) | (cls >= layout.class_count) | ~np.isfinite(cls)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        names = layout.schema.classes
        raise lines.error(
            i,
            f"class id must be an integer in [0, {len(names) - 1}] (the data.yaml names "
            f"{list(names)[:5]}{'...' if len(names) > 5 else ''}), found {table[i, 0]:g}",
        )
    points = table[:, 5:].reshape(-1, k, ndim)
    coordinates = np.concatenate([table[:, 1:5], points[..., :2].reshape(len(table), -1)], 1)
    outside = ~((coordinates >= -tolerance) & (coordinates <= 1 + tolerance))
    if outside.any():
        i, j = (int(v) for v in np.argwhere(outside)[0])
        column = j + 2 if j < 4 else 6 + ((j - 4) // 2) * ndim + (j - 4) % 2
        what = (
            ("box cx", "box cy", "box width", "box height")[j]
            if j < 4
            else (f"keypoint {(j - 4) // 2} {'xy'[(j - 4) % 2]}")
        )
        raise lines.error(
            i,
            f"column {column} ({what}) must be a normalised value in [0, 1] (tolerance "
            f"{tolerance:g}), found {coordinates[i, j]:g}",
        )
    negative = np.flatnonzero((table[:, 3] < 0) | (table[:, 4] < 0))
    if negative.size:  # within the tolerance, but a box cannot have a negative size
        i = int(negative[0])
        j = 3 if table[i, 3] < 0 else 4
        raise lines.error(
            i,
            f"column {j + 1} (box {'width' if j == 3 else 'height'}) must be >= 0, found "
            f"{table[i, j]:g}",
        )
    if ndim == 3:
        vis = points[..., 2]
        invalid = ~np.isin(vis, (0.0, 1.0, 2.0))
        if invalid.any():
            i, p = (int(v) for v in np.argwhere(invalid)[0])
            raise lines.error(
                i,
                f"column {5 + p * 3 + 3} (keypoint {p} visibility) must be 0, 1 or 2, found "
                f"{vis[i, p]:g}",
            )
        visibility = vis.astype(np.int32)
    else:
        unlabeled = (points[..., 0] == 0) & (points[..., 1] == 0)
        visibility = np.where(unlabeled, 0, 2).astype(np.int32)
    return cls.astype(np.int32), table[:, 1:5], np.ascontiguousarray(points[..., :2]), visibility


def export_yolo(
    table: Table,
    folder: str | os.PathLike[str],
    *,
    image_mode: str = "symlink",
    split: str | None = None,
    kpt_dim: int | None = None,
    skip_crowd: bool = True,
    progress: bool | None = None,
) -> Path:
    """Write a table revision as an Ultralytics YOLO-pose dataset; returns the data.yaml.

    Args:
        table: the table revision.
        folder: the dataset folder (created; an existing data.yaml there is updated with
            this split when it describes the same keypoints). Files are written or
            replaced, never deleted: files of rows that are no longer in the table stay.
        image_mode: ``"symlink"`` (default), ``"copy"`` or ``"none"`` (labels only).
        split: the split to write (default: the split the table was imported from, else
            ``"train"``).
        kpt_dim: 3 (x, y, visibility) or 2 (x, y); default the imported ``kpt_shape``, else 3.
        skip_crowd: leave out COCO crowd instances (``iscrowd`` 1), as Ultralytics' COCO
            converter does; YOLO labels cannot mark them.
        progress: draw progress bars (default: for large tables only).

    Example:
        >>> import posetable as pt, tempfile
        >>> from posetable.sample import sample_annotations
        >>> table = pt.Table.from_coco(sample_annotations(), name="s", store=tempfile.mkdtemp())
        >>> data_yaml = table.export_yolo(tempfile.mkdtemp(), image_mode="none")
        >>> labels = sorted(p.name for p in (data_yaml.parent / "labels" / "train").iterdir())
        >>> data_yaml.name, labels[0]
        ('data.yaml', '000000000785.txt')
    """
    from posetable.formats._yolo_write import write_yolo

    return write_yolo(
        table,
        Path(folder),
        image_mode=image_mode,
        split=split,
        kpt_dim=kpt_dim,
        skip_crowd=skip_crowd,
        progress=progress,
    )


def read_yolo_predictions(
    folder: str | os.PathLike[str], table: Table
) -> list[Keypoints2DInstances | None]:
    """Read Ultralytics-style predicted label files, one list entry per table row.

    A row's file is ``<folder>/<image stem>.txt`` (or under ``<folder>/labels/``, where
    Ultralytics' ``predict`` saves them; images in sub-folders of the image root keep that
    path). Each line is ``cls cx cy w h`` then K keypoints of ``x y conf`` (or ``x y``),
    then the box confidence when the file has one, all normalised. Rows without a file get
    None; a file with no line gives an empty prediction.

    Returns:
        Keypoints2DInstances in pixels with ``keypoint_confidences`` (when the file has
        them) and ``instance_confidences`` (the box confidence, when present), aligned with
        the table's rows.

    Raises:
        FormatError: a line whose column count fits no layout for K keypoints (names the
            file and line and the counts that would fit), or a class id outside the schema.

    Example:
        >>> import posetable as pt, tempfile
        >>> from pathlib import Path
        >>> from posetable.sample import sample_annotations
        >>> table = pt.Table.from_coco(sample_annotations(), name="s", store=tempfile.mkdtemp())
        >>> folder = Path(tempfile.mkdtemp())
        >>> line = "0 0.5 0.5 0.2 0.4" + " 0.5 0.25 0.9" * 17 + " 0.8"
        >>> _ = (folder / "000000000785.txt").write_text(line)
        >>> predictions = pt.read_yolo_predictions(folder, table)
        >>> first = predictions[0]
        >>> len(first), first.instance_confidences.tolist(), first.keypoints[0, 0].tolist()
        (1, [0.8], [320.0, 106.25])
        >>> predictions[1] is None
        True
    """
    from posetable.formats._yolo_predictions import read_predictions

    return read_predictions(Path(folder), table)
