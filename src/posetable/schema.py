"""``Keypoints2DSchema``: what a keypoints column means.

A schema names the K keypoints, the skeleton lines drawn between them, how they swap
under a horizontal flip, the OKS sigmas every metric uses, the pose drawn for a new
instance, and the instance classes.

It is built either the native way (``Keypoints2DSchema(17, keypoint_names=..., lines=...)``)
or with 3LC's arguments in 3LC's order (``Keypoints2DSchema(classes, num_keypoints, points,
point_attributes, lines, line_attributes, ...)``): both build the same frozen value.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import orjson

from posetable import _schema_args as parts
from posetable._coco_constants import (
    COCO_FLIP_INDICES,
    COCO_KEYPOINT_DEFAULT_POSE,
    COCO_KEYPOINT_NAMES,
    COCO_OKS_SIGMAS,
    COCO_SKELETON,
    COCO_SKELETON_COLORS,
)
from posetable._flip_names import flip_indices_from_names as flip_indices_from_names
from posetable._flip_names import mirror_name as _mirror_name  # noqa: F401 (diagnose's rules)
from posetable._schema_args import Attribute, Color
from posetable._validate import check_flip_indices, check_lines, check_sigmas
from posetable.errors import SchemaError
from posetable.map_element import MAP_ELEMENT_KEYS

SCHEMA_TYPE = "keypoints_2d"
SCHEMA_FORMAT_VERSION = 1

#: Where a schema's OKS sigmas came from (:attr:`Keypoints2DSchema.oks_sigmas_source`).
SIGMAS_COCO = "COCO"
SIGMAS_UNIFORM = "uniform 1/K"
SIGMAS_USER = "user"
SIGMAS_ESTIMATED = "estimated from "

_UNSET: Any = object()


# The 3LC parameters, in 3LC's order (all may also be given by keyword).
TLC_PARAMETERS = (
    "classes",
    "num_keypoints",
    "points",
    "point_attributes",
    "lines",
    "line_attributes",
    "triangles",
    "triangle_attributes",
    "flip_indices",
    "oks_sigmas",
    "include_per_point_confidence",
    "include_per_point_visibility",
    "include_per_instance_label",
    "include_per_instance_confidence",
    "per_instance_schemas",
)


@dataclass(frozen=True, init=False)
class Keypoints2DSchema:
    """The frozen schema of a keypoints column.

    Built natively (``Keypoints2DSchema(17, keypoint_names=..., lines=...)``) or with 3LC's
    arguments in 3LC's order (``Keypoints2DSchema(classes, num_keypoints, points, ...)``).

    Args:
        classes: instance classes: a name, a list of names or ``MapElement``s (label ``i``
            is ``classes[i]``), or 3LC's ``{label value: name or MapElement}`` map; None
            (3LC: no labels) is one class named ``object``. Default ``("person",)``.
        num_keypoints: K; may be omitted when the names are given.
        points: 3LC's name for ``default_pose`` (flat or nested, 2K numbers).
        point_attributes: K names or ``MapElement``s (name, ``display_color``...).
        lines: skeleton lines as pairs ``[(a, b), ...]`` or flat ``[a0, b0, a1, b1, ...]``,
            0-based keypoint indices.
        line_attributes: one name or ``MapElement`` per line.
        triangles: mesh faces as triples or a flat list of keypoint indices.
        triangle_attributes: one name or ``MapElement`` per triangle.
        flip_indices: K ints, the keypoint each one becomes under a horizontal flip.
        oks_sigmas: K positive floats; uniform ``1/K`` when absent.
        oks_sigmas_source: where the sigmas came from: ``"COCO"``, ``"uniform 1/K"`` (no
            sigmas given), ``"estimated from <refs>"`` (:func:`posetable.estimate_sigmas`)
            or ``"user"``. Left out, it is inferred: ``"uniform 1/K"`` without sigmas,
            ``"COCO"`` for pycocotools' 17 values on K=17, ``"user"`` for any others.
        include_per_point_confidence: the column declares per-keypoint confidences.
        include_per_point_visibility: the column declares per-keypoint visibility (0/1/2).
        include_per_instance_label: the column declares instance labels (3LC's default).
        include_per_instance_confidence: the column declares instance scores.
        per_instance_schemas: 3LC's per-instance fields: their names are kept (the values
            are stored with the type they have in the rows).
        keypoint_names: K names (default ``kpt_0 ... kpt_{K-1}``).
        default_pose: (K, 2) points on the unit square, drawn for a new instance.
        keypoint_colors: K colours (``"#rrggbb"`` or RGB triples).
        line_colors: one colour per line.
        line_names, triangle_names, triangle_colors: names and colours of lines/triangles.
        extra_attributes: other map-element attributes, ``(target, index, key, value)``.
        **schema_kwargs: 3LC's display arguments ``display_name``, ``description``,
            ``writable``, ``default_visible``, ``display_importance``.

    Example:
        >>> import posetable as pt
        >>> schema = pt.Keypoints2DSchema(3, lines=[0, 1, 1, 2], flip_indices=[0, 2, 1])
        >>> schema.keypoint_names
        ('kpt_0', 'kpt_1', 'kpt_2')
        >>> schema.lines
        ((0, 1), (1, 2))
        >>> [round(s, 4) for s in schema.oks_sigmas]
        [0.3333, 0.3333, 0.3333]
        >>> schema.oks_sigmas_source, pt.Keypoints2DSchema.coco_person().oks_sigmas_source
        ('uniform 1/K', 'COCO')
        >>> pt.Keypoints2DSchema.from_json(schema.to_json()) == schema
        True
        >>> tlc_style = pt.Keypoints2DSchema({1: "dog", 2: "cat"}, 2,
        ...     point_attributes=["nose", "tail"], include_per_point_visibility=True)
        >>> tlc_style.class_map, tlc_style.keypoint_names
        ({1: 'dog', 2: 'cat'}, ('nose', 'tail'))
    """

    num_keypoints: int
    keypoint_names: tuple[str, ...]
    lines: tuple[tuple[int, int], ...]
    flip_indices: tuple[int, ...] | None
    oks_sigmas: tuple[float, ...]
    oks_sigmas_given: bool
    oks_sigmas_source: str
    default_pose: tuple[tuple[float, float], ...] | None
    classes: tuple[str, ...]
    keypoint_colors: tuple[Color, ...] | None
    line_colors: tuple[Color, ...] | None
    class_ids: tuple[int, ...]
    line_names: tuple[str, ...] | None
    triangles: tuple[tuple[int, int, int], ...]
    triangle_names: tuple[str, ...] | None
    triangle_colors: tuple[Color, ...] | None
    include_per_point_visibility: bool
    include_per_point_confidence: bool
    include_per_instance_label: bool
    include_per_instance_confidence: bool
    per_instance_fields: tuple[str, ...]
    extra_attributes: tuple[Attribute, ...]
    display: tuple[tuple[str, Any], ...]
    _sigma_array: np.ndarray = field(repr=False, compare=False, hash=False)

    @overload
    def __init__(
        self,
        num_keypoints: int | None = None,
        *,
        keypoint_names: Sequence[str] | None = None,
        lines: Iterable[Any] | None = None,
        flip_indices: Sequence[int] | None = None,
        oks_sigmas: Sequence[float] | np.ndarray | None = None,
        default_pose: Any = None,
        classes: Any = ("person",),
        keypoint_colors: Sequence[Any] | None = None,
        line_colors: Sequence[Any] | None = None,
        **more: Any,
    ) -> None: ...

    @overload
    def __init__(
        self,
        classes: Any,
        num_keypoints: int | None = None,
        points: Any = None,
        point_attributes: Sequence[Any] | None = None,
        lines: Any = None,
        line_attributes: Sequence[Any] | None = None,
        triangles: Any = None,
        triangle_attributes: Sequence[Any] | None = None,
        flip_indices: Sequence[int] | None = None,
        oks_sigmas: Sequence[float] | np.ndarray | None = None,
        include_per_point_confidence: bool = False,
        include_per_point_visibility: bool = False,
        include_per_instance_label: bool = True,
        include_per_instance_confidence: bool = False,
        per_instance_schemas: Mapping[str, Any] | None = None,
        **more: Any,
    ) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._build(**_bind(args, kwargs))

    def _build(
        self,
        classes: Any = _UNSET,
        num_keypoints: Any = None,
        points: Any = None,
        point_attributes: Any = None,
        lines: Any = None,
        line_attributes: Any = None,
        triangles: Any = None,
        triangle_attributes: Any = None,
        flip_indices: Any = None,
        oks_sigmas: Any = None,
        include_per_point_confidence: Any = False,
        include_per_point_visibility: Any = False,
        include_per_instance_label: Any = True,
        include_per_instance_confidence: Any = False,
        per_instance_schemas: Any = None,
        *,
        keypoint_names: Any = None,
        default_pose: Any = None,
        keypoint_colors: Any = None,
        line_colors: Any = None,
        oks_sigmas_source: Any = None,
        line_names: Any = None,
        triangle_names: Any = None,
        triangle_colors: Any = None,
        per_instance_fields: Any = None,
        extra_attributes: Any = None,
        display: Any = None,
        **schema_kwargs: Any,
    ) -> None:
        k, names, point_colors, extras = parts.keypoints_of(
            num_keypoints, keypoint_names, keypoint_colors, point_attributes
        )
        extras += parts.extra_attributes(extra_attributes)
        line_pairs = check_lines(
            parts.flatten_numbers(lines, "lines") if isinstance(lines, np.ndarray) else lines, k
        )
        line_names, line_colors, more = parts.named(
            line_names, line_colors, line_attributes, len(line_pairs), "line", "line"
        )
        extras += more
        faces = parts.check_triangles(triangles, k)
        triangle_names, triangle_colors, more = parts.named(
            triangle_names, triangle_colors, triangle_attributes, len(faces), "triangle", "triangle"
        )
        extras += more
        if points is not None and default_pose is not None:
            raise SchemaError("give points (3LC's name) or default_pose, not both")
        pose = default_pose if points is None else parts.flatten_numbers(points, "points")
        given = oks_sigmas is not None
        sigma_array = check_sigmas(oks_sigmas, k) if given else np.full(k, 1.0 / k)
        sigma_array.setflags(write=False)
        label_flag = parts.flag(include_per_instance_label, "include_per_instance_label")
        if classes is _UNSET:
            classes = ("person",)
        elif classes is None:  # 3LC: no labels
            classes, label_flag = ("object",), False
        class_names, class_ids, more = parts.classes_of(classes)
        extras += more
        values: dict[str, Any] = {
            "num_keypoints": k,
            "keypoint_names": names,
            "lines": line_pairs,
            "flip_indices": None if flip_indices is None else check_flip_indices(flip_indices, k),
            "oks_sigmas": tuple(float(s) for s in sigma_array),
            "oks_sigmas_given": given,
            "oks_sigmas_source": _checked_source(oks_sigmas_source, given, sigma_array),
            "default_pose": parts.default_pose(pose, k),
            "classes": class_names,
            "keypoint_colors": parts.colors(point_colors, k, "keypoint_colors"),
            "line_colors": parts.colors(line_colors, len(line_pairs), "line_colors"),
            "class_ids": class_ids,
            "line_names": line_names,
            "triangles": faces,
            "triangle_names": triangle_names,
            "triangle_colors": parts.colors(triangle_colors, len(faces), "triangle_colors"),
            "include_per_point_visibility": parts.flag(
                include_per_point_visibility, "include_per_point_visibility"
            ),
            "include_per_point_confidence": parts.flag(
                include_per_point_confidence, "include_per_point_confidence"
            ),
            "include_per_instance_label": label_flag,
            "include_per_instance_confidence": parts.flag(
                include_per_instance_confidence, "include_per_instance_confidence"
            ),
            "per_instance_fields": parts.instance_fields(per_instance_fields, per_instance_schemas),
            "extra_attributes": parts.extra_attributes(extras),
            "display": parts.display_items({**dict(display or ()), **schema_kwargs}),
            "_sigma_array": sigma_array,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._check_extras()

    def _check_extras(self) -> None:
        counts = {
            "point": self.num_keypoints,
            "line": len(self.lines),
            "triangle": len(self.triangles),
        }
        declared = set(self.class_ids)
        for target, index, key, _ in self.extra_attributes:
            ok = index in declared if target == "class" else 0 <= index < counts[target]
            if not ok:
                raise SchemaError(
                    f"extra_attributes: {target} {index} ({key}) does not exist in this schema"
                )

    # -- derived views -------------------------------------------------------------------
    @property
    def sigmas(self) -> np.ndarray:
        """The OKS sigmas as a read-only float64 (K,) array (uniform 1/K when none given)."""
        return self._sigma_array

    @property
    def flat_lines(self) -> list[int]:
        """Lines as the flat list ``[a0, b0, a1, b1, ...]`` (the 3LC form)."""
        return [i for pair in self.lines for i in pair]

    @property
    def flat_triangles(self) -> list[int]:
        """Triangles as the flat list ``[i0, j0, k0, ...]`` (the 3LC form)."""
        return [i for face in self.triangles for i in face]

    @property
    def class_map(self) -> dict[int, str]:
        """The declared classes as ``{label value: name}`` (3LC's value map).

        Example:
            >>> import posetable as pt
            >>> pt.Keypoints2DSchema(2, classes=["cat", "dog"]).class_map
            {0: 'cat', 1: 'dog'}
        """
        return {i: self.classes[i] for i in self.class_ids}

    def attributes(self, target: str) -> list[dict[str, str]]:
        """3LC's attribute dicts of ``"point"``, ``"line"``, ``"triangle"`` or ``"class"``.

        One dict per element (per declared class, in label order), holding the set keys
        of a ``MapElement``: ``internal_name``, ``display_color`` and any other given.

        Example:
            >>> import posetable as pt
            >>> pt.Keypoints2DSchema(2, keypoint_colors=["#ff0000", "#00ff00"]).attributes(
            ...     "point")[0]
            {'internal_name': 'kpt_0', 'display_color': '#ff0000'}
        """
        if target == "point":
            names: Sequence[str | None] = self.keypoint_names
            colors = self.keypoint_colors
            indices = list(range(self.num_keypoints))
        elif target == "line":
            names = self.line_names or [None] * len(self.lines)
            colors, indices = self.line_colors, list(range(len(self.lines)))
        elif target == "triangle":
            names = self.triangle_names or [None] * len(self.triangles)
            colors, indices = self.triangle_colors, list(range(len(self.triangles)))
        elif target == "class":
            names = [self.classes[i] for i in self.class_ids]
            colors, indices = None, list(self.class_ids)
        else:
            raise SchemaError(
                f"target must be 'point', 'line', 'triangle' or 'class', got {target!r}"
            )
        out: list[dict[str, str]] = []
        for n in range(len(indices)):
            item: dict[str, str] = {}
            if names[n] is not None:
                item["internal_name"] = str(names[n])
            if colors is not None:
                item["display_color"] = parts.hex_color(colors[n])
            out.append(item)
        for kind, index, key, value in self.extra_attributes:
            if kind == target:
                out[indices.index(index)][key] = value
        return [{k: d[k] for k in MAP_ELEMENT_KEYS if k in d} for d in out]

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
        if "oks_sigmas_source" not in changes and {"oks_sigmas", "num_keypoints"} & set(changes):
            args["oks_sigmas_source"] = None  # new sigmas: their source is inferred again
        args.update(changes)
        return Keypoints2DSchema(**args)

    def _declared_classes(self) -> tuple[str, ...] | dict[int, str]:
        if self.class_ids == tuple(range(len(self.classes))):
            return self.classes
        return self.class_map

    def _arguments(self) -> dict[str, Any]:
        return {
            "num_keypoints": self.num_keypoints,
            "keypoint_names": self.keypoint_names,
            "lines": self.lines,
            "flip_indices": self.flip_indices,
            "oks_sigmas": self.oks_sigmas if self.oks_sigmas_given else None,
            "oks_sigmas_source": (
                None
                if self.oks_sigmas_source
                == _inferred_source(self.oks_sigmas_given, self._sigma_array)
                else self.oks_sigmas_source
            ),
            "default_pose": self.default_pose,
            "classes": self._declared_classes(),
            "keypoint_colors": self.keypoint_colors,
            "line_colors": self.line_colors,
            "line_names": self.line_names,
            "triangles": self.triangles,
            "triangle_names": self.triangle_names,
            "triangle_colors": self.triangle_colors,
            "include_per_point_visibility": self.include_per_point_visibility,
            "include_per_point_confidence": self.include_per_point_confidence,
            "include_per_instance_label": self.include_per_instance_label,
            "include_per_instance_confidence": self.include_per_instance_confidence,
            "per_instance_fields": self.per_instance_fields,
            "extra_attributes": self.extra_attributes,
            "display": self.display,
        }

    # -- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a ``type`` tag and ``format_version``.

        Fields added after the first format (line names, triangles, 3LC's flags...) are
        written only when they differ from their defaults.
        """
        args = self._arguments()
        defaults = _OPTIONAL_DEFAULTS

        def listify(v: Any) -> Any:
            if isinstance(v, tuple):
                return [listify(x) for x in v]
            if isinstance(v, dict):
                return {str(key): listify(x) for key, x in v.items()}
            return v

        out: dict[str, Any] = {"type": SCHEMA_TYPE, "format_version": SCHEMA_FORMAT_VERSION}
        out.update(
            {k: listify(v) for k, v in args.items() if k not in defaults or v != defaults[k]}
        )
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
        unknown = sorted(set(args) - set(_FIELD_ARGUMENTS))
        if unknown:
            raise SchemaError(f"schema JSON has unknown fields {unknown}")
        return cls(**args)

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
            include_per_point_visibility=True,
        )


