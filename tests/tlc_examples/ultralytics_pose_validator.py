# ruff: noqa
# 3lc-ai/3lc-ultralytics 2.x src/tlc_ultralytics/pose/validator.py: the predicted-pose schema
# and the code that turns predictions into rows (_build_annotation, _empty_annotation).
# Changed: `from tlc.core...` -> `from posetable.tlc.core...`. The validator's base classes
# (Ultralytics' PoseValidator, 3LC's mixin) are replaced by the attributes these methods
# read (data, kpt_shape); the method bodies are as 3LC wrote them.
from __future__ import annotations

import numpy as np
from posetable.tlc.core.builtins.constants import KEYPOINTS_2D_PREDICTED
from posetable.tlc.core.builtins.schemas import Keypoints2DSchema
from posetable.tlc.core.data_formats import Keypoints2DInstances


class TLCPoseValidator:  # stand-in base: what these methods read
    def __init__(self, data, kpt_shape):
        self.data = data
        self.kpt_shape = kpt_shape

    def predicted_pose_schema(self):  # the schema part of _get_metrics_schemas
        predicted_pose_schema = Keypoints2DSchema(
            classes=self.data["names"],
            num_keypoints=self.kpt_shape[0],
            points=self.data.get("points"),
            point_attributes=self.data.get("keypoint_attributes"),
            lines=self.data.get("lines"),
            line_attributes=self.data.get("line_attributes"),
            triangles=self.data.get("triangles"),
            triangle_attributes=self.data.get("triangle_attributes"),
            include_per_instance_confidence=True,
            include_per_point_confidence=self.kpt_shape[1] == 3,
            writable=False,
        )
        return {KEYPOINTS_2D_PREDICTED: predicted_pose_schema}

    def _build_annotation(self, scaled, mapped_classes, h, w):
        builder = Keypoints2DInstances.create_empty(
            image_height=int(h),
            image_width=int(w),
            include_instance_confidences=True,
        )
        kpts = scaled["kpts"]  # scale_preds outputs scaled keypoints under "kpts"
        for j in range(len(mapped_classes)):
            kxy = kpts[j, :, 0:2].cpu().numpy().astype(np.float32)
            kconf = kpts[j, :, 2].cpu().numpy().astype(np.float32).tolist() if kpts.shape[2] == 3 else None
            builder.add_instance(
                keypoints=kxy,
                bbox=scaled["bboxes"][j].cpu().numpy().astype(np.float32).tolist(),
                label=int(mapped_classes[j]),
                confidence=kconf,
                normalized=False,
                bbox_format="xyxy",
                instance_confidence=float(scaled["conf"][j]),
            )
        return builder.to_row()

    def _empty_annotation(self, h, w):
        return Keypoints2DInstances.create_empty(
            image_height=int(h),
            image_width=int(w),
            include_instance_confidences=True,
        ).to_row()
