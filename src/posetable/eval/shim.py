"""A pycocotools-shaped ``COCOeval`` for drop-in use in existing scripts.

    from posetable.eval import COCOeval          # instead of pycocotools.cocoeval
    E = COCOeval("gt.json", "results.json", "keypoints")   # paths, or pycocotools COCO objects
    E.params.kpt_oks_sigmas = sigmas              # optional, as in pycocotools
    E.evaluate(); E.accumulate(); E.summarize()
    E.stats                                       # the same 10 numbers as pycocotools

Only the keypoint evaluation with pycocotools' default parameters is supported (custom
``iouThrs``, ``recThrs``, ``areaRng`` and ``maxDets`` are honoured; ``useCats=0`` is not).
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
from posetable.errors import PosetableError
from posetable.eval import _engine
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

    def evaluate(self) -> None:
        """Read both sides and match (pycocotools' ``evaluate``)."""
        from posetable.eval.api import _prepare_files

        p = self.params
        if not p.useCats:
            raise PosetableError(
                "useCats=0 is not supported for keypoints (pycocotools breaks on it too)"
            )
        with tempfile.TemporaryDirectory() as tmp:
            gt_path = _as_file(self.cocoGt, Path(tmp) / "gt.json", results=False)
            dt_path = _as_file(self.cocoDt, Path(tmp) / "dt.json", results=True)
            inputs = _prepare_files(
                gt_path, dt_path, sigmas=np.asarray(p.kpt_oks_sigmas, dtype=float)
            )
        if p.imgIds or p.catIds:
            inputs = _restrict(inputs, p.imgIds, p.catIds)
        self._params = _engine.Params(
            oks_thresholds=np.asarray(p.iouThrs, dtype=float),
            recall_thresholds=np.asarray(p.recThrs, dtype=float),
            area_ranges=np.asarray(p.areaRng, dtype=float),
            max_dets=tuple(sorted(int(m) for m in p.maxDets)),
        )
        self._inputs = inputs
        self._matched = _engine.match(inputs, self._params)

    def accumulate(self) -> None:
        """Precision / recall arrays (pycocotools' ``accumulate``)."""
        if self._matched is None:
            raise PosetableError("Please run evaluate() first")
        acc = _engine.accumulate(self._inputs, self._matched, self._params)
        self.eval = {
            "params": self.params,
            "counts": list(acc.precision.shape),
            "precision": acc.precision,
            "recall": acc.recall,
            "scores": acc.scores,
        }
        from posetable.eval.result import _Details

        self.result = EvaluationResult(
            stats=_engine.summarize(acc, self._params),
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
    if isinstance(source, list):  # a results list, as pycocotools' loadRes accepts
        target.write_bytes(orjson.dumps(source, option=orjson.OPT_SERIALIZE_NUMPY))
        return target
    dataset = getattr(source, "dataset", None)
    if isinstance(dataset, dict):
        data: Any = dataset.get("annotations", []) if results else dataset
        target.write_bytes(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))
        return target
    raise PosetableError(
        f"cocoGt / cocoDt must be a path or a pycocotools COCO object, got {type(source).__name__}"
    )


def _restrict(inputs: Any, img_ids: list[Any], cat_ids: list[Any]) -> Any:
    """Keep only the given image / category ids (pycocotools' ``params.imgIds`` / ``catIds``)."""
    from dataclasses import replace

    from posetable.eval._data import EvalInput

    keep_img = np.ones(inputs.num_images, bool)
    if img_ids:
        keep_img = np.isin(inputs.image_ids, np.unique(np.asarray(img_ids)))
    keep_cat = np.ones(inputs.num_categories, bool)
    if cat_ids:
        keep_cat = np.isin(inputs.category_ids, np.unique(np.asarray(cat_ids)))
    img_map = np.cumsum(keep_img) - 1
    cat_map = np.cumsum(keep_cat) - 1
    gt, dt = inputs.gt, inputs.dt
    g = keep_img[gt.image] & keep_cat[gt.category]
    d = keep_img[dt.image] & keep_cat[dt.category]
    gt2 = type(gt)(**{f: getattr(gt, f)[g] for f in gt.__dataclass_fields__})
    dt2 = type(dt)(**{f: getattr(dt, f)[d] for f in dt.__dataclass_fields__})
    gt2 = replace(gt2, image=img_map[gt2.image], category=cat_map[gt2.category])
    dt2 = replace(dt2, image=img_map[dt2.image], category=cat_map[dt2.category])
    return EvalInput(
        gt=gt2,
        dt=dt2,
        image_ids=inputs.image_ids[keep_img],
        rows=inputs.rows[keep_img],
        category_ids=inputs.category_ids[keep_cat],
        category_labels=inputs.category_labels[keep_cat],
        sigmas=inputs.sigmas,
    )