_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "oks_sigmas_source": None,  # written only when it is not the inferred one
    "line_names": None,
    "triangles": (),
    "triangle_names": None,
    "triangle_colors": None,
    "include_per_point_visibility": False,
    "include_per_point_confidence": False,
    "include_per_instance_label": True,
    "include_per_instance_confidence": False,
    "per_instance_fields": (),
    "extra_attributes": (),
    "display": (),
}
_FIELD_ARGUMENTS = (
    "num_keypoints",
    "keypoint_names",
    "lines",
    "flip_indices",
    "oks_sigmas",
    "default_pose",
    "classes",
    "keypoint_colors",
    "line_colors",
    *_OPTIONAL_DEFAULTS,
)
_NATIVE_ONLY = (
    "keypoint_names",
    "default_pose",
    "keypoint_colors",
    "line_colors",
    "oks_sigmas_source",
    "line_names",
    "triangle_names",
    "triangle_colors",
    "per_instance_fields",
    "extra_attributes",
    "display",
)


def _inferred_source(given: bool, sigmas: np.ndarray) -> str:
    """The sigma source a schema without an explicit one has."""
    if not given:
        return SIGMAS_UNIFORM
    if len(sigmas) == len(COCO_OKS_SIGMAS) and np.array_equal(sigmas, COCO_OKS_SIGMAS):
        return SIGMAS_COCO
    return SIGMAS_USER


