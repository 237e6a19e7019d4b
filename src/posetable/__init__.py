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
from posetable.accept import accept_predictions, accept_predictions_plan
from posetable.eval import EvaluationResult, evaluate, evaluate_coco
from posetable.filtering import filter_predictions
from posetable.formats.yolo import read_yolo_predictions
from posetable.helper import KeypointHelper
from posetable.instances import Keypoints2DInstances
from posetable.label_errors import find_label_errors
from posetable.runs import Run, compare_runs, list_runs
from posetable.schema import Keypoints2DSchema
from posetable.store import RevisionInfo, Store
from posetable.table import Table, list_tables
from posetable.writer import TableWriter

__all__ = [
    "COCO_FLIP_INDICES",
    "COCO_KEYPOINT_DEFAULT_POSE",
    "COCO_KEYPOINT_NAMES",
    "COCO_OKS_SIGMAS",
    "COCO_SKELETON",
    "COCO_SKELETON_COLORS",
    "EvaluationResult",
    "KeypointHelper",
    "Keypoints2DInstances",
    "Keypoints2DSchema",
    "RevisionInfo",
    "Run",
    "Store",
    "Table",
    "TableWriter",
    "accept_predictions",
    "accept_predictions_plan",
    "compare_runs",
    "errors",
    "evaluate",
    "evaluate_coco",
    "filter_predictions",
    "find_label_errors",
    "list_runs",
    "list_tables",
    "read_yolo_predictions",
]
