"""posetable: keypoint and pose-estimation data as versioned tables.

``import posetable`` is cheap: each public name is imported from its module on first use
(PEP 562), so evaluating two COCO files never loads Lance, and a script that only reads
tables never loads the evaluation engine.

Example:
    >>> import posetable as pt
    >>> pt.Keypoints2DSchema.coco_person().num_keypoints
    17
"""

from __future__ import annotations

import importlib
import sys
import types
import typing
from typing import Any

from posetable import errors
from posetable._coco_constants import COCO_OKS_SIGMAS
from posetable._coco_constants import TLC_COCO_FLIP_INDICES as COCO_FLIP_INDICES
from posetable._coco_constants import TLC_COCO_KEYPOINT_DEFAULT_POSE as COCO_KEYPOINT_DEFAULT_POSE
from posetable._coco_constants import TLC_COCO_KEYPOINT_NAMES as COCO_KEYPOINT_NAMES
from posetable._coco_constants import TLC_COCO_SKELETON as COCO_SKELETON
from posetable._coco_constants import TLC_COCO_SKELETON_COLORS as COCO_SKELETON_COLORS
from posetable._coco_constants import TLC_COCO_SKELETON_NAMES as COCO_SKELETON_NAMES

if typing.TYPE_CHECKING:
    from posetable.accept import accept_predictions, accept_predictions_plan
    from posetable.diagnose.check import check
    from posetable.diagnose.error_analysis import diagnose
    from posetable.diagnose.result import Diagnosis
    from posetable.eval.api import evaluate, evaluate_coco
    from posetable.eval.keypoint_metrics import KeypointMetrics, keypoint_metrics
    from posetable.eval.partial import Partial, evaluate_partial, merge_partials
    from posetable.eval.result import EvaluationResult
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

# public name -> the module that defines it (imported on first access)
_LAZY = {
    "Diagnosis": "posetable.diagnose.result",
    "EvaluationResult": "posetable.eval.result",
    "GarbageReport": "posetable.gc",
    "KeypointHelper": "posetable.helper",
    "KeypointMetrics": "posetable.eval.keypoint_metrics",
    "Keypoints2DInstances": "posetable.instances",
    "Keypoints2DSchema": "posetable.schema",
    "MapElement": "posetable.map_element",
    "Partial": "posetable.eval.partial",
    "RevisionInfo": "posetable.store",
    "Run": "posetable.runs",
    "SigmaEstimate": "posetable.sigmas",
    "Store": "posetable.store",
    "Table": "posetable.table",
    "TableWriter": "posetable.writer",
    "accept_predictions": "posetable.accept",
    "accept_predictions_plan": "posetable.accept",
    "check": "posetable.diagnose.check",
    "collect_garbage": "posetable.gc",
    "compare_runs": "posetable.runs",
    "diagnose": "posetable.diagnose.error_analysis",
    "estimate_sigmas": "posetable.sigmas",
    "evaluate": "posetable.eval.api",
    "evaluate_coco": "posetable.eval.api",
    "evaluate_partial": "posetable.eval.partial",
    "filter_predictions": "posetable.filtering",
    "find_label_errors": "posetable.label_errors",
    "keypoint_metrics": "posetable.eval.keypoint_metrics",
    "list_runs": "posetable.runs",
    "list_tables": "posetable.table",
    "map_keypoints": "posetable.skeleton",
    "merge_partials": "posetable.eval.partial",
    "read_yolo_predictions": "posetable.formats.yolo",
    "split_table": "posetable.split",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access (then it is a plain global)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'posetable' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """``pt.diagnose`` is the function, as it was when the package imported it eagerly: the
    import system binds the subpackage ``posetable.diagnose`` onto this module when it is
    first imported, which would otherwise hide the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "diagnose" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
