"""3LC's column and field names (``tlc.core.builtins.constants.column_names``).

Example:
    >>> from posetable.tlc.core.builtins.constants import IMAGE, KEYPOINTS_2D
    >>> IMAGE, KEYPOINTS_2D
    ('image', 'keypoints_2d')
"""

from __future__ import annotations

from typing import Final

SAMPLE_WEIGHT: Final = "weight"
EXAMPLE_ID: Final = "example_id"
IMAGE: Final = "image"
LABEL: Final = "label"
WIDTH: Final = "width"
HEIGHT: Final = "height"
IMAGE_WIDTH: Final = "image_width"
IMAGE_HEIGHT: Final = "image_height"
CONFIDENCE: Final = "confidence"
KEYPOINTS_2D: Final = "keypoints_2d"
KEYPOINTS_2D_PREDICTED: Final = "keypoints_2d_predicted"
VERTICES_2D: Final = "vertices_2d"
VERTICES_2D_ADDITIONAL_DATA: Final = "vertices_2d_additional_data"
LINES: Final = "lines"
INSTANCES: Final = "instances"
INSTANCES_ADDITIONAL_DATA: Final = "instances_additional_data"
X_MIN: Final = "x_min"
Y_MIN: Final = "y_min"
X_MAX: Final = "x_max"
Y_MAX: Final = "y_max"
BBS_2D: Final = "bbs_2d"
VISIBILITY: Final = "visibility"
FLIP_INDICES: Final = "flip_indices"
OKS_SIGMAS: Final = "oks_sigmas"
EPOCH: Final = "epoch"
FOREIGN_TABLE_ID: Final = "input_table_id"
EMBEDDING_COL_NAME: Final = "embeddings_{}_{}"
#: The run attribute holding the status, and 3LC's status values (floats, as 3LC has them).
RUN_STATUS: Final = "status"
RUN_STATUS_COMPLETED: Final = 1.0
RUN_STATUS_EMPTY: Final = 2.0
RUN_STATUS_RUNNING: Final = 3.0
RUN_STATUS_COLLECTING: Final = 4.0
RUN_STATUS_POST_PROCESSING: Final = 5.0
RUN_STATUS_PAUSED: Final = 6.0
RUN_STATUS_CANCELLED: Final = 7.0

__all__ = [
    "BBS_2D",
    "CONFIDENCE",
    "EMBEDDING_COL_NAME",
    "EPOCH",
    "EXAMPLE_ID",
    "FLIP_INDICES",
    "FOREIGN_TABLE_ID",
    "HEIGHT",
    "IMAGE",
    "IMAGE_HEIGHT",
    "IMAGE_WIDTH",
    "INSTANCES",
    "INSTANCES_ADDITIONAL_DATA",
    "KEYPOINTS_2D",
    "KEYPOINTS_2D_PREDICTED",
    "LABEL",
    "LINES",
    "OKS_SIGMAS",
    "RUN_STATUS",
    "RUN_STATUS_CANCELLED",
    "RUN_STATUS_COLLECTING",
    "RUN_STATUS_COMPLETED",
    "RUN_STATUS_EMPTY",
    "RUN_STATUS_PAUSED",
    "RUN_STATUS_POST_PROCESSING",
    "RUN_STATUS_RUNNING",
    "SAMPLE_WEIGHT",
    "VERTICES_2D",
    "VERTICES_2D_ADDITIONAL_DATA",
    "VISIBILITY",
    "WIDTH",
    "X_MAX",
    "X_MIN",
    "Y_MAX",
    "Y_MIN",
]
