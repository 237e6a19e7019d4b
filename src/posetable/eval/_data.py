"""Flat, columnar evaluation inputs: every ground truth and prediction of a dataset at once.

Images are positions in the sorted list of image ids (pycocotools sorts ``imgIds``) and
categories are positions in the sorted list of category ids, so the engine never sees a
Python object per annotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroundTruthColumns:
    """Every ground-truth instance as flat arrays (G instances, K keypoints).

    Attributes:
        image: (G,) image position (index into the sorted image ids).
        category: (G,) category position (index into the sorted category ids).
        keypoints: (G, K, 2) float64 x, y.
        labeled: (G, K) bool, visibility > 0.
        box: (G, 4) float64 ``[x, y, w, h]`` (used by the 3x-box path only).
        area: (G,) float64 (OKS scale and area ranges).
        ignore: (G,) bool: ``iscrowd`` truthy or ``num_keypoints == 0`` (pycocotools).
        crowd: (G,) bool: ``int(iscrowd) != 0`` (may absorb several predictions).
        id_zero: (G,) bool: annotation id 0 (pycocotools scores its match as a miss).
        index: (G,) int64 instance index within its row / image, as given.
        ids: (G,) int64 annotation ids (or running numbers when the source has none).
    """

    image: np.ndarray
    category: np.ndarray
    keypoints: np.ndarray
    labeled: np.ndarray
    box: np.ndarray
    area: np.ndarray
    ignore: np.ndarray
    crowd: np.ndarray
    id_zero: np.ndarray
    index: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class PredictionColumns:
    """Every prediction as flat arrays (D predictions), in input order.

    Attributes:
        image: (D,) image position.
        category: (D,) category position.
        keypoints: (D, K, 2) float64 x, y.
        score: (D,) float64 instance score.
        area: (D,) float64 (pycocotools' ``loadRes`` area: bbox w*h, else the keypoint extent).
        index: (D,) int64 prediction index within its row / image, as given.
    """

    image: np.ndarray
    category: np.ndarray
    keypoints: np.ndarray
    score: np.ndarray
    area: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class EvalInput:
    """A complete evaluation problem.

    Attributes:
        gt: the ground truth.
        dt: the predictions.
        image_ids: (I,) sorted image ids (int64, or object for string ids).
        rows: (I,) int64 table row (or position in the sorted ids for a JSON file).
        category_ids: (C,) sorted category ids.
        category_labels: (C,) int64 label (class index) of each category position.
        sigmas: (K,) float64 OKS sigmas.
    """

    gt: GroundTruthColumns
    dt: PredictionColumns
    image_ids: np.ndarray
    rows: np.ndarray
    category_ids: np.ndarray
    category_labels: np.ndarray
    sigmas: np.ndarray

    @property
    def num_images(self) -> int:
        """I, the number of images."""
        return int(self.image_ids.shape[0])

    @property
    def num_categories(self) -> int:
        """C, the number of categories."""
        return int(self.category_ids.shape[0])


def empty_predictions(num_keypoints: int) -> PredictionColumns:
    """A prediction set with no prediction."""
    return PredictionColumns(
        image=np.zeros(0, np.int64),
        category=np.zeros(0, np.int64),
        keypoints=np.zeros((0, num_keypoints, 2)),
        score=np.zeros(0),
        area=np.zeros(0),
        index=np.zeros(0, np.int64),
    )


def keypoint_extent_area(keypoints: np.ndarray) -> np.ndarray:
    """pycocotools' area of a result without ``bbox``: the box around ALL its points."""
    if keypoints.shape[0] == 0:
        return np.zeros(0)
    x = keypoints[..., 0]
    y = keypoints[..., 1]
    return (x.max(1) - x.min(1)) * (y.max(1) - y.min(1))


@dataclass(frozen=True)
class Frame:
    """How a ground truth source names images and categories.

    Attributes:
        image_ids: (I,) sorted image ids.
        rows: (I,) row (table) of each image position.
        row_position: (n_rows,) image position of each row.
        category_ids: (C,) sorted category ids.
        category_labels: (C,) label of each category position.
        label_position: (n_labels,) category position of each label.
        num_keypoints: K.
    """

    image_ids: np.ndarray
    rows: np.ndarray
    row_position: np.ndarray
    category_ids: np.ndarray
    category_labels: np.ndarray
    label_position: np.ndarray
    num_keypoints: int


def frame(image_ids: np.ndarray, category_ids_by_label: np.ndarray, num_keypoints: int) -> Frame:
    """A frame from per-row image ids and per-label category ids."""
    order = np.argsort(image_ids, kind="stable")
    row_position = np.empty(order.shape[0], np.int64)
    row_position[order] = np.arange(order.shape[0])
    cat_order = np.argsort(category_ids_by_label, kind="stable")
    label_position = np.empty(cat_order.shape[0], np.int64)
    label_position[cat_order] = np.arange(cat_order.shape[0])
    return Frame(
        image_ids=image_ids[order],
        rows=order.astype(np.int64),
        row_position=row_position,
        category_ids=category_ids_by_label[cat_order],
        category_labels=cat_order.astype(np.int64),
        label_position=label_position,
        num_keypoints=num_keypoints,
    )
