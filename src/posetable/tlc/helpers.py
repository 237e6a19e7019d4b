"""3LC 3.x's ``tlc.helpers``: the helper classes under their 3.x module.

``tlc.helpers.KeypointHelper`` is the same class as ``tlc.KeypointHelper`` (3LC 2.x's
place) and ``posetable.KeypointHelper``. ``ColorHelper`` holds 3.x's colour conversions.

Example:
    >>> import posetable as pt
    >>> from posetable.tlc import helpers
    >>> helpers.KeypointHelper is pt.KeypointHelper
    True
    >>> helpers.ColorHelper.rgb_tuple_to_hex((255, 128, 0))
    '#ff8000'
"""

from __future__ import annotations

from collections.abc import Sequence

from posetable.helper import KeypointHelper
from posetable.map_element import hex_to_rgb_tuple, rgb_tuple_to_hex

__all__ = ["ColorHelper", "KeypointHelper"]


class ColorHelper:
    """3LC 3.x's colour helpers (``tlc.helpers.ColorHelper``).

    Example:
        >>> ColorHelper.hex_to_rgb_tuple("#ff8000")
        (255, 128, 0)
    """

    @staticmethod
    def rgb_tuple_to_hex(rgb: Sequence[int]) -> str:
        """``(r, g, b)`` ints in [0, 255] as ``"#rrggbb"``."""
        return rgb_tuple_to_hex(rgb)

    @staticmethod
    def hex_to_rgb_tuple(hex_color: str) -> tuple[int, int, int]:
        """``"#rrggbb"`` as ``(r, g, b)``."""
        return hex_to_rgb_tuple(hex_color)
