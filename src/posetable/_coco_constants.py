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


# -- 3LC's public forms ---------------------------------------------------------------------
# ``KeypointHelper.COCO_*`` (and ``posetable.COCO_*``) have 3LC's values and types: flat lists,
# 3LC's own 16-line skeleton and a pose whose left side is on the image's left. The native
# forms above stay what posetable's COCO reader and ``Keypoints2DSchema.coco_person()`` use
# (pycocotools' 19-line skeleton, 1-based in files).
#
# Where the values come from: docs.3lc.ai's page of ``tlc.core.helpers.keypoint_helper``
# (3LC 2.x) prints each constant only up to its first ~100 characters. COCO_FLIP_INDICES and
# COCO_KEYPOINT_NAMES are printed whole. COCO_SKELETON's first 15 pairs are printed; its
# last pair (6, 12) completes the documented prefix "..., 5, 1" to the 16-bone set the
# prefix is drawn from. COCO_SKELETON_NAMES follows the documented "a_to_b" pattern of its
# first four names. The first 17 numbers of COCO_KEYPOINT_DEFAULT_POSE (nose to left_elbow)
# and the first 6 colours of COCO_SKELETON_COLORS are 3LC's; the rest of the pose mirrors it
# and the other 10 colours are posetable's (3LC's are not published in full).
TLC_COCO_KEYPOINT_NAMES: list[str] = list(COCO_KEYPOINT_NAMES)
TLC_COCO_FLIP_INDICES: list[int] = list(COCO_FLIP_INDICES)
TLC_COCO_SKELETON: list[int] = [
    3, 1, 4, 2, 1, 0, 0, 2, 5, 6, 5, 7, 6, 8, 7, 9, 8, 10,
    11, 12, 11, 13, 12, 14, 13, 15, 14, 16, 5, 11, 6, 12,
]  # fmt: skip
TLC_COCO_SKELETON_NAMES: list[str] = [
    f"{COCO_KEYPOINT_NAMES[a]}_to_{COCO_KEYPOINT_NAMES[b]}"
    for a, b in zip(TLC_COCO_SKELETON[0::2], TLC_COCO_SKELETON[1::2], strict=True)
]
TLC_COCO_SKELETON_COLORS: list[tuple[int, int, int]] = [
    (102, 204, 255), (51, 153, 255), (102, 0, 204), (51, 102, 255), (255, 128, 0),
    (153, 255, 204), (128, 0, 255), (102, 255, 178), (178, 102, 255), (255, 178, 102),
    (0, 204, 102), (204, 0, 102), (0, 153, 76), (153, 0, 76), (255, 204, 102), (255, 153, 51),
]  # fmt: skip
TLC_COCO_KEYPOINT_DEFAULT_POSE: list[float] = [
    0.5, 0.15, 0.47, 0.14, 0.53, 0.14, 0.45, 0.15, 0.55, 0.15,  # nose, eyes, ears
    0.4, 0.25, 0.6, 0.25, 0.38, 0.4, 0.62, 0.4,  # shoulders, elbows
    0.36, 0.52, 0.64, 0.52, 0.44, 0.55, 0.56, 0.55,  # wrists, hips
    0.43, 0.75, 0.57, 0.75, 0.42, 0.95, 0.58, 0.95,  # knees, ankles
]  # fmt: skip
