"""What the COCO reader and writer share: field names, derived bits, the private note."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

ANNOTATION_FIELDS = frozenset(
    {"id", "image_id", "category_id", "keypoints", "bbox", "area", "iscrowd", "num_keypoints"}
)
IMAGE_FIELDS = frozenset({"id", "width", "height"})
DEFAULT_IMAGE_KEYS = ("id", "file_name", "width", "height")
DEFAULT_ANNOTATION_KEYS = (
    "id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd",
)  # fmt: skip
PRIVATE = "__posetable__"
# coco_derived bits: the field was absent from the file and posetable filled it.
DERIVED_AREA, DERIVED_ISCROWD, DERIVED_NUM_KEYPOINTS, DERIVED_ID, DERIVED_BBOX = 1, 2, 4, 8, 16
AREA_FACTOR = 0.53


def box_sizes(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Box widths/heights from corners, as the file most likely wrote them.

    ``x + w`` rounds, so ``(x + w) - x`` may miss ``w`` by an ulp (``30.410000000000004``).
    The shortest decimal ``w`` (0 to 15 decimals) with ``x + w == x2`` is taken instead.
    Import checks that this gives each file value back and keeps the file's text where it
    does not, so export is exact either way.

    Example:
        >>> x = np.array([36.12]); w = np.array([30.41])
        >>> ((x + w) - x).tolist(), box_sizes(x, x + w).tolist()
        ([30.410000000000004], [30.41])
    """
    diff = end - start
    out = diff.copy()
    todo = np.flatnonzero(np.isfinite(diff))
    for decimals in range(16):
        if not todo.size:
            break
        candidate = np.round(diff.flat[todo], decimals)
        ok = start.flat[todo] + candidate == end.flat[todo]
        out.flat[todo[ok]] = candidate[ok]
        todo = todo[~ok]
    return out


def with_private(rest: bytes | None, parts: list[bytes]) -> bytes:
    """Add the private note (JSON members ``parts``) to a record's rest text.

    Example:
        >>> with_private(b'{"a":1}', [b'"types":{"area":"float"}'])
        b'{"a":1,"__posetable__":{"types":{"area":"float"}}}'
    """
    note = b'"' + PRIVATE.encode() + b'":{' + b",".join(parts) + b"}"
    if rest is None:
        return b"{" + note + b"}"
    return rest[:-1] + b"," + note + b"}"


def types_part(types: dict[str, Any]) -> bytes:
    """The ``"types"`` member of a private note."""
    return b'"types":' + orjson.dumps(types)
