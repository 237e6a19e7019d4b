"""Messages for many findings at once: Arrow string columns built without a Python loop.

``fixed(values, 2)`` gives exactly ``f"{v:.2f}"`` for every value: numbers whose scaled
value is not within a hair of a rounding tie are rounded in numpy (``rint`` of ``v * 10^d``
rounds as Python's correctly rounded formatting does when the exact product is not near
``.5``); the rest (near ties, NaN, infinities, huge values) are formatted by Python, one by
one. ``join`` glues columns and literal text together (Arrow's element-wise join).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TIE_MARGIN = 1e-6  # a scaled value this close to .5 is formatted by Python
_LIMIT = 1e9  # beyond this the product's rounding error may reach the margin


def fixed(values: np.ndarray | Sequence[float], digits: int = 2) -> pa.Array:
    """``f"{v:.{digits}f}"`` of each value, as an Arrow string array.

    Example:
        >>> fixed([0.125, 0.5, -0.004, 12.345, float("nan")]).to_pylist()
        ['0.12', '0.50', '-0.00', '12.35', 'nan']
    """
    x = np.asarray(values, np.float64).ravel()
    magnitude = np.abs(x)
    scale = 10**digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = magnitude * float(scale)
        part = scaled - np.floor(scaled)
        easy = np.isfinite(scaled) & (scaled < _LIMIT) & (np.abs(part - 0.5) > _TIE_MARGIN)
    rounded = np.where(easy, np.rint(np.where(easy, scaled, 0.0)), 0.0).astype(np.int64)
    whole = pa.array(rounded // scale).cast(pa.string())
    if digits:
        fraction = pc.utf8_lpad(pa.array(rounded % scale).cast(pa.string()), digits, "0")
        text = pc.binary_join_element_wise(whole, fraction, ".")
    else:
        text = whole
    sign = np.signbit(x)
    if sign.any():
        text = pc.if_else(pa.array(sign), pc.binary_join_element_wise("-", text, ""), text)
    hard = np.flatnonzero(~easy)
    if hard.size:
        spec = f".{digits}f"
        python = pa.array([format(v, spec) for v in x[hard].tolist()], pa.string())
        positions = np.full(x.shape[0], -1, np.int64)
        positions[hard] = np.arange(hard.size)
        merged = pa.concat_arrays([text, python])
        pick = np.where(positions >= 0, x.shape[0] + positions, np.arange(x.shape[0]))
        text = merged.take(pa.array(pick, pa.int64()))
    return text


def names_of(names: Sequence[str], index: np.ndarray) -> pa.Array:
    """``names[i]`` of each index, as an Arrow string array.

    Example:
        >>> names_of(["nose", "eye"], np.array([1, 0, 1])).to_pylist()
        ['eye', 'nose', 'eye']
    """
    return pa.array(list(names), pa.string()).take(pa.array(np.asarray(index, np.int64)))


def join(*parts: pa.Array | str) -> pa.Array:
    """The element-wise concatenation of string arrays and literal strings.

    Example:
        >>> join("a ", pa.array(["x", "y"]), "!").to_pylist()
        ['a x!', 'a y!']
    """
    return pc.binary_join_element_wise(*parts, "")
