"""Bounds of the numbers a request may carry: one checker, so every message reads alike.

FastAPI parses ``int`` and ``float`` query parameters but bounds nothing: ``offset=10**30``
reached DuckDB and orjson, ``position=-5`` indexed a list, ``x=nan`` drew NaN keypoints.
Every route checks its numbers here first; a value out of range is a
:class:`~posetable.dashboard._query.QueryError` (400) naming the parameter, the allowed
range and what was given.

Example:
    >>> bounded("offset", 96, 0, MAX_INDEX)
    96
    >>> try:
    ...     bounded("offset", -1, 0, MAX_INDEX)
    ... except QueryError as error:
    ...     print(error)
    offset must be an integer in [0, 9007199254740991], got -1
"""

from __future__ import annotations

import math
from typing import Any, overload

from posetable.dashboard._query import QueryError

MAX_INDEX = 2**53 - 1  # the largest integer a page's JavaScript can hold exactly
MAX_REVISION = MAX_INDEX
MAX_COORDINATE = 1e9  # pixels: far beyond any image, far below float trouble


@overload
def bounded(name: str, value: None, low: int, high: int) -> None: ...
@overload
def bounded(name: str, value: int, low: int, high: int) -> int: ...
def bounded(name: str, value: int | None, low: int, high: int) -> int | None:
    """``value`` as an int in ``[low, high]``; QueryError otherwise (None passes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QueryError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


@overload
def finite(name: str, value: None, *, limit: float = MAX_COORDINATE) -> None: ...
@overload
def finite(name: str, value: float, *, limit: float = MAX_COORDINATE) -> float: ...
def finite(name: str, value: Any, *, limit: float = MAX_COORDINATE) -> float | None:
    """``value`` as a finite float with ``|value| <= limit``; QueryError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QueryError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or abs(number) > limit:
        raise QueryError(
            f"{name} must be a finite number in [-{limit:g}, {limit:g}], got {value!r}"
        )
    return number
