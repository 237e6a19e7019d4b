"""The pose a new instance is drawn with, scaled into a box the user drew.

Where the pose comes from, first that applies (``source`` in the answer says which):

1. ``schema``: the table's default pose (``Keypoints2DSchema.default_pose``, 3LC's
   ``points``; set with ``KeypointHelper.edit_default_keypoints``).
2. ``coco``: a table with COCO's 17 keypoint names gets COCO's standing person facing the
   viewer (``posetable._coco_constants.COCO_KEYPOINT_DEFAULT_POSE``).
3. ``table``: the median pose of the table's own labeled instances, each normalised to its
   box (from its first ``LEARN_ROWS`` rows), so an animal table gets an animal's pose;
   keypoints never labeled there take their place on the ring below.
4. ``ring``: ``Keypoints2DSchema.pose_for_new_instance``'s ring of K points.

The pose's own extent is stretched to the box on each axis (as CVAT and Ultralytics fit a
skeleton template to a box); an axis on which every point lies at one value is centred.

Example:
    >>> import numpy as np
    >>> fit_to_box(np.array([[0.25, 0.1], [0.75, 0.9]]), [10, 20, 30, 60]).tolist()
    [[10.0, 20.0], [30.0, 60.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._coco_constants import COCO_KEYPOINT_DEFAULT_POSE, COCO_KEYPOINT_NAMES
from posetable.dashboard._state import _Lru
from posetable.table import Table

LEARN_ROWS = 500  # rows read to learn a table's own pose (a new instance's, not a model)
MIN_LEARNED = 3  # labeled instances of a keypoint needed to trust its median position
_LEARNED: _Lru[tuple[str, str, int], np.ndarray | None] = _Lru(16)  # revisions never change


def fit_to_box(pose: np.ndarray, box: Sequence[float] | np.ndarray) -> np.ndarray:
    """The (K, 2) ``pose`` with its extent stretched to ``box`` (x1, y1, x2, y2)."""
    pose = np.asarray(pose, dtype=np.float64)
    low, high = pose.min(axis=0), pose.max(axis=0)
    span = high - low
    corner = np.asarray(box[:2], dtype=np.float64)
    size = np.asarray(box[2:], dtype=np.float64) - corner
    unit = np.where(span > 0, (pose - low) / np.where(span > 0, span, 1.0), 0.5)
    return corner + unit * size


def _learned(table: Table) -> np.ndarray | None:
    """The median box-normalised pose of the table's first labeled instances, or None."""
    k = table.schema.num_keypoints
    rows = table.rows(range(min(len(table), LEARN_ROWS))) if len(table) else []
    found = [r[KEYPOINTS_COLUMN] for r in rows if len(r[KEYPOINTS_COLUMN])]
    if not found:
        return None
    points = np.concatenate([f.keypoints for f in found])
    boxes = np.concatenate([f.instance_bbs for f in found])
    vis = np.concatenate(
        [
            f.keypoint_visibilities
            if f.keypoint_visibilities is not None
            else np.full((len(f), k), 2, np.int32)
            for f in found
        ]
    )
    size = boxes[:, 2:] - boxes[:, :2]
    usable = (size > 0).all(axis=1)
    if not usable.any():
        return None
    unit = (points[usable] - boxes[usable, None, :2]) / size[usable, None, :]
    unit[vis[usable] == 0] = np.nan
    counts = (vis[usable] > 0).sum(axis=0)
    if (counts >= MIN_LEARNED).sum() < min(2, k):
        return None
    with np.errstate(all="ignore"):
        median = np.nanmedian(np.where((counts >= MIN_LEARNED)[None, :, None], unit, np.nan), 0)
    ring = table.schema.pose_for_new_instance()
    return np.where(np.isfinite(median), median, ring)


def new_instance_pose(table: Table) -> tuple[np.ndarray, str]:
    """(the (K, 2) unit pose a new instance starts from, where it came from)."""
    schema = table.schema
    if schema.default_pose is not None:
        return np.asarray(schema.default_pose, dtype=np.float64), "schema"
    if tuple(schema.keypoint_names) == tuple(COCO_KEYPOINT_NAMES):
        return np.asarray(COCO_KEYPOINT_DEFAULT_POSE, dtype=np.float64), "coco"
    key = (str(table.store.root), table.name, table.revision)
    learned = _LEARNED.get(key, lambda: _learned(table))
    if learned is not None:
        return learned, "table"
    return schema.pose_for_new_instance(), "ring"
