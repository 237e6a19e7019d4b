"""Sample weights from the dashboard: the ``weight`` column 3LC's tables carry.

A table made with 3LC's ``add_weight_column`` (or ``table.add_column("weight", values)``)
has one weight per row; a weighted sampler draws rows by it and weight 0 excludes a row
(``sampling_weights`` / ``exclude_zero_weight_training``). The image view edits one row's
weight with its other edits; the grid sets one weight on the selected rows or on every row
its filter matches. Each change is a new revision through :meth:`Table.with_rows` (operation
``set_weights``, its arguments naming the weight, how the rows were chosen and a ``note``),
only rows whose weight really changes are written, and a weight that is not a finite number
>= 0 is refused with the value in the message (nothing is written).

Example:
    >>> check_weight(0)
    0.0
    >>> try:
    ...     check_weight(-1, where="row 3: ")
    ... except RowError as error:
    ...     print(error)
    row 3: weight must be a finite number >= 0 (0 excludes the row from weighted training), got -1
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from posetable.dashboard._index import DEFAULT_SUSPECT_THRESHOLDS, SuspectThresholds
from posetable.dashboard._state import DashboardState
from posetable.errors import RowError, SchemaError
from posetable.table import Table

WEIGHT_COLUMN = "weight"


def check_weight(value: Any, *, where: str = "") -> float:
    """``value`` as a float weight: a finite number >= 0 (RowError otherwise)."""
    number = (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else math.nan
    )
    if not math.isfinite(number) or number < 0:
        raise RowError(
            f"{where}weight must be a finite number >= 0 (0 excludes the row from weighted "
            f"training), got {value!r}"[:300]
        )
    return number


def require_weight_column(table: Table) -> None:
    """SchemaError naming how to add one when ``table`` has no ``weight`` column."""
    if WEIGHT_COLUMN not in table.columns:
        raise SchemaError(
            f"table {table.ref} has no {WEIGHT_COLUMN!r} column to edit (it has "
            f"{', '.join(table.columns)}); 3LC tables made with add_weight_column=True have "
            f"one, or add it with table.add_column({WEIGHT_COLUMN!r}, values)"
        )


def as_stored(table: Table, value: float) -> float:
    """``value`` as the weight column holds it (3LC's weights are float32)."""
    kind = table.dataset.schema.field(WEIGHT_COLUMN).type
    if pa.types.is_float32(kind):
        return float(np.float32(value))
    if pa.types.is_integer(kind) and not float(value).is_integer():
        raise RowError(
            f"column {WEIGHT_COLUMN!r} of {table.ref} holds whole numbers ({kind}), got {value!r}"
        )
    return float(value)


def weights_of(table: Table, rows: list[int]) -> np.ndarray:
    """The current weights of ``rows`` (NaN where a row has none)."""
    values = table.take(rows, columns=[WEIGHT_COLUMN]).column(WEIGHT_COLUMN).to_pylist()
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def chosen_rows(
    state: DashboardState,
    table: Table,
    *,
    rows: Any,
    filter_text: Any,
    run: str | None,
    thresholds: SuspectThresholds,
) -> list[int]:
    """The rows named (``rows``) or matched by the grid's filter (``filter_text``)."""
    n = len(table)
    if (rows is None) == (filter_text is None):
        raise RowError(
            'name the rows to weigh: {"rows": [ROW, ...]} or {"filter": "..."} (the grid\'s '
            "filter; empty for every row), not both"
        )
    if rows is not None:
        if not isinstance(rows, list) or not rows:
            raise RowError(f"rows must be a non-empty list of row numbers, got {rows!r}"[:200])
        out = []
        for value in rows:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
                shown = repr(value)[:40]
                raise RowError(
                    f"row {shown} does not exist: table {table.ref} has {n} rows (0..{n - 1})"
                )
            out.append(value)
        return sorted(set(out))
    if not isinstance(filter_text, str):
        raise RowError(f"filter must be a filter expression, got {filter_text!r}"[:200])
    from posetable.dashboard._views import _query_rows, catalog

    index = state.index(table)
    view = state.run_on(run, table) if run else None
    _, found = _query_rows(
        table,
        index,
        view,
        catalog(table, index, view),
        filter_text=filter_text,
        sort=None,
        descending=False,
        offset=0,
        limit=max(n, 1),
        thresholds=thresholds,
    )
    return [int(r) for r in found]


def set_weights(
    state: DashboardState,
    table: Table,
    weight: Any,
    *,
    rows: Any = None,
    filter_text: Any = None,
    run: str | None = None,
    thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
) -> Table:
    """Give ``rows`` (or the rows ``filter_text`` matches) ``weight``: one new revision."""
    value = check_weight(weight)
    require_weight_column(table)
    as_stored(table, value)
    table.check_editable(rows=rows if isinstance(rows, list) else None)
    chosen = chosen_rows(
        state, table, rows=rows, filter_text=filter_text, run=run, thresholds=thresholds
    )
    if not chosen:
        raise RowError(f"the filter {filter_text!r} matches no row of {table.ref}; nothing to set")
    current = weights_of(table, chosen)
    stored = as_stored(table, value)
    changing = [r for r, w in zip(chosen, current, strict=True) if w != stored]
    if not changing:
        raise RowError(
            f"nothing to save: the {len(chosen)} rows already have weight {value:g} in "
            f"revision {table.revision}"
        )
    how = f"the rows matching {filter_text!r}" if filter_text is not None else "the chosen rows"
    arguments: dict[str, Any] = {
        "source": "dashboard",
        "column": WEIGHT_COLUMN,
        "weight": value,
        "chosen": len(chosen),
        "note": f"set weight {value:g} on {len(changing)} of {how} ({len(chosen)})",
    }
    if filter_text is not None:
        arguments["filter"] = filter_text
        if run:
            arguments["run"] = run
    # one Arrow merge for all the rows (Table.set_values), not a row edit per row
    return table.set_values(
        WEIGHT_COLUMN, stored, rows=changing, operation="set_weights", arguments=arguments
    )
