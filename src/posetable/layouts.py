"""Named keypoint layouts of public datasets, and the standard mappings between them.

=================  ===  ==========================================================  ========
layout             K    keypoints (order as the dataset's files)                     sigmas
=================  ===  ==========================================================  ========
``coco17``         17   COCO person keypoints                                        COCO
``mpii16``         16   MPII Human Pose (ankles first, pelvis, thorax, head)         none
``posetrack15``    15   PoseTrack's 15 evaluated joints (poseval's order)             none
``halpe26``        26   Halpe Full-Body: COCO-17, head, neck, hip, six foot points   Halpe's
``coco_wholebody`` 133  COCO-WholeBody: body 17, feet 6, face 68, hands 2 x 21       theirs
=================  ===  ==========================================================  ========

Where the lists come from: COCO-17 is pycocotools' (:mod:`posetable._coco_constants`);
MPII-16, Halpe-26 and COCO-WholeBody's names, lines and face mirror pairs are those of
open-mmlab/mmpose's ``configs/_base_/datasets/`` ``mpii.py`` (commit ba8cf337),
``halpe26.py`` (537bd8e5) and ``coco_wholebody.py`` (03508d97) (Apache-2.0);
PoseTrack-15 is ``POSETRACK18_LM_NAMES`` of leonid-pishchulin/poseval's ``py/convert.py``
(0c0585f5). Halpe-26's sigmas are those of Halpe-FullBody's ``halpecocotools`` as mmpose's
``halpe26.py`` quotes them; COCO-WholeBody's are those of jin-s13/COCO-WholeBody's
``evaluation/myeval_wholebody.py`` (7705f875), in its body, foot, face, left hand, right
hand order.
MPII and PoseTrack define no OKS sigmas (they are scored with PCKh); mmpose's values for
them are COCO's copied, so these layouts leave sigmas out (uniform ``1/K``, which
``posetable check`` warns about) rather than pass copies off as measured.

A standard mapping ``"a->b"`` maps every keypoint of ``b`` to the keypoint of ``a`` with the
same name (the layouts share COCO's names for limbs), plus the documented pairs of
:data:`EQUIVALENT`; every other point of ``b`` has no source (MPII's pelvis, thorax,
upper_neck and head_top from COCO, for instance). No point is averaged into existence.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from posetable._coco_constants import (
    COCO_FLIP_INDICES,
    COCO_KEYPOINT_NAMES,
    COCO_OKS_SIGMAS,
    COCO_SKELETON,
)
from posetable.errors import SchemaError
from posetable.schema import Keypoints2DSchema
from posetable.skeleton import flip_indices_from_names


@dataclass(frozen=True)
class Layout:
    """A named keypoint layout: names, lines (pairs of names), flips and sigmas.

    Example:
        >>> from posetable.layouts import layout
        >>> mpii = layout("mpii16")
        >>> mpii.num_keypoints, mpii.keypoint_names[:3], mpii.schema().flip_indices[:3]
        (16, ('right_ankle', 'right_knee', 'right_hip'), (5, 4, 3))
    """

    name: str
    keypoint_names: tuple[str, ...]
    lines: tuple[tuple[str, str], ...]
    sigmas: tuple[float, ...] | None = None
    flip_indices: tuple[int, ...] | None = None  # None: derived from the left/right names

    @property
    def num_keypoints(self) -> int:
        """K."""
        return len(self.keypoint_names)

    def schema(self) -> Keypoints2DSchema:
        """The layout as a person schema (visibility declared).

        Example:
            >>> from posetable.layouts import layout
            >>> layout("coco17").schema() == Keypoints2DSchema.coco_person()
            True
        """
        if self.name == "coco17":
            return Keypoints2DSchema.coco_person()
        where = {n: i for i, n in enumerate(self.keypoint_names)}
        flips = self.flip_indices or flip_indices_from_names(self.keypoint_names)
        return Keypoints2DSchema(
            keypoint_names=self.keypoint_names,
            lines=[(where[a], where[b]) for a, b in self.lines],
            flip_indices=flips,
            oks_sigmas=self.sigmas,
            include_per_point_visibility=True,
        )


def _named(
    lines: tuple[tuple[int, int], ...], names: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    return tuple((names[a], names[b]) for a, b in lines)


COCO17 = Layout("coco17", COCO_KEYPOINT_NAMES, _named(COCO_SKELETON, COCO_KEYPOINT_NAMES),
                COCO_OKS_SIGMAS, COCO_FLIP_INDICES)  # fmt: skip

MPII16 = Layout(
    "mpii16",
    (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),
    (
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("upper_neck", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"), ("upper_neck", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ),
)  # fmt: skip

POSETRACK15 = Layout(
    "posetrack15",
    (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
        "left_wrist", "head_bottom", "nose", "head_top",
    ),
    (
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("nose", "head_bottom"),
        ("nose", "head_top"), ("head_bottom", "left_shoulder"),
        ("head_bottom", "right_shoulder"),
    ),
)  # fmt: skip

_FEET = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
         "right_heel")  # fmt: skip
HALPE26 = Layout(
    "halpe26",
    (*COCO_KEYPOINT_NAMES, "head", "neck", "hip", "left_big_toe", "right_big_toe",
     "left_small_toe", "right_small_toe", "left_heel", "right_heel"),
    (
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("left_hip", "hip"),
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "hip"),
        ("head", "neck"), ("neck", "hip"), ("neck", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"), ("left_eye", "right_eye"), ("nose", "left_eye"),
        ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
        ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"),
        ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
        ("right_ankle", "right_small_toe"), ("right_ankle", "right_heel"),
    ),
    (
        *COCO_OKS_SIGMAS, 0.026, 0.026, 0.066, 0.079, 0.079, 0.079, 0.079, 0.079, 0.079,
    ),
)  # fmt: skip

_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
_HAND = ("hand_root", *(f"{f}{i}" for f in _FINGERS for i in range(1, 5)))
_WHOLEBODY_NAMES = (
    *COCO_KEYPOINT_NAMES,
    *_FEET,
    *(f"face-{i}" for i in range(68)),
    *(f"left_{p}" for p in _HAND),
    *(f"right_{p}" for p in _HAND),
)
# The face's mirror pairs (face-i <-> face-j); the other face points flip to themselves.
_FACE_MIRROR = (
    *((i, 16 - i) for i in range(8)), *((17 + i, 26 - i) for i in range(5)), (31, 35),
    (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54),
    (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67),
)  # fmt: skip


def _wholebody_flips() -> tuple[int, ...]:
    flips = list(flip_indices_from_names(_WHOLEBODY_NAMES))  # face-i: no side in the name
    face = _WHOLEBODY_NAMES.index("face-0")
    for a, b in _FACE_MIRROR:
        flips[face + a], flips[face + b] = face + b, face + a
    return tuple(flips)


def _hand_lines(side: str) -> tuple[tuple[str, str], ...]:
    out = []
    for finger in _FINGERS:
        chain = [f"{side}_wrist", *(f"{side}_{finger}{i}" for i in range(1, 5))]
        out += list(pairwise(chain))
    return tuple(out)


_WHOLEBODY_SIGMAS = (
    *COCO_OKS_SIGMAS,
    0.068, 0.066, 0.066, 0.092, 0.094, 0.094,
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037,
    0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013,
    0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009,
    0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008,
    0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008,
    0.008, 0.01, 0.008,
    *((0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022,
       0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031) * 2),
)  # fmt: skip

COCO_WHOLEBODY = Layout(
    "coco_wholebody",
    _WHOLEBODY_NAMES,
    (
        *COCO17.lines,
        ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"),
        ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
        ("right_ankle", "right_small_toe"), ("right_ankle", "right_heel"),
        *_hand_lines("left"), *_hand_lines("right"),
    ),
    _WHOLEBODY_SIGMAS,
    _wholebody_flips(),
)  # fmt: skip

LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (COCO17, MPII16, POSETRACK15, HALPE26, COCO_WHOLEBODY)
}
_ALIASES = {"coco": "coco17", "mpii": "mpii16", "posetrack": "posetrack15", "halpe": "halpe26",
            "wholebody": "coco_wholebody", "coco_wholebody133": "coco_wholebody"}  # fmt: skip

#: Points of different names that are the same body point, as ``{(layout, name): (layout,
#: name)}`` both ways. PoseTrack's ``head_bottom`` is MPII's ``upper_neck``: PoseTrack was
#: annotated with MPII's protocol by the same group, and poseval calls the point ``neck``.
EQUIVALENT: dict[tuple[str, str], tuple[str, str]] = {
    ("posetrack15", "head_bottom"): ("mpii16", "upper_neck"),
    ("mpii16", "upper_neck"): ("posetrack15", "head_bottom"),
}


def layout(name: str) -> Layout:
    """The layout of that name (``coco17``, ``mpii16``, ``posetrack15``, ``halpe26``,
    ``coco_wholebody``; ``coco``, ``mpii``... also work).

    Example:
        >>> layout("halpe26").keypoint_names[17:20]
        ('head', 'neck', 'hip')
    """
    key = str(name).lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in LAYOUTS:
        raise SchemaError(f"unknown layout {name!r}; known layouts: {sorted(LAYOUTS)}")
    return LAYOUTS[key]


def standard_mapping(name: str) -> dict[str, str | None]:
    """The standard mapping ``"a->b"``: ``{name in b: its source in a, or None}``.

    Example:
        >>> m = standard_mapping("coco17->mpii16")
        >>> m["right_ankle"], m["pelvis"], sum(v is not None for v in m.values())
        ('right_ankle', None, 12)
        >>> standard_mapping("mpii16->posetrack15")["head_bottom"]
        'upper_neck'
    """
    parts = str(name).split("->")
    if len(parts) != 2:
        raise SchemaError(
            f"a standard mapping is named 'source->target' (e.g. 'coco17->mpii16'), got {name!r}"
        )
    source, target = layout(parts[0].strip()), layout(parts[1].strip())
    if source.name == target.name:
        raise SchemaError(f"standard mapping {name!r} maps {source.name} onto itself")
    known = set(source.keypoint_names)
    out: dict[str, str | None] = {}
    for point in target.keypoint_names:
        if point in known:
            out[point] = point
            continue
        other = EQUIVALENT.get((target.name, point))
        out[point] = other[1] if other is not None and other[0] == source.name else None
    return out


def standard_mappings() -> list[str]:
    """Every standard mapping's name (each pair of layouts, both ways).

    Example:
        >>> "halpe26->coco17" in standard_mappings()
        True
    """
    return [f"{a}->{b}" for a in LAYOUTS for b in LAYOUTS if a != b]


__all__ = [
    "COCO17",
    "COCO_WHOLEBODY",
    "EQUIVALENT",
    "HALPE26",
    "LAYOUTS",
    "MPII16",
    "POSETRACK15",
    "Layout",
    "layout",
    "standard_mapping",
    "standard_mappings",
]
