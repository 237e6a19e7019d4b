"""A pycocotools-shaped ``COCOeval`` for drop-in use in existing scripts.

    from posetable.eval import COCOeval          # instead of pycocotools.cocoeval
    E = COCOeval("gt.json", "results.json", "keypoints")   # paths, or pycocotools COCO objects
    E.params.kpt_oks_sigmas = sigmas              # optional, as in pycocotools
    E.evaluate(); E.accumulate(); E.summarize()
    E.stats                                       # the same 10 numbers as pycocotools

Only the keypoint evaluation is supported. Custom ``iouThrs``, ``recThrs``, ``areaRng``
(with ``areaRngLbl``), ``maxDets``, ``imgIds`` and ``catIds`` give pycocotools' answer,
odd ones included: unsorted or duplicate thresholds, thresholds outside [0, 1], an area
range with lo > hi, ``maxDets`` of any order (the last caps each image, as in
pycocotools), unknown or empty ``imgIds`` / ``catIds`` (-1 where nothing is left). Where
pycocotools crashes or answers by accident, an :class:`~posetable.errors.EvaluationError`
names the parameter: empty ``iouThrs`` (pycocotools fails in ``summarize``), NaN or
infinite values, empty, negative or fractional ``maxDets``, ``areaRng`` that is not pairs,
more ``areaRngLbl`` than ``areaRng``, and ``useCats=0`` (pycocotools' ``computeOks``
ignores it and answers 0 everywhere).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from posetable._coco_constants import COCO_OKS_SIGMAS
from posetable.errors import EvaluationError, FormatError, PosetableError
from posetable.eval import _engine
from posetable.eval._io import CocoGroundTruth, positions, read_ground_truth
from posetable.eval.result import EvaluationResult

logger = logging.getLogger(__name__)


class Params:
    """pycocotools' keypoint ``Params`` (``setKpParams``)."""

    def __init__(self, iouType: str = "keypoints") -> None:
        if iouType != "keypoints":
            raise PosetableError(
                f"posetable's COCOeval evaluates keypoints only, got iouType={iouType!r}"
            )
        self.iouType = iouType
        self.imgIds: list[Any] = []
        self.catIds: list[Any] = []
        self.iouThrs = _engine.OKS_THRESHOLDS.copy()
        self.recThrs = _engine.RECALL_THRESHOLDS.copy()
        self.maxDets = list(_engine.MAX_DETS)
        self.areaRng = _engine.AREA_RANGES.tolist()
        self.areaRngLbl = list(_engine.AREA_LABELS)
        self.useCats = 1
        self.kpt_oks_sigmas = np.array(COCO_OKS_SIGMAS)


