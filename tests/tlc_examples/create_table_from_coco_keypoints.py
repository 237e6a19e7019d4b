# ruff: noqa
# 3lc-ai/3lc-examples@ba3412f tutorials/1-create-tables/keypoints/create-table-from-coco-keypoints.ipynb
# Changed: `import tlc` -> `import posetable.tlc as tlc`; DATA_PATH and the two file paths
# point at tests/data/coco_kpts (its file is annotations.json, its images in images/).
import os

PROJECT_NAME = "3LC Tutorials - COCO128"
DATASET_NAME = "COCO128"
TABLE_NAME = "initial-keypoints"

DATA_PATH = os.environ["TLC_EXAMPLE_DATA"]

from pathlib import Path

import posetable.tlc as tlc

annotations_file = (Path(DATA_PATH) / "annotations.json").absolute()
image_folder = (Path(DATA_PATH) / "images").absolute()

assert annotations_file.exists()
assert image_folder.exists()

table = tlc.Table.from_coco(
    annotations_file=annotations_file,
    image_folder=image_folder,
    table_name=TABLE_NAME,
    project_name=PROJECT_NAME,
    dataset_name=DATASET_NAME,
    task="pose",
    if_exists="rename",
    # The remaining parameters are optional, and are used for decoration in the 3LC Dashboard
    lines=tlc.KeypointHelper.COCO_SKELETON,
    points=tlc.KeypointHelper.COCO_KEYPOINT_DEFAULT_POSE,
    point_attributes=tlc.KeypointHelper.COCO_KEYPOINT_NAMES,
    flip_indices=tlc.KeypointHelper.COCO_FLIP_INDICES,
)

table
