# ruff: noqa
# 3lc-ai/3lc-ultralytics examples/pose/collect.py (commit 104b064), as 3LC wrote it.
# Changed: the import rule (`tlc` -> `posetable.tlc`, `tlc_ultralytics` ->
# `posetable.tlc_ultralytics`), `.pose_helpers` -> `.ultralytics_pose_helpers` (the name
# this folder's conftest keeps out of collection), and the model: the YAML (random weights,
# no download) for "yolo11n-pose.pt". `<TEST_DATA>` is an alias the test registers.
import posetable.tlc as tlc

from posetable.tlc_ultralytics import YOLO

from .ultralytics_pose_helpers import collect_pose_metrics

model = YOLO("yolo11n-pose.yaml")
table = tlc.Table.from_url("<TEST_DATA>/projects/Geometry/datasets/default-dataset/tables/COCO Keypoints")
collect_pose_metrics(model, table)