def sigmas_source_of(sigmas: Sequence[float] | np.ndarray) -> str:
    """The source that sigma VALUES alone suggest (for sigmas that come without a schema).

    Example:
        >>> import posetable as pt
        >>> sigmas_source_of(pt.COCO_OKS_SIGMAS), sigmas_source_of([0.25] * 4)
        ('COCO', 'uniform 1/K')
        >>> sigmas_source_of([0.1, 0.2])
        'user'
    """
    values = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if len(values) and np.array_equal(values, np.full(len(values), 1.0 / len(values))):
        return SIGMAS_UNIFORM
    return _inferred_source(True, values)


def _checked_source(value: Any, given: bool, sigmas: np.ndarray) -> str:
    """An explicit ``oks_sigmas_source`` checked against the sigmas, or the inferred one."""
    if value is None:
        return _inferred_source(given, sigmas)
    known = f"{SIGMAS_COCO!r}, {SIGMAS_UNIFORM!r}, {SIGMAS_USER!r} or '{SIGMAS_ESTIMATED}<refs>'"
    if not isinstance(value, str) or not (
        value in (SIGMAS_COCO, SIGMAS_UNIFORM, SIGMAS_USER)
        or (value.startswith(SIGMAS_ESTIMATED) and value[len(SIGMAS_ESTIMATED) :].strip())
    ):
        raise SchemaError(f"oks_sigmas_source must be {known}, got {value!r}")
    if (value == SIGMAS_UNIFORM) == given:
        raise SchemaError(
            f"oks_sigmas_source {value!r} "
            + ("needs the schema to have no oks_sigmas" if given else "needs oks_sigmas")
            + f", got {'K sigmas' if given else 'none (uniform 1/K)'}"
        )
    return value


