# ruff: noqa
# 3lc-ai/3lc-examples@ba3412f tutorials/3-training-and-metrics/
#   ultralytics-animalpose-yolo11-pose-training.ipynb, its code cells in order.
# Changed: `import tlc` -> `import posetable.tlc as tlc`, `tlc_ultralytics` ->
# `posetable.tlc_ultralytics`, `tlc_tools` -> `posetable.tlc_tools`; the `%pip install` cell is
# left out; data substitutions: MODEL_NAME .pt -> .yaml, EPOCHS 10 -> 1, a tiny imgsz/batch
# on CPU. The AnimalPose table the notebook opens is made by the test from tests/data.
PROJECT_NAME = "3LC Tutorials - 2D Keypoints"
RUN_NAME = "train-yolo-animalpose"
RUN_DESCRIPTION = "Train yolo11 pose model on the AnimalPose dataset"
DATASET_NAME = "AnimalPose"
TABLE_NAME = "initial"
MODEL_NAME = "yolo11n-pose.yaml"
NUM_WORKERS = 0
EPOCHS = 1

import posetable.tlc as tlc
from posetable.tlc_ultralytics import YOLO, Settings

from posetable.tlc_tools.split import split_table

initial_table = tlc.Table.from_names(TABLE_NAME, DATASET_NAME, PROJECT_NAME)


def split_by(table_row):
    """Callable to get the label of the first keypoint instance

    This allows us to do a stratified split by label, just like in the original SuperGradients notebook.
    """
    return table_row["keypoints_2d"]["instances_additional_data"]["label"][0]


train_val_test = split_table(
    initial_table,
    splits={"train": 0.8, "val_test": 0.2},
    split_strategy="stratified",
    split_by=split_by,
    random_seed=42,
    shuffle=False,
)

test_val = split_table(
    train_val_test["val_test"],
    splits={"val": 0.5, "test": 0.5},
    split_strategy="stratified",
    split_by=split_by,
    shuffle=False,
    random_seed=42,
)

train_table = train_val_test["train"]
val_table = test_val["val"]
test_table = test_val["test"]

print(initial_table)
print(train_table)
print(val_table)
print(test_table)

model = YOLO(MODEL_NAME)

settings = Settings(
    project_name=PROJECT_NAME,
    run_name=RUN_NAME,
    run_description=RUN_DESCRIPTION,
    collect_loss=True,
    image_embeddings_dim=2,
)

model.train(
    tables={"train": train_table, "val": val_table},
    settings=settings,
    epochs=EPOCHS,
    workers=NUM_WORKERS,
    imgsz=64,
    batch=4,
    device="cpu",
)
