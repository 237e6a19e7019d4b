"""SuperGradients classes reading posetable tables (imported only with super-gradients installed).

:class:`TablePoseEstimationDataset` is SuperGradients' ``AbstractPoseEstimationDataset`` (the
base class of its COCO pose dataset, which YOLO-NAS-pose trains on) whose samples come from a
table revision: the BGR image read from the row's file, joints ``(N, K, 3)`` with COCO
visibility, ``xywh`` boxes, areas, crowd flags and a loss mask that is 0 over crowd boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from super_gradients.common.object_names import Processings
from super_gradients.training.datasets.pose_estimation_datasets import AbstractPoseEstimationDataset
from super_gradients.training.samples import PoseEstimationSample

from posetable.errors import RowError
from posetable.integrations._common import TableLabels


def load_bgr(path: str) -> np.ndarray:
    """An image file as an ``(H, W, 3)`` uint8 BGR array (SuperGradients' channel order)."""
    from PIL import Image

    with Image.open(path) as opened:
        rgb = np.asarray(opened.convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1])


class TablePoseEstimationDataset(AbstractPoseEstimationDataset):
    """SuperGradients' pose dataset base class over a table revision.

    Args:
        source: the table's labels (:class:`~posetable.integrations._common.TableLabels`).
        transforms: SuperGradients keypoint transforms.
        edge_links: the skeleton as ``(a, b)`` pairs.
        keypoint_colors, edge_colors: RGB triples, or None.
        include_empty_samples: keep rows without a trainable instance.
    """

    def __init__(
        self,
        source: TableLabels,
        *,
        transforms: Sequence[Any],
        edge_links: Sequence[tuple[int, int]],
        keypoint_colors: Sequence[tuple[int, int, int]] | None,
        edge_colors: Sequence[tuple[int, int, int]] | None,
        include_empty_samples: bool,
    ) -> None:
        self.source = source
        keep = source.trainable() | source.crowd
        self.keep = keep
        kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        per_row = kept_before[source.offsets[1:]] - kept_before[source.offsets[:-1]]
        self.rows = np.arange(len(source)) if include_empty_samples else np.flatnonzero(per_row > 0)
        # SuperGradients fills missing or empty colour lists with a matplotlib call that
        # matplotlib 3.9 removed; an empty skeleton gets a placeholder, reset right after.
        super().__init__(
            transforms=list(transforms),
            num_joints=source.num_keypoints,
            edge_links=list(edge_links),
            edge_colors=list(edge_colors or [(0, 0, 0)]),
            keypoint_colors=list(keypoint_colors or [(0, 0, 0)] * source.num_keypoints),
        )
        self.edge_colors: list[Any] = list(self.edge_colors)[: len(self.edge_links)]

    def __len__(self) -> int:
        return len(self.rows)

    def row_of(self, index: int) -> int:
        """The table row of dataset item ``index``."""
        return int(self.rows[index])

    def load_sample(self, index: int) -> PoseEstimationSample:
        """Read one row: image, joints, boxes, areas, crowd flags and the loss mask."""
        source = self.source
        row = self.row_of(index)
        span = source.span(row)
        keep = self.keep[span]
        height, width = int(source.heights[row]), int(source.widths[row])
        image = load_bgr(source.images[row])
        if image.shape[:2] != (height, width):
            raise RowError(
                f"table {source.table_ref}, row {row}: image {source.images[row]} is "
                f"{image.shape[1]}x{image.shape[0]} pixels, but the table says {width}x{height}"
            )
        vis = source.visibility[span][keep].astype(np.float32)
        joints = np.concatenate([source.keypoints[span][keep], vis[..., None]], axis=-1)
        boxes = source.boxes[span][keep].copy()
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        crowd = source.crowd[span][keep]
        mask = np.ones((height, width), dtype=np.float32)
        for x1, y1, x2, y2 in boxes[crowd].round().astype(int):
            mask[y1:y2, x1:x2] = 0.0
        return PoseEstimationSample(
            image=image,
            mask=mask,
            joints=joints.astype(np.float32),
            areas=source.areas[span][keep].astype(np.float32),
            bboxes_xywh=xywh.astype(np.float32),
            is_crowd=crowd,
            additional_samples=None,
        )

    def get_dataset_preprocessing_params(self) -> dict[str, Any]:
        """What ``model.set_dataset_processing_params`` takes (RGB input -> BGR, as COCO's)."""
        params: dict[str, Any] = super().get_dataset_preprocessing_params()
        pipeline = params["image_processor"][Processings.ComposeProcessing]["processings"]
        pipeline.insert(0, {Processings.ReverseImageChannels: {}})
        return params
