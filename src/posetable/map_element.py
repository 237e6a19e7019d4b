"""``MapElement``: one entry of a value map (a class, a keypoint, a skeleton line).

3LC describes named things (instance classes, keypoints, lines) with value-map elements: a
name plus display attributes. posetable keeps the same element so 3LC code that builds
``MapElement(internal_name=..., display_color=...)`` runs unchanged; schemas read the name
and colour from it and keep the other attributes as given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from posetable.errors import SchemaError, UnsupportedError

MAP_ELEMENT_KEYS = ("internal_name", "display_name", "description", "display_color", "url")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class MapElement(dict[str, str]):
    """One element of a value map: an ``internal_name`` and optional display attributes.

    A ``dict`` (as in 3LC) holding the five keys ``internal_name``, ``display_name``,
    ``description``, ``display_color`` (``"#rrggbb"``) and ``url``; empty strings mean unset.

    Example:
        >>> from posetable import MapElement
        >>> e = MapElement("nose", display_color="#ff0000")
        >>> e.internal_name, e.display_color
        ('nose', '#ff0000')
        >>> e.to_minimal_dict(include_all=False)
        {'internal_name': 'nose', 'display_color': '#ff0000'}
        >>> MapElement.from_any("tail") == MapElement(internal_name="tail")
        True
    """

    def __init__(
        self,
        internal_name: str = "",
        display_name: str = "",
        description: str = "",
        display_color: str = "",
        url: str = "",
    ) -> None:
        values = {
            "internal_name": internal_name,
            "display_name": display_name,
            "description": description,
            "display_color": display_color,
            "url": url,
        }
        for key, value in values.items():
            if not isinstance(value, str):
                raise SchemaError(f"MapElement {key} must be a string, got {value!r}")
        super().__init__(values)

    def _get(self, key: str) -> str:
        return str(self.get(key) or "")

    @property
    def internal_name(self) -> str:
        """The element's name (a class, keypoint or line name)."""
        return self._get("internal_name")

    @internal_name.setter
    def internal_name(self, value: str) -> None:
        self["internal_name"] = value

    @property
    def display_name(self) -> str:
        """The name shown in place of ``internal_name`` (empty: the internal name)."""
        return self._get("display_name")

    @display_name.setter
    def display_name(self, value: str) -> None:
        self["display_name"] = value

    @property
    def description(self) -> str:
        """A free-text description."""
        return self._get("description")

    @description.setter
    def description(self, value: str) -> None:
        self["description"] = value

    @property
    def display_color(self) -> str:
        """The display colour as ``"#rrggbb"`` (empty: none)."""
        return self._get("display_color")

    @display_color.setter
    def display_color(self, value: str) -> None:
        self["display_color"] = value

    @property
    def url(self) -> str:
        """A link about the element."""
        return self._get("url")

    @url.setter
    def url(self, value: str) -> None:
        self["url"] = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        try:
            theirs = MapElement.from_any(other)
        except (SchemaError, UnsupportedError):
            return False  # a mapping with other keys or values is not this element
        return self.to_minimal_dict(include_all=False) == theirs.to_minimal_dict(include_all=False)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def to_minimal_dict(self, include_all: bool) -> dict[str, Any]:
        """A plain dict of the set attributes (all five when ``include_all``).

        Example:
            >>> from posetable import MapElement
            >>> MapElement("a").to_minimal_dict(include_all=False)
            {'internal_name': 'a'}
        """
        return {key: self._get(key) for key in MAP_ELEMENT_KEYS if include_all or self._get(key)}

    @staticmethod
    def from_any(any_map_element: Any) -> MapElement:
        """A ``MapElement`` from a name, a dict with the element's keys, or a ``MapElement``.

        Example:
            >>> from posetable import MapElement
            >>> MapElement.from_any({"internal_name": "dog", "display_color": "#00ff00"}).url
            ''
        """
        if isinstance(any_map_element, str):
            return MapElement(internal_name=any_map_element)
        if isinstance(any_map_element, Mapping):
            unknown = sorted(str(k) for k in any_map_element if k not in MAP_ELEMENT_KEYS)
            if unknown:
                raise UnsupportedError(
                    f"a map element holds {list(MAP_ELEMENT_KEYS)}, got unknown keys {unknown}"
                )
            values = {str(k): v for k, v in any_map_element.items() if v is not None}
            return MapElement(**values)
        raise SchemaError(
            "a map element must be a name, a dict or a MapElement, got "
            f"{type(any_map_element).__name__} {any_map_element!r}"[:200]
        )


def rgb_tuple_to_hex(rgb: Sequence[int]) -> str:
    """``(r, g, b)`` ints in [0, 255] as ``"#rrggbb"``.

    Example:
        >>> rgb_tuple_to_hex((148, 0, 211))
        '#9400d3'
    """
    try:
        values = [int(v) for v in rgb]
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"rgb must be three ints in [0, 255], got {rgb!r}") from exc
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise SchemaError(f"rgb must be three ints in [0, 255], got {rgb!r}")
    return "#{:02x}{:02x}{:02x}".format(*values)


def hex_to_rgb_tuple(hex_color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` (or ``"rrggbb"``) as an ``(r, g, b)`` tuple.

    Example:
        >>> hex_to_rgb_tuple("#9400d3")
        (148, 0, 211)
    """
    match = _HEX.match(hex_color) if isinstance(hex_color, str) else None
    if match is None:
        raise SchemaError(f"a colour must be '#rrggbb', got {hex_color!r}")
    text = match.group(1)
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
