"""Keypoint layouts of public datasets: names, skeleton, flip indices and OKS sigmas.

Values as the datasets define them; the sources are named at each layout. Generated once
from those sources (never edited by hand): names, skeleton links and left/right swaps
from mmpose's dataset definitions (``configs/_base_/datasets/<name>.py`` at commit
759b39c13fea6ba094afc1fa932f51dc1b11cbf9, Apache-2.0); the COCO-WholeBody sigmas are the
official evaluation's (jin-s13/COCO-WholeBody ``evaluation/myeval_wholebody.py``: body,
foot, face, left hand, right hand), which mmpose lists unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """One dataset's keypoint layout (0-based lines, an involution as flip indices)."""

    name: str
    names: tuple[str, ...]
    lines: tuple[tuple[int, int], ...]
    flip_indices: tuple[int, ...]
    oks_sigmas: tuple[float, ...]


# fmt: off
# MPII Human Pose (16 joints, MPII's joint ids 0..15)
MPII = Layout(
    name="mpii",
    names=("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist"),
    lines=((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (8, 12), (12,
        11), (11, 10), (8, 13), (13, 14), (14, 15)),
    flip_indices=(5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10),
    oks_sigmas=(0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062, 0.072,
        0.179, 0.179, 0.072, 0.062),
)
# PoseTrack 2018 (17 slots; left_ear and right_ear are never labeled)
POSETRACK18 = Layout(
    name="posetrack18",
    names=("nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    lines=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6,
        8), (7, 9), (8, 10), (0, 1), (0, 2), (1, 5), (1, 6)),
    flip_indices=(0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15),
    oks_sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
        0.107, 0.087, 0.087, 0.089, 0.089),
)
# COCO-WholeBody: body 17, foot 6, face 68, left hand 21, right hand 21
COCO_WHOLEBODY = Layout(
    name="coco_wholebody",
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_big_toe",
        "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel", "face-0",
        "face-1", "face-2", "face-3", "face-4", "face-5", "face-6", "face-7", "face-8", "face-9",
        "face-10", "face-11", "face-12", "face-13", "face-14", "face-15", "face-16", "face-17",
        "face-18", "face-19", "face-20", "face-21", "face-22", "face-23", "face-24", "face-25",
        "face-26", "face-27", "face-28", "face-29", "face-30", "face-31", "face-32", "face-33",
        "face-34", "face-35", "face-36", "face-37", "face-38", "face-39", "face-40", "face-41",
        "face-42", "face-43", "face-44", "face-45", "face-46", "face-47", "face-48", "face-49",
        "face-50", "face-51", "face-52", "face-53", "face-54", "face-55", "face-56", "face-57",
        "face-58", "face-59", "face-60", "face-61", "face-62", "face-63", "face-64", "face-65",
        "face-66", "face-67", "left_hand_root", "left_thumb1", "left_thumb2", "left_thumb3",
        "left_thumb4", "left_forefinger1", "left_forefinger2", "left_forefinger3",
        "left_forefinger4", "left_middle_finger1", "left_middle_finger2", "left_middle_finger3",
        "left_middle_finger4", "left_ring_finger1", "left_ring_finger2", "left_ring_finger3",
        "left_ring_finger4", "left_pinky_finger1", "left_pinky_finger2", "left_pinky_finger3",
        "left_pinky_finger4", "right_hand_root", "right_thumb1", "right_thumb2", "right_thumb3",
        "right_thumb4", "right_forefinger1", "right_forefinger2", "right_forefinger3",
        "right_forefinger4", "right_middle_finger1", "right_middle_finger2",
        "right_middle_finger3", "right_middle_finger4", "right_ring_finger1", "right_ring_finger2",
        "right_ring_finger3", "right_ring_finger4", "right_pinky_finger1", "right_pinky_finger2",
        "right_pinky_finger3", "right_pinky_finger4"),
    lines=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6,
        8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (15, 17), (15,
        18), (15, 19), (16, 20), (16, 21), (16, 22), (91, 92), (92, 93), (93, 94), (94, 95), (91,
        96), (96, 97), (97, 98), (98, 99), (91, 100), (100, 101), (101, 102), (102, 103), (91,
        104), (104, 105), (105, 106), (106, 107), (91, 108), (108, 109), (109, 110), (110, 111),
        (112, 113), (113, 114), (114, 115), (115, 116), (112, 117), (117, 118), (118, 119), (119,
        120), (112, 121), (121, 122), (122, 123), (123, 124), (112, 125), (125, 126), (126, 127),
        (127, 128), (112, 129), (129, 130), (130, 131), (131, 132)),
    flip_indices=(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 20, 21, 22, 17, 18, 19,
        39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 49, 48, 47, 46, 45, 44,
        43, 42, 41, 40, 50, 51, 52, 53, 58, 57, 56, 55, 54, 68, 67, 66, 65, 70, 69, 62, 61, 60, 59,
        64, 63, 77, 76, 75, 74, 73, 72, 71, 82, 81, 80, 79, 78, 87, 86, 85, 84, 83, 90, 89, 88,
        112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129,
        130, 131, 132, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
        108, 109, 110, 111),
    oks_sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
        0.107, 0.087, 0.087, 0.089, 0.089, 0.068, 0.066, 0.066, 0.092, 0.094, 0.094, 0.042, 0.043,
        0.044, 0.043, 0.04, 0.035, 0.031, 0.025, 0.02, 0.023, 0.029, 0.032, 0.037, 0.038, 0.043,
        0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015, 0.009,
        0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.01, 0.017, 0.011, 0.009, 0.011, 0.009,
        0.007, 0.013, 0.008, 0.011, 0.012, 0.01, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007,
        0.01, 0.008, 0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01,
        0.008, 0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022,
        0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031, 0.029, 0.022, 0.035, 0.037,
        0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032,
        0.02, 0.019, 0.022, 0.031),
)
# Halpe full-body 136: body 26, face 68, left hand 21, right hand 21
HALPE = Layout(
    name="halpe",
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck", "hip",
        "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel",
        "right_heel", "face-0", "face-1", "face-2", "face-3", "face-4", "face-5", "face-6",
        "face-7", "face-8", "face-9", "face-10", "face-11", "face-12", "face-13", "face-14",
        "face-15", "face-16", "face-17", "face-18", "face-19", "face-20", "face-21", "face-22",
        "face-23", "face-24", "face-25", "face-26", "face-27", "face-28", "face-29", "face-30",
        "face-31", "face-32", "face-33", "face-34", "face-35", "face-36", "face-37", "face-38",
        "face-39", "face-40", "face-41", "face-42", "face-43", "face-44", "face-45", "face-46",
        "face-47", "face-48", "face-49", "face-50", "face-51", "face-52", "face-53", "face-54",
        "face-55", "face-56", "face-57", "face-58", "face-59", "face-60", "face-61", "face-62",
        "face-63", "face-64", "face-65", "face-66", "face-67", "left_hand_root", "left_thumb1",
        "left_thumb2", "left_thumb3", "left_thumb4", "left_forefinger1", "left_forefinger2",
        "left_forefinger3", "left_forefinger4", "left_middle_finger1", "left_middle_finger2",
        "left_middle_finger3", "left_middle_finger4", "left_ring_finger1", "left_ring_finger2",
        "left_ring_finger3", "left_ring_finger4", "left_pinky_finger1", "left_pinky_finger2",
        "left_pinky_finger3", "left_pinky_finger4", "right_hand_root", "right_thumb1",
        "right_thumb2", "right_thumb3", "right_thumb4", "right_forefinger1", "right_forefinger2",
        "right_forefinger3", "right_forefinger4", "right_middle_finger1", "right_middle_finger2",
        "right_middle_finger3", "right_middle_finger4", "right_ring_finger1", "right_ring_finger2",
        "right_ring_finger3", "right_ring_finger4", "right_pinky_finger1", "right_pinky_finger2",
        "right_pinky_finger3", "right_pinky_finger4"),
    lines=((15, 13), (13, 11), (11, 19), (16, 14), (14, 12), (12, 19), (17, 18), (18, 19), (18, 5),
        (5, 7), (7, 9), (18, 6), (6, 8), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5),
        (4, 6), (15, 20), (15, 22), (15, 24), (16, 21), (16, 23), (16, 25), (9, 95), (95, 96), (96,
        97), (97, 98), (9, 99), (99, 100), (100, 101), (101, 102), (9, 103), (103, 104), (104,
        105), (105, 106), (9, 107), (107, 108), (108, 109), (109, 110), (9, 111), (111, 112), (112,
        113), (113, 114), (10, 116), (116, 117), (117, 118), (118, 119), (10, 120), (120, 121),
        (121, 122), (122, 123), (10, 124), (124, 125), (125, 126), (126, 127), (10, 128), (128,
        129), (129, 130), (130, 131), (10, 132), (132, 133), (133, 134), (134, 135)),
    flip_indices=(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 17, 18, 19, 21, 20, 23,
        22, 25, 24, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 52, 51, 50,
        49, 48, 47, 46, 45, 44, 43, 53, 54, 55, 56, 61, 60, 59, 58, 57, 71, 70, 69, 68, 73, 72, 65,
        64, 63, 62, 67, 66, 80, 79, 78, 77, 76, 75, 74, 85, 84, 83, 82, 81, 90, 89, 88, 87, 86, 93,
        92, 91, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130,
        131, 132, 133, 134, 135, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
        108, 109, 110, 111, 112, 113, 114),
    oks_sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
        0.107, 0.087, 0.087, 0.089, 0.089, 0.08, 0.08, 0.08, 0.089, 0.089, 0.089, 0.089, 0.089,
        0.089, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
        0.015, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015),
)
# fmt: on

#: COCO-WholeBody's part fields, in the order they follow the 17 body points.
WHOLEBODY_PARTS = (
    ("foot_kpts", 6),
    ("face_kpts", 68),
    ("lefthand_kpts", 21),
    ("righthand_kpts", 21),
)
