"""Writing a table as an Ultralytics YOLO-pose dataset (see :mod:`posetable.formats.yolo`).

Label text is formatted over whole columns with Arrow's string kernels (6 decimals, as
Ultralytics' converters write), never one Python format call per number.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from tqdm.auto import tqdm

from posetable._arrow import flat_from_arrow
from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import missing_files, unique_names
from posetable.formats._notes import first_few, show_progress
from posetable.formats._yolo_yaml import LAYOUT_KEYS, SPLITS, dump_yaml, safe_yaml

if TYPE_CHECKING:
    from posetable.table import Table

IMAGE_MODES = ("symlink", "copy", "none")


def fixed6(values: np.ndarray) -> pa.Array:
    """Numbers as text with 6 decimals (``0.573438``), vectorised.

    Example:
        >>> fixed6(np.array([0.5734381, -0.25, 1.0])).to_pylist()
        ['0.573438', '-0.250000', '1.000000']
    """
    micro = np.round(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)
    negative = micro < 0
    whole, fraction = np.divmod(np.abs(micro), 1_000_000)
    sign = pa.array(np.where(negative, "-", ""), pa.string())
    digits = pc.utf8_lpad(pa.array(fraction).cast(pa.string()), width=6, padding="0")
    return pc.binary_join_element_wise(sign, pa.array(whole).cast(pa.string()), ".", digits, "")


def _relative_names(images: list[str]) -> list[str]:
    """Paths under the images' common folder (their base names when there is none)."""
    absolute = [os.path.abspath(p) for p in images]
    try:
        base = os.path.commonpath([os.path.dirname(p) for p in absolute]) if absolute else ""
    except ValueError:
        base = ""
    return unique_names(
        [os.path.relpath(p, base) if base else os.path.basename(p) for p in absolute]
    )


