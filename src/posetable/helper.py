"""``KeypointHelper``: the 3LC helper calls over a table's keypoint schema.

Getters read only the revision's metadata; the ``edit_*`` calls return a NEW derived table
(a new revision whose parent is the given one); the given revision never changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posetable._coco_constants import (
    COCO_FLIP_INDICES,
    COCO_KEYPOINT_DEFAULT_POSE,
    COCO_KEYPOINT_NAMES,
    COCO_OKS_SIGMAS,
    COCO_SKELETON,
    COCO_SKELETON_COLORS,
)
from posetable._validate import check_sigmas
from posetable.errors import SchemaError
from posetable.schema import Keypoints2DSchema
from posetable.table import Table


def _schema(table: Table | Keypoints2DSchema) -> Keypoints2DSchema:
    if isinstance(table, Keypoints2DSchema):
        return table
    if isinstance(table, Table):
        return table.schema
    raise SchemaError(
        f"expected a posetable Table or Keypoints2DSchema, got {type(table).__name__}"
    )


class KeypointHelper:
    """Static helpers over a table's keypoint schema, named as in 3LC.

    Every getter takes a :class:`Table` (or a bare schema) and reads only the revision's
    metadata; every ``edit_*`` call returns a new table at a new revision.

    Example:
        >>> import posetable as pt, tempfile
        >>> table = pt.Table.from_rows(
        ...     [{"image": "a.jpg", "width": 640, "height": 480}], name="people",
        ...     schema=pt.Keypoints2DSchema.coco_person(), store=tempfile.mkdtemp())
        >>> H = pt.KeypointHelper
        >>> H.get_keypoint_shape_from_table(table)
        (17, 3)
        >>> H.get_keypoint_attributes_from_table(table)[:2]
        [{'internal_name': 'nose'}, {'internal_name': 'left_eye'}]
        >>> H.get_lines_from_table(table)[:4]
        [15, 13, 13, 11]
        >>> H.get_flip_indices_from_table(table)[:5]
        [0, 2, 1, 4, 3]
        >>> float(H.get_oks_sigmas_from_table(table)[0]) == 0.26 / 10
        True
        >>> tuned = H.edit_oks_sigmas(table, [0.05] * 17)
        >>> tuned.revision, tuned.parent, float(H.get_oks_sigmas_from_table(tuned)[0])
        (2, 1, 0.05)
        >>> posed = H.edit_default_keypoints(tuned, [0.5, 0.5] * 17)
        >>> H.get_default_keypoints_from_table(posed)[0].tolist()
        [0.5, 0.5]
        >>> H.get_lines_from_table(H.edit_default_lines(posed, [0, 1, 1, 2]))
        [0, 1, 1, 2]
    """

    COCO_KEYPOINT_NAMES = COCO_KEYPOINT_NAMES
    COCO_SKELETON = COCO_SKELETON
    COCO_FLIP_INDICES = COCO_FLIP_INDICES
    COCO_OKS_SIGMAS = COCO_OKS_SIGMAS
    COCO_KEYPOINT_DEFAULT_POSE = COCO_KEYPOINT_DEFAULT_POSE
    COCO_SKELETON_COLORS = COCO_SKELETON_COLORS

    @staticmethod
    def get_keypoint_shape_from_table(table: Table | Keypoints2DSchema) -> tuple[int, int]:
        """``(K, 3)``: K keypoints of x, y and visibility."""
        return (_schema(table).num_keypoints, 3)

    @staticmethod
    def get_keypoint_attributes_from_table(
        table: Table | Keypoints2DSchema,
    ) -> list[dict[str, str]]:
        """``[{'internal_name': 'nose'}, ...]``, one dict per keypoint."""
        return [{"internal_name": name} for name in _schema(table).keypoint_names]

    @staticmethod
    def get_keypoint_names_from_table(table: Table | Keypoints2DSchema) -> list[str]:
        """The K keypoint names."""
        return list(_schema(table).keypoint_names)

    @staticmethod
    def get_lines_from_table(table: Table | Keypoints2DSchema) -> list[int]:
        """Skeleton lines as the flat list ``[a0, b0, a1, b1, ...]`` (0-based)."""
        return _schema(table).flat_lines

    @staticmethod
    def get_flip_indices_from_table(table: Table | Keypoints2DSchema) -> list[int] | None:
        """The flip indices, or None when the table has none."""
        flips = _schema(table).flip_indices
        return None if flips is None else list(flips)

    @staticmethod
    def get_oks_sigmas_from_table(table: Table | Keypoints2DSchema) -> np.ndarray:
        """The OKS sigmas as a float64 (K,) array; uniform ``1/K`` when the table has none."""
        return np.array(_schema(table).sigmas, dtype=np.float64)

    @staticmethod
    def get_default_keypoints_from_table(table: Table | Keypoints2DSchema) -> np.ndarray:
        """The (K, 2) unit-square pose drawn for a new instance."""
        return _schema(table).pose_for_new_instance()

    @staticmethod
    def edit_oks_sigmas(table: Table, sigmas: Any) -> Table:
        """A new revision of ``table`` with other OKS sigmas (the original is untouched).

        ``sigmas`` are K positive numbers; the revision's data files are not rewritten.
        """
        schema = _schema(table)
        values = check_sigmas(sigmas, schema.num_keypoints)
        return table.with_schema(
            schema.replace(oks_sigmas=values),
            operation="edit_oks_sigmas",
            arguments={"oks_sigmas": values.tolist()},
        )

    @staticmethod
    def edit_default_keypoints(table: Table, keypoints: Any) -> Table:
        """A new revision with another default pose: (K, 2) or flat ``[x0, y0, x1, y1, ...]``."""
        schema = _schema(table)
        new = schema.replace(default_pose=keypoints)
        return table.with_schema(
            new,
            operation="edit_default_keypoints",
            arguments={"default_pose": [list(p) for p in new.default_pose or ()]},
        )

    @staticmethod
    def edit_default_lines(table: Table, lines: Any) -> Table:
        """A new revision with other skeleton lines (pairs or the flat list)."""
        schema = _schema(table)
        new = schema.replace(lines=lines, line_colors=None)
        return table.with_schema(
            new, operation="edit_default_lines", arguments={"lines": new.flat_lines}
        )

    @staticmethod
    def edit_flip_indices(table: Table, flip_indices: Any) -> Table:
        """A new revision with other flip indices."""
        schema = _schema(table)
        new = schema.replace(flip_indices=flip_indices)
        return table.with_schema(
            new,
            operation="edit_flip_indices",
            arguments={"flip_indices": list(new.flip_indices or ())},
        )
