"""The COCO-17 person keypoint constants (pycocotools' values)."""

from __future__ import annotations

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# The COCO skeleton as COCO files write it (1-based) ...
COCO_SKELETON_1BASED: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
# ... and as posetable keeps it: 0-based pairs.
COCO_SKELETON: tuple[tuple[int, int], ...] = tuple((a - 1, b - 1) for a, b in COCO_SKELETON_1BASED)

COCO_FLIP_INDICES: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)

# pycocotools writes each sigma as a decimal literal and divides by 10; that second rounding
# is what bit-exact OKS depends on, so the values are computed the same way here.
_PYCOCOTOOLS_SIGMA_LITERALS = (
    0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87,
    0.89, 0.89,
)  # fmt: skip
COCO_OKS_SIGMAS: tuple[float, ...] = tuple(v / 10.0 for v in _PYCOCOTOOLS_SIGMA_LITERALS)

# A standing person facing the viewer on the unit square (x right, y down); the person's
# left side appears on the image's right.
COCO_KEYPOINT_DEFAULT_POSE: tuple[tuple[float, float], ...] = (
    (0.50, 0.10), (0.54, 0.07), (0.46, 0.07), (0.58, 0.09), (0.42, 0.09),
    (0.65, 0.25), (0.35, 0.25), (0.72, 0.42), (0.28, 0.42), (0.75, 0.57),
    (0.25, 0.57), (0.60, 0.57), (0.40, 0.57), (0.61, 0.76), (0.39, 0.76),
    (0.62, 0.95), (0.38, 0.95),
)  # fmt: skip

# One RGB colour per skeleton line of COCO_SKELETON: legs blue/orange, torso green,
# arms by side, face purple.
COCO_SKELETON_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 128, 0), (255, 128, 0), (51, 153, 255), (51, 153, 255), (0, 255, 0),
    (255, 128, 0), (51, 153, 255), (0, 255, 0), (255, 128, 0), (51, 153, 255),
    (255, 128, 0), (51, 153, 255), (255, 51, 255), (255, 51, 255), (255, 51, 255),
    (255, 51, 255), (255, 51, 255), (255, 51, 255), (255, 51, 255),
)  # fmt: skip
