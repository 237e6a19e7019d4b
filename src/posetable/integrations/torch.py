"""PyTorch: a map-style dataset over a table revision, a collate function, and the way back.

``KeypointsDataset(table)`` yields ``(image, target)``: the image as a float32 ``(3, H, W)``
tensor in [0, 1] and a target dict in torchvision's detection style (``keypoints`` (N, K, 2)
float32 pixels, ``visibility`` (N, K) int64 0/1/2, ``boxes`` (N, 4) float32 ``xyxy``,
``labels`` (N,) int64 0-based class indices, ``iscrowd``, ``row``, sizes). Horizontal flips
swap left and right keypoints with the table's flip indices. ``predictions_from_outputs``
turns a model's per-image outputs back into table-space ``Keypoints2DInstances`` keyed by row,
ready for :meth:`posetable.Run.from_predictions`.

Needs ``pip install "posetable[torch]"``; this module imports torch only when used.

Example:
    >>> import numpy as np
    >>> kp, vis, boxes = flip_horizontal(
    ...     np.array([[[10.0, 5.0], [30.0, 6.0]]]), np.array([[2, 1]]),
    ...     np.array([[10.0, 5.0, 30.0, 6.0]]), width=100, flip_indices=[1, 0])
    >>> kp.tolist(), vis.tolist(), boxes.tolist()
    ([[[70.0, 6.0], [90.0, 5.0]]], [[1, 2]], [[70.0, 5.0, 90.0, 6.0]])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import RowError, RunError, SchemaError
from posetable.instances import Keypoints2DInstances
from posetable.integrations._common import TableLabels, prediction_instances, require
from posetable.table import Table

if TYPE_CHECKING:
    import torch

__all__ = ["KeypointsDataset", "collate_keypoints", "flip_horizontal", "predictions_from_outputs"]

Target = dict[str, Any]
Transform = Callable[[Any, Target], tuple[Any, Target]]


def flip_horizontal(
    keypoints: np.ndarray,
    visibility: np.ndarray,
    boxes: np.ndarray,
    *,
    width: float,
    flip_indices: Sequence[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror instances left-right in an image ``width`` pixels wide.

    x becomes ``width - x`` (pixel coordinates are continuous, origin at the left edge) and
    keypoint ``j`` of the result is keypoint ``flip_indices[j]`` of the input, so a left
    wrist lands where the mirrored right wrist was. Unlabeled points (v=0) keep the values
    they had. Boxes stay ``xyxy``.
    """
    order = np.asarray(flip_indices, dtype=np.int64)
    kp = np.asarray(keypoints, dtype=np.float64)
    vis = np.asarray(visibility)
    mirrored = kp.copy()
    labeled = vis > 0
    mirrored[..., 0] = np.where(labeled, float(width) - kp[..., 0], kp[..., 0])
    box = np.asarray(boxes, dtype=np.float64)
    flipped_boxes = box.copy()
    flipped_boxes[:, 0] = float(width) - box[:, 2]
    flipped_boxes[:, 2] = float(width) - box[:, 0]
    return mirrored[:, order], vis[:, order], flipped_boxes


