"""What every training integration needs from a table, without importing any framework.

* :func:`require` imports an optional library or raises the error naming the pip line.
* :class:`TableLabels` is a table revision's ground truth as flat numpy arrays (all
  instances of all rows concatenated, rows cut by offsets) plus the resolved image paths,
  read once in Arrow batches.
* :func:`prediction_instances` turns one image's model outputs (boxes, scores, keypoints
  with per-point confidences) into the ``Keypoints2DInstances`` a run stores.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from posetable._arrow import KEYPOINTS_COLUMN, flat_from_arrow
from posetable.errors import NotFoundError, RowError, RunError, missing_extra
from posetable.instances import Keypoints2DInstances
from posetable.store import Store, check_name
from posetable.table import Table

#: metadata keys a format importer may use to record the folder(s) relative image paths live in
IMAGE_ROOT_KEYS = ("image_roots", "image_root", "image_folder", "images_root", "image_dir")


def require(module: str, *, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`~posetable.errors.MissingDependencyError`.

    The error names the exact ``pip install "posetable[extra]"`` line.

    Example:
        >>> require("numpy", extra="torch").__name__
        'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(package or module.split(".")[0], extra) from exc


def _image_roots(table: Table) -> list[Path]:
    metadata = table.metadata
    roots: list[Path] = []
    for key in IMAGE_ROOT_KEYS:
        value = metadata.get(key)
        values = value if isinstance(value, list) else [value]
        roots += [Path(v) for v in values if isinstance(v, str) and v]
    return roots


def resolve_image_paths(table: Table, images: Sequence[str]) -> list[str]:
    """Absolute image paths of a table's ``image`` values.

    Absolute paths are kept; a relative path is joined to the image folder the table's
    metadata records (when a format importer kept one), else to the working directory.
    URLs are refused: training reads local files.
    """
    roots = _image_roots(table)
    out = []
    for row, image in enumerate(images):
        if "://" in image:
            raise RowError(
                f"table {table.ref}, row {row}: image {image!r} is a URL; training needs local "
                "image files (download them and point the table's image column at them)"
            )
        path = Path(image).expanduser()
        if not path.is_absolute():
            found = next((root / path for root in roots if (root / path).exists()), None)
            path = (found or path).absolute()
        out.append(str(path))
    return out


def check_images_exist(table: Table, paths: Sequence[str], *, show: int = 5) -> None:
    """Raise :class:`~posetable.errors.NotFoundError` listing rows whose image is missing."""
    missing = [(row, p) for row, p in enumerate(paths) if not os.path.isfile(p)]
    if not missing:
        return
    listed = "; ".join(f"row {row}: {p}" for row, p in missing[:show])
    more = f" (and {len(missing) - show} more)" if len(missing) > show else ""
    raise NotFoundError(
        f"table {table.ref}: {len(missing)} of {len(paths)} images are missing on disk: "
        f"{listed}{more}. Training and validation read the image files the table's "
        "'image' column names; fix the paths (a new revision) or restore the files"
    )


def _extra(
    extras: dict[str, tuple[np.ndarray, np.ndarray]],
    name: str,
    per_instance: np.ndarray,
    default: float | np.ndarray,
) -> np.ndarray:
    """A numeric per-instance extra as float64; ``default`` where a row lacks it."""
    fallback = np.broadcast_to(np.asarray(default, dtype=np.float64), per_instance.shape)
    if name not in extras:
        return fallback.copy()
    values, missing_rows = extras[name]
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return fallback.copy()
    return np.where(missing_rows[per_instance], fallback, numbers)


@dataclass(frozen=True)
class TableLabels:
    """A table revision's ground truth as flat arrays, ready for a training framework.

    Row ``i`` holds instances ``offsets[i]:offsets[i + 1]``.

    Attributes:
        table_ref: ``"name@revision"`` the labels were read from.
        num_keypoints: K.
        classes: the schema's class names (label ``c`` is ``classes[c]``).
        images: (M,) absolute image paths.
        widths, heights: (M,) image sizes in pixels, as the table records them.
        offsets: (M + 1,) start of each row's instances.
        keypoints: (T, K, 2) float64 pixel coordinates.
        visibility: (T, K) int32, COCO's 0/1/2.
        boxes: (T, 4) float64 ``xyxy`` pixels.
        labels: (T,) int64 class indices.
        crowd: (T,) bool, COCO's ``iscrowd`` (False when the table has no such field).
        areas: (T,) float64, COCO's ``area``, else 0.53 x the box area.
    """

    table_ref: str
    num_keypoints: int
    classes: tuple[str, ...]
    images: list[str]
    widths: np.ndarray
    heights: np.ndarray
    offsets: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    crowd: np.ndarray
    areas: np.ndarray

    @classmethod
    def from_table(cls, table: Table, *, check_images: bool = True) -> TableLabels:
        """Read a table revision once, in Arrow batches, decoded column-wise (no object per
        instance).

        Example:
            >>> import posetable as pt, tempfile
            >>> kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
            >>> kp.add_instance([[10, 10, 2], [20, 30, 0]])
            >>> table = pt.Table.from_rows(
            ...     [{"image": "/nowhere/a.jpg", "width": 64, "height": 48, "keypoints": kp}],
            ...     name="demo", schema=pt.Keypoints2DSchema(2), store=tempfile.mkdtemp())
            >>> labels = TableLabels.from_table(table, check_images=False)
            >>> labels.offsets.tolist(), labels.visibility.tolist(), labels.boxes.tolist()
            ([0, 1], [[2, 0]], [[10.0, 10.0, 10.0, 10.0]])
        """
        k = table.schema.num_keypoints
        images: list[str] = []
        parts: dict[str, list[np.ndarray]] = {
            name: [] for name in ("widths", "heights", "counts", "keypoints", "visibility", "boxes")
        }
        parts.update(labels=[], crowd=[], areas=[])
        for batch in table.iter_batches(columns=["image", "width", "height", KEYPOINTS_COLUMN]):
            images.extend(batch.column("image").to_pylist())
            parts["widths"].append(batch.column("width").to_numpy(zero_copy_only=False))
            parts["heights"].append(batch.column("height").to_numpy(zero_copy_only=False))
            flat = flat_from_arrow(batch.column(KEYPOINTS_COLUMN), num_keypoints=k)
            per_instance = np.repeat(np.arange(len(flat.counts)), flat.counts)
            has_vis = flat.has_visibilities[per_instance] | (flat.counts[per_instance] == 0)
            parts["counts"].append(flat.counts)
            parts["keypoints"].append(flat.keypoints)
            # rows without visibilities (predictions stored as a table) count every point
            parts["visibility"].append(np.where(has_vis[:, None], flat.visibilities, 2))
            parts["boxes"].append(flat.boxes)
            parts["labels"].append(flat.labels.astype(np.int64))
            parts["crowd"].append(_extra(flat.extras, "iscrowd", per_instance, 0.0) != 0)
            size = flat.boxes[:, 2:] - flat.boxes[:, :2]
            default_area = 0.53 * size[:, 0] * size[:, 1]  # xtcocotools / CrowdPose rule
            parts["areas"].append(_extra(flat.extras, "area", per_instance, default_area))
        offsets = np.zeros(len(images) + 1, dtype=np.int64)
        if images:
            np.cumsum(np.concatenate(parts["counts"]), out=offsets[1:])

        def cat(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            found = parts[name]
            return np.concatenate(found).astype(dtype) if found else np.zeros(shape, dtype)

        if not images:
            raise RowError(
                f"table {table.ref} has no rows: there is nothing to train or validate on"
            )
        paths = resolve_image_paths(table, images)
        if check_images:
            check_images_exist(table, paths)
        return cls(
            table_ref=table.ref,
            num_keypoints=k,
            classes=tuple(table.schema.classes),
            images=paths,
            widths=cat("widths", (0,), np.int64),
            heights=cat("heights", (0,), np.int64),
            offsets=offsets,
            keypoints=cat("keypoints", (0, k, 2), np.float64),
            visibility=cat("visibility", (0, k), np.int32),
            boxes=cat("boxes", (0, 4), np.float64),
            labels=cat("labels", (0,), np.int64),
            crowd=cat("crowd", (0,), bool),
            areas=cat("areas", (0,), np.float64),
        )

    def __len__(self) -> int:
        return len(self.images)

    def span(self, row: int) -> slice:
        """The slice of the flat instance arrays holding row ``row``."""
        return slice(int(self.offsets[row]), int(self.offsets[row + 1]))

    def trainable(self) -> np.ndarray:
        """(T,) instances a detector-style trainer should learn from.

        Crowd regions and instances without one labeled keypoint are left out (Ultralytics'
        own COCO converter does the same), as are boxes without area.
        """
        size = self.boxes[:, 2:] - self.boxes[:, :2]
        return (~self.crowd) & (self.visibility > 0).any(axis=1) & (size > 0).all(axis=1)


def check_num_keypoints(table: Table, found: int, what: str) -> None:
    """Raise :class:`~posetable.errors.RunError` when a model's K differs from the table's."""
    expected = table.schema.num_keypoints
    if int(found) != expected:
        raise RunError(
            f"{what} predicts K={int(found)} keypoints, but table {table.ref} has K={expected} "
            f"({', '.join(table.schema.keypoint_names[:4])}{', ...' if expected > 4 else ''}); "
            "use a model trained on this keypoint layout"
        )


def check_run_name(store: Store, name: str) -> None:
    """Fail before any model work when the run name is taken or not a valid name."""
    check_name(name, "run")
    if (store.runs_dir / name / "manifest.json").exists():
        raise RunError(f"a run named {name!r} already exists in {store.root}; choose another name")


def unique_run_name(store: Store, base: str) -> str:
    """``base`` made a valid run name, with ``-2``, ``-3``... when the store already has it."""
    clean = "".join(c if c.isalnum() or c in "_.-" else "-" for c in base).strip(".-") or "run"
    name, i = clean, 2
    while (store.runs_dir / name).exists():
        name, i = f"{clean}-{i}", i + 1
    return name


def prediction_instances(
    keypoints: Any,
    *,
    scores: Any,
    keypoint_scores: Any = None,
    boxes: Any = None,
    labels: Any = None,
    width: float | None = None,
    height: float | None = None,
    num_keypoints: int | None = None,
) -> Keypoints2DInstances:
    """One image's predictions as ``Keypoints2DInstances`` (what a run stores).

    Args:
        keypoints: (N, K, 2) pixel x, y, or (N, K, 3) x, y, per-point confidence.
        scores: (N,) instance scores.
        keypoint_scores: (N, K) per-point confidences (required with (N, K, 2) keypoints).
        boxes: (N, 4) ``xyxy`` pixel boxes; derived from the keypoints when None.
        labels: (N,) class indices (default 0).
        width, height: the image size.
        num_keypoints: K, needed when N is 0.

    Example:
        >>> import numpy as np
        >>> item = prediction_instances(np.array([[[1, 2, 0.9], [3, 4, 0.2]]]), scores=[0.8])
        >>> item.keypoint_confidences.tolist(), item.instance_bbs.tolist()
        ([[0.8999999761581421, 0.20000000298023224]], [[1.0, 2.0, 3.0, 4.0]])
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.size == 0:
        k = int(num_keypoints or (kp.shape[1] if kp.ndim == 3 else 0))
        return Keypoints2DInstances.create_empty(
            image_width=width,
            image_height=height,
            num_keypoints=k,
            include_keypoint_confidences=True,
            include_instance_confidences=True,
        )
    if kp.ndim != 3 or kp.shape[2] not in (2, 3):
        raise RunError(
            f"predicted keypoints must have shape (N, K, 2) or (N, K, 3), got {kp.shape}"
        )
    if kp.shape[2] == 3:
        if keypoint_scores is None:
            keypoint_scores = kp[..., 2]
        kp = kp[..., :2]
    if keypoint_scores is None:
        raise RunError("predicted keypoints need per-point confidences: give keypoint_scores=")
    if num_keypoints is not None and kp.shape[1] != num_keypoints:
        raise RunError(f"predictions must have K={num_keypoints} keypoints, got K={kp.shape[1]}")
    n = kp.shape[0]
    return Keypoints2DInstances(
        kp,
        keypoint_confidences=np.asarray(keypoint_scores, dtype=np.float32).reshape(n, kp.shape[1]),
        instance_confidences=np.asarray(scores, dtype=np.float64).reshape(n),
        instance_bbs=None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(n, 4),
        instance_labels=None if labels is None else np.asarray(labels).reshape(n).astype(np.int64),
        image_width=width,
        image_height=height,
    )


def empty_predictions(k: int, width: float, height: float) -> Keypoints2DInstances:
    """An image with no predicted instance (the run still records that it was seen)."""
    return prediction_instances(
        np.zeros((0, k, 3)), scores=np.zeros(0), width=width, height=height, num_keypoints=k
    )
