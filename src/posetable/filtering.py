"""Confidence filtering of predicted keypoints and instances.

A threshold keeps what is ``>=`` it. Keypoint confidences live in [0, 1]; instance scores
are not bounded (real results carry scores above 1).
"""

from __future__ import annotations

import math

import numpy as np

from posetable.errors import RunError
from posetable.instances import Keypoints2DInstances


def check_keypoint_threshold(value: float | None) -> float | None:
    """Validate a keypoint-confidence threshold (None, or a number in [0, 1])."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise RunError(f"keypoint_confidence_threshold must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise RunError(f"keypoint_confidence_threshold must be in [0, 1], got {value}")
    return float(value)


def check_instance_threshold(value: float | None) -> float | None:
    """Validate an instance-score threshold (None, or any finite number)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise RunError(f"instance_confidence_threshold must be a finite number, got {value!r}")
    if not math.isfinite(float(value)):
        raise RunError(f"instance_confidence_threshold must be finite, got {value}")
    return float(value)


def keep_instances(predictions: Keypoints2DInstances, threshold: float | None) -> np.ndarray:
    """Boolean mask of the instances whose score is ``>= threshold`` (all when None)."""
    n = len(predictions)
    if threshold is None or predictions.instance_confidences is None:
        return np.ones(n, dtype=bool)
    return np.asarray(predictions.instance_confidences >= threshold)


def keep_keypoints(predictions: Keypoints2DInstances, threshold: float | None) -> np.ndarray:
    """(N, K) mask of the keypoints whose confidence is ``>= threshold`` (all when None)."""
    shape = predictions.keypoints.shape[:2]
    if threshold is None or predictions.keypoint_confidences is None:
        return np.ones(shape, dtype=bool)
    return np.asarray(predictions.keypoint_confidences >= threshold)


def filter_predictions(
    predictions: Keypoints2DInstances,
    *,
    keypoint_confidence_threshold: float | None = None,
    instance_confidence_threshold: float | None = None,
) -> tuple[Keypoints2DInstances, np.ndarray]:
    """Drop instances under the instance threshold; return them and their kept-keypoint mask.

    Example:
        >>> import posetable as pt
        >>> p = pt.Keypoints2DInstances.create_empty(
        ...     image_width=10, image_height=10, include_keypoint_confidences=True,
        ...     include_instance_confidences=True)
        >>> p.add_instance([[1, 1], [2, 2]], confidence=[0.9, 0.2], instance_confidence=0.8)
        >>> p.add_instance([[5, 5], [6, 6]], confidence=[0.9, 0.9], instance_confidence=0.1)
        >>> kept, mask = filter_predictions(p, keypoint_confidence_threshold=0.5,
        ...                                 instance_confidence_threshold=0.5)
        >>> len(kept), mask.tolist()
        (1, [[True, False]])
    """
    kp_thr = check_keypoint_threshold(keypoint_confidence_threshold)
    inst_thr = check_instance_threshold(instance_confidence_threshold)
    kept = predictions.select(keep_instances(predictions, inst_thr))
    return kept, keep_keypoints(kept, kp_thr)
