"""The arguments of ``Keypoints2DSchema``, checked: colours, poses, names and map elements.

3LC describes keypoints, lines, triangles and classes with names or ``MapElement``s (a name
plus display attributes); these functions turn either form, and posetable's native
arguments, into the schema's frozen fields, raising :class:`~posetable.errors.SchemaError`
(or :class:`~posetable.errors.UnsupportedError` for what posetable does not keep) that
names the argument and the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from posetable._validate import as_index
from posetable.errors import SchemaError, UnsupportedError
from posetable.map_element import MAP_ELEMENT_KEYS

MAX_CLASS_ID = 65535

Color = tuple[int, int, int]
# (target, index, key, value): a map-element attribute with no field of its own, e.g.
# ("point", 3, "display_name", "Left ear") or ("class", 1, "display_color", "#ff0000").
Attribute = tuple[str, int, str, str]

# 3LC's display arguments of a column schema that posetable keeps (and shows).
DISPLAY_KEYS = ("display_name", "description", "writable", "default_visible", "display_importance")


def colors(value: Any, count: int, what: str) -> tuple[Color, ...] | None:
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


def hex_color(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def default_pose(value: Any, num_keypoints: int) -> tuple[tuple[float, float], ...] | None:
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


def flatten_numbers(value: Any, what: str) -> list[Any]:
    """Nested lists, tuples or arrays of numbers as one flat list (3LC's flattening)."""
    if isinstance(value, np.ndarray):
        return value.reshape(-1).tolist()
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise SchemaError(f"{what} must be a list (flat or nested) of numbers, got {value!r}")
    out: list[Any] = []
    for item in value:
        if isinstance(item, (np.ndarray, list, tuple)):
            out.extend(flatten_numbers(item, what))
        else:
            out.append(item.item() if isinstance(item, np.generic) else item)
    return out


def check_triangles(triangles: Any, num_keypoints: int) -> tuple[tuple[int, int, int], ...]:
    """Triangles (flat ``[i0, j0, k0, ...]`` or triples) as triples of keypoint indices."""
    if triangles is None:
        return ()
    flat = flatten_numbers(triangles, "triangles")
    if len(flat) % 3:
        raise SchemaError(
            "triangles given flat must have a length divisible by 3 [i0, j0, k0, ...], got "
            f"{len(flat)}"
        )
    out = []
    for n in range(len(flat) // 3):
        ends = [as_index(v) for v in flat[3 * n : 3 * n + 3]]
        for v, raw in zip(ends, flat[3 * n : 3 * n + 3], strict=True):
            if v is None:
                raise SchemaError(f"triangles[{n}] must hold integer keypoint indices, got {raw!r}")
            if not 0 <= v < num_keypoints:
                raise SchemaError(
                    f"triangles[{n}] index must be in [0, {num_keypoints - 1}] "
                    f"(K={num_keypoints}), got {v}"
                )
        out.append((int(ends[0]), int(ends[1]), int(ends[2])))  # type: ignore[arg-type]
    return tuple(out)


def as_element(item: Any, what: str) -> dict[str, str]:
    """A map element (name, dict or MapElement) as a dict of its set string attributes."""
    if isinstance(item, str):
        return {"internal_name": item}
    if isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in MAP_ELEMENT_KEYS)
        if unknown:
            raise UnsupportedError(
                f"{what} holds unknown map-element keys {unknown}; supported: "
                f"{list(MAP_ELEMENT_KEYS)}"
            )
        out = {}
        for key, value in item.items():
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                raise SchemaError(f"{what}.{key} must be a string, got {value!r}")
            out[str(key)] = value
        return out
    raise SchemaError(
        f"{what} must be a name, a dict or a MapElement, got {type(item).__name__} {item!r}"[:200]
    )


def attributes(
    value: Any, count: int | None, what: str, target: str
) -> tuple[tuple[str, ...], tuple[str, ...] | None, list[Attribute]]:
    """3LC's ``*_attributes`` (names or map elements): names, colours, other attributes."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise SchemaError(f"{what} must be a list of names or MapElements, got {value!r}"[:200])
    items = list(value)
    if count is not None and len(items) != count:
        raise SchemaError(f"{what} must have {count} entries, got {len(items)}")
    names: list[str] = []
    colors: list[str] = []
    extras: list[Attribute] = []
    for i, item in enumerate(items):
        element = as_element(item, f"{what}[{i}]")
        name = element.pop("internal_name", "")
        if not name:
            raise SchemaError(f"{what}[{i}] must have an internal_name, got {item!r}"[:200])
        names.append(name)
        colors.append(element.pop("display_color", ""))
        extras.extend((target, i, key, text) for key, text in sorted(element.items()))
    given = [c for c in colors if c]
    if given and len(given) != len(colors):
        raise UnsupportedError(
            f"{what}: display_color is given for {len(given)} of {len(colors)} entries; "
            "posetable keeps colours for every entry or none"
        )
    return tuple(names), (tuple(colors) if given else None), extras


def classes_of(value: Any) -> tuple[tuple[str, ...], tuple[int, ...], list[Attribute]]:
    """Instance classes from a name, a list of names or elements, or an ``{id: name}`` map.

    Returns the names by label value (a gap between ids is named ``class_<id>``), the
    declared ids, and the other map-element attributes.
    """
    if isinstance(value, str):
        return (value,), (0,), []
    if isinstance(value, Mapping):
        declared: dict[int, dict[str, str]] = {}
        for key, item in value.items():
            index = int(key) if isinstance(key, str) and key.isdigit() else as_index(key)
            if index is None or not 0 <= index <= MAX_CLASS_ID:
                raise SchemaError(
                    f"classes keys must be label values (integers in [0, {MAX_CLASS_ID}]), got "
                    f"{key!r}"
                )
            if index in declared:
                raise SchemaError(f"classes has the label value {index} twice")
            declared[index] = as_element(item, f"classes[{key!r}]")
        if not declared:
            raise SchemaError("classes must name at least one class, got none")
        ids = tuple(sorted(declared))
    elif isinstance(value, bytes) or not hasattr(value, "__iter__"):
        raise SchemaError(
            f"classes must be a class name, a list of names or an {{id: name}} map, got {value!r}"[
                :200
            ]
        )
    else:
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        if not items:
            raise SchemaError("classes must name at least one class, got none")
        declared = {i: as_element(item, f"classes[{i}]") for i, item in enumerate(items)}
        ids = tuple(range(len(items)))
    names = [f"class_{i}" for i in range(ids[-1] + 1)]
    extras: list[Attribute] = []
    for i in ids:
        element = dict(declared[i])
        name = element.pop("internal_name", "")
        if not name:
            raise SchemaError(f"classes[{i}] must have an internal_name, got {declared[i]!r}")
        names[i] = name
        extras.extend(("class", i, key, text) for key, text in sorted(element.items()))
    return tuple(names), ids, extras


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise SchemaError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def display_items(value: Any) -> tuple[tuple[str, Any], ...]:
    items = dict(value or {})
    out = []
    for key, item in sorted(items.items()):
        if key not in DISPLAY_KEYS:
            raise UnsupportedError(
                f"Keypoints2DSchema does not support the schema argument {key}={item!r}; "
                f"supported: {list(DISPLAY_KEYS)}"[:300]
            )
        if key in ("writable", "default_visible"):
            item = flag(item, key)
        elif key == "display_importance":
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise SchemaError(f"display_importance must be a number, got {item!r}")
            item = float(item)
        elif not isinstance(item, str):
            raise SchemaError(f"{key} must be a string, got {item!r}")
        out.append((str(key), item))
    return tuple(out)


def extra_attributes(value: Any) -> tuple[Attribute, ...]:
    out = []
    for entry in value or ():
        try:
            target, index, key, text = entry
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                f"extra_attributes entries are [target, index, key, value], got {entry!r}"
            ) from exc
        if target not in ("point", "line", "triangle", "class") or key not in MAP_ELEMENT_KEYS:
            raise SchemaError(f"extra_attributes entry {entry!r} names no known attribute")
        out.append((str(target), int(index), str(key), str(text)))
    return tuple(sorted(out))


def named(
    names: Any,
    colors: Any,
    attributes_value: Any,
    count: int,
    what: str,
    target: str,
) -> tuple[tuple[str, ...] | None, Any, list[Attribute]]:
    """Names, colours and other attributes of ``count`` lines or triangles, from the native
    ``*_names``/``*_colors`` or 3LC's ``*_attributes`` (``what``)."""
    out_names = None if names is None else tuple(str(n) for n in names)
    out_colors: Any = colors
    extras: list[Attribute] = []
    if attributes_value is not None:
        got, got_colors, extras = attributes(attributes_value, count, f"{what}_attributes", target)
        if got_colors is not None and colors is not None:
            raise SchemaError(f"give {what}_colors or {what}_attributes' display_color, not both")
        out_names = got
        out_colors = colors if got_colors is None else got_colors
    if out_names is not None and len(out_names) != count:
        raise SchemaError(
            f"{what}_names must have one name per {what} ({count}), got {len(out_names)}"
        )
    return out_names, out_colors, extras


def keypoints_of(
    num_keypoints: Any, keypoint_names: Any, keypoint_colors: Any, point_attributes: Any
) -> tuple[int, tuple[str, ...], Any, list[Attribute]]:
    """K, the K names, their colours and other attributes (``point_attributes`` is 3LC's)."""
    names = None if keypoint_names is None else tuple(str(n) for n in keypoint_names)
    point_colors: Any = keypoint_colors
    extras: list[Attribute] = []
    if point_attributes is not None:
        count = None if num_keypoints is None else as_index(num_keypoints)
        count = count if count is not None and count >= 1 else None
        got, got_colors, extras = attributes(point_attributes, count, "point_attributes", "point")
        if names is not None and names != got:
            raise SchemaError(
                "give keypoint_names or point_attributes, not both that disagree: "
                f"{list(names)[:4]}... vs {list(got)[:4]}..."
            )
        if got_colors is not None and point_colors is not None:
            raise SchemaError("give keypoint_colors or point_attributes' display_color, not both")
        names = got
        point_colors = point_colors if got_colors is None else got_colors
    if num_keypoints is None:
        if names is None:
            raise SchemaError("give num_keypoints or keypoint_names, got neither")
        num_keypoints = len(names)
    k = as_index(num_keypoints)
    if k is None or k < 1:
        raise SchemaError(f"num_keypoints must be an integer >= 1, got {num_keypoints!r}")
    if names is None:
        names = tuple(f"kpt_{i}" for i in range(k))
    if len(names) != k:
        raise SchemaError(f"keypoint_names must have length K={k}, got {len(names)}")
    if len(set(names)) != k:
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise SchemaError(f"keypoint_names must be unique, got duplicates {dupes}")
    return k, names, point_colors, extras


def instance_fields(per_instance_fields: Any, per_instance_schemas: Any) -> tuple[str, ...]:
    """The per-instance field names (3LC's ``per_instance_schemas`` gives their names)."""
    fields = [str(f) for f in per_instance_fields or ()]
    if per_instance_schemas is not None:
        if not isinstance(per_instance_schemas, Mapping):
            raise SchemaError(
                "per_instance_schemas must map field names to schemas, got "
                f"{per_instance_schemas!r}"[:200]
            )
        fields += [str(n) for n in per_instance_schemas]
    return tuple(dict.fromkeys(fields))
