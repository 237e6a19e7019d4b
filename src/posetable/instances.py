"""``Keypoints2DInstances``: the numpy view of one image's keypoint instances.

The names follow 3LC 2.x so 3LC code ports by changing the import. Coordinates are float64
pixels (origin top-left); boxes are ``xyxy`` pixels; visibility is COCO's 0/1/2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posetable._validate import shape_text
from posetable.errors import InstancesError

FIXED_INSTANCE_FIELDS = ("label", "confidence")


def _as_extra(name: str, value: Any, n: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.shape != (n,):
        raise InstancesError(
            f"instance_extras[{name!r}] must have shape (N={n},), got {shape_text(array.shape)}"
        )
    return array


def _concat_extra(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    if old.dtype.kind in "iu" and new.dtype.kind == "f" and not np.all(np.mod(new, 1) == 0):
        return np.concatenate([old.astype(np.float64), new])
    if old.dtype.kind != new.dtype.kind and "O" not in (old.dtype.kind, new.dtype.kind):
        if {old.dtype.kind, new.dtype.kind} <= set("iuf"):
            return np.concatenate([old, new.astype(old.dtype)])
        return np.concatenate([old.astype(object), new.astype(object)])
    return np.concatenate([old, new])


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
    ) -> None:
        kp = np.asarray(keypoints, dtype=np.float64)
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
            i, j = np.argwhere(~np.isfinite(kp))[0][:2]
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
        if instance_labels is None:
            labels = np.zeros(n, dtype=np.int32)
        else:
            labels = np.asarray(instance_labels)
            if labels.shape != (n,):
                raise InstancesError(
                    f"instance_labels must have shape (N={n},), got {shape_text(labels.shape)}"
                )
            labels = labels.astype(np.int32)
        self.instance_labels = labels
        if instance_confidences is None:
            self.instance_confidences = None
        else:
            conf = np.asarray(instance_confidences, dtype=np.float64)
            if conf.shape != (n,):
                raise InstancesError(
                    f"instance_confidences must have shape (N={n},), got {shape_text(conf.shape)}"
                )
            if not np.all(np.isfinite(conf)):
                raise InstancesError("instance_confidences must be finite, got NaN or inf")
            self.instance_confidences = conf
        self.instance_bbs = self._boxes(instance_bbs, n)
        self.instance_extras = {
            str(name): _as_extra(str(name), value, n) for name, value in (instance_extras or {}).items()
        }
        for name in self.instance_extras:
            if name in FIXED_INSTANCE_FIELDS:
                raise InstancesError(
                    f"instance_extras may not be named {name!r}: it is a fixed field "
                    "(use instance_labels / instance_confidences)"
                )
        self.image_width = None if image_width is None else float(image_width)
        self.image_height = None if image_height is None else float(image_height)
        self._null_extras: tuple[str, ...] = ()
        self._num_keypoints = k if (n or num_keypoints is None) else int(num_keypoints)

    # -- validation helpers --------------------------------------------------------------
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
        array = array.astype(dtype)
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise InstancesError(f"{name} must be finite, got NaN or inf")
        return array

    @classmethod
    def _visibilities(cls, value: Any, n: int, k: int) -> np.ndarray | None:
        if value is None:
            return None
        raw = np.asarray(value)
        if raw.dtype.kind == "f":
            if not np.all(np.isfinite(raw)) or not np.all(np.mod(raw, 1) == 0):
                bad = raw[~np.isfinite(raw) | (np.mod(raw, 1) != 0)].ravel()[0]
                raise InstancesError(f"keypoint_visibilities must be 0, 1 or 2, got {bad!r}")
        vis = cls._per_keypoint(raw, n, k, "keypoint_visibilities", np.int32)
        assert vis is not None
        bad_mask = (vis < 0) | (vis > 2)
        if np.any(bad_mask):
            i, j = np.argwhere(bad_mask)[0]
            raise InstancesError(
                f"keypoint_visibilities must be 0, 1 or 2, got {int(vis[i, j])} "
                f"at instance {i}, keypoint {j}"
            )
        return vis

    def _boxes(self, value: Any, n: int) -> np.ndarray:
        if value is None:
            return self._derive_boxes()
        boxes = np.asarray(value, dtype=np.float64)
        if boxes.size == 0 and n == 0:
            return np.zeros((0, 4), dtype=np.float64)
        if boxes.shape != (n, 4):
            raise InstancesError(f"instance_bbs must have shape (N={n}, 4), got {shape_text(boxes.shape)}")
        if not np.all(np.isfinite(boxes)):
            raise InstancesError("instance_bbs must be finite, got NaN or inf")
        return boxes

    def _derive_boxes(self) -> np.ndarray:
        kp = self.keypoints
        n = kp.shape[0]
        if n == 0:
            return np.zeros((0, 4), dtype=np.float64)
        if self.keypoint_visibilities is not None:
            labeled = self.keypoint_visibilities > 0
        else:
            labeled = np.ones(kp.shape[:2], dtype=bool)
        x = np.where(labeled, kp[..., 0], np.nan)
        y = np.where(labeled, kp[..., 1], np.nan)
        has = labeled.any(axis=1)
        boxes = np.zeros((n, 4), dtype=np.float64)
        if has.any():
            boxes[has] = np.stack(
                [np.nanmin(x[has], 1), np.nanmin(y[has], 1), np.nanmax(x[has], 1), np.nanmax(y[has], 1)],
                axis=1,
            )
        return boxes

    # -- 3LC-style construction ----------------------------------------------------------
    @classmethod
    def create_empty(
        cls,
        image_width: float | None = None,
        image_height: float | None = None,
        *,
        num_keypoints: int | None = None,
        include_keypoint_visibilities: bool = True,
        include_keypoint_confidences: bool = False,
        include_instance_confidences: bool = False,
    ) -> Keypoints2DInstances:
        """An empty instance set for one image, to fill with :meth:`add_instance`.

        Example:
            >>> import posetable as pt
            >>> len(pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48))
            0
        """
        k = num_keypoints or 0
        empty = cls(
            np.zeros((0, k, 2)),
            keypoint_visibilities=(
                np.zeros((0, k), np.int32)
                if include_keypoint_visibilities and not include_keypoint_confidences
                else None
            ),
            keypoint_confidences=np.zeros((0, k), np.float32) if include_keypoint_confidences else None,
            instance_confidences=np.zeros(0) if include_instance_confidences else None,
            image_width=image_width,
            image_height=image_height,
            num_keypoints=num_keypoints,
        )
        empty._num_keypoints = k
        return empty

    def add_instance(
        self,
        keypoints: Any,
        *,
        bbox: Sequence[float] | np.ndarray | None = None,
        label: int | None = None,
        visibility: Sequence[int] | np.ndarray | None = None,
        confidence: Sequence[float] | np.ndarray | None = None,
        instance_confidence: float | None = None,
        instance_extras: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one instance in place.

        Args:
            keypoints: (K, 2) x, y, or (K, 3) x, y, visibility, or the flat list of either.
            bbox: ``xyxy`` pixels; derived from the labeled points when omitted.
            label: class index (default 0).
            visibility: (K,) 0/1/2 (ground truth).
            confidence: (K,) per-keypoint confidences (predictions).
            instance_confidence: the instance score.
            instance_extras: per-instance scalar fields (``area``, ``iscrowd``, ``id``...).
        """
        kp = np.asarray(keypoints, dtype=np.float64)
        k = self._num_keypoints or None
        if kp.ndim == 1:
            width = 3 if (k and kp.size == 3 * k and visibility is None) else 2
            if k is None and kp.size % 2 == 0:
                width = 2
            if kp.size % width:
                raise InstancesError(f"keypoints given flat must have 2K or 3K values, got {kp.size}")
            kp = kp.reshape(-1, width)
        if kp.ndim != 2 or kp.shape[1] not in (2, 3):
            raise InstancesError(f"keypoints must have shape (K, 2) or (K, 3), got {shape_text(kp.shape)}")
        if k is not None and kp.shape[0] != k:
            raise InstancesError(
                f"keypoints must have shape (K={k}, 2) or (K={k}, 3), got {shape_text(kp.shape)}"
            )
        if kp.shape[1] == 3:
            if visibility is not None:
                raise InstancesError("give visibility either as the third keypoint column or as visibility=, not both")
            visibility = kp[:, 2]
            kp = kp[:, :2]
        k = kp.shape[0]
        vis = None if visibility is None else np.asarray(visibility).reshape(1, -1)
        conf = None if confidence is None else np.asarray(confidence).reshape(1, -1)
        if vis is None and conf is None:
            if self.keypoint_confidences is not None:
                raise InstancesError("this instance set holds predictions: give confidence=")
            vis = np.full((1, k), 2, dtype=np.int32)
        extras = dict(instance_extras or {})
        one = Keypoints2DInstances(
            kp[None],
            keypoint_visibilities=vis,
            keypoint_confidences=conf,
            instance_labels=[0 if label is None else int(label)],
            instance_confidences=None if instance_confidence is None else [instance_confidence],
            instance_bbs=None if bbox is None else np.asarray(bbox, dtype=np.float64).reshape(1, 4),
            instance_extras={name: [value] for name, value in extras.items()},
        )
        self._append(one)

    def _append(self, one: Keypoints2DInstances) -> None:
        n = len(self)
        if n and one.num_keypoints != self.num_keypoints:
            raise InstancesError(
                f"keypoints must have K={self.num_keypoints} points like the other instances, "
                f"got {one.num_keypoints}"
            )
        if n and set(self.instance_extras) != set(one.instance_extras):
            raise InstancesError(
                "instance_extras must name the same fields for every instance: have "
                f"{sorted(self.instance_extras)}, got {sorted(one.instance_extras)}"
            )

        def cat(mine: np.ndarray | None, theirs: np.ndarray | None, what: str) -> np.ndarray | None:
            if n == 0:
                return theirs
            if (mine is None) != (theirs is None):
                raise InstancesError(f"every instance must carry {what} like the others")
            return None if mine is None or theirs is None else np.concatenate([mine, theirs])

        self.keypoint_visibilities = cat(self.keypoint_visibilities, one.keypoint_visibilities, "visibility")
        self.keypoint_confidences = cat(self.keypoint_confidences, one.keypoint_confidences, "confidence")
        self.instance_confidences = cat(
            self.instance_confidences, one.instance_confidences, "instance_confidence"
        )
        self.keypoints = one.keypoints if n == 0 else np.concatenate([self.keypoints, one.keypoints])
        self.instance_labels = np.concatenate([self.instance_labels, one.instance_labels])
        self.instance_bbs = np.concatenate([self.instance_bbs, one.instance_bbs])
        self.instance_extras = {
            name: value if n == 0 else _concat_extra(self.instance_extras[name], value)
            for name, value in one.instance_extras.items()
        }
        self._num_keypoints = one.num_keypoints

    # -- views ---------------------------------------------------------------------------
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
        """Boxes as (N, 4) ``[x, y, width, height]`` (COCO's convention)."""
        boxes = self.instance_bbs.copy()
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
        return Keypoints2DInstances.from_row(self.to_row())

    def select(self, mask_or_indices: Any) -> Keypoints2DInstances:
        """A new instance set with only the chosen instances (boolean mask or indices)."""
        idx = np.arange(len(self))[np.asarray(mask_or_indices)] if len(self) else np.zeros(0, int)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        out = Keypoints2DInstances(
            self.keypoints[idx].reshape(-1, self.num_keypoints, 2),
            keypoint_visibilities=pick(self.keypoint_visibilities),
            keypoint_confidences=pick(self.keypoint_confidences),
            instance_labels=self.instance_labels[idx],
            instance_confidences=pick(self.instance_confidences),
            instance_bbs=self.instance_bbs[idx],
            instance_extras={k: v[idx] for k, v in self.instance_extras.items()},
            image_width=self.image_width,
            image_height=self.image_height,
            num_keypoints=self.num_keypoints,
        )
        out._null_extras = self._null_extras
        return out

    # -- row values ----------------------------------------------------------------------
    @classmethod
    def from_row(cls, value: Mapping[str, Any] | Keypoints2DInstances) -> Keypoints2DInstances:
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
        if isinstance(value, Keypoints2DInstances):
            return value.copy()
        if hasattr(value, "as_py"):
            value = value.as_py()
        if not isinstance(value, Mapping):
            raise InstancesError(f"a keypoints row value must be a mapping, got {type(value).__name__}")
        instances = value.get("instances")
        if instances is None:
            raise InstancesError("a keypoints row value needs an 'instances' list, got none")
        n = len(instances)
        extra_data = dict(value.get("instances_additional_data") or {})
        flat = [inst.get("vertices_2d") or [] for inst in instances]
        lengths = {len(v) for v in flat}
        if len(lengths) > 1:
            raise InstancesError(f"every instance must have the same number of vertices, got lengths {sorted(lengths)}")
        length = lengths.pop() if lengths else 0
        if length % 2:
            raise InstancesError(f"vertices_2d must hold x, y pairs, got {length} values")
        k = length // 2
        kp = np.asarray(flat, dtype=np.float64).reshape(n, k, 2)

        def per_point(key: str) -> np.ndarray | None:
            values = [(inst.get("vertices_2d_additional_data") or {}).get(key) for inst in instances]
            if n == 0 or all(v is None for v in values):
                return None
            if any(v is None for v in values):
                raise InstancesError(f"vertices_2d_additional_data.{key} is set for some instances only")
            return np.asarray(values)

        boxes = None
        if n:
            raw_boxes = [inst.get("bbs_2d") for inst in instances]
            if all(b for b in raw_boxes):
                boxes = np.asarray([b[0] for b in raw_boxes], dtype=np.float64)
        labels = extra_data.pop("label", None)
        confidences = extra_data.pop("confidence", None)
        null_extras = tuple(name for name, v in extra_data.items() if v is None)
        out = cls(
            kp,
            keypoint_visibilities=per_point("visibility"),
            keypoint_confidences=per_point("confidence"),
            instance_labels=labels if labels is not None else None,
            instance_confidences=confidences,
            instance_bbs=boxes,
            instance_extras={name: np.asarray(v) for name, v in extra_data.items() if v is not None},
            image_width=value.get("x_max"),
            image_height=value.get("y_max"),
        )
        out._null_extras = null_extras
        return out

    def to_row(self) -> dict[str, Any]:
        """The row value in 3LC's layout (plain Python lists and numbers)."""
        vis = self.keypoint_visibilities
        conf = self.keypoint_confidences
        n = len(self)
        flat = self.keypoints.reshape(n, 2 * self.keypoints.shape[1]).tolist()
        vis_l = vis.tolist() if vis is not None else [None] * n
        conf_l = conf.tolist() if conf is not None else [None] * n
        boxes = self.instance_bbs.tolist()
        instances = [
            {
                "vertices_2d": flat[i],
                "vertices_2d_additional_data": {"visibility": vis_l[i], "confidence": conf_l[i]},
                "bbs_2d": [boxes[i]],
            }
            for i in range(n)
        ]
        extra: dict[str, Any] = {
            "label": self.instance_labels.tolist(),
            "confidence": None if self.instance_confidences is None else self.instance_confidences.tolist(),
        }
        names = sorted(set(self.instance_extras) | set(self._null_extras))
        for name in names:
            values = self.instance_extras.get(name)
            extra[name] = None if values is None else values.tolist()
        return {
            "x_min": 0.0,
            "y_min": 0.0,
            "x_max": self.image_width,
            "y_max": self.image_height,
            "instances": instances,
            "instances_additional_data": extra,
        }
