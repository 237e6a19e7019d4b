"""Ultralytics-style predicted label files -> per-row predicted instances.

``Results.save_txt(save_conf=True)`` writes, per detection, ``cls cx cy w h`` then the K
keypoints as ``x y conf`` (``x y`` when the model gives no keypoint confidence) and the
box confidence last; all coordinates normalised. A line may therefore hold 5 + 3K + 1,
5 + 3K, 5 + 2K + 1 or 5 + 2K numbers; each line is read by its own count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from posetable.formats._yolo_labels import LabelLines, parse_lines, read_files
from posetable.instances import Keypoints2DInstances

if TYPE_CHECKING:
    from posetable.table import Table


def _prediction_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise MissingFileError(f"prediction folder {folder} does not exist (or is not a folder)")
    labels = folder / "labels"
    if labels.is_dir() and not any(folder.glob("*.txt")):
        return labels
    return folder


def _row_files(folder: Path, images: list[str], roots: list[str]) -> list[str | None]:
    """The prediction file of each row (None when there is none)."""
    present = {str(p.relative_to(folder)) for p in folder.rglob("*.txt")}
    by_stem: dict[str, list[int]] = {}
    out: list[str | None] = []
    for row, image in enumerate(images):
        relative = None
        for root in roots:
            prefix = os.path.join(root, "")
            if image.startswith(prefix):
                relative = image[len(prefix) :].rsplit(".", 1)[0] + ".txt"
                break
        stem = os.path.basename(image).rsplit(".", 1)[0] + ".txt"
        chosen = relative if relative in present else stem if stem in present else None
        if chosen == stem:
            by_stem.setdefault(stem, []).append(row)
        out.append(None if chosen is None else str(folder / chosen))
    clashes = {stem: rows for stem, rows in by_stem.items() if len(rows) > 1}
    if clashes:
        stem, rows = next(iter(clashes.items()))
        raise FormatError(
            f"prediction file {stem} would belong to {len(rows)} rows ({images[rows[0]]}, "
            f"{images[rows[1]]}): keep the images' sub-folders in the prediction folder",
            path=folder,
        )
    return out


def _layouts(lines: LabelLines, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per line: whether it has keypoint confidences, and whether it has a box confidence."""
    full, no_box, no_kconf, bare = 6 + 3 * k, 5 + 3 * k, 6 + 2 * k, 5 + 2 * k
    widths = lines.widths
    known = np.isin(widths, (full, no_box, no_kconf, bare))
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise lines.error(
            i,
            f"a predicted line for K={k} keypoints holds {full} numbers (class, box, K x "
            f"(x, y, conf), box conf), {no_box} (no box conf), {no_kconf} (x, y only, box "
            f"conf) or {bare}; found {int(widths[i])}",
        )
    has_kconf = (widths == full) | (widths == no_box)
    has_box = (widths == full) | (widths == no_kconf)
    return has_kconf, has_box


def read_predictions(folder: Path, table: Table) -> list[Keypoints2DInstances | None]:
    """See :func:`posetable.formats.yolo.read_yolo_predictions`."""
    folder = _prediction_folder(folder)
    k = table.schema.num_keypoints
    classes = len(table.schema.classes)
    data = table.to_arrow(columns=["image", "width", "height"])
    images = data.column("image").to_pylist()
    widths = data.column("width").to_numpy(zero_copy_only=False).astype(np.float64)
    heights = data.column("height").to_numpy(zero_copy_only=False).astype(np.float64)
    roots = [str(r) for r in table.metadata.get("image_roots") or []]
    files = _row_files(folder, images, roots)
    rows = [r for r, f in enumerate(files) if f is not None]
    paths = [files[r] for r in rows]
    lines = parse_lines(paths, read_files(paths))  # type: ignore[arg-type]
    has_kconf, has_box = _layouts(lines, k)
    count = len(lines.widths)
    values = lines.values
    starts = lines.offsets[:-1]
    cls = values[starts]
    bad = (np.mod(cls, 1) != 0) | (cls < 0) | (cls >= classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise lines.error(i, f"class id must be an integer in [0, {classes - 1}], found {cls[i]:g}")
    step = np.where(has_kconf, 3, 2)
    index = starts[:, None] + 5 + np.arange(k)[None, :] * step[:, None]
    x, y = values[index], values[index + 1]
    kconf = np.where(
        has_kconf[:, None], values[np.where(has_kconf[:, None], index + 2, index)], 1.0
    )
    box = values[starts[:, None] + np.arange(1, 5)[None, :]]
    box_conf = np.where(has_box, values[lines.offsets[1:] - 1], np.nan)
    if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(box).all()):
        i = int(np.flatnonzero(~(np.isfinite(x).all(1) & np.isfinite(y).all(1)))[0])
        raise lines.error(i, "coordinates must be finite numbers, found NaN or inf")
    row_of_line = np.asarray(rows, dtype=np.int64)[lines.file_index] if count else np.zeros(0, int)
    w, h = widths[row_of_line], heights[row_of_line]
    keypoints = np.stack([x * w[:, None], y * h[:, None]], axis=2)
    centre = box[:, :2] * np.stack([w, h], axis=1)
    size = box[:, 2:] * np.stack([w, h], axis=1)
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    out: list[Keypoints2DInstances | None] = [None] * len(images)
    order = np.argsort(row_of_line, kind="stable")
    bounds = np.searchsorted(row_of_line[order], np.arange(len(images) + 1))
    for r in rows:
        pick = order[bounds[r] : bounds[r + 1]]
        scores = box_conf[pick]
        out[r] = Keypoints2DInstances(
            keypoints[pick].reshape(len(pick), k, 2),
            keypoint_confidences=kconf[pick] if has_kconf[pick].all() and len(pick) else None,
            instance_labels=cls[pick].astype(np.int32),
            instance_confidences=scores if len(pick) and np.isfinite(scores).all() else None,
            instance_bbs=xyxy[pick].reshape(len(pick), 4),
            image_width=widths[r],
            image_height=heights[r],
            num_keypoints=k,
        )
    return out