def _original_yaml(meta: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded = safe_yaml(meta.get("yaml_text") or "")
    except (yaml.YAMLError, RecursionError):
        loaded = None
    return dict(loaded) if isinstance(loaded, dict) else {}


def _yaml_document(table: Table, folder: Path, split: str, ndim: int) -> dict[str, Any]:
    schema = table.schema
    meta = table.metadata.get("yolo") or {}
    original = _original_yaml(meta)
    imported = meta.get("imported") or {}
    from_yolo = bool(meta)
    existing: dict[str, Any] = {}
    target = folder / "data.yaml"
    if target.is_file():
        try:
            loaded = safe_yaml(target.read_text(encoding="utf-8"))
        except (yaml.YAMLError, RecursionError, UnicodeDecodeError):
            loaded = None
        if isinstance(loaded, dict) and loaded.get("kpt_shape") == [schema.num_keypoints, ndim]:
            existing = {k: v for k, v in loaded.items() if k in (*SPLITS, "minival")}
    entries = dict(existing)
    entries[split] = f"images/{split}"
    if not from_yolo or "val" in original:  # Ultralytics trains only with a val split
        entries.setdefault("val", entries.get("train", f"images/{split}"))
    order = [key for key in SPLITS if key in entries] + [k for k in entries if k not in SPLITS]
    doc: dict[str, Any] = {key: entries[key] for key in order}
    doc["kpt_shape"] = [schema.num_keypoints, ndim]
    if schema.flip_indices is not None:
        doc["flip_idx"] = list(schema.flip_indices)
    classes = list(schema.classes)
    doc["names"] = classes if isinstance(original.get("names"), list) else dict(enumerate(classes))
    names = list(schema.keypoint_names)
    if not from_yolo or "kpt_names" in original or names != imported.get("keypoint_names"):
        shape = original.get("kpt_names")
        doc["kpt_names"] = (
            names if isinstance(shape, list) else {i: names for i in range(len(classes))}
        )
        if isinstance(shape, dict):
            doc["kpt_names"] = {k: names for k in shape} or {0: names}
    sigmas = list(schema.oks_sigmas)
    if schema.oks_sigmas_given and (
        not from_yolo or "kpt_oks_sigmas" in original or sigmas != imported.get("oks_sigmas")
    ):
        doc["kpt_oks_sigmas"] = sigmas
    lines = [list(p) for p in schema.lines]
    if lines and (not from_yolo or "skeleton" in original or lines != imported.get("lines")):
        doc["skeleton"] = lines
    for key, value in original.items():
        if key not in LAYOUT_KEYS and key not in doc:
            doc[key] = value
    return doc


def _label_texts(table: Table, data: pa.Table, ndim: int, skip_crowd: bool) -> list[bytes]:
    k = table.schema.num_keypoints
    flat = flat_from_arrow(data.column("keypoints"), num_keypoints=k)
    m = len(flat.counts)
    rows = np.repeat(np.arange(m), flat.counts)
    keep = np.ones(len(rows), dtype=bool)
    if skip_crowd and "iscrowd" in flat.extras:
        crowd, lacking = flat.extras["iscrowd"]
        keep &= ~((np.asarray(crowd, dtype=np.int64) != 0) & ~np.repeat(lacking, flat.counts))
    width = data.column("width").to_numpy(zero_copy_only=False).astype(np.float64)[rows][keep]
    height = data.column("height").to_numpy(zero_copy_only=False).astype(np.float64)[rows][keep]
    boxes = flat.boxes[keep]
    vis = np.where(flat.has_visibilities[rows][:, None], flat.visibilities, 2)[keep]
    points = flat.keypoints[keep] / np.stack([width, height], axis=1)[:, None, :]
    if ndim == 2:
        points[vis == 0] = 0.0
    columns = [pa.array(flat.labels[keep]).cast(pa.string())]
    for values in (
        (boxes[:, 0] + boxes[:, 2]) / 2 / width,
        (boxes[:, 1] + boxes[:, 3]) / 2 / height,
        (boxes[:, 2] - boxes[:, 0]) / width,
        (boxes[:, 3] - boxes[:, 1]) / height,
    ):
        columns.append(fixed6(values))
    for p in range(k):
        columns.append(fixed6(points[:, p, 0]))
        columns.append(fixed6(points[:, p, 1]))
        if ndim == 3:
            columns.append(pa.array(vis[:, p]).cast(pa.string()))
    lines = pc.binary_join_element_wise(*columns, " ").to_pylist() if len(rows[keep]) else []
    counts = np.bincount(rows[keep], minlength=m)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return [
        ("\n".join(lines[starts[r] : starts[r + 1]]) + "\n").encode() if counts[r] else b""
        for r in range(m)
    ]


def _place_images(images: list[str], targets: list[Path], image_mode: str, progress: bool) -> None:
    for source, target in tqdm(
        list(zip(images, targets, strict=True)), desc="images", disable=not progress, leave=False
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        source_path = os.path.abspath(source)
        if os.path.lexists(target):
            if os.path.realpath(target) == os.path.realpath(source_path):
                continue
            target.unlink()
        if image_mode == "symlink":
            os.symlink(source_path, target)
        else:
            shutil.copy2(source_path, target)


def write_yolo(
    table: Table,
    folder: Path,
    *,
    image_mode: str = "symlink",
    split: str | None = None,
    kpt_dim: int | None = None,
    skip_crowd: bool = True,
    progress: bool | None = None,
) -> Path:
    """Write ``table`` as a YOLO-pose dataset under ``folder``; returns its data.yaml."""
    if image_mode not in IMAGE_MODES:
        raise FormatError(f"image_mode must be one of {list(IMAGE_MODES)}, got {image_mode!r}")
    meta = table.metadata.get("yolo") or {}
    split = split or meta.get("split") or "train"
    ndim = int(kpt_dim or (meta.get("kpt_shape") or [0, 3])[1])
    if ndim not in (2, 3):
        raise FormatError(f"kpt_dim must be 2 or 3, got {kpt_dim!r}")
    enabled = show_progress(progress, len(table))
    data = table.to_arrow(columns=["image", "width", "height", "keypoints"])
    images = data.column("image").to_pylist()
    if image_mode != "none":
        missing = missing_files([os.path.abspath(p) for p in images])
        if missing.size:
            raise MissingFileError(
                f"{missing.size} of {len(images)} images of table {table.ref} do not exist, so "
                f"they cannot be {image_mode}ed: {first_few(images[i] for i in missing.tolist())}"
                "; pass image_mode='none' to write labels only"
            )
    names = _relative_names(images)
    texts = _label_texts(table, data, ndim, skip_crowd)
    document = _yaml_document(table, folder, split, ndim)
    folder.mkdir(parents=True, exist_ok=True)
    labels = folder / "labels" / split
    for name, text in zip(
        tqdm(names, desc="labels", disable=not enabled, leave=False), texts, strict=True
    ):
        target = labels / (name.rsplit(".", 1)[0] + ".txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)
    if image_mode != "none":
        targets = [folder / "images" / split / name for name in names]
        _place_images(images, targets, image_mode, enabled)
    target = folder / "data.yaml"
    handle, temporary = tempfile.mkstemp(prefix=".data.yaml.", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        dump_yaml(document, out)
    os.replace(temporary, target)
    return target
