"""One shared checker, so every validation message reads alike.

Messages follow ``<what> must <expectation>, got <found>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from posetable.errors import SchemaError


def check_sigmas(
    sigmas: Any, num_keypoints: int, *, error: type[Exception] = SchemaError
) -> np.ndarray:
    """Return sigmas as a float64 (K,) array, or raise naming the problem."""
    try:
        array = np.asarray(sigmas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f"oks_sigmas must be {num_keypoints} numbers, got {sigmas!r}") from exc
    if array.ndim != 1 or array.shape[0] != num_keypoints:
        found = array.shape[0] if array.ndim == 1 else f"shape {array.shape}"
        raise error(f"oks_sigmas must have length K={num_keypoints}, got {found}")
    bad = np.flatnonzero(~np.isfinite(array) | (array <= 0))
    if bad.size:
        i = int(bad[0])
        raise error(f"oks_sigmas must be finite and > 0, got {float(array[i])!r} at index {i}")
    return array


def check_lines(lines: Any, num_keypoints: int) -> tuple[tuple[int, int], ...]:
    """Normalise skeleton lines (flat ``[a0, b0, a1, b1, ...]`` or pairs) to pairs."""
    if lines is None:
        return ()
    if isinstance(lines, (str, bytes)) or not hasattr(lines, "__iter__"):
        raise SchemaError(f"lines must be pairs or a flat list of keypoint indices, got {lines!r}")
    items = list(lines)
    if not items:
        return ()
    if all(
        isinstance(item, (Sequence, np.ndarray)) and not isinstance(item, str) for item in items
    ):
        pairs = []
        for n, item in enumerate(items):
            if len(item) != 2:
                raise SchemaError(
                    f"lines[{n}] must be a pair of keypoint indices, got {list(item)!r}"
                )
            pairs.append((item[0], item[1]))
    else:
        if len(items) % 2:
            raise SchemaError(
                f"lines given flat must have an even length [a0, b0, a1, b1, ...], got {len(items)}"
            )
        pairs = list(zip(items[0::2], items[1::2], strict=True))
    out = []
    for n, (a, b) in enumerate(pairs):
        ends = (as_index(a), as_index(b))
        for v in ends:
            if v is None:
                raise SchemaError(f"lines[{n}] must hold integer keypoint indices, got {(a, b)!r}")
            if not 0 <= v < num_keypoints:
                raise SchemaError(
                    f"lines[{n}] index must be in [0, {num_keypoints - 1}] (K={num_keypoints}), "
                    f"got {v}"
                )
        out.append((int(a), int(b)))
    return tuple(out)


def check_flip_indices(
    flip: Any, num_keypoints: int, *, error: type[Exception] = SchemaError
) -> tuple[int, ...]:
    """Check that flip indices are a permutation of K that is its own inverse."""
    if isinstance(flip, (str, bytes)) or not hasattr(flip, "__iter__"):
        raise error(f"flip_indices must be a list of {num_keypoints} ints, got {flip!r}")
    values = list(flip)
    if len(values) != num_keypoints:
        raise error(f"flip_indices must have length K={num_keypoints}, got {len(values)}")
    ints = []
    for i, v in enumerate(values):
        index = as_index(v)
        if index is None or not 0 <= index < num_keypoints:
            raise error(
                f"flip_indices[{i}] must be an index in [0, {num_keypoints - 1}], got {v!r}"
            )
        ints.append(int(v))
    for i, j in enumerate(ints):
        if ints[j] != i:
            raise error(
                "flip_indices must be a permutation that is its own inverse "
                f"(flip[flip[i]] == i), got flip[{i}]={j} but flip[{j}]={ints[j]}"
            )
    return tuple(ints)


def as_index(value: Any) -> int | None:
    """``value`` as an int when it is an integer number (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return None


def shape_text(shape: Sequence[Any]) -> str:
    """Render a named shape like ``(N, K=17, 2)``."""
    return "(" + ", ".join(str(s) for s in shape) + ")"