class COCOeval:
    """pycocotools' ``COCOeval`` for keypoints, backed by posetable's engine.

    ``cocoGt`` / ``cocoDt`` may be file paths or pycocotools ``COCO`` objects (their
    ``dataset`` is used). ``summarize()`` prints the familiar table and fills ``stats``;
    ``eval`` holds ``precision``, ``recall`` and ``scores`` as pycocotools does; ``result``
    is the :class:`EvaluationResult`.

    Example:
        >>> import json
        >>> from posetable.eval import COCOeval
        >>> from posetable.sample import sample_annotations
        >>> coco = json.loads(sample_annotations().read_text())
        >>> results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
        ...             "score": 0.9} for a in coco["annotations"] if a["num_keypoints"] > 0]
        >>> E = COCOeval(str(sample_annotations()), results, "keypoints")
        >>> E.evaluate(); E.accumulate(); E.summarize()  # doctest: +ELLIPSIS
         Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000
        ...
        >>> float(E.stats[0])
        1.0
    """

    def __init__(self, cocoGt: Any = None, cocoDt: Any = None, iouType: str = "keypoints") -> None:
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.params = Params(iouType)
        self.eval: dict[str, Any] = {}
        self.stats: np.ndarray = np.zeros(0)
        self.result: EvaluationResult | None = None
        self._matched: Any = None
        self._gt: tuple[Any, CocoGroundTruth] | None = None
        if cocoGt is not None:  # as pycocotools: every image and category id of the GT
            self.params.imgIds, self.params.catIds = self._gt_ids(cocoGt)

    def _gt_ids(self, source: Any) -> tuple[list[Any], list[Any]]:
        if isinstance(source, (str, os.PathLike)):
            gt = read_ground_truth(source)
            self._gt = (source, gt)
            return gt.image_ids.tolist(), gt.category_ids.tolist()
        if hasattr(source, "getImgIds") and hasattr(source, "getCatIds"):
            return sorted(source.getImgIds()), sorted(source.getCatIds())
        dataset = getattr(source, "dataset", None)
        if isinstance(dataset, dict):
            images, cats = dataset.get("images") or [], dataset.get("categories") or []
            return (
                sorted({i["id"] for i in images if isinstance(i, dict) and "id" in i}),
                sorted({c["id"] for c in cats if isinstance(c, dict) and "id" in c}),
            )
        return [], []

    def evaluate(self) -> None:
        """Read both sides and match (pycocotools' ``evaluate``).

        Raises:
            EvaluationError: a parameter pycocotools would crash on or answer by accident
                (see the module docstring), naming it and its value.
        """
        from posetable.eval.api import _prepare_files

        p = self.params
        if not p.useCats:
            raise EvaluationError(
                "params.useCats=0 is not supported for keypoints (pycocotools' computeOks "
                "ignores it and answers 0 for every stat); keep useCats=1"
            )
        engine_params, max_dets = _engine_params(p)
        with tempfile.TemporaryDirectory() as tmp:
            gt_path = _as_file(self.cocoGt, Path(tmp) / "gt.json", results=False)
            dt_path = _as_file(self.cocoDt, Path(tmp) / "dt.json", results=True)
            ready = self._gt[1] if self._gt is not None and self._gt[0] is self.cocoGt else None
            inputs = _prepare_files(
                gt_path,
                dt_path,
                sigmas=np.asarray(p.kpt_oks_sigmas, dtype=float),
                ground_truth=ready,
            )
        inputs = _restrict(inputs, p.imgIds, p.catIds)
        # pycocotools leaves these in params after evaluate: unique ids, sorted maxDets
        p.imgIds, p.catIds = _unique_ids(p.imgIds).tolist(), _unique_ids(p.catIds).tolist()
        p.maxDets = list(max_dets)
        self._params = engine_params
        self._inputs = inputs
        self._matched = _engine.match(inputs, self._params)

    def accumulate(self) -> None:
        """Precision / recall arrays (pycocotools' ``accumulate``)."""
        if self._matched is None:
            raise PosetableError("Please run evaluate() first")
        acc = _unsorted_recall_thresholds(
            _engine.accumulate(self._inputs, self._matched, self._params), self._params
        )
        self.eval = {
            "params": self.params,
            "counts": list(acc.precision.shape),
            "precision": acc.precision,
            "recall": acc.recall,
            "scores": acc.scores,
        }
        from posetable.eval.result import _Details

        labels = [str(label) for label in self.params.areaRngLbl]
        if len(labels) > self._params.area_ranges.shape[0]:
            raise EvaluationError(
                f"params.areaRngLbl names {len(labels)} area ranges but params.areaRng has "
                f"{self._params.area_ranges.shape[0]} (pycocotools fails in summarize); give "
                "one label per range"
            )
        self.result = EvaluationResult(
            stats=_engine.summarize(acc, self._params, area_labels=labels),
            precision=acc.precision,
            recall=acc.recall,
            scores=acc.scores,
            oks_thresholds=self._params.oks_thresholds,
            recall_thresholds=self._params.recall_thresholds,
            sigmas=self._inputs.sigmas,
            category_ids=self._inputs.category_ids,
            _details=_Details(self._inputs, self._matched, self._params),
        )

    def summarize(self) -> None:
        """Print the summary and set ``stats`` (pycocotools' ``summarize``)."""
        if self.result is None:
            raise PosetableError("Please run accumulate() first")
        self.stats = self.result.stats.copy()
        print(str(self.result))


def _as_file(source: Any, target: Path, *, results: bool) -> Path:
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    data: Any = None
    if isinstance(source, list):  # a results list, as pycocotools' loadRes accepts
        data = source
    elif isinstance(getattr(source, "dataset", None), dict):
        data = source.dataset.get("annotations", []) if results else source.dataset
    else:
        raise PosetableError(
            "cocoGt / cocoDt must be a path or a pycocotools COCO object, got "
            f"{type(source).__name__}"
        )
    try:
        target.write_bytes(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))
    except (orjson.JSONEncodeError, TypeError) as exc:  # a value JSON cannot hold, or too deep
        side = "cocoDt" if results else "cocoGt"
        raise FormatError(f"{side} cannot be read as COCO JSON: {exc}") from None
    return target


