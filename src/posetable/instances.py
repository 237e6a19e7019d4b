"""``Keypoints2DInstances``: the numpy view of one image's keypoint instances.

The names follow 3LC 2.x so 3LC code ports by changing the import. Coordinates are float64
pixels (origin top-left); boxes are ``xyxy`` pixels; visibility is COCO's 0/1/2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posetable._validate import shape_text
from posetable.errors import InstancesError, UnsupportedError

FIXED_INSTANCE_FIELDS = ("label", "confidence")


def object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array holding ``values`` as they are (lists stay lists)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _typed(values: Sequence[Any]) -> np.ndarray:
    """A 1-D array of per-instance values with the narrowest lossless dtype."""
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    if all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values
    ):
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            return object_array(values)
    if all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        for v in values
    ):
        return np.asarray(values, dtype=np.float64)
    return object_array(values)


def _as_extra(name: str, value: Any, n: int) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.ndim == 1:
        array = value
    elif isinstance(value, np.ndarray) and value.ndim == 0:
        array = value.reshape(1)
    elif isinstance(value, (list, tuple)):
        array = _typed(value)
    else:
        array = _typed([value])
    if array.shape != (n,):
        raise InstancesError(
            f"instance_extras[{name!r}] must have shape (N={n},), got {shape_text(array.shape)}"
        )
    return array


def _pad(dtype: np.dtype, count: int) -> np.ndarray:
    """3LC's padding for an extra an instance lacks: NaN (float), -1 (int), None (other)."""
    if dtype.kind == "f":
        return np.full(count, np.nan, dtype=dtype)
    if dtype.kind in "iu":
        return np.full(count, -1, dtype=np.int64)
    return object_array([None] * count)


