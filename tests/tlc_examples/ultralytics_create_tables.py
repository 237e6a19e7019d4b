# ruff: noqa
# 3lc-ai/3lc-ultralytics examples/pose/create_tables.py
# Changed: `import tlc` -> `import posetable.tlc as tlc`; the YAML path points at
# tests/data/coco8_pose_yolo.
import os

import posetable.tlc as tlc

train_table = tlc.Table.from_yolo(
    dataset_yaml_file=os.environ["TLC_EXAMPLE_YAML"],
    split="train",
    project_name="my_pose_estimation_project_name",
    dataset_name="train",
    table_name="initial",
    task="pose",
)
