"""Named keypoint layouts of public datasets, and the standard mappings between them.

The one place posetable keeps them: the skeleton operations (:func:`map_keypoints`) and the
format readers (MPII, PoseTrack, COCO-WholeBody, Halpe) take their names, lines, flips and
sigmas from here.

==================  ===  ========================================================  =========
layout              K    keypoints (order as the dataset's files)                  sigmas
==================  ===  ========================================================  =========
``coco17``          17   COCO person keypoints                                     COCO
``mpii16``          16   MPII Human Pose (ankles first, pelvis, thorax, head)      none
``posetrack15``     15   PoseTrack's 15 evaluated joints (poseval's order)         none
``posetrack18``     17   PoseTrack 2018's files: 17 slots, ears never labeled      none
``halpe26``         26   Halpe Full-Body: COCO-17, head, neck, hip, 6 foot points  mmpose's
``halpe136``        136  Halpe Full-Body: the 26, face 68, hands 2 x 21            Halpe's
``coco_wholebody``  133  COCO-WholeBody: body 17, feet 6, face 68, hands 2 x 21    theirs
==================  ===  ========================================================  =========

Where the lists come from: COCO-17 is pycocotools' (:mod:`posetable._coco_constants`).
MPII-16, PoseTrack-18, Halpe-26, Halpe-136 and COCO-WholeBody's names, lines and mirror
pairs are those of open-mmlab/mmpose's ``configs/_base_/datasets/`` ``mpii.py``,
``posetrack18.py``, ``halpe26.py``, ``halpe.py`` and ``coco_wholebody.py`` at commit
759b39c13fea6ba094afc1fa932f51dc1b11cbf9 (Apache-2.0; COCO-WholeBody's fingers start at
``*_hand_root`` there, Halpe's at the wrist). PoseTrack-15 is ``POSETRACK18_LM_NAMES`` of
leonid-pishchulin/poseval's ``py/convert.py`` (0c0585f5).

Sigmas: COCO-WholeBody's are those of its official evaluation (jin-s13/COCO-WholeBody
``evaluation/myeval_wholebody.py``, 7705f875: body, foot, face, left hand, right hand), as
written there. Halpe-136's are those of Halpe-FullBody's ``halpecocotools/cocoeval.py``
(b32b612b) for 136 points. Halpe-26's are mmpose's ``halpe26.py`` (it cites that same
file, whose values for head, neck, hip and feet differ: 0.08 and 0.089).
MPII and PoseTrack define no OKS sigmas (they are scored with PCKh); mmpose's values for
them are COCO's moved onto their joints (MPII's shoulders even get 0.179), not measured, so
these layouts carry none: uniform ``1/K``, which ``posetable check`` reports
(``sigmas_missing``) with how to estimate them (:func:`posetable.estimate_sigmas`).

A standard mapping ``"a->b"`` maps every keypoint of ``b`` to the keypoint of ``a`` with the
same name (the layouts share COCO's names for limbs), plus the documented points of
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
from posetable._flip_names import flip_indices_from_names
from posetable._validate import check_flip_indices
from posetable.errors import SchemaError
from posetable.schema import Keypoints2DSchema


@dataclass(frozen=True)
class Layout:
    """A named keypoint layout: names, lines (pairs of names), flips and OKS sigmas.

    ``flip_indices`` left out are derived from the left/right names; ``oks_sigmas`` None
    means the dataset publishes none (a table gets uniform ``1/K``).

    Example:
        >>> from posetable.layouts import layout
        >>> mpii = layout("mpii16")
        >>> mpii.num_keypoints, mpii.keypoint_names[:3], mpii.flip_indices[:3]
        (16, ('right_ankle', 'right_knee', 'right_hip'), (5, 4, 3))
        >>> mpii.line_indices[:2], mpii.oks_sigmas
        (((0, 1), (1, 2)), None)
    """

    name: str
    keypoint_names: tuple[str, ...]
    lines: tuple[tuple[str, str], ...]
    oks_sigmas: tuple[float, ...] | None = None
    flip_indices: tuple[int, ...] = ()  # (): derived from the left/right names

    def __post_init__(self) -> None:
        k = len(self.keypoint_names)
        flips = self.flip_indices or flip_indices_from_names(self.keypoint_names, strict=True)
        object.__setattr__(self, "flip_indices", check_flip_indices(flips, k))
        known = set(self.keypoint_names)
        strays = [p for line in self.lines for p in line if p not in known]
        if len(known) != k:
            raise SchemaError(f"layout {self.name!r}: keypoint names must be unique")
        if strays:
            raise SchemaError(f"layout {self.name!r}: lines name unknown keypoints {strays[:3]}")
        if self.oks_sigmas is not None and len(self.oks_sigmas) != k:
            raise SchemaError(
                f"layout {self.name!r}: expected {k} sigmas, got {len(self.oks_sigmas)}"
            )

    @property
    def num_keypoints(self) -> int:
        """K."""
        return len(self.keypoint_names)

    @property
    def line_indices(self) -> tuple[tuple[int, int], ...]:
        """The lines as 0-based keypoint index pairs (as a schema holds them)."""
        where = {n: i for i, n in enumerate(self.keypoint_names)}
        return tuple((where[a], where[b]) for a, b in self.lines)

    def schema(self) -> Keypoints2DSchema:
        """The layout as a person schema (visibility declared).

        Example:
            >>> from posetable.layouts import layout
            >>> layout("coco17").schema() == Keypoints2DSchema.coco_person()
            True
            >>> layout("mpii16").schema().oks_sigmas_source
            'uniform 1/K'
        """
        if self.name == "coco17":
            return Keypoints2DSchema.coco_person()
        return Keypoints2DSchema(
            keypoint_names=self.keypoint_names,
            lines=self.line_indices,
            flip_indices=self.flip_indices,
            oks_sigmas=self.oks_sigmas,
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

_POSETRACK_LINES = (
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("nose", "head_bottom"),
    ("nose", "head_top"), ("head_bottom", "left_shoulder"), ("head_bottom", "right_shoulder"),
)  # fmt: skip
POSETRACK15 = Layout(
    "posetrack15",
    (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
        "left_wrist", "head_bottom", "nose", "head_top",
    ),
    _POSETRACK_LINES,
)  # fmt: skip
POSETRACK18 = Layout(
    "posetrack18",
    ("nose", "head_bottom", "head_top", *COCO_KEYPOINT_NAMES[3:]),  # COCO's slots 1, 2 reused
    _POSETRACK_LINES,
)

_BODY26 = (*COCO_KEYPOINT_NAMES, "head", "neck", "hip", "left_big_toe", "right_big_toe",
           "left_small_toe", "right_small_toe", "left_heel", "right_heel")  # fmt: skip
_BODY26_LINES = (
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
)  # fmt: skip
HALPE26 = Layout(
    "halpe26",
    _BODY26,
    _BODY26_LINES,
    (*COCO_OKS_SIGMAS, 0.026, 0.026, 0.066, 0.079, 0.079, 0.079, 0.079, 0.079, 0.079),
)

_FEET = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
         "right_heel")  # fmt: skip
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
_HAND = ("hand_root", *(f"{f}{i}" for f in _FINGERS for i in range(1, 5)))
_FACE = tuple(f"face-{i}" for i in range(68))
_HANDS = (*(f"left_{p}" for p in _HAND), *(f"right_{p}" for p in _HAND))
# The face's mirror pairs (face-i <-> face-j); the other face points flip to themselves.
_FACE_MIRROR = (
    *((i, 16 - i) for i in range(8)), *((17 + i, 26 - i) for i in range(5)), (31, 35),
    (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54),
    (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67),
)  # fmt: skip


def _with_face_flips(names: tuple[str, ...]) -> tuple[int, ...]:
    """Flips from the left/right names, plus the face's mirror pairs (no side in face-i)."""
    flips = list(flip_indices_from_names(names, strict=True))
    face = names.index("face-0")
    for a, b in _FACE_MIRROR:
        flips[face + a], flips[face + b] = face + b, face + a
    return tuple(flips)


