"""``Keypoints2DSchema``: what a keypoints column means.

A schema names the K keypoints, the skeleton lines drawn between them, how they swap
under a horizontal flip, the OKS sigmas every metric uses, the pose drawn for a new
instance, and the instance classes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from posetable._coco_constants import (
    COCO_FLIP_INDICES,
    COCO_KEYPOINT_DEFAULT_POSE,
    COCO_KEYPOINT_NAMES,
    COCO_OKS_SIGMAS,
    COCO_SKELETON,
    COCO_SKELETON_COLORS,
)
from posetable._validate import as_index, check_flip_indices, check_lines, check_sigmas
from posetable.errors import SchemaError

SCHEMA_TYPE = "keypoints_2d"
SCHEMA_FORMAT_VERSION = 1

Color = tuple[int, int, int]


def _colors(value: Any, count: int, what: str) -> tuple[Color, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise SchemaError(f"{what} must be a list of {count} colours, got {value!r}")
    items = list(value)
    if len(items) != count:
        raise SchemaError(f"{what} must have {count} entries, got {len(items)}")
    out = []
    for i, c in enumerate(items):
        if isinstance(c, str):
            text = c.lstrip("#")
            if not re.fullmatch(r"[0-9a-fA-F]{6}", text):
                raise SchemaError(f"{what}[{i}] must be '#rrggbb' or (r, g, b), got {c!r}")
            out.append((int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)))
            continue
        try:
            rgb = tuple(int(v) for v in c)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{what}[{i}] must be '#rrggbb' or (r, g, b), got {c!r}") from exc
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise SchemaError(f"{what}[{i}] must be three ints in [0, 255], got {c!r}")
        out.append((rgb[0], rgb[1], rgb[2]))
    return tuple(out)


def _default_pose(value: Any, num_keypoints: int) -> tuple[tuple[float, float], ...] | None:
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"default_pose must be (K={num_keypoints}, 2) numbers or a flat list of "
            f"{2 * num_keypoints}, got {value!r}"
        ) from exc
    if array.ndim == 1 and array.size == 2 * num_keypoints:
        array = array.reshape(num_keypoints, 2)
    if array.shape != (num_keypoints, 2):
        raise SchemaError(
            f"default_pose must have shape (K={num_keypoints}, 2) or be a flat list of "
            f"{2 * num_keypoints} numbers, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise SchemaError("default_pose must hold finite numbers, got NaN or inf")
    return tuple((float(x), float(y)) for x, y in array)


@dataclass(frozen=True, init=False)
class Keypoints2DSchema:
    """The frozen schema of a keypoints column.

    Args:
        num_keypoints: K; may be omitted when ``keypoint_names`` is given.
        keypoint_names: K names (default ``kpt_0 ... kpt_{K-1}``).
        lines: skeleton lines as pairs ``[(a, b), ...]`` or flat ``[a0, b0, a1, b1, ...]``,
            0-based keypoint indices.
        flip_indices: K ints, the keypoint each one becomes under a horizontal flip.
        oks_sigmas: K positive floats; uniform ``1/K`` when absent.
        default_pose: (K, 2) points on the unit square, drawn for a new instance.
        classes: instance class names (label ``i`` is ``classes[i]``).
        keypoint_colors: K colours (``"#rrggbb"`` or RGB triples).
        line_colors: one colour per line.

    Example:
        >>> import posetable as pt
        >>> schema = pt.Keypoints2DSchema(3, lines=[0, 1, 1, 2], flip_indices=[0, 2, 1])
        >>> schema.keypoint_names
        ('kpt_0', 'kpt_1', 'kpt_2')
        >>> schema.lines
        ((0, 1), (1, 2))
        >>> [round(s, 4) for s in schema.oks_sigmas]
        [0.3333, 0.3333, 0.3333]
        >>> pt.Keypoints2DSchema.from_json(schema.to_json()) == schema
        True
    """

    num_keypoints: int
    keypoint_names: tuple[str, ...]
    lines: tuple[tuple[int, int], ...]
    flip_indices: tuple[int, ...] | None
    oks_sigmas: tuple[float, ...]
    oks_sigmas_given: bool
    default_pose: tuple[tuple[float, float], ...] | None
    classes: tuple[str, ...]
    keypoint_colors: tuple[Color, ...] | None
    line_colors: tuple[Color, ...] | None
    _sigma_array: np.ndarray = field(repr=False, compare=False, hash=False)

    def __init__(
        self,
        num_keypoints: int | None = None,
        *,
        keypoint_names: Sequence[str] | None = None,
        lines: Iterable[Any] | None = None,
        flip_indices: Sequence[int] | None = None,
        oks_sigmas: Sequence[float] | np.ndarray | None = None,
        default_pose: Any = None,
        classes: Sequence[str] = ("person",),
        keypoint_colors: Sequence[Any] | None = None,
        line_colors: Sequence[Any] | None = None,
    ) -> None:
        names = None if keypoint_names is None else tuple(str(n) for n in keypoint_names)
        if num_keypoints is None:
            if names is None:
                raise SchemaError("give num_keypoints or keypoint_names, got neither")
            num_keypoints = len(names)
        index = as_index(num_keypoints)
        if index is None or index < 1:
            raise SchemaError(f"num_keypoints must be an integer >= 1, got {num_keypoints!r}")
        k = index
        if names is None:
            names = tuple(f"kpt_{i}" for i in range(k))
        if len(names) != k:
            raise SchemaError(f"keypoint_names must have length K={k}, got {len(names)}")
        if len(set(names)) != k:
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise SchemaError(f"keypoint_names must be unique, got duplicates {dupes}")
        line_pairs = check_lines(lines, k)
        flips = None if flip_indices is None else check_flip_indices(flip_indices, k)
        given = oks_sigmas is not None
        sigma_array = check_sigmas(oks_sigmas, k) if given else np.full(k, 1.0 / k)
        sigma_array.setflags(write=False)
        class_names = (classes,) if isinstance(classes, str) else tuple(str(c) for c in classes)
        if not class_names:
            raise SchemaError("classes must name at least one class, got none")
        set_ = object.__setattr__
        set_(self, "num_keypoints", k)
        set_(self, "keypoint_names", names)
        set_(self, "lines", line_pairs)
        set_(self, "flip_indices", flips)
        set_(self, "oks_sigmas", tuple(float(s) for s in sigma_array))
        set_(self, "oks_sigmas_given", given)
        set_(self, "default_pose", _default_pose(default_pose, k))
        set_(self, "classes", class_names)
        set_(self, "keypoint_colors", _colors(keypoint_colors, k, "keypoint_colors"))
        set_(self, "line_colors", _colors(line_colors, len(line_pairs), "line_colors"))
        set_(self, "_sigma_array", sigma_array)

    # -- derived views -------------------------------------------------------------------
    @property
    def sigmas(self) -> np.ndarray:
        """The OKS sigmas as a read-only float64 (K,) array (uniform 1/K when none given)."""
        return self._sigma_array

    @property
    def flat_lines(self) -> list[int]:
        """Lines as the flat list ``[a0, b0, a1, b1, ...]`` (the 3LC form)."""
        return [i for pair in self.lines for i in pair]

    def pose_for_new_instance(self) -> np.ndarray:
        """The (K, 2) unit-square pose for a new instance: ``default_pose`` or a ring."""
        if self.default_pose is not None:
            return np.asarray(self.default_pose, dtype=np.float64)
        k = self.num_keypoints
        angle = np.linspace(0.0, 2.0 * math.pi, k, endpoint=False) - math.pi / 2
        return np.stack([0.5 + 0.35 * np.cos(angle), 0.5 + 0.35 * np.sin(angle)], axis=1)

    def replace(self, **changes: Any) -> Keypoints2DSchema:
        """Return a new schema with some fields changed (the schema itself is frozen).

        Example:
            >>> import posetable as pt
            >>> s = pt.Keypoints2DSchema(2).replace(oks_sigmas=[0.1, 0.2])
            >>> s.oks_sigmas
            (0.1, 0.2)
        """
        args = self._arguments()
        unknown = set(changes) - set(args)
        if unknown:
            raise SchemaError(f"unknown schema fields {sorted(unknown)}; known: {sorted(args)}")
        args.update(changes)
        return Keypoints2DSchema(**args)

    def _arguments(self) -> dict[str, Any]:
        return {
            "num_keypoints": self.num_keypoints,
            "keypoint_names": self.keypoint_names,
            "lines": self.lines,
            "flip_indices": self.flip_indices,
            "oks_sigmas": self.oks_sigmas if self.oks_sigmas_given else None,
            "default_pose": self.default_pose,
            "classes": self.classes,
            "keypoint_colors": self.keypoint_colors,
            "line_colors": self.line_colors,
        }

    # -- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a ``type`` tag and ``format_version``."""
        args = self._arguments()

        def listify(v: Any) -> Any:
            if isinstance(v, tuple):
                return [listify(x) for x in v]
            return v

        out: dict[str, Any] = {"type": SCHEMA_TYPE, "format_version": SCHEMA_FORMAT_VERSION}
        out.update({k: listify(v) for k, v in args.items()})
        return out

    def to_json(self) -> str:
        """Serialise to JSON (see :meth:`from_json`)."""
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Keypoints2DSchema:
        """Build from :meth:`to_dict` output, checking the type tag and version."""
        if not isinstance(data, dict):
            raise SchemaError(f"a schema must be a JSON object, got {type(data).__name__}")
        if data.get("type") != SCHEMA_TYPE:
            raise SchemaError(f"schema type must be {SCHEMA_TYPE!r}, got {data.get('type')!r}")
        version = data.get("format_version")
        if not isinstance(version, int) or version > SCHEMA_FORMAT_VERSION:
            raise SchemaError(
                f"schema format_version must be an int <= {SCHEMA_FORMAT_VERSION}, got {version!r}"
            )
        args = {k: v for k, v in data.items() if k not in ("type", "format_version")}
        try:
            return cls(**args)
        except TypeError as exc:
            raise SchemaError(f"schema JSON has unknown fields: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Keypoints2DSchema:
        """Parse a schema written by :meth:`to_json`."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise SchemaError(f"schema JSON is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    # -- presets -------------------------------------------------------------------------
    @classmethod
    def coco_person(cls) -> Keypoints2DSchema:
        """The COCO-17 person schema: names, skeleton, flip indices, pycocotools' sigmas.

        Example:
            >>> import posetable as pt
            >>> s = pt.Keypoints2DSchema.coco_person()
            >>> s.num_keypoints, s.keypoint_names[0], s.oks_sigmas[0] == 0.26 / 10
            (17, 'nose', True)
        """
        return cls(
            keypoint_names=COCO_KEYPOINT_NAMES,
            lines=COCO_SKELETON,
            flip_indices=COCO_FLIP_INDICES,
            oks_sigmas=COCO_OKS_SIGMAS,
            default_pose=COCO_KEYPOINT_DEFAULT_POSE,
            classes=("person",),
            line_colors=COCO_SKELETON_COLORS,
        )


def _mirror_name(name: str) -> str | None:
    """The name of the mirrored keypoint: ``left_eye`` -> ``right_eye``, ``L_Paw`` -> ``R_Paw``."""
    low = name.lower()
    for a, b in (("left", "right"), ("right", "left")):
        if a in low:
            return low.replace(a, b)
    for a, b in (("l_", "r_"), ("r_", "l_")):
        if low.startswith(a):
            return b + low[2:]
    for a, b in (("_l", "_r"), ("_r", "_l")):
        if low.endswith(a):
            return low[:-2] + b
    return None


def flip_indices_from_names(names: Sequence[str]) -> tuple[int, ...] | None:
    """Derive flip indices from ``left_``/``right_`` (or ``l_``/``r_``) name pairs.

    Returns None when no name has a mirrored partner or the pairs are inconsistent.

    Example:
        >>> flip_indices_from_names(["nose", "left_eye", "right_eye"])
        (0, 2, 1)
    """
    index = {n.lower(): i for i, n in enumerate(names)}
    flips = list(range(len(names)))
    for i, name in enumerate(names):
        partner = _mirror_name(name)
        if partner is not None and partner in index:
            flips[i] = index[partner]
    if flips == list(range(len(names))):
        return None
    try:
        return check_flip_indices(flips, len(names))
    except SchemaError:
        return None