class KeypointsDataset:
    """A map-style PyTorch dataset reading a table revision (images from disk).

    Args:
        table: the table revision to read (its labels are read once, here).
        transform: optional ``transform(image, target) -> (image, target)`` applied last;
            it must move keypoints and boxes itself if it moves pixels.
        flip_probability: chance of a horizontal flip per sample; keypoints swap with the
            table's flip indices (an error when the table has none).
        image_size: resize every image to ``(height, width)`` (or a square ``int``);
            keypoints and boxes are scaled, and ``target["scale"]`` records ``(sx, sy)``.
        drop_crowd: leave out crowd instances (``iscrowd`` = 1).
        check_images: fail at construction when an image file is missing.

    Example:
        ``dataset = KeypointsDataset(table, flip_probability=0.5, image_size=256)``, then
        ``DataLoader(dataset, batch_size=8, collate_fn=collate_keypoints)``.
    """

    def __init__(
        self,
        table: Table,
        *,
        transform: Transform | None = None,
        flip_probability: float = 0.0,
        image_size: int | tuple[int, int] | None = None,
        drop_crowd: bool = False,
        check_images: bool = True,
    ) -> None:
        require("torch", extra="torch")
        if not isinstance(table, Table):
            raise RunError(f"KeypointsDataset reads a posetable Table, got {type(table).__name__}")
        probability = float(flip_probability)
        if not 0.0 <= probability <= 1.0:
            raise RunError(f"flip_probability must be in [0, 1], got {flip_probability!r}")
        flips = table.schema.flip_indices
        if probability > 0 and flips is None:
            raise SchemaError(
                f"table {table.ref} has no flip indices, so a horizontal flip cannot swap left "
                "and right keypoints; set them (Keypoints2DSchema(flip_indices=...) and "
                "table.with_schema) or keep flip_probability=0"
            )
        self.table_ref = table.ref
        self.schema = table.schema
        self.flip_probability = probability
        self.flip_indices = None if flips is None else tuple(flips)
        self.transform = transform
        self.image_size = _size(image_size)
        self.drop_crowd = bool(drop_crowd)
        self.labels = TableLabels.from_table(table, check_images=check_images)

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def collate_fn(batch: Sequence[tuple[Any, Target]]) -> tuple[Any, list[Target]]:
        """:func:`collate_keypoints`, for ``DataLoader(dataset, collate_fn=dataset.collate_fn)``."""
        return collate_keypoints(batch)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target]:
        import torch

        n = len(self)
        if not -n <= int(index) < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} rows")
        row = int(index) % n
        labels = self.labels
        width, height = int(labels.widths[row]), int(labels.heights[row])
        image = self._load(row, width, height)
        span = labels.span(row)
        keep = slice(None) if not self.drop_crowd else ~labels.crowd[span]
        keypoints = labels.keypoints[span][keep]
        visibility = labels.visibility[span][keep]
        boxes = labels.boxes[span][keep]
        flipped = bool(self.flip_probability > 0 and torch.rand(()).item() < self.flip_probability)
        if flipped and self.flip_indices is not None:
            image = image[:, ::-1]
            keypoints, visibility, boxes = flip_horizontal(
                keypoints, visibility, boxes, width=width, flip_indices=self.flip_indices
            )
        sx = sy = 1.0
        if self.image_size is not None:
            image, sx, sy = _resize(image, self.image_size)
            keypoints = keypoints * np.array([sx, sy])
            boxes = boxes * np.array([sx, sy, sx, sy])
        image = np.ascontiguousarray(image)
        if not image.flags.writeable:
            image = image.copy()
        tensor = torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0)
        target: Target = {
            "keypoints": torch.as_tensor(keypoints, dtype=torch.float32),
            "visibility": torch.as_tensor(visibility, dtype=torch.int64),
            "boxes": torch.as_tensor(boxes, dtype=torch.float32),
            "labels": torch.as_tensor(labels.labels[span][keep], dtype=torch.int64),
            "iscrowd": torch.as_tensor(labels.crowd[span][keep], dtype=torch.bool),
            "row": row,
            "image": labels.images[row],
            "orig_size": (height, width),
            "scale": (sx, sy),
            "flipped": flipped,
        }
        if self.transform is not None:
            tensor, target = self.transform(tensor, target)
        return tensor, target

    def _load(self, row: int, width: int, height: int) -> np.ndarray:
        from PIL import Image

        path = self.labels.images[row]
        with Image.open(path) as opened:
            image = np.asarray(opened.convert("RGB"))
        if image.shape[:2] != (height, width):
            raise RowError(
                f"table {self.table_ref}, row {row}: image {path} is {image.shape[1]}x"
                f"{image.shape[0]} pixels, but the table says {width}x{height}; fix the row's "
                "width/height (keypoints are in the table's pixel frame)"
            )
        return image


