"""3LC's pose arguments of ``from_coco``/``from_yolo`` applied to the schema a file gives.

``points`` (the default pose), ``point_attributes``, ``lines``, ``line_attributes``,
``triangles``, ``triangle_attributes``, ``flip_indices`` and ``oks_sigmas`` override what
the file holds. They are read by :class:`~posetable.Keypoints2DSchema`'s own 3LC-argument
constructor (one parser for them) and checked against the file's K before anything is
written; every other field of the file's schema is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posetable.errors import SchemaError
from posetable.schema import Keypoints2DSchema

POSE_OPTIONS = (
    "points",
    "point_attributes",
    "lines",
    "line_attributes",
    "triangles",
    "triangle_attributes",
    "flip_indices",
    "oks_sigmas",
)
#: The schema fields each 3LC argument sets, and the target of its extra attributes.
_FIELDS: Mapping[str, tuple[tuple[str, ...], str | None]] = {
    "points": (("default_pose",), None),
    "point_attributes": (("keypoint_names", "keypoint_colors"), "point"),
    "lines": (("lines",), None),
    "line_attributes": (("line_names", "line_colors"), "line"),
    "triangles": (("triangles",), None),
    "triangle_attributes": (("triangle_names", "triangle_colors"), "triangle"),
    "flip_indices": (("flip_indices",), None),
    "oks_sigmas": (("oks_sigmas",), None),
}


def apply_pose_options(schema: Keypoints2DSchema, **options: Any) -> Keypoints2DSchema:
    """``schema`` with 3LC's pose arguments applied (None keeps a field as it is).

    Example:
        >>> import posetable as pt
        >>> s = apply_pose_options(pt.Keypoints2DSchema(2), lines=[0, 1],
        ...                        point_attributes=["head", "tail"])
        >>> s.keypoint_names, s.lines
        (('head', 'tail'), ((0, 1),))
    """
    given = {k: v for k, v in options.items() if v is not None and k in POSE_OPTIONS}
    if not given:
        return schema
    parse = dict(given)
    # attributes are counted against the lines / triangles they describe
    if "line_attributes" in given and "lines" not in given:
        parse["lines"] = schema.flat_lines
    if "triangle_attributes" in given and "triangles" not in given:
        parse["triangles"] = schema.flat_triangles
    try:
        parsed = Keypoints2DSchema(
            classes=schema.class_map, num_keypoints=schema.num_keypoints, **parse
        )
    except SchemaError as exc:
        raise SchemaError(
            f"the pose arguments do not fit the data's K={schema.num_keypoints} keypoints: {exc}"
        ) from exc
    changes: dict[str, Any] = {}
    targets: set[str] = set()
    for argument in given:
        fields, target = _FIELDS[argument]
        for name in fields:
            value = getattr(parsed, name)
            changes[name] = value if name != "oks_sigmas" else list(value)
        if target is not None:
            targets.add(target)
    # new lines (triangles) without new attributes: the file's names belong to its lines
    if "lines" in given and "line_attributes" not in given:
        changes.update(line_names=None, line_colors=None)
        targets.add("line")
    if "triangles" in given and "triangle_attributes" not in given:
        changes.update(triangle_names=None, triangle_colors=None)
        targets.add("triangle")
    if targets:
        kept = [a for a in schema.extra_attributes if a[0] not in targets]
        new = [a for a in parsed.extra_attributes if a[0] in targets]
        changes["extra_attributes"] = tuple(kept + new)
    return schema.replace(**changes)
