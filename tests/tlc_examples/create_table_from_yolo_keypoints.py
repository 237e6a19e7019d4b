# ruff: noqa
# 3lc-ai/3lc-examples@ba3412f tutorials/1-create-tables/keypoints/create-table-from-yolo-keypoints.ipynb
# Changed: `import tlc` -> `import posetable.tlc as tlc`; DATA_PATH and the YAML path point
# at tests/data/coco8_pose_yolo (3LC's data/yolo/simple.yaml has no keypoints).
import os

PROJECT_NAME = "3LC Tutorials - YOLO Keypoints"
DATASET_NAME = "YOLO-Keypoints-Dataset"
TABLE_NAME = "initial-keypoints"
DATA_PATH = os.environ["TLC_EXAMPLE_DATA"]

from pathlib import Path

import posetable.tlc as tlc

dataset_yaml_file = (Path(DATA_PATH) / "coco8-pose.yaml").absolute()

assert dataset_yaml_file.exists()

train_table = tlc.Table.from_yolo(
    dataset_yaml_file=str(dataset_yaml_file),
    split="train",
    project_name=PROJECT_NAME,
    dataset_name=DATASET_NAME,
    table_name=TABLE_NAME,
    task="pose",
)
