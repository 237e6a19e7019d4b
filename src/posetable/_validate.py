"""One shared checker, so every validation message reads alike.

Messages follow ``<what> must <expectation>, got <found>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def check_rows(
    rows: Any, num_rows: int, *, argument: str = "rows", where: str = "the table"
) -> list[int] | None:
    """Row positions as ints in ``[0, num_rows)``, or None for None.

    A negative position is refused, never read Python's way from the end, and so are
    booleans, fractions and strings.

    Raises:
        RowIndexError: naming the argument, the position at fault and the valid range.
    """
    from posetable.errors import RowIndexError

    if rows is None:
        return None
    valid = f"[0, {num_rows - 1}]" if num_rows else "none: it has no rows"
    if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
        raise RowIndexError(f"{argument} must be a list of row numbers, got {rows!r}"[:200])
    out = []
    for i, value in enumerate(rows):
        index = as_index(value) if not isinstance(value, (float, np.floating)) else None
        if index is None or not 0 <= index < num_rows:
            raise RowIndexError(
                f"{argument}[{i}] must be a row number in {valid} ({where} has {num_rows} "
                f"rows), got {value!r}"[:300]
            )
        out.append(index)
    return out


def check_row(row: Any, num_rows: int, *, argument: str = "row", where: str = "the table") -> int:
    """One row position as an int in ``[0, num_rows)`` (see :func:`check_rows`)."""
    from posetable.errors import RowIndexError

    index = as_index(row) if not isinstance(row, (float, np.floating)) else None
    if index is None or not 0 <= index < num_rows:
        valid = f"[0, {num_rows - 1}]" if num_rows else "none: it has no rows"
        raise RowIndexError(
            f"{argument} must be a row number in {valid} ({where} has {num_rows} rows), "
            f"got {row!r}"[:300]
        )
    return index


def check_number(
    value: Any,
    argument: str,
    *,
    low: float | None = None,
    high: float | None = None,
    error: type[Exception] = ValueError,
) -> float:
    """A finite number (in ``[low, high]`` when given); NaN, inf, bools and text refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise error(f"{argument} must be a number, got {value!r}"[:200])
    number = float(value)
    if not np.isfinite(number):
        raise error(f"{argument} must be a finite number, got {number!r}")
    if low is not None and high is not None and not low <= number <= high:
        raise error(f"{argument} must be in [{low:g}, {high:g}], got {number:g}")
    if low is not None and number < low:
        raise error(f"{argument} must be >= {low:g}, got {number:g}")
    if high is not None and number > high:
        raise error(f"{argument} must be <= {high:g}, got {number:g}")
    return number