def _concat_extra(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    kinds = {old.dtype.kind, new.dtype.kind}
    if len(kinds) == 1 and "O" not in kinds:
        return np.concatenate([old, new])
    if kinds <= set("iuf"):
        return np.concatenate([old.astype(np.float64), new.astype(np.float64)])
    return object_array(old.tolist() + new.tolist())


def parse_keypoints(
    keypoints: Any, num_keypoints: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(points (K, 2) float64, third column (K,) or None)`` of one instance's keypoints.

    Accepts (K, 2) or (K, 3) nested lists or arrays, or the flat list of either: read with
    ``num_keypoints`` when known; without it, ``2n`` values that are not ``3m`` are pairs,
    ``3m`` values that are not ``2n`` triplets, and ``6n`` values are refused as ambiguous.

    Example:
        >>> xy, v = parse_keypoints([1, 2, 2, 3, 4, 0, 5, 6, 1], None)
        >>> xy.tolist(), v.tolist()
        ([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [2.0, 0.0, 1.0])
    """
    if keypoints is None:
        raise InstancesError("keypoints must be (K, 2) or (K, 3) numbers, got None")
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InstancesError(
            f"keypoints must be (K, 2) or (K, 3) numbers, got {keypoints!r}"[:200]
        ) from exc
    k = num_keypoints or None
    if kp.ndim == 1:
        n = kp.size
        if k is not None:
            if n not in (2 * k, 3 * k):
                raise InstancesError(
                    f"keypoints given flat must have 2K={2 * k} or 3K={3 * k} values, got {n}"
                )
            width = 2 if n == 2 * k else 3
        elif n and n % 6 == 0:
            raise InstancesError(
                f"keypoints given flat with {n} values could be {n // 2} (x, y) points or "
                f"{n // 3} (x, y, v) points; pass them as pairs [[x, y], ...] or triplets "
                "[[x, y, v], ...], or create the set with num_keypoints"
            )
        elif n % 2 == 0:
            width = 2
        elif n % 3 == 0:
            width = 3
        else:
            raise InstancesError(f"keypoints given flat must have 2K or 3K values, got {n}")
        kp = kp.reshape(-1, width)
    if kp.ndim != 2 or kp.shape[1] not in (2, 3):
        raise InstancesError(
            f"keypoints must have shape (K, 2) or (K, 3), got {shape_text(kp.shape)}"
        )
    if k is not None and kp.shape[0] != k:
        raise InstancesError(
            f"keypoints must have shape (K={k}, 2) or (K={k}, 3), got {shape_text(kp.shape)}"
        )
    third = np.array(kp[:, 2]) if kp.shape[1] == 3 else None
    return np.array(kp[:, :2]), third


class Keypoints2DInstances:
    """The keypoint instances of one image as numpy arrays.

    Attributes:
        keypoints: (N, K, 2) float64 pixel coordinates.
        keypoint_visibilities: (N, K) int32 in {0, 1, 2} (ground truth), or None.
        keypoint_confidences: (N, K) float32 (predictions), or None.
        instance_labels: (N,) int32 class indices into the schema's ``classes``.
        instance_confidences: (N,) float64 instance scores, or None.
        instance_bbs: (N, 4) float64 ``xyxy`` pixel boxes.
        instance_extras: per-instance fields, each an (N,) array (COCO's ``area``,
            ``iscrowd``, ``id``, ``num_keypoints`` as given, and any other).
        x_min, y_min, x_max, y_max: the image's coordinate system (3LC's bounds);
            ``image_width`` is ``x_max - x_min``.

    Example:
        >>> import posetable as pt
        >>> kpts = pt.Keypoints2DInstances.create_empty(image_width=640, image_height=480)
        >>> kpts.add_instance([[100, 150, 2], [120, 160, 2], [140, 170, 1]], label=0)
        >>> len(kpts), kpts.keypoints.shape, kpts.instance_bbs[0].tolist()
        (1, (1, 3, 2), [100.0, 150.0, 140.0, 170.0])
        >>> pt.Keypoints2DInstances.from_row(kpts.to_row()).to_row() == kpts.to_row()
        True
    """

    keypoints: np.ndarray
    keypoint_visibilities: np.ndarray | None
    keypoint_confidences: np.ndarray | None
    instance_labels: np.ndarray
    instance_confidences: np.ndarray | None
    instance_bbs: np.ndarray
    instance_extras: dict[str, np.ndarray]
    x_min: float
    y_min: float
    x_max: float | None
    y_max: float | None

    def __init__(
        self,
        keypoints: Any,
        *,
        keypoint_visibilities: Any = None,
        keypoint_confidences: Any = None,
        instance_labels: Any = None,
        instance_confidences: Any = None,
        instance_bbs: Any = None,
        instance_extras: Mapping[str, Any] | None = None,
        image_width: float | None = None,
        image_height: float | None = None,
        num_keypoints: int | None = None,
        x_min: float = 0.0,
        y_min: float = 0.0,
        x_max: float | None = None,
        y_max: float | None = None,
    ) -> None:
        kp = np.array(keypoints, dtype=np.float64)
        if kp.size == 0 and kp.ndim < 3:
            kp = kp.reshape(0, num_keypoints or 0, 2)
        if kp.ndim != 3 or kp.shape[2] != 2:
            raise InstancesError(f"keypoints must have shape (N, K, 2), got {shape_text(kp.shape)}")
        n, k = kp.shape[0], kp.shape[1]
        if num_keypoints is not None and k != num_keypoints and n > 0:
            raise InstancesError(
                f"keypoints must have shape (N, K={num_keypoints}, 2), got {shape_text(kp.shape)}"
            )
        if n and not np.all(np.isfinite(kp)):
            i, j = (int(v) for v in np.argwhere(~np.isfinite(kp))[0][:2])
            raise InstancesError(
                f"keypoints must be finite, got {kp[i, j].tolist()} at instance {i}, keypoint {j}"
            )
        self.keypoints = kp
        self.keypoint_visibilities = self._visibilities(keypoint_visibilities, n, k)
        self.keypoint_confidences = self._per_keypoint(
            keypoint_confidences, n, k, "keypoint_confidences", np.float32
        )
        if self.keypoint_visibilities is not None and self.keypoint_confidences is not None:
            raise InstancesError(
                "an instance set holds keypoint_visibilities (ground truth) or "
                "keypoint_confidences (predictions), not both"
            )
        self.instance_labels = self._labels(instance_labels, n)
        if instance_confidences is None:
            self.instance_confidences = None
        else:
            conf = np.array(instance_confidences, dtype=np.float64).reshape(-1)
            if conf.shape != (n,):
                raise InstancesError(
                    f"instance_confidences must have shape (N={n},), got {shape_text(conf.shape)}"
                )
            if not np.all(np.isfinite(conf)):
                raise InstancesError("instance_confidences must be finite, got NaN or inf")
            self.instance_confidences = conf
        self.instance_bbs = self._boxes(instance_bbs, n)
        extras = {}
        for name, value in (instance_extras or {}).items():
            if name in FIXED_INSTANCE_FIELDS:
                raise InstancesError(
                    f"instance_extras may not be named {name!r}: it is a fixed field "
                    "(use instance_labels / instance_confidences)"
                )
            extras[str(name)] = _as_extra(str(name), value, n)
        self.instance_extras = extras
        self.x_min = float(x_min)
        self.y_min = float(y_min)
        self.x_max = self._bound(x_max, image_width, self.x_min, "x_max", "image_width")
        self.y_max = self._bound(y_max, image_height, self.y_min, "y_max", "image_height")
        self._null_extras: tuple[str, ...] = ()
        self._boxes_given = True
        self._labels_given = True
        self._predictions = False
        self._num_keypoints = k if (n or num_keypoints is None) else int(num_keypoints)

    @classmethod
    def _from_trusted(
        cls,
        keypoints: np.ndarray,
        *,
        keypoint_visibilities: np.ndarray | None,
        keypoint_confidences: np.ndarray | None,
        instance_labels: np.ndarray,
        instance_confidences: np.ndarray | None,
        instance_bbs: np.ndarray,
        instance_extras: dict[str, np.ndarray],
        x_min: float,
        y_min: float,
        x_max: float | None,
        y_max: float | None,
        num_keypoints: int,
        null_extras: tuple[str, ...] = (),
    ) -> Keypoints2DInstances:
        """Wrap arrays already checked (read from a table) without copying or checking."""
        out = cls.__new__(cls)
        out.keypoints = keypoints
        out.keypoint_visibilities = keypoint_visibilities
        out.keypoint_confidences = keypoint_confidences
        out.instance_labels = instance_labels
        out.instance_confidences = instance_confidences
        out.instance_bbs = instance_bbs
        out.instance_extras = instance_extras
        out.x_min, out.y_min, out.x_max, out.y_max = x_min, y_min, x_max, y_max
        out._null_extras = null_extras
        out._boxes_given = True
        out._labels_given = True
        out._predictions = False
        out._num_keypoints = num_keypoints
        return out

    # -- validation helpers --------------------------------------------------------------
    @staticmethod
    def _bound(
        bound: float | None, size: float | None, low: float, what: str, size_name: str
    ) -> float | None:
        if bound is not None and size is not None and float(bound) != low + float(size):
            raise InstancesError(
                f"give {what} or {size_name}, not both that disagree: {what}={bound}, "
                f"{size_name}={size}"
            )
        if bound is not None:
            return float(bound)
        return None if size is None else low + float(size)

    @staticmethod
    def _labels(value: Any, n: int) -> np.ndarray:
        if value is None:
            return np.zeros(n, dtype=np.int32)
        raw = np.asarray(value)
        if raw.shape != (n,):
            raise InstancesError(
                f"instance_labels must have shape (N={n},), got {shape_text(raw.shape)}"
            )
        if n and raw.dtype.kind == "f" and not np.all(np.isfinite(raw) & (raw == np.round(raw))):
            raise InstancesError(f"instance_labels must be integers, got {raw.tolist()}")
        if n and raw.dtype.kind not in "iuf":
            raise InstancesError(f"instance_labels must be integers, got {raw.tolist()}")
        return raw.astype(np.int32)

    @staticmethod
    def _per_keypoint(value: Any, n: int, k: int, name: str, dtype: type) -> np.ndarray | None:
        if value is None:
            return None
        array = np.asarray(value)
        if array.size == 0 and n == 0:
            return np.zeros((0, k), dtype=dtype)
        if array.shape != (n, k):
            raise InstancesError(
                f"{name} must have shape (N={n}, K={k}), got {shape_text(array.shape)}"
            )
        if array.dtype.kind not in "biuf":
            raise InstancesError(f"{name} must hold numbers, got dtype {array.dtype}")
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            i, j = (int(v) for v in np.argwhere(~np.isfinite(array))[0])
            raise InstancesError(
                f"{name} must be finite, got {array[i, j]!r} at instance {i}, keypoint {j}"
            )
        return array.astype(dtype)

    @classmethod
    def _visibilities(cls, value: Any, n: int, k: int) -> np.ndarray | None:
        if value is None:
            return None
        raw = np.asarray(value)
        if raw.size and raw.dtype.kind not in "biuf":
            raise InstancesError(f"keypoint_visibilities must be 0, 1 or 2, got dtype {raw.dtype}")
        if raw.size and raw.dtype.kind == "f":
            bad = ~np.isfinite(raw) | (raw != np.round(raw))
            if np.any(bad):
                idx = tuple(int(v) for v in np.argwhere(bad)[0])
                at = f"instance {idx[0]}, keypoint {idx[1]}" if len(idx) == 2 else f"index {idx}"
                raise InstancesError(
                    f"keypoint_visibilities must be 0, 1 or 2, got {raw[idx].item()!r} at {at}"
                )
        vis = cls._per_keypoint(raw, n, k, "keypoint_visibilities", np.int64)
        if vis is None:  # pragma: no cover - raw is not None here
            return None
        bad_mask = (vis < 0) | (vis > 2)
        if np.any(bad_mask):
            i, j = (int(v) for v in np.argwhere(bad_mask)[0])
            raise InstancesError(
                f"keypoint_visibilities must be 0, 1 or 2, got {int(vis[i, j])} "
                f"at instance {i}, keypoint {j}"
            )
        return vis.astype(np.int32)

    def _boxes(self, value: Any, n: int) -> np.ndarray:
        if value is None:
            return self._derive_boxes()
        boxes = np.array(value, dtype=np.float64)
        if boxes.size == 0 and n == 0:
            return np.zeros((0, 4), dtype=np.float64)
        if boxes.shape != (n, 4):
            raise InstancesError(
                f"instance_bbs must have shape (N={n}, 4), got {shape_text(boxes.shape)}"
            )
        if not np.all(np.isfinite(boxes)):
            raise InstancesError("instance_bbs must be finite, got NaN or inf")
        return boxes

    def _derive_boxes(self) -> np.ndarray:
        kp = self.keypoints
        n = kp.shape[0]
        boxes = np.zeros((n, 4), dtype=np.float64)
        if n == 0 or kp.shape[1] == 0:
            return boxes
        if self.keypoint_visibilities is not None:
            labeled = self.keypoint_visibilities > 0
        else:
            labeled = np.ones(kp.shape[:2], dtype=bool)
        has = labeled.any(axis=1)
        if has.any():
            lo = np.where(labeled[..., None], kp, np.inf).min(axis=1)
            hi = np.where(labeled[..., None], kp, -np.inf).max(axis=1)
            boxes[has] = np.concatenate([lo, hi], axis=1)[has]
        return boxes

    # -- 3LC-style construction ----------------------------------------------------------
    @classmethod
    def create_empty(
        cls,
        image_width: float | None = None,
        image_height: float | None = None,
        x_min: float = 0.0,
        y_min: float = 0.0,
        x_max: float | None = None,
        y_max: float | None = None,
        include_keypoint_confidences: bool = False,
        include_keypoint_visibilities: bool = False,
        include_instance_confidences: bool = False,
        include_instance_labels: bool = True,
        include_instance_bbs: bool = True,
        per_keypoint_extras_keys: Sequence[str] | None = None,
        instance_extras_keys: Sequence[str] | None = None,
        *,
        num_keypoints: int | None = None,
    ) -> Keypoints2DInstances:
        """An empty instance set for one image, to fill with :meth:`add_instance`.

        The parameters are 3LC's, in 3LC's order, with 3LC's defaults; ``num_keypoints``
        is posetable's.

        Args:
            image_width: the image width (``x_max = x_min + image_width``).
            image_height: the image height.
            x_min: 3LC's bounds; give ``x_max``/``y_max`` or the image size.
            y_min: see ``x_min``.
            x_max: see ``x_min``.
            y_max: see ``x_min``.
            include_keypoint_confidences: hold per-keypoint confidences (predictions): a
                third keypoint column is then a confidence.
            include_keypoint_visibilities: hold per-keypoint visibilities from the start.
                Ground-truth instances get visibilities either way (from ``visibility=``,
                a third keypoint column, or 2 for every point).
            include_instance_confidences: every instance carries an instance score.
            include_instance_labels: False writes no labels in :meth:`to_row` (3LC's
                unlabelled instances); ``label=`` is then refused.
            include_instance_bbs: False writes no boxes in :meth:`to_row` (they are still
                derived from the points for reading); ``bbox=`` is then refused.
            per_keypoint_extras_keys: not supported; must be empty.
            instance_extras_keys: per-instance fields every instance will carry.
            num_keypoints: K, so that a flat keypoint list is read as 2K or 3K values.

        Example:
            >>> import posetable as pt
            >>> len(pt.Keypoints2DInstances.create_empty(640, 480))
            0
        """
        if include_keypoint_visibilities and include_keypoint_confidences:
            raise InstancesError(
                "include_keypoint_visibilities and include_keypoint_confidences are mutually "
                "exclusive (a set holds ground truth or predictions), got both True"
            )
        if per_keypoint_extras_keys:
            raise UnsupportedError(
                "per_keypoint_extras_keys is not supported (per-keypoint values are "
                "keypoint_visibilities / keypoint_confidences), got "
                f"{list(per_keypoint_extras_keys)}"
            )
        k = num_keypoints or 0
        empty = cls(
            np.zeros((0, k, 2)),
            keypoint_visibilities=np.zeros((0, k), np.int32)
            if include_keypoint_visibilities
            else None,
            keypoint_confidences=(
                np.zeros((0, k), np.float32) if include_keypoint_confidences else None
            ),
            instance_confidences=np.zeros(0) if include_instance_confidences else None,
            image_width=image_width,
            image_height=image_height,
            num_keypoints=num_keypoints,
            x_min=x_min,
            y_min=y_min,
            x_max=x_max,
            y_max=y_max,
            instance_extras={name: np.zeros(0) for name in instance_extras_keys or ()},
        )
        empty._num_keypoints = k
        empty._boxes_given = bool(include_instance_bbs)
        empty._labels_given = bool(include_instance_labels)
        empty._predictions = bool(include_keypoint_confidences)
        return empty

    def add_instance(
        self,
        keypoints: Any,
        bbox: Sequence[float] | np.ndarray | None = None,
        label: int | None = None,
        visibility: Sequence[int] | np.ndarray | None = None,
        confidence: Sequence[float] | np.ndarray | None = None,
        normalized: bool = False,
        bbox_format: str = "xyxy",
        instance_confidence: float | None = None,
        instance_extras: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one instance in place (3LC's parameters, order and defaults).

        Args:
            keypoints: (K, 2) x, y, or (K, 3) x, y, visibility (x, y, confidence in a set
                of predictions), or the flat list of either. A flat list is read with the
                set's K when known; without it, ``2n`` values that are not ``3m`` are pairs,
                ``3m`` values that are not ``2n`` are triplets, and ``6n`` values are
                refused as ambiguous (pass pairs or triplets).
            bbox: a box in ``bbox_format``; derived from the labeled points when omitted.
            label: class label (default 0).
            visibility: (K,) 0/1/2 (ground truth); overrides a third keypoint column.
            confidence: (K,) per-keypoint confidences (predictions).
            normalized: coordinates (and box) are fractions of the image size
                (posetable's; 3LC accepts only False).
            bbox_format: ``"xyxy"`` (default) or ``"xywh"`` (posetable's; 3LC: xyxy only).
            instance_confidence: the instance score.
            instance_extras: per-instance values (``area``, ``iscrowd``, ``id``...). A field
                new to this set pads the earlier instances as 3LC does: NaN (float), -1
                (int), None (other); a field this instance lacks is padded the same way.

        Example:
            >>> import posetable as pt
            >>> kp = pt.Keypoints2DInstances.create_empty(image_width=100, image_height=50)
            >>> kp.add_instance([0.1, 0.2, 0.3, 0.4], normalized=True, bbox=[0, 0, 1, 1])
            >>> kp.keypoints.tolist(), kp.instance_bbs.tolist()
            ([[[10.0, 10.0], [30.0, 20.0]]], [[0.0, 0.0, 100.0, 50.0]])
        """
        if bbox is not None and not self._boxes_given:
            raise InstancesError(
                "this set was created with include_instance_bbs=False: give no bbox"
            )
        if label is not None and not self._labels_given:
            raise InstancesError(
                "this set was created with include_instance_labels=False: give no label"
            )
        if bbox_format not in ("xyxy", "xywh"):
            raise UnsupportedError(f"bbox_format must be 'xyxy' or 'xywh', got {bbox_format!r}")
        k = self._num_keypoints or None
        kp, third = parse_keypoints(keypoints, k)
        predictions = self.keypoint_confidences is not None or self._predictions
        if third is not None and visibility is None and confidence is None:
            if predictions:
                confidence = third
            else:
                visibility = third
        if normalized:
            kp = self._scale(kp, "keypoints")
        k = kp.shape[0]
        if visibility is not None and confidence is not None:
            raise InstancesError(
                "give visibility= (ground truth) or confidence= (predictions), not both"
            )
        vis = None if visibility is None else np.asarray(visibility).reshape(1, -1)
        conf = None if confidence is None else np.asarray(confidence).reshape(1, -1)
        if vis is None and conf is None:
            if predictions:
                raise InstancesError("this instance set holds predictions: give confidence=")
            vis = np.full((1, k), 2, dtype=np.int32)
        box: np.ndarray | None = None
        if bbox is not None:
            box = np.asarray(bbox, dtype=np.float64).reshape(-1)
            if box.shape != (4,):
                raise InstancesError(f"bbox must have 4 numbers, got {shape_text(box.shape)}")
            if bbox_format == "xywh":
                box = np.concatenate([box[:2], box[:2] + box[2:]])
            if normalized:
                box = self._scale(box.reshape(2, 2), "bbox").reshape(4)
            box = box.reshape(1, 4)
        one = Keypoints2DInstances(
            kp[None],
            keypoint_visibilities=vis,
            keypoint_confidences=conf,
            instance_labels=[0 if label is None else label],
            instance_confidences=None if instance_confidence is None else [instance_confidence],
            instance_bbs=box,
            instance_extras={name: [value] for name, value in (instance_extras or {}).items()},
        )
        self._append(one)

    def _scale(self, points: np.ndarray, what: str) -> np.ndarray:
        if self.image_width is None or self.image_height is None:
            raise InstancesError(
                f"normalized {what} need the image size: create the set with image_width and "
                "image_height"
            )
        size = np.array([self.image_width, self.image_height])
        return points * size + np.array([self.x_min, self.y_min])

    def _append(self, one: Keypoints2DInstances) -> None:
        n = len(self)
        if n and one.num_keypoints != self.num_keypoints:
            raise InstancesError(
                f"keypoints must have K={self.num_keypoints} points like the other instances, "
                f"got {one.num_keypoints}"
            )
        if self._num_keypoints and one.num_keypoints != self._num_keypoints:
            raise InstancesError(
                f"keypoints must have K={self._num_keypoints} points, got {one.num_keypoints}"
            )

        def cat(mine: np.ndarray | None, theirs: np.ndarray | None, what: str) -> np.ndarray | None:
            if n == 0:
                return theirs
            if (mine is None) != (theirs is None):
                raise InstancesError(
                    f"every instance must carry {what} like the others in this set"
                )
            return None if mine is None or theirs is None else np.concatenate([mine, theirs])

        vis = cat(self.keypoint_visibilities, one.keypoint_visibilities, "keypoint visibilities")
        conf = cat(self.keypoint_confidences, one.keypoint_confidences, "keypoint confidences")
        inst = cat(self.instance_confidences, one.instance_confidences, "an instance_confidence")
        extras: dict[str, np.ndarray] = {}
        m = len(one)
        for name in list(self.instance_extras) + [
            x for x in one.instance_extras if x not in self.instance_extras
        ]:
            mine = self.instance_extras.get(name)
            theirs = one.instance_extras.get(name)
            if mine is None or (len(mine) != n):
                mine = _pad(theirs.dtype if theirs is not None else np.dtype(object), n)
            if theirs is None:
                theirs = _pad(mine.dtype, m)
            extras[name] = theirs if n == 0 and len(mine) == 0 else _concat_extra(mine, theirs)
        self.keypoint_visibilities, self.keypoint_confidences = vis, conf
        self.instance_confidences = inst
        self.keypoints = (
            one.keypoints if n == 0 else np.concatenate([self.keypoints, one.keypoints])
        )
        self.instance_labels = np.concatenate([self.instance_labels, one.instance_labels])
        self.instance_bbs = np.concatenate([self.instance_bbs, one.instance_bbs])
        self.instance_extras = extras
        self._null_extras = tuple(x for x in self._null_extras if x not in extras)
        self._num_keypoints = one.num_keypoints

    # -- views ---------------------------------------------------------------------------
    @property
    def image_width(self) -> float | None:
        """The image width, ``x_max - x_min`` (None when unknown)."""
        return None if self.x_max is None else self.x_max - self.x_min

    @image_width.setter
    def image_width(self, value: float | None) -> None:
        self.x_max = None if value is None else self.x_min + float(value)

    @property
    def image_height(self) -> float | None:
        """The image height, ``y_max - y_min`` (None when unknown)."""
        return None if self.y_max is None else self.y_max - self.y_min

    @image_height.setter
    def image_height(self, value: float | None) -> None:
        self.y_max = None if value is None else self.y_min + float(value)

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def __repr__(self) -> str:
        kind = "predictions" if self.keypoint_confidences is not None else "ground truth"
        return (
            f"Keypoints2DInstances(N={len(self)}, K={self.num_keypoints}, {kind}, "
            f"image={self.image_width}x{self.image_height})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keypoints2DInstances):
            return NotImplemented
        return bool(self._comparable_row() == other._comparable_row())

    def _comparable_row(self) -> dict[str, Any]:
        row = self.to_row()
        data = row["instances_additional_data"]
        for name in [n for n, v in data.items() if n not in FIXED_INSTANCE_FIELDS and not v]:
            del data[name]
        return row

    __hash__ = None  # type: ignore[assignment]

    @property
    def num_keypoints(self) -> int:
        """K, the number of keypoints per instance."""
        return int(self.keypoints.shape[1]) if len(self) else self._num_keypoints

    @property
    def instance_bbs_xywh(self) -> np.ndarray:
        """Boxes as (N, 4) ``[x, y, width, height]`` (COCO's convention).

        Example:
            >>> import posetable as pt
            >>> kp = pt.Keypoints2DInstances.create_empty(image_width=9, image_height=9)
            >>> kp.add_instance([[1, 2], [4, 8]], bbox=[1, 2, 4, 8])
            >>> kp.instance_bbs_xywh.tolist()
            [[1.0, 2.0, 3.0, 6.0]]
        """
        boxes = np.array(self.instance_bbs, dtype=np.float64)
        boxes[:, 2:] -= boxes[:, :2]
        return boxes

    @property
    def keypoints_with_visibility(self) -> np.ndarray:
        """(N, K, 3) x, y, visibility (visibility 2 where only confidences are held)."""
        vis = self.keypoint_visibilities
        if vis is None:
            vis = np.full(self.keypoints.shape[:2], 2, dtype=np.int32)
        return np.concatenate([self.keypoints, vis[..., None].astype(np.float64)], axis=2)

    def copy(self) -> Keypoints2DInstances:
        """A deep copy."""
        return self.select(np.arange(len(self)))

    def select(self, mask_or_indices: Any) -> Keypoints2DInstances:
        """A new instance set with only the chosen instances (boolean mask or indices).

        Example:
            >>> import posetable as pt
            >>> kp = pt.Keypoints2DInstances.create_empty(image_width=9, image_height=9)
            >>> kp.add_instance([[1, 1]]); kp.add_instance([[5, 5]])
            >>> kp.select([1]).keypoints.tolist()
            [[[5.0, 5.0]]]
        """
        idx = np.arange(len(self))[np.asarray(mask_or_indices)] if len(self) else np.zeros(0, int)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.array(a[idx])

        k = self.num_keypoints
        out = Keypoints2DInstances._from_trusted(
            np.array(self.keypoints[idx]).reshape(len(idx), k, 2),
            keypoint_visibilities=pick(self.keypoint_visibilities),
            keypoint_confidences=pick(self.keypoint_confidences),
            instance_labels=np.array(self.instance_labels[idx]),
            instance_confidences=pick(self.instance_confidences),
            instance_bbs=np.array(self.instance_bbs[idx]).reshape(len(idx), 4),
            instance_extras={name: np.array(v[idx]) for name, v in self.instance_extras.items()},
            x_min=self.x_min,
            y_min=self.y_min,
            x_max=self.x_max,
            y_max=self.y_max,
            num_keypoints=k,
            null_extras=self._null_extras,
        )
        out._boxes_given = self._boxes_given
        out._labels_given = self._labels_given
        out._predictions = self._predictions
        return out

    # -- row values ----------------------------------------------------------------------
    @classmethod
    def from_row(cls, row: Mapping[str, Any] | Keypoints2DInstances) -> Keypoints2DInstances:
        """Read a table row's keypoints value (3LC's layout) into numpy arrays.

        Example:
            >>> import posetable as pt
            >>> row = {"x_min": 0, "y_min": 0, "x_max": 10, "y_max": 10, "instances": [
            ...     {"vertices_2d": [1, 2, 3, 4], "bbs_2d": [[1, 2, 3, 4]],
            ...      "vertices_2d_additional_data": {"visibility": [2, 1], "confidence": None}}],
            ...     "instances_additional_data": {"label": [0], "confidence": None}}
            >>> pt.Keypoints2DInstances.from_row(row).keypoints.tolist()
            [[[1.0, 2.0], [3.0, 4.0]]]
        """
        value: Any = row
        if isinstance(value, Keypoints2DInstances):
            return value.copy()
        if hasattr(value, "as_py"):
            value = value.as_py()
        if not isinstance(value, Mapping):
            raise InstancesError(
                f"a keypoints row value must be a mapping, got {type(value).__name__}"
            )
        instances = value.get("instances")
        if instances is None:
            raise InstancesError("a keypoints row value needs an 'instances' list, got none")
        if not isinstance(instances, Sequence) or isinstance(instances, (str, bytes)):
            raise InstancesError(
                f"'instances' must be a list of instance dicts, got {type(instances).__name__}"
            )
        n = len(instances)
        for i, inst in enumerate(instances):
            if not isinstance(inst, Mapping):
                raise InstancesError(f"instances[{i}] must be a dict, got {type(inst).__name__}")
        extra_data = dict(value.get("instances_additional_data") or {})
        flat = [inst.get("vertices_2d") or [] for inst in instances]
        lengths = {len(v) for v in flat}
        if len(lengths) > 1:
            raise InstancesError(
                "every instance must have the same number of vertices, got lengths "
                f"{sorted(lengths)}"
            )
        length = lengths.pop() if lengths else 0
        if length % 2:
            raise InstancesError(f"vertices_2d must hold x, y pairs, got {length} values")
        k = length // 2
        try:
            kp = np.asarray(flat, dtype=np.float64).reshape(n, k, 2)
        except (TypeError, ValueError) as exc:
            raise InstancesError(f"vertices_2d must hold numbers: {exc}") from exc

        def per_point(key: str) -> np.ndarray | None:
            values = [
                (inst.get("vertices_2d_additional_data") or {}).get(key) for inst in instances
            ]
            if n == 0 or all(v is None for v in values):
                return None
            if any(v is None for v in values):
                raise InstancesError(
                    f"vertices_2d_additional_data.{key} is set for some instances only"
                )
            return np.asarray(values)

        boxes = None
        raw_boxes = [inst.get("bbs_2d") for inst in instances]
        boxes_given = all(b for b in raw_boxes)
        if n and boxes_given:
            try:
                boxes = np.asarray([b[0] for b in raw_boxes], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InstancesError(f"bbs_2d must hold [x0, y0, x1, y1] boxes: {exc}") from exc
        labels = extra_data.pop("label", None)
        confidences = extra_data.pop("confidence", None)
        for name, values in (("label", labels), ("confidence", confidences)):
            if values is not None and len(values) != n:
                raise InstancesError(
                    f"instances_additional_data.{name} must have one value per instance "
                    f"(N={n}), got {len(values)}"
                )
        null_extras = tuple(name for name, v in extra_data.items() if v is None)
        out = cls(
            kp,
            keypoint_visibilities=per_point("visibility"),
            keypoint_confidences=per_point("confidence"),
            instance_labels=labels,
            instance_confidences=confidences,
            instance_bbs=boxes,
            instance_extras={name: v for name, v in extra_data.items() if v is not None},
            x_min=value.get("x_min") or 0.0,
            y_min=value.get("y_min") or 0.0,
            x_max=value.get("x_max"),
            y_max=value.get("y_max"),
        )
        out._null_extras = null_extras
        out._boxes_given = bool(boxes_given or n == 0)
        out._labels_given = labels is not None or n == 0
        return out

    def to_row(self) -> dict[str, Any]:
        """The row value in 3LC's layout (plain Python lists and numbers).

        Example:
            >>> import posetable as pt
            >>> kp = pt.Keypoints2DInstances.create_empty(image_width=9, image_height=9)
            >>> kp.add_instance([[1, 2], [3, 4]], visibility=[2, 0])
            >>> kp.to_row()["instances"][0]["vertices_2d"]
            [1.0, 2.0, 3.0, 4.0]
        """
        vis = self.keypoint_visibilities
        conf = self.keypoint_confidences
        n = len(self)
        points = np.asarray(self.keypoints, dtype=np.float64)
        flat = points.reshape(n, 2 * points.shape[1] if points.ndim == 3 else 0).tolist()
        vis_l = vis.tolist() if vis is not None else [None] * n
        conf_l = conf.tolist() if conf is not None else [None] * n
        boxes = self.instance_bbs.tolist() if self._boxes_given else [None] * n
        instances = [
            {
                "vertices_2d": flat[i],
                "vertices_2d_additional_data": {"visibility": vis_l[i], "confidence": conf_l[i]},
                "bbs_2d": [boxes[i]] if boxes[i] is not None else [],
            }
            for i in range(n)
        ]
        extra: dict[str, Any] = {
            "label": self.instance_labels.tolist() if self._labels_given else None,
            "confidence": (
                None if self.instance_confidences is None else self.instance_confidences.tolist()
            ),
        }
        for name in sorted(set(self.instance_extras) | set(self._null_extras)):
            values = self.instance_extras.get(name)
            extra[name] = None if values is None else values.tolist()
        return {
            "x_min": self.x_min,
            "y_min": self.y_min,
            "x_max": self.x_max,
            "y_max": self.y_max,
            "instances": instances,
            "instances_additional_data": extra,
        }
