"""posetable: keypoint and pose-estimation data as versioned tables.

Example:
    >>> import posetable as pt
    >>> pt.Keypoints2DSchema.coco_person().num_keypoints
    17
"""

from posetable import errors
from posetable._coco_constants import (
    COCO_FLIP_INDICES,
    COCO_KEYPOINT_DEFAULT_POSE,
    COCO_KEYPOINT_NAMES,
    COCO_OKS_SIGMAS,
    COCO_SKELETON,
    COCO_SKELETON_COLORS,
)
from posetable.helper import KeypointHelper
from posetable.instances import Keypoints2DInstances
from posetable.schema import Keypoints2DSchema
from posetable.store import RevisionInfo, Store
from posetable.table import Table, list_tables

__all__ = [
    "COCO_FLIP_INDICES",
    "COCO_KEYPOINT_DEFAULT_POSE",
    "COCO_KEYPOINT_NAMES",
    "COCO_OKS_SIGMAS",
    "COCO_SKELETON",
    "COCO_SKELETON_COLORS",
    "KeypointHelper",
    "Keypoints2DInstances",
    "Keypoints2DSchema",
    "RevisionInfo",
    "Store",
    "Table",
    "errors",
    "list_tables",
]
