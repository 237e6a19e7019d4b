"""3LC 3.x's ``tlc.data_types``: ``Keypoints2D``, the 3.x container of keypoint instances.

``Keypoints2D`` is :class:`~posetable.Keypoints2DInstances` (the same arrays, rows and
tables) under 3.x's argument names: ``labels``, ``bounding_boxes``, ``confidences`` (per
instance) and, in :meth:`Keypoints2D.add_instance`, ``bounding_box``, ``label``,
``confidence`` (the instance's score), ``keypoint_visibilities`` and
``keypoint_confidences``. ``Keypoints2D.schema(...)`` builds a
:class:`~posetable.Keypoints2DSchema` with 3LC's schema arguments.

Example:
    >>> from posetable.tlc.data_types import Keypoints2D
    >>> kpts = Keypoints2D.create_empty(image_width=640, image_height=480)
    >>> kpts.add_instance(keypoints=[[100, 150], [120, 160], [140, 170]],
    ...     bounding_box=[90, 140, 150, 180], label=0, keypoint_visibilities=[2, 2, 1])
    >>> kpts.labels.tolist(), kpts.bounding_boxes.tolist(), kpts.keypoint_visibilities.tolist()
    ([0], [[90.0, 140.0, 150.0, 180.0]], [[2, 2, 1]])
    >>> Keypoints2D.schema(classes=["person"], num_keypoints=3).num_keypoints
    3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posetable.errors import InstancesError
from posetable.instances import Keypoints2DInstances
from posetable.schema import Keypoints2DSchema

__all__ = ["Keypoints2D"]

# 3.x's names of the per-instance arrays -> 2.x's (posetable's) names.
_RENAMED = {
    "labels": "instance_labels",
    "bounding_boxes": "instance_bbs",
    "confidences": "instance_confidences",
}


class Keypoints2D(Keypoints2DInstances):
    """3LC 3.x's keypoint container: :class:`~posetable.Keypoints2DInstances` with 3.x names.

    Args:
        keypoints: (N, K, 2) pixel coordinates.
        labels: (N,) class labels (2.x: ``instance_labels``).
        bounding_boxes: (N, 4) boxes in ``bounding_box_format`` (2.x: ``instance_bbs``).
        confidences: (N,) instance scores (2.x: ``instance_confidences``).
        bounding_box_format: ``"xyxy"`` (default) or ``"xywh"``, converted to xyxy.
        **kwargs: the other arguments of :class:`~posetable.Keypoints2DInstances`
            (``keypoint_visibilities``, ``keypoint_confidences``, ``x_max``,
            ``image_width``...).

    Example:
        >>> import numpy as np
        >>> from posetable.tlc.data_types import Keypoints2D
        >>> kpts = Keypoints2D(keypoints=np.zeros((1, 2, 2)), labels=[1],
        ...     bounding_boxes=[[0, 0, 4, 2]], bounding_box_format="xywh", x_max=8, y_max=8)
        >>> kpts.bounding_boxes.tolist(), kpts.image_width
        ([[0.0, 0.0, 4.0, 2.0]], 8.0)
    """

    def __init__(
        self,
        keypoints: Any,
        labels: Any = None,
        bounding_boxes: Any = None,
        confidences: Any = None,
        *,
        bounding_box_format: str = "xyxy",
        **kwargs: Any,
    ) -> None:
        given = {"labels": labels, "bounding_boxes": bounding_boxes, "confidences": confidences}
        for new, old in _RENAMED.items():
            if given[new] is not None:
                if kwargs.get(old) is not None:
                    raise InstancesError(f"give {new} (3LC 3.x) or {old} (2.x), not both")
                kwargs[old] = given[new]
        if bounding_box_format not in ("xyxy", "xywh"):
            from posetable.errors import UnsupportedError

            raise UnsupportedError(
                f"bounding_box_format must be 'xyxy' or 'xywh', got {bounding_box_format!r}"
            )
        boxes = kwargs.get("instance_bbs")
        if bounding_box_format == "xywh" and boxes is not None:
            array = np.array(boxes, dtype=np.float64)
            if array.ndim == 2 and array.shape[1] == 4:
                array[:, 2:] += array[:, :2]
            kwargs["instance_bbs"] = array
        super().__init__(keypoints, **kwargs)

    @property
    def labels(self) -> np.ndarray:
        """(N,) class labels (``instance_labels``)."""
        return self.instance_labels

    @property
    def bounding_boxes(self) -> np.ndarray:
        """(N, 4) xyxy boxes (``instance_bbs``)."""
        return self.instance_bbs

    @property
    def confidences(self) -> np.ndarray | None:
        """(N,) instance scores, or None (``instance_confidences``)."""
        return self.instance_confidences

    def add_instance(  # type: ignore[override]
        self,
        keypoints: Any,
        bounding_box: Sequence[float] | np.ndarray | None = None,
        label: int | None = None,
        confidence: float | None = None,
        keypoint_visibilities: Sequence[int] | np.ndarray | None = None,
        keypoint_confidences: Sequence[float] | np.ndarray | None = None,
        bounding_box_format: str = "xyxy",
        instance_extras: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one instance (3.x names: ``confidence`` is the instance's score).

        Example:
            >>> from posetable.tlc.data_types import Keypoints2D
            >>> kpts = Keypoints2D.create_empty(image_width=9, image_height=9,
            ...     include_keypoint_confidences=True)
            >>> kpts.add_instance([[1, 2], [3, 4]], confidence=0.9,
            ...     keypoint_confidences=[0.5, 0.25])
            >>> kpts.confidences.tolist(), kpts.keypoint_confidences.tolist()
            ([0.9], [[0.5, 0.25]])
        """
        super().add_instance(
            keypoints,
            bbox=bounding_box,
            label=label,
            visibility=keypoint_visibilities,
            confidence=keypoint_confidences,
            bbox_format=bounding_box_format,
            instance_confidence=confidence,
            instance_extras=instance_extras,
        )

    @staticmethod
    def schema(*args: Any, **kwargs: Any) -> Keypoints2DSchema:
        """The schema of a keypoints column (3LC's ``Keypoints2D.schema(...)``): the
        arguments of :class:`~posetable.Keypoints2DSchema`, in 3LC's order."""
        return Keypoints2DSchema(*args, **kwargs)
