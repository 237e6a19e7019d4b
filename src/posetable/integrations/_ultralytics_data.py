"""Ultralytics classes that read posetable tables (imported only with ultralytics installed).

* :class:`TableYOLODataset`: Ultralytics' own ``YOLODataset`` (so mosaic, flips with
  ``flip_idx``, letterboxing and collation are Ultralytics' code) whose image list and labels
  come from a table revision instead of a folder of label files.
* :func:`trainer_class` / :func:`validator_class`: ``PoseTrainer`` / ``PoseValidator``
  subclasses that build that dataset, take the data dict (``kpt_shape``, ``flip_idx``,
  ``kpt_names``, ``kpt_oks_sigmas``) from the table, optionally train with other loss
  sigmas, and capture every image's predictions in the table's pixel frame.
* :func:`table_datasets`: Ultralytics' stand-alone validation resolves ``data`` through
  ``check_det_dataset``; inside this context a ``posetable:<table>@<rev>`` key resolves to
  the table's data dict (nothing is written, nothing is downloaded).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import ultralytics.engine.validator as _validator_module
from ultralytics.data.dataset import YOLODataset
from ultralytics.models.yolo.pose import PoseTrainer, PoseValidator
from ultralytics.utils import colorstr
from ultralytics.utils.torch_utils import unwrap_model

from posetable.errors import RowError
from posetable.integrations._common import TableLabels

ROW_KEY = "posetable_row"

#: one captured image: boxes xyxy (N, 4), scores (N,), classes (N,), keypoints (N, K, 3)
Captured = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def yolo_labels(source: TableLabels) -> list[dict[str, Any]]:
    """Ultralytics label dicts (normalised ``xywh`` boxes, ``(n, K, 3)`` keypoints) per row.

    Crowd regions, instances without a labeled keypoint and empty boxes are left out (as
    Ultralytics' COCO converter does); unlabeled points are written as ``0, 0, 0``.
    """
    keep = source.trainable()
    counts = np.diff(source.offsets)
    width = np.repeat(source.widths.astype(np.float64), counts)[keep]
    height = np.repeat(source.heights.astype(np.float64), counts)[keep]
    boxes = source.boxes[keep].copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, width[:, None])
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, height[:, None])
    xywh = np.stack(
        [
            (boxes[:, 0] + boxes[:, 2]) / 2 / width,
            (boxes[:, 1] + boxes[:, 3]) / 2 / height,
            (boxes[:, 2] - boxes[:, 0]) / width,
            (boxes[:, 3] - boxes[:, 1]) / height,
        ],
        axis=1,
    ).astype(np.float32)
    vis = source.visibility[keep]
    points = np.zeros((*vis.shape, 3), dtype=np.float32)
    labeled = vis > 0
    points[..., 0] = np.where(labeled, source.keypoints[keep][..., 0] / width[:, None], 0.0)
    points[..., 1] = np.where(labeled, source.keypoints[keep][..., 1] / height[:, None], 0.0)
    points[..., 2] = vis
    classes = source.labels[keep].astype(np.float32)[:, None]
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    starts = kept_before[source.offsets].tolist()
    heights = source.heights.tolist()
    widths = source.widths.tolist()
    out = []
    for row, image in enumerate(source.images):
        a, b = starts[row], starts[row + 1]
        out.append(
            {
                "im_file": image,
                "shape": (int(heights[row]), int(widths[row])),
                "cls": classes[a:b],
                "bboxes": xywh[a:b],
                "segments": [],
                "keypoints": points[a:b],
                "normalized": True,
                "bbox_format": "xywh",
                ROW_KEY: row,
            }
        )
    return out


class TableYOLODataset(YOLODataset):
    """Ultralytics' ``YOLODataset`` reading images and labels from a table revision."""

    def __init__(self, *args: Any, source: TableLabels, **kwargs: Any) -> None:
        self.source = source
        super().__init__(*args, **kwargs)

    def get_img_files(self, img_path: Any) -> list[str]:
        """The table's image paths (Ultralytics' ``fraction`` keeps the first rows)."""
        files = list(self.source.images)
        fraction = self.fraction
        count = fraction if isinstance(fraction, int) else max(1, round(len(files) * fraction))
        return files[:count]

    def get_labels(self) -> list[dict[str, Any]]:
        """Label dicts of the rows kept by ``get_img_files``."""
        return yolo_labels(self.source)[: len(self.im_files)]

    def get_image_and_label(self, index: int) -> dict[str, Any]:
        """Ultralytics' sample, checking the image is the size the table says."""
        label = super().get_image_and_label(index)
        row = label[ROW_KEY]
        expected = (int(self.source.heights[row]), int(self.source.widths[row]))
        if tuple(int(v) for v in label["ori_shape"]) != expected:
            found = label["ori_shape"]
            raise RowError(
                f"table {self.source.table_ref}, row {row}: image {label['im_file']} is "
                f"{found[1]}x{found[0]} pixels, but the table says {expected[1]}x{expected[0]}; "
                "fix the row's width/height (labels are in the table's pixel frame)"
            )
        return label


def build_dataset(
    cfg: Any,
    source: TableLabels,
    batch: int | None,
    data: Mapping[str, Any],
    *,
    mode: str,
    rect: bool,
    stride: int,
) -> TableYOLODataset:
    """The table dataset with the arguments Ultralytics' ``build_yolo_dataset`` would use."""
    return TableYOLODataset(
        img_path=source.table_ref,
        imgsz=cfg.imgsz,
        batch_size=batch,
        augment=mode == "train",
        hyp=cfg,
        rect=cfg.rect or rect,
        cache=cfg.cache or None,
        single_cls=cfg.single_cls or False,
        stride=stride,
        pad=0.0 if mode == "train" else 0.5,
        prefix=colorstr(f"{mode}: "),
        task="pose",
        classes=cfg.classes,
        data=dict(data),
        fraction=cfg.fraction if mode == "train" else 1.0,
        source=source,
    )


def validator_class(
    sources: Mapping[str, TableLabels],
    metric_sigmas: Sequence[float],
    sink: dict[int, Captured] | None = None,
) -> type[PoseValidator]:
    """A ``PoseValidator`` reading tables, scoring with the validation table's sigmas; with
    ``sink``, it keeps every image's predictions (table pixels)."""

    class TablePoseValidator(PoseValidator):
        def init_metrics(self, model: Any) -> None:
            super().init_metrics(model)
            self.sigma = np.asarray(metric_sigmas, dtype=np.float32)

        def build_dataset(self, img_path: str, mode: str = "val", batch: int | None = None) -> Any:
            return build_dataset(
                self.args,
                sources[str(img_path)],
                batch,
                self.data,
                mode=mode,
                rect=True,
                stride=self.stride if self.stride is not None else 32,
            )

        def update_metrics(self, preds: list[dict[str, Any]], batch: dict[str, Any]) -> None:
            super().update_metrics(preds, batch)
            if sink is None:
                return
            for si, pred in enumerate(preds):
                pbatch = self._prepare_batch(si, batch)
                scaled = self.scale_preds(self._prepare_pred(pred), pbatch)
                sink[int(batch[ROW_KEY][si])] = (
                    scaled["bboxes"].detach().cpu().numpy().astype(np.float64),
                    scaled["conf"].detach().cpu().numpy().astype(np.float64),
                    scaled["cls"].detach().cpu().numpy().astype(np.int64),
                    scaled["keypoints"].detach().cpu().numpy().astype(np.float64),
                )

    return TablePoseValidator


def trainer_class(
    sources: Mapping[str, TableLabels],
    data: Mapping[str, Any],
    *,
    loss_sigmas: Sequence[float] | None,
    metric_sigmas: Sequence[float],
) -> type[PoseTrainer]:
    """A ``PoseTrainer`` whose datasets, data dict and validator come from tables."""
    validator = validator_class(sources, metric_sigmas)

    class TablePoseTrainer(PoseTrainer):
        def get_dataset(self) -> dict[str, Any]:
            resolved = copy.deepcopy(dict(data))
            if self.args.single_cls:
                resolved["names"], resolved["nc"] = {0: "item"}, 1
            return resolved

        def build_dataset(
            self, img_path: str, mode: str = "train", batch: int | None = None
        ) -> Any:
            stride = max(int(unwrap_model(self.model).stride.max()), 32)
            return build_dataset(
                self.args,
                sources[str(img_path)],
                batch,
                self.data,
                mode=mode,
                rect=mode == "val",
                stride=stride,
            )

        def set_model_attributes(self) -> None:
            super().set_model_attributes()
            if loss_sigmas is not None:
                self.model.kpt_oks_sigmas = [float(s) for s in loss_sigmas]

        def get_validator(self) -> Any:
            return validator(
                self.test_loader,
                save_dir=self.save_dir,
                args=copy.copy(self.args),
                _callbacks=self.callbacks,
            )

    return TablePoseTrainer


@contextmanager
def table_datasets(data_by_key: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Resolve ``posetable:<table>@<rev>`` data keys in Ultralytics' stand-alone validation."""
    original = _validator_module.check_det_dataset

    def resolve(dataset: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = str(dataset)
        if key in data_by_key:
            return copy.deepcopy(dict(data_by_key[key]))
        return original(dataset, *args, **kwargs)

    _validator_module.check_det_dataset = resolve
    try:
        yield
    finally:
        _validator_module.check_det_dataset = original