def _hand_lines(root: str) -> tuple[tuple[str, str], ...]:
    """Each finger's chain from ``root`` (``wrist`` or ``hand_root``), left hand first."""
    out: list[tuple[str, str]] = []
    for side in ("left", "right"):
        for finger in _FINGERS:
            chain = [f"{side}_{root}", *(f"{side}_{finger}{i}" for i in range(1, 5))]
            out += pairwise(chain)
    return tuple(out)


_WHOLEBODY_NAMES = (*COCO_KEYPOINT_NAMES, *_FEET, *_FACE, *_HANDS)
_WHOLEBODY_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089,
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
        *_hand_lines("hand_root"),
    ),
    _WHOLEBODY_SIGMAS,
    _with_face_flips(_WHOLEBODY_NAMES),
)  # fmt: skip

_HALPE136_NAMES = (*_BODY26, *_FACE, *_HANDS)
HALPE136 = Layout(
    "halpe136",
    _HALPE136_NAMES,
    (*_BODY26_LINES, *_hand_lines("wrist")),
    (
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
        0.107, 0.087, 0.087, 0.089, 0.089, 0.08, 0.08, 0.08, *(0.089,) * 6, *(0.015,) * 110,
    ),
    _with_face_flips(_HALPE136_NAMES),
)  # fmt: skip

LAYOUTS: dict[str, Layout] = {
    item.name: item
    for item in (COCO17, MPII16, POSETRACK15, POSETRACK18, HALPE26, HALPE136, COCO_WHOLEBODY)
}
_ALIASES = {"coco": "coco17", "mpii": "mpii16", "posetrack": "posetrack15", "halpe": "halpe26",
            "wholebody": "coco_wholebody", "coco_wholebody133": "coco_wholebody"}  # fmt: skip

#: Points of different names that are the same body point: groups of ``(layout, name)``.
#: PoseTrack's ``head_bottom`` is MPII's ``upper_neck``: PoseTrack was annotated with
#: MPII's protocol by the same group, and poseval calls the point ``neck``.
EQUIVALENT: tuple[tuple[tuple[str, str], ...], ...] = (
    (("mpii16", "upper_neck"), ("posetrack15", "head_bottom"), ("posetrack18", "head_bottom")),
)
_SAME = {point: group for group in EQUIVALENT for point in group}


def layout(name: str) -> Layout:
    """The layout of that name (``coco17``, ``mpii16``, ``posetrack15``, ``posetrack18``,
    ``halpe26``, ``halpe136``, ``coco_wholebody``; ``coco``, ``mpii``... also work).

    Example:
        >>> layout("halpe26").keypoint_names[17:20]
        ('head', 'neck', 'hip')
        >>> layout("posetrack18").keypoint_names[:4]
        ('nose', 'head_bottom', 'head_top', 'left_ear')
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
        same = [n for lay, n in _SAME.get((target.name, point), ()) if lay == source.name]
        out[point] = same[0] if same else None
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
    "HALPE136",
    "LAYOUTS",
    "MPII16",
    "POSETRACK15",
    "POSETRACK18",
    "Layout",
    "layout",
    "standard_mapping",
    "standard_mappings",
]
