"""posetable: keypoint and pose-estimation data as versioned tables.

Example:
    >>> import posetable as pt
    >>> pt.Keypoints2DSchema.coco_person().num_keypoints
    17
"""

from posetable import errors
from posetable._coco_constants import COCO_OKS_SIGMAS
from posetable._coco_constants import TLC_COCO_FLIP_INDICES as COCO_FLIP_INDICES
from posetable._coco_constants import TLC_COCO_KEYPOINT_DEFAULT_POSE as COCO_KEYPOINT_DEFAULT_POSE
from posetable._coco_constants import TLC_COCO_KEYPOINT_NAMES as COCO_KEYPOINT_NAMES
from posetable._coco_constants import TLC_COCO_SKELETON as COCO_SKELETON
from posetable._coco_constants import TLC_COCO_SKELETON_COLORS as COCO_SKELETON_COLORS
from posetable._coco_constants import TLC_COCO_SKELETON_NAMES as COCO_SKELETON_NAMES
from posetable.accept import accept_predictions, accept_predictions_plan
from posetable.diagnose.check import check
from posetable.diagnose.error_analysis import diagnose
from posetable.diagnose.result import Diagnosis
from posetable.eval import EvaluationResult, evaluate, evaluate_coco
from posetable.eval.partial import Partial, evaluate_partial, merge_partials
from posetable.eval.keypoint_metrics import KeypointMetrics, keypoint_metrics
from posetable.filtering import filter_predictions
from posetable.formats.yolo import read_yolo_predictions
from posetable.gc import GarbageReport, collect_garbage
from posetable.helper import KeypointHelper
from posetable.instances import Keypoints2DInstances
from posetable.label_errors import find_label_errors
from posetable.map_element import MapElement
from posetable.runs import Run, compare_runs, list_runs
from posetable.schema import Keypoints2DSchema
from posetable.sigmas import SigmaEstimate, estimate_sigmas
from posetable.skeleton import map_keypoints
from posetable.split import split_table
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
    "COCO_SKELETON_NAMES",
    "Diagnosis",
    "EvaluationResult",
    "GarbageReport",
    "KeypointHelper",
    "KeypointMetrics",
    "Keypoints2DInstances",
    "Keypoints2DSchema",
    "MapElement",
    "Partial",
    "RevisionInfo",
    "Run",
    "SigmaEstimate",
    "Store",
    "Table",
    "TableWriter",
    "accept_predictions",
    "accept_predictions_plan",
    "check",
    "collect_garbage",
    "compare_runs",
    "diagnose",
    "errors",
    "estimate_sigmas",
    "evaluate",
    "evaluate_coco",
    "evaluate_partial",
    "filter_predictions",
    "find_label_errors",
    "keypoint_metrics",
    "list_runs",
    "list_tables",
    "map_keypoints",
    "merge_partials",
    "read_yolo_predictions",
    "split_table",
]