def _bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map a call's arguments onto the schema's parameters, natively or 3LC's way.

    A first positional argument that is a number is K (``Keypoints2DSchema(17, ...)``, the
    native call, which takes no other positional argument); anything else is 3LC's order
    ``(classes, num_keypoints, points, point_attributes, lines, ...)``.
    """
    if not args:
        return dict(kwargs)
    first = args[0]
    if isinstance(first, (int, float, np.number, np.bool_)) and not isinstance(first, str):
        if len(args) > 1:
            raise TypeError(
                "Keypoints2DSchema(num_keypoints, ...) takes K as its only positional "
                f"argument, got {len(args)} positional arguments (3LC's order starts with "
                "classes)"
            )
        if "num_keypoints" in kwargs:
            raise TypeError("Keypoints2DSchema got multiple values for argument 'num_keypoints'")
        return {"num_keypoints": first, **kwargs}
    if len(args) > len(TLC_PARAMETERS):
        raise TypeError(
            f"Keypoints2DSchema takes at most {len(TLC_PARAMETERS)} positional arguments, got "
            f"{len(args)}"
        )
    bound = dict(zip(TLC_PARAMETERS, args, strict=False))
    for name in bound:
        if name in kwargs:
            raise TypeError(f"Keypoints2DSchema got multiple values for argument {name!r}")
    return {**bound, **kwargs}


def _signature() -> inspect.Signature:
    """The signature shown for the class: 3LC's parameters, then the native keywords."""
    p = inspect.Parameter
    tlc_defaults: dict[str, Any] = {
        "classes": ("person",),
        "include_per_point_confidence": False,
        "include_per_point_visibility": False,
        "include_per_instance_label": True,
        "include_per_instance_confidence": False,
    }
    params = [
        p(name, p.POSITIONAL_OR_KEYWORD, default=tlc_defaults.get(name)) for name in TLC_PARAMETERS
    ]
    params += [p(name, p.KEYWORD_ONLY, default=None) for name in _NATIVE_ONLY]
    params.append(p("schema_kwargs", p.VAR_KEYWORD))
    return inspect.Signature(params)


Keypoints2DSchema.__signature__ = _signature()  # type: ignore[attr-defined]
