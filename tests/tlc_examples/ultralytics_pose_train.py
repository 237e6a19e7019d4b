# ruff: noqa
# 3lc-ai/3lc-ultralytics examples/pose/train.py
# Changed: `from tlc.core` -> `from posetable.tlc.core`, `from tlc_ultralytics` ->
# `from posetable.tlc_ultralytics`; data substitutions: "yolo11n-pose.pt" -> the matching
# .yaml (no download here), "coco8-pose.yaml" -> tests/data/coco8_pose_yolo, epochs=10 -> 1,
# and a tiny imgsz/batch on CPU.
import os

from posetable.tlc.core import KeypointHelper
from ultralytics.utils.metrics import OKS_SIGMA

from posetable.tlc_ultralytics import YOLO, Settings

if __name__ == "__tlc_example__":
    model = YOLO("yolo11n-pose.yaml")
    settings = Settings(
        image_embeddings_dim=2,
        sampling_weights=False,
        collect_loss=True,
        run_name="3lc-yolo-pose-train-example-yolo11n",
        project_name="3lc-yolo-examples",
        image_embeddings_reducer="umap",
        point_attributes=KeypointHelper.COCO_KEYPOINT_NAMES,
        lines=KeypointHelper.COCO_SKELETON,
        oks_sigmas=OKS_SIGMA.tolist(),
        flip_indices=KeypointHelper.COCO_FLIP_INDICES,
    )

    model.train(
        data=os.environ["TLC_EXAMPLE_YAML"],
        settings=settings,
        epochs=1,
        workers=0,
        imgsz=64,
        batch=4,
        device="cpu",
    )
