# ruff: noqa
# 3lc-ai/3lc-ultralytics 2.x, the code that makes and reads pose tables:
#   src/tlc_ultralytics/pose/utils.py        get_or_create_pose_table, check_pose_table
#   src/tlc_ultralytics/pose/dataset.py      TLCYOLOPoseDataset._get_label_from_row
# Changed: `import tlc` / `from tlc.core...` -> `posetable.tlc...`. The dataset's base class
# (an Ultralytics YOLODataset) and the Settings object are replaced by the few attributes
# these methods read (data, _class_map, _label_column_name; the pose arguments), so the
# code runs without Ultralytics; the method bodies are as 3LC wrote them.
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import posetable.tlc as tlc
from posetable.tlc.core.builtins.constants import (
    BBS_2D,
    INSTANCES,
    INSTANCES_ADDITIONAL_DATA,
    LINES,
    VERTICES_2D,
    X_MAX,
    X_MIN,
    Y_MAX,
    Y_MIN,
)
from posetable.tlc.core.builtins.constants import IMAGE, KEYPOINTS_2D
from posetable.tlc.core.data_formats import Keypoints2DInstances


@dataclass
class Settings:  # stand-in: tlc_ultralytics.settings.Settings' pose arguments (defaults None)
    points: Any = None
    lines: Any = None
    triangles: Any = None
    point_attributes: Any = None
    line_attributes: Any = None
    triangle_attributes: Any = None
    oks_sigmas: Any = None
    flip_indices: Any = None


def get_or_create_pose_table(
    key: str,
    data_dict: dict[str, object],
    image_column_name: str,
    label_column_name: str,
    project_name: str,
    dataset_name: str,
    table_name: str,
    settings: Settings | None = None,
) -> tlc.Table:
    return tlc.Table.from_yolo(
        dataset_yaml_file=data_dict["yaml_file"],
        split=key,
        override_split_path=data_dict[key],
        task="pose",
        project_name=project_name,
        dataset_name=dataset_name,
        table_name=table_name,
        if_exists="reuse",
        add_weight_column=True,
        description="Created with 3LC YOLO integration",
        points=settings.points,
        lines=settings.lines,
        triangles=settings.triangles,
        point_attributes=settings.point_attributes,
        line_attributes=settings.line_attributes,
        triangle_attributes=settings.triangle_attributes,
        oks_sigmas=settings.oks_sigmas,
        flip_indices=settings.flip_indices,
    )


def check_pose_table(table: tlc.Table, image_column_name: str, label_column_name: str) -> None:
    """Verify that the table is compatible with pose keypoints.

    :param table: The table to check.
    :param image_column_name: The name of the image column.
    :param label_column_name: The name of the pose label root column (e.g., 'pose').
    :raises ValueError: If the table is not compatible with pose.
    """
    row_schema = table.row_schema.values

    label_root = label_column_name.split(".")[0]

    try:
        assert image_column_name in row_schema, f"Image column '{image_column_name}' not found."
        assert label_root in row_schema, f"Pose column '{label_root}' not found."

        schema = row_schema[label_root]
        assert hasattr(schema, "values"), f"Pose column '{label_root}' has no values schema."
        for key in (X_MIN, Y_MIN, X_MAX, Y_MAX, INSTANCES, INSTANCES_ADDITIONAL_DATA):
            assert key in schema.values, f"Pose column '{label_root}' missing key '{key}'."

        instances_schema = schema.values[INSTANCES]
        assert hasattr(instances_schema, "values"), "Instances schema must be composite."
        for k in (VERTICES_2D, BBS_2D):
            assert k in instances_schema.values, f"Instances missing '{k}'."

    except (AssertionError, KeyError) as e:
        raise ValueError(f"Table with url {table.url} is not compatible with YOLO pose. {e}") from None


class TLCYOLOPoseDataset:  # stand-in base: what _get_label_from_row reads
    def __init__(self, table, data=None, class_map=None, label_column_name=None):
        self.table = table
        self.data = data or {}
        self._class_map = class_map or {}
        self._label_column_name = label_column_name or KEYPOINTS_2D

    def _get_label_from_row(self, im_file: str, row: Any, example_id: int) -> dict[str, Any]:
        pose_root = self._label_column_name.split(".")[0]
        label_column_value = row[pose_root]

        # Desired fixed K from dataset config (default 17) for empty-case shapes
        kpt_shape = self.data.get("kpt_shape")
        instances = Keypoints2DInstances.from_row(label_column_value)

        # Image dimensions and raw arrays
        H = float(instances.image_height)
        W = float(instances.image_width)
        labels = instances.instance_labels.astype(np.int32, copy=False)  # (N,)
        bboxes_xyxy = instances.instance_bbs.astype(np.float32, copy=False)  # (N,4) [x_min, y_min, x_max, y_max]
        kxy = instances.keypoints.astype(np.float32, copy=False)  # (N,K,2)
        vis = instances.keypoint_visibilities  # (N,K) or None

        # Normalize keypoints to [0,1]
        kxy[..., 0] /= W
        kxy[..., 1] /= H

        # Vectorized: xyxy (abs) -> center-xywh (normalized)
        xy_min = bboxes_xyxy[:, 0:2]
        xy_max = bboxes_xyxy[:, 2:4]
        wh_abs = xy_max - xy_min
        ctr_abs = xy_min + 0.5 * wh_abs
        scale = np.array([W, H], dtype=np.float32)
        bboxes_arr = np.concatenate([(ctr_abs / scale), (wh_abs / scale)], axis=1).astype(np.float32)

        # Handle empty vs non-empty
        if labels.size == 0:
            K_cfg = int(kpt_shape[0]) if kpt_shape else (int(kxy.shape[1]) if kxy.shape[1] > 0 else 17)
            cls_arr = np.zeros((0, 1), dtype=np.float32)
            bboxes_arr = np.zeros((0, 4), dtype=np.float32)
            kp_stack = np.zeros((0, K_cfg, 3), dtype=np.float32)
        else:
            mapped_list = [self._class_map.get(int(v), int(v)) for v in labels.tolist()]
            cls_arr = np.asarray(mapped_list, dtype=np.float32).reshape(-1, 1)

            # Build (N,K,3) with visibilities
            if vis is None:
                vis_arr = np.ones((kxy.shape[0], kxy.shape[1], 1), dtype=np.float32)
            else:
                vis_arr = vis.astype(np.float32, copy=False).reshape(kxy.shape[0], kxy.shape[1], 1)
            kp_stack = np.concatenate([kxy, vis_arr], axis=2)

        return {
            "im_file": im_file,
            "shape": (round(instances.image_height), round(instances.image_width)),
            "cls": cls_arr,
            "bboxes": bboxes_arr,
            "segments": [],
            "keypoints": kp_stack,  # (N, K, 3)
            "normalized": True,
            "bbox_format": "xywh",
            "example_id": example_id,
        }
