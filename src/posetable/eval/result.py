"""``EvaluationResult``: the frozen value ``pt.evaluate`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import missing_extra

if TYPE_CHECKING:
    import pandas
    import pyarrow as pa
    from matplotlib.figure import Figure

    from posetable.eval._data import EvalInput
    from posetable.eval._details import _Pairs
    from posetable.eval._engine import Matches, Params
    from posetable.eval.keypoint_metrics import KeypointMetrics

STAT_NAMES = (
    "ap",
    "ap50",
    "ap75",
    "ap_medium",
    "ap_large",
    "ar",
    "ar50",
    "ar75",
    "ar_medium",
    "ar_large",
)
_LINES = (
    ("Average Precision", "(AP)", "0.50:0.95", "all"),
    ("Average Precision", "(AP)", "0.50", "all"),
    ("Average Precision", "(AP)", "0.75", "all"),
    ("Average Precision", "(AP)", "0.50:0.95", "medium"),
    ("Average Precision", "(AP)", "0.50:0.95", "large"),
    ("Average Recall", "(AR)", "0.50:0.95", "all"),
    ("Average Recall", "(AR)", "0.50", "all"),
    ("Average Recall", "(AR)", "0.75", "all"),
    ("Average Recall", "(AR)", "0.50:0.95", "medium"),
    ("Average Recall", "(AR)", "0.50:0.95", "large"),
)


@dataclass(frozen=True)
class _Details:
    """What the per-sample / per-instance tables are built from (kept, not shown)."""

    inputs: EvalInput
    matches: Matches
    params: Params
    source: tuple[Any, Any] | None = None  # (ground truth, predictions) as given to evaluate
    cache: dict[Any, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationResult:
    """COCO keypoint evaluation results, equal to pycocotools' numbers.

    Attributes:
        stats: the 10 stats in pycocotools' order (AP, AP50, AP75, APm, APl, AR, AR50,
            AR75, ARm, ARl); also named ``ap`` ... ``ar_large``.
        precision: (T, R, C, A, M) as pycocotools' ``eval["precision"]`` (-1: no ground truth).
        recall: (T, C, A, M) as pycocotools' ``eval["recall"]``.
        scores: (T, R, C, A, M) as pycocotools' ``eval["scores"]``.
        oks_thresholds: (T,) 0.50 ... 0.95.
        recall_thresholds: (R,) 0.00 ... 1.00.
        sigmas: (K,) the OKS sigmas used.
        category_ids: (C,) category ids in the order of the C axis.

    Example:
        >>> import json, pathlib, tempfile
        >>> import posetable as pt
        >>> from posetable.sample import sample_annotations
        >>> coco = json.loads(sample_annotations().read_text())
        >>> results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
        ...             "score": 0.9} for a in coco["annotations"] if a["num_keypoints"] > 0]
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.json"
        >>> _ = path.write_text(json.dumps(results))
        >>> result = pt.evaluate_coco(sample_annotations(), path)
        >>> result.ap, result.per_sample.num_rows
        (1.0, 4)
        >>> print(str(result).splitlines()[0])
         Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000
        >>> result.sigmas_source, result.summary().splitlines()[-1]
        ('COCO', ' OKS sigmas: COCO (K=17)')
    """

    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    oks_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    sigmas: np.ndarray
    category_ids: np.ndarray
    _details: _Details | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("stats", "precision", "recall", "scores", "oks_thresholds",
                     "recall_thresholds", "sigmas", "category_ids"):  # fmt: skip
            value = np.array(getattr(self, name))  # a private copy, then frozen like the result
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    # -- the 10 stats ------------------------------------------------------------------------
    @property
    def ap(self) -> float:
        """AP @ OKS 0.50:0.95, all areas."""
        return float(self.stats[0])

    @property
    def ap50(self) -> float:
        """AP @ OKS 0.50."""
        return float(self.stats[1])

    @property
    def ap75(self) -> float:
        """AP @ OKS 0.75."""
        return float(self.stats[2])

    @property
    def ap_medium(self) -> float:
        """AP for medium objects (32^2 <= area <= 96^2)."""
        return float(self.stats[3])

    @property
    def ap_large(self) -> float:
        """AP for large objects (area >= 96^2)."""
        return float(self.stats[4])

    @property
    def ar(self) -> float:
        """AR @ OKS 0.50:0.95, all areas, 20 detections per image."""
        return float(self.stats[5])

    @property
    def ar50(self) -> float:
        """AR @ OKS 0.50."""
        return float(self.stats[6])

    @property
    def ar75(self) -> float:
        """AR @ OKS 0.75."""
        return float(self.stats[7])

    @property
    def ar_medium(self) -> float:
        """AR for medium objects."""
        return float(self.stats[8])

    @property
    def ar_large(self) -> float:
        """AR for large objects."""
        return float(self.stats[9])

    def to_dict(self) -> dict[str, Any]:
        """The 10 stats by name plus the sigmas, JSON-ready.

        Example:
            ``json.dumps(result.to_dict())``
        """
        out: dict[str, Any] = {
            name: float(v) for name, v in zip(STAT_NAMES, self.stats, strict=True)
        }
        out["sigmas"] = [float(s) for s in self.sigmas]
        out["sigmas_source"] = self.sigmas_source
        return out

    @cached_property
    def sigmas_source(self) -> str:
        """Where the OKS sigmas of these metrics came from: the table's recorded source
        (``COCO``, ``uniform 1/K``, ``estimated from <refs>``, ``user``) when the ground truth
        was a table evaluated with its own sigmas, else what the values are (``COCO``,
        ``uniform 1/K`` or ``user``).
        """
        from posetable.schema import Keypoints2DSchema, sigmas_source_of

        details = self._details
        gt = details.source[0] if details is not None and details.source is not None else None
        schema = getattr(gt, "schema", None)
        if isinstance(schema, Keypoints2DSchema) and np.array_equal(schema.sigmas, self.sigmas):
            return schema.oks_sigmas_source
        return sigmas_source_of(self.sigmas)

    def summary(self) -> str:
        """pycocotools' 10 summary lines (``str(result)``) and a line naming the OKS sigmas.

        Example:
            ``print(result.summary())``
        """
        k = len(self.sigmas)
        return f"{self}\n OKS sigmas: {self.sigmas_source} (K={k})"

    def __repr__(self) -> str:
        return (
            f"EvaluationResult(ap={self.ap:.4f}, ap50={self.ap50:.4f}, ar={self.ar:.4f}, "
            f"K={len(self.sigmas)}, sigmas_source={self.sigmas_source!r})"
        )

    def __str__(self) -> str:
        lines = []
        for (title, kind, oks, area), value in zip(_LINES, self.stats, strict=True):
            lines.append(
                f" {title:<18} {kind} @[ IoU={oks:<9} | area={area:>6s} | maxDets={20:>3d} ] "
                f"= {value:0.3f}"
            )
        return "\n".join(lines)

    # -- tables ----------------------------------------------------------------------------
    @cached_property
    def per_sample(self) -> pa.Table:
        """One row per image: ``row``, ``image_id``, ``num_gt`` (non-ignored),
        ``num_gt_ignored``, ``num_pred``, ``tp_50``, ``fp_50``, ``fn_50``, ``tp_75``,
        ``fp_75``, ``fn_75``, ``mean_oks`` (mean OKS of the true positives at .50, null when
        none) and ``ap`` (AP[.5:.95] of the image alone; null without non-ignored ground
        truth). Counts use area "all" and the evaluated top-20 predictions per image.
        """
        from posetable.eval._details import per_sample

        details = self._require_details()
        table = per_sample(details.inputs, details.matches, details.params, self._pairs())
        if "per_instance" in self.__dict__:  # both tables built: the pairs are not needed again
            details.cache.pop("pairs", None)
        return table

    @cached_property
    def per_instance(self) -> pa.Table:
        """One row per ground truth (``kind == "gt"``) and per prediction (``"pred"``).

        Columns: ``row``, ``kind``, ``index`` (within the row, as given), ``category``
        (label), ``score`` (null for gt), ``partner`` (index of the match in the other set at
        OKS .50, -1 if none), ``oks`` (with the partner; unmatched: best OKS with any
        instance of the other set, null if none), ``ignored``, ``tp`` (one bool per OKS
        threshold; for gt: found), ``keypoint_errors`` (per keypoint: distance to the
        partner / sqrt(area); null where not labeled, the whole list null without partner).
        Predictions past the top 20 of their image are listed as ignored and never matched.
        """
        from posetable.eval._details import per_instance

        details = self._require_details()
        table = per_instance(details.inputs, details.matches, details.params, self._pairs())
        if "per_sample" in self.__dict__:  # both tables built: the pairs are not needed again
            details.cache.pop("pairs", None)
        return table

    def per_sample_df(self) -> pandas.DataFrame:
        """``per_sample`` as a pandas DataFrame (needs pandas)."""
        _require_pandas()
        return self.per_sample.to_pandas()

    def per_instance_df(self) -> pandas.DataFrame:
        """``per_instance`` as a pandas DataFrame (needs pandas)."""
        _require_pandas()
        return self.per_instance.to_pandas()

    def _pairs(self) -> _Pairs:
        """The evaluation's pairs with their OKS, computed once for both metric tables."""
        from posetable.eval._details import _Pairs

        details = self._require_details()
        if "pairs" not in details.cache:
            details.cache["pairs"] = _Pairs(details.inputs, details.matches)
        return details.cache["pairs"]

    def _require_details(self) -> _Details:
        if self._details is None:
            raise ValueError("this result carries no per-instance data (it was rebuilt from stats)")
        return self._details

    def keypoint_metrics(
        self, *, pck_thresholds: Any = (0.05, 0.1, 0.2), bins: int = 10
    ) -> KeypointMetrics:
        """Per-keypoint OKS-AP, mean similarity and PCK (all, v=1, v=2) and calibration of
        keypoint confidences and instance scores, computed on first call from this
        evaluation's matches (the 10 stats never depend on it); see
        :func:`posetable.keypoint_metrics`. Visibility and keypoint confidences come from
        the evaluated sources where they carry them.

        Example:
            ``result.keypoint_metrics().per_keypoint.to_pandas()``
        """
        from posetable.eval.keypoint_metrics import check_thresholds, from_result

        details = self._require_details()
        key = (check_thresholds(pck_thresholds), bins)
        if key not in details.cache:
            gt, predictions = details.source if details.source is not None else (None, None)
            details.cache[key] = from_result(
                self, gt, predictions, pck_thresholds=key[0], bins=bins
            )
        return details.cache[key]

    # -- plots -----------------------------------------------------------------------------
    def plot_pr(self, *, area: str = "all", ax: Any = None) -> Figure:
        """Precision-recall curves, one per OKS threshold (needs matplotlib: ``posetable[plot]``).

        Example:
            ``result.plot_pr().savefig("pr.png")``
        """
        from posetable.eval.plot import plot_pr

        return plot_pr(self, area=area, ax=ax)


def _require_pandas() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise missing_extra("pandas", "dev") from exc
