"""COCO keypoint evaluation: pycocotools' exact numbers, vectorised, with per-instance metrics.

Example:
    >>> import posetable as pt
    >>> from posetable.eval import evaluate, evaluate_coco, EvaluationResult, COCOeval
    >>> evaluate is pt.evaluate
    True
"""

from posetable.eval._memory import EvaluationMemoryError
from posetable.eval.api import evaluate, evaluate_coco, read_coco_results
from posetable.eval.oks import oks_matrix, oks_pairs
from posetable.eval.partial import (
    Partial,
    PartialCoverageError,
    PartialError,
    PartialMismatchError,
    evaluate_partial,
    merge_partials,
)
from posetable.eval.result import EvaluationResult
from posetable.eval.shim import COCOeval

__all__ = [
    "COCOeval",
    "EvaluationMemoryError",
    "EvaluationResult",
    "Partial",
    "PartialCoverageError",
    "PartialError",
    "PartialMismatchError",
    "evaluate",
    "evaluate_coco",
    "evaluate_partial",
    "merge_partials",
    "oks_matrix",
    "oks_pairs",
    "read_coco_results",
]