def _numbers(value: Any, name: str, *, empty: bool) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise EvaluationError(
            f"params.{name} must be a list of numbers, got {value!r}"[:200]
        ) from None
    if array.ndim != 1:
        raise EvaluationError(
            f"params.{name} must be a flat list of numbers, got shape {array.shape}"
        )
    if not empty and array.shape[0] == 0:
        raise EvaluationError(
            f"params.{name} is empty (pycocotools fails in summarize); give at least one threshold"
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        i = int(bad[0])
        raise EvaluationError(f"params.{name} must be finite, got {float(array[i])!r} at index {i}")
    return array


def _engine_params(p: Params) -> tuple[_engine.Params, list[int]]:
    """The engine's parameters for ``p``, and ``maxDets`` sorted (as pycocotools sorts it
    in ``evaluate``; the largest caps the predictions evaluated per image)."""
    iou = _numbers(p.iouThrs, "iouThrs", empty=False)
    rec = _numbers(p.recThrs, "recThrs", empty=True)
    try:
        area = np.asarray(p.areaRng, dtype=np.float64)
    except (TypeError, ValueError):
        area = np.zeros((0, 0))
    if area.ndim != 2 or area.shape[1] != 2:
        raise EvaluationError(f"params.areaRng must be [lo, hi] pairs, got {p.areaRng!r}"[:200])
    bad = np.argwhere(~np.isfinite(area))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise EvaluationError(
            f"params.areaRng must be finite, got {float(area[i, j])!r} in areaRng[{i}] "
            "(use a large number such as 1e10 for no upper limit)"
        )
    raw = list(p.maxDets) if isinstance(p.maxDets, (list, tuple, np.ndarray)) else None
    if not raw:
        raise EvaluationError(
            f"params.maxDets must be a non-empty list of counts (pycocotools fails on an "
            f"empty one), got {p.maxDets!r}"[:200]
        )
    max_dets = []
    for i, m in enumerate(raw):
        if isinstance(m, (bool, np.bool_)) or not isinstance(m, (int, np.integer)) or m < 0:
            raise EvaluationError(
                f"params.maxDets[{i}] must be a whole number >= 0, got {m!r} (pycocotools would "
                "slice predictions with it)"
            )
        max_dets.append(int(m))
    max_dets.sort()
    params = _engine.Params(
        oks_thresholds=iou, recall_thresholds=rec, area_ranges=area, max_dets=tuple(max_dets)
    )
    return params, max_dets


def _unsorted_recall_thresholds(acc: Any, params: _engine.Params) -> Any:
    """pycocotools' sampling for ``recThrs`` that are not ascending.

    pycocotools fills the precision of each recall threshold in the order given and stops
    at the first one past the final recall (an IndexError it swallows), leaving 0 for every
    later threshold; for ascending thresholds that is the engine's "0 past the final
    recall". Here the cells after the first unreachable threshold are zeroed too.
    """
    rec = params.recall_thresholds
    if rec.shape[0] < 2 or np.all(np.diff(rec) >= 0):
        return acc
    filled = acc.recall > -1  # (T, K, A, M)
    reachable = rec[None, None, None, None, :] <= acc.recall[..., None]  # (T, K, A, M, R)
    kept = np.logical_and.accumulate(reachable, axis=-1) & filled[..., None]
    kept = np.moveaxis(kept, -1, 1)  # (T, R, K, A, M)
    filled_p = np.moveaxis(np.broadcast_to(filled[..., None], reachable.shape), -1, 1)
    precision = np.where(filled_p & ~kept, 0.0, acc.precision)
    scores = np.where(filled_p & ~kept, 0.0, acc.scores)
    return type(acc)(precision=precision, recall=acc.recall, scores=scores)


def _unique_ids(ids: Any) -> np.ndarray:
    values = list(ids) if isinstance(ids, (list, tuple, np.ndarray)) else [ids]
    if not values:
        return np.zeros(0, np.int64)
    try:
        return np.unique(np.asarray(values))
    except TypeError as exc:  # ids of several types
        raise EvaluationError(f"params ids mix types: {values[:5]!r}") from exc


def _restrict(inputs: Any, img_ids: Any, cat_ids: Any) -> Any:
    """Evaluate the given image / category ids (pycocotools' ``params.imgIds`` / ``catIds``).

    As in pycocotools: ids are made unique and sorted; an image id the ground truth lacks
    adds nothing; the category axis is the given ids, so an unknown category id is a
    column of -1 and empty ``imgIds`` or ``catIds`` leave nothing to evaluate (-1).
    """
    from dataclasses import replace

    from posetable.eval._data import EvalInput

    want_img, want_cat = _unique_ids(img_ids), _unique_ids(cat_ids)
    same_img = want_img.shape == inputs.image_ids.shape and bool(
        np.all(want_img == inputs.image_ids)
    )
    same_cat = want_cat.shape == inputs.category_ids.shape and bool(
        np.all(want_cat == inputs.category_ids)
    )
    if same_img and same_cat:
        return inputs
    keep_img = positions(inputs.image_ids, want_img) >= 0
    cat_position = positions(inputs.category_ids, want_cat)  # position on the new axis
    keep_cat = cat_position >= 0
    img_map = np.cumsum(keep_img) - 1
    gt, dt = inputs.gt, inputs.dt
    g = keep_img[gt.image] & keep_cat[gt.category]
    d = keep_img[dt.image] & keep_cat[dt.category]
    gt2 = type(gt)(**{f: getattr(gt, f)[g] for f in gt.__dataclass_fields__})
    dt2 = type(dt)(**{f: getattr(dt, f)[d] for f in dt.__dataclass_fields__})
    gt2 = replace(gt2, image=img_map[gt2.image], category=cat_position[gt2.category])
    dt2 = replace(dt2, image=img_map[dt2.image], category=cat_position[dt2.category])
    labels = np.full(want_cat.shape[0], -1, np.int64)
    labels[cat_position[keep_cat]] = inputs.category_labels[keep_cat]
    return EvalInput(
        gt=gt2,
        dt=dt2,
        image_ids=inputs.image_ids[keep_img],
        rows=inputs.rows[keep_img],
        category_ids=want_cat if want_cat.shape[0] else inputs.category_ids[:0],
        category_labels=labels,
        sigmas=inputs.sigmas,
    )