def _size(value: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = (int(value), int(value)) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or min(int(v) for v in pair) < 1:
        raise RunError(f"image_size must be a positive int or (height, width), got {value!r}")
    return int(pair[0]), int(pair[1])


def _resize(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, float]:
    from PIL import Image

    height, width = size
    h0, w0 = image.shape[:2]
    resized = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height)))
    return resized, width / w0, height / h0


def collate_keypoints(batch: Sequence[tuple[Any, Target]]) -> tuple[Any, list[Target]]:
    """Collate ``(image, target)`` samples with different instance counts.

    Images are stacked into one ``(B, 3, H, W)`` tensor when they share a size, else kept
    as a list (what torchvision's detection models take); targets stay a list of dicts.
    """
    import torch

    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) == 1 and images and isinstance(images[0], torch.Tensor):
        return torch.stack(images), targets
    return images, targets


def _numpy(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return None


def predictions_from_outputs(
    outputs: Iterable[Mapping[str, Any]],
    targets: Iterable[Target],
    *,
    label_offset: int = 0,
    into: dict[int, Keypoints2DInstances] | None = None,
) -> dict[int, Keypoints2DInstances]:
    """Turn a model's per-image outputs into run predictions keyed by table row.

    Each output is a mapping in torchvision's keypoint style: ``keypoints`` (N, K, 2) or
    (N, K, 3 with the confidence last), ``keypoint_scores`` (or torchvision's
    ``keypoints_scores``) (N, K), ``scores`` (N,), optional ``boxes`` (N, 4) ``xyxy`` and
    ``labels`` (N,). Coordinates are in the dataset's image frame; the target that came
    with the image maps them back to the table's pixels (``scale``). Tensors or arrays.

    Args:
        outputs: one mapping per image of the batch.
        targets: the targets the dataset returned for those images.
        label_offset: subtracted from the labels (1 for torchvision models whose class 0
            is the background).
        into: a dict to add to (rows accumulate over batches); a new one when None.

    Returns:
        ``{row: Keypoints2DInstances}``, for ``pt.Run.from_predictions(table, result)``.
    """
    result = {} if into is None else into
    for output, target in zip(outputs, targets, strict=True):
        if target.get("flipped"):
            raise RunError(
                f"row {target.get('row')}: predictions of a flipped image cannot be mapped back "
                "to the table; validate with flip_probability=0"
            )
        row = int(target["row"])
        height, width = (int(v) for v in target["orig_size"])
        sx, sy = (float(v) for v in target.get("scale", (1.0, 1.0)))
        keypoints = _numpy(output.get("keypoints"))
        if keypoints is None:
            raise RunError(
                f"row {row}: a model output needs 'keypoints', got keys {sorted(output)}"
            )
        scores = _numpy(output.get("scores"))
        if scores is None:
            raise RunError(
                f"row {row}: a model output needs instance 'scores', got keys {sorted(output)}"
            )
        keypoint_scores = _numpy(_first(output, "keypoint_scores", "keypoints_scores"))
        keypoints = np.array(keypoints, dtype=np.float64)
        if keypoints.ndim == 3 and keypoints.shape[2] == 3 and keypoint_scores is not None:
            keypoints = keypoints[..., :2]
        if keypoints.size:
            keypoints[..., 0] /= sx
            keypoints[..., 1] /= sy
        boxes = _numpy(output.get("boxes"))
        if boxes is not None:
            boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4) / np.array([sx, sy, sx, sy])
        labels = _numpy(output.get("labels"))
        if labels is not None:
            labels = labels.astype(np.int64) - int(label_offset)
        k = target["keypoints"].shape[1] if hasattr(target.get("keypoints"), "shape") else None
        result[row] = prediction_instances(
            keypoints,
            scores=scores,
            keypoint_scores=keypoint_scores,
            boxes=boxes,
            labels=labels,
            width=width,
            height=height,
            num_keypoints=k,
        )
    return result
