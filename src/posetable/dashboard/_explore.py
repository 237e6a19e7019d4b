"""What the exploring pages show: filter widgets' counts, the embeddings scatter, training epochs.

``facets`` feeds the filter widgets of the grid (a histogram per numeric column, row counts
per class and per keypoint visibility, all for the rows the current filter keeps, beside
the same over all rows); ``embeddings`` the scatter of a run's ``embedding_0..`` columns
coloured by any column; ``training_runs`` and ``training`` the per-epoch charts of a 3LC
training run, whose collected epochs are runs named ``{project}/{run}/{stream}-epoch-NNNN``
with ``model_info={"tlc_run": "{project}/{run}", "stream": ..., "epoch": ...}``.

Every widget condition is written in the filter language of :mod:`._query` with the column
spelled as ``field`` says, so what a widget builds is what the filter box shows and what the
server accepts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable._rows import SAMPLE_ID
from posetable.dashboard._index import (
    CHECK_COLUMN,
    CLASSES_COLUMN,
    LIST_PREFIX,
    SuspectThresholds,
)
from posetable.dashboard._query import (
    QueryError,
    parse_filter,
    quote_identifier,
    referenced_columns,
)
from posetable.dashboard._state import DashboardState, _Lru
from posetable.dashboard._views import (
    Column,
    _connection,
    _open,
    catalog,
    joined_sources,
    run_summary,
)
from posetable.errors import NotFoundError, PosetableError, RunError
from posetable.store import check_name

HISTOGRAM_BINS = 24
_NUMERIC = re.compile(r"^(u?int\d*|float|double|halffloat|decimal.*)$")
_DIMENSION = re.compile(r"^(?P<prefix>.+)_(?P<index>\d+)$")
_FILTER_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_KEYWORDS = {"and", "or", "not", "is", "null", "contains", "true", "false", "in", "has"}


def field(name: str) -> str:
    """A column as the filter language spells it (double quotes where a bare word fails)."""
    if _FILTER_WORD.match(name) and name.lower() not in _KEYWORDS:
        return name
    return quote_identifier(name)


def _is_numeric(column: Column) -> bool:
    return bool(_NUMERIC.match(column.type)) and column.name not in ("row", SAMPLE_ID)


def _values(
    state_parts: tuple[Any, Any, Any],
    columns: dict[str, Column],
    names: list[str],
    thresholds: SuspectThresholds,
) -> dict[str, np.ndarray]:
    """Every row's value of some catalog columns (row order; NaN / None where missing)."""
    table, index, run = state_parts
    if not names:
        return {}
    sources, joins = joined_sources(table, index, run, columns, set(names), thresholds=thresholds)
    special = {SAMPLE_ID: "d.sample_id", "row": "d.row"}
    picked = ", ".join(special.get(n, quote_identifier(n)) for n in names)
    sql = f"SELECT {picked} FROM d {' '.join(joins)} ORDER BY d.row"
    cursor = _connection().cursor()
    try:
        for alias, data in sources.items():
            cursor.register(alias, data)
        got = cursor.sql(sql).to_arrow_table()
    finally:
        cursor.close()
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        column = got.column(i)
        if _is_numeric(columns[name]) or name == SAMPLE_ID:
            out[name] = np.asarray(
                column.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64
            )
        else:
            out[name] = np.asarray(column.to_pylist(), dtype=object)
    return out


def _matching(
    parts: tuple[Any, Any, Any],
    columns: dict[str, Column],
    filter_text: str | None,
    thresholds: SuspectThresholds,
) -> np.ndarray:
    """A mask over rows: True where the filter keeps the row (one query, rows as Arrow)."""
    table, index, run = parts
    n = len(index)
    mask = np.ones(n, bool)
    if not (filter_text and filter_text.strip() and n):
        return mask
    condition, params = parse_filter(filter_text, columns)  # names and syntax checked first
    if not condition:
        return mask
    needed = referenced_columns(filter_text, columns)
    sources, joins = joined_sources(table, index, run, columns, needed, thresholds=thresholds)
    sql = f"SELECT d.row FROM d {' '.join(joins)} WHERE {condition}"
    import duckdb

    cursor = _connection().cursor()
    try:
        for alias, data in sources.items():
            cursor.register(alias, data)
        try:
            got = cursor.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise QueryError(f"the query failed: {exc}") from exc
    finally:
        cursor.close()
    mask[:] = False
    mask[np.asarray(got.column(0).to_numpy(zero_copy_only=False), np.int64)] = True
    return mask


def _histogram_edges(known: np.ndarray, integer: bool, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Bin edges over the known values: one bin per integer when they fit in ``bins``.

    Example:
        >>> _histogram_edges(np.array([1.0, 3.0]), True).tolist()
        [0.5, 1.5, 2.5, 3.5]
        >>> _histogram_edges(np.array([0.0, 1.0]), False, 2).tolist()
        [0.0, 0.5, 1.0]
    """
    if not known.size:
        return np.zeros(0)
    low, high = float(known.min()), float(known.max())
    if integer and high - low + 1 <= bins:
        return np.arange(low, high + 2) - 0.5
    return np.linspace(low, high if high > low else low + 1.0, bins + 1)


def _histogram(values: np.ndarray, mask: np.ndarray, integer: bool) -> dict[str, Any]:
    known = ~np.isnan(values)
    if not known.any():
        return {"min": None, "max": None, "edges": [], "all": [], "matching": [], "missing": 0}
    edges = _histogram_edges(values[known], integer)
    every, _ = np.histogram(values[known], bins=edges)
    kept, _ = np.histogram(values[known & mask], bins=edges)
    return {
        "min": float(values[known].min()),
        "max": float(values[known].max()),
        "integer": integer,
        "edges": edges.tolist(),
        "all": every.tolist(),
        "matching": kept.tolist(),
        "missing": int((~known).sum()),
        "missing_matching": int((~known & mask).sum()),
    }


def _offsets(array: pa.Array) -> np.ndarray:
    """A list array's offsets from 0 (int64)."""
    offsets = np.asarray(array.offsets.to_numpy(zero_copy_only=False), np.int64)
    return offsets - offsets[0]


def _values_of(array: pa.Array) -> pa.Array:
    """A list array's values, exactly those its offsets span."""
    return pc.list_flatten(array)


def _rows_having(array: pa.Array, names: list[str]) -> np.ndarray:
    """(rows, len(names)) bool: row r's list holds ``names[j]`` (vectorised, no row loop)."""
    offsets = _offsets(array)
    rows = len(offsets) - 1
    has = np.zeros((rows, len(names)), bool)
    if not names or rows == 0:
        return has
    values = _values_of(array)
    codes = pc.index_in(values, value_set=pa.array(names, values.type))
    known = np.asarray(pc.is_valid(codes).to_numpy(zero_copy_only=False), bool)
    parents = np.repeat(np.arange(rows), np.diff(offsets))
    picked = np.asarray(codes.filter(pa.array(known)).to_numpy(zero_copy_only=False), np.int64)
    has[parents[known], picked] = True
    return has


def _counts(has: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows having each value: over all rows and over the rows ``mask`` keeps."""
    return has.sum(axis=0), has[mask].sum(axis=0)


def _visibility_having(lists: dict[str, pa.Array], names: tuple[str, ...]) -> dict[int, np.ndarray]:
    """v -> (rows, K) bool: row r has an instance whose keypoint k is at visibility v.

    The ``vis.<name>`` lists share their offsets (one entry per instance), so the K value
    arrays stack into one (instances, K) matrix reduced per row with ``reduceat``.
    """
    k = len(names)
    rows = len(lists[CLASSES_COLUMN])
    out = {v: np.zeros((rows, k), bool) for v in (0, 1, 2)}
    if not k or not rows:
        return out
    offsets = _offsets(lists[f"{LIST_PREFIX}{names[0]}"])
    nonempty = np.diff(offsets) > 0
    if not nonempty.any():
        return out
    matrix = np.column_stack(
        [
            np.asarray(
                _values_of(lists[f"{LIST_PREFIX}{name}"]).to_numpy(zero_copy_only=False), np.int8
            )
            for name in names
        ]
    )
    starts = offsets[:-1][nonempty]
    for v in (0, 1, 2):
        out[v][nonempty] = np.logical_or.reduceat(matrix == v, starts, axis=0)
    return out


@dataclass(frozen=True)
class _Having:
    """Per-row membership of one revision, the same under every filter (cached)."""

    class_names: list[str]
    classes: np.ndarray  # (rows, classes)
    rules: list[str]
    checks: np.ndarray  # (rows, rules)
    visibility: dict[int, np.ndarray]  # v -> (rows, K)


_HAVING: _Lru[tuple[str, str, int], _Having] = _Lru(4)
_VALUES: _Lru[tuple[Any, ...], dict[str, np.ndarray]] = _Lru(4)


def _having(state: DashboardState, table: Any, index: Any) -> _Having:
    def make() -> _Having:
        lists = index.list_columns([CLASSES_COLUMN, *index.list_column_names()])
        class_names = list(table.schema.classes)
        rules_list = lists[CHECK_COLUMN]
        found = pc.unique(_values_of(rules_list)).to_pylist()
        rules = sorted(str(r) for r in found if r is not None)
        return _Having(
            class_names=class_names,
            classes=_rows_having(lists[CLASSES_COLUMN], class_names),
            rules=rules,
            checks=_rows_having(rules_list, rules),
            visibility=_visibility_having(lists, tuple(table.schema.keypoint_names)),
        )

    return _HAVING.get((str(state.store.root), table.name, table.revision), make)


def _cached_values(
    state: DashboardState,
    parts: tuple[Any, Any, Any],
    columns: dict[str, Column],
    names: list[str],
    thresholds: SuspectThresholds,
) -> dict[str, np.ndarray]:
    """``_values`` of the histogram columns, once per (revision, run, thresholds)."""
    table, _, view = parts
    run_key = None if view is None else (view.name, str(view.run.manifest.get("created")))
    key = (str(state.store.root), table.name, table.revision, run_key, thresholds, tuple(names))
    return _VALUES.get(key, lambda: _values(parts, columns, names, thresholds))


def facets(
    state: DashboardState,
    name: str,
    *,
    revision: int | None = None,
    run: str | None = None,
    filter_text: str | None = None,
    thresholds: SuspectThresholds,
) -> dict[str, Any]:
    """Counts for the filter widgets: histograms, classes, check rules (rows with a finding
    of each rule) and keypoint visibilities; vectorised over rows (numpy and Arrow)."""
    parts = _open(state, name, revision, run)
    table, index, run_view = parts
    columns = catalog(table, index, run_view)
    mask = _matching(parts, columns, filter_text, thresholds)
    numeric = [c for c in columns.values() if _is_numeric(c)]
    if run_view is not None and len(index) > 20_000:  # suspects of a large run: only asked
        numeric = [c for c in numeric if c.source != "suspects"]
    values = _cached_values(state, parts, columns, [c.name for c in numeric], thresholds)
    histograms = []
    for column in numeric:
        integer = "int" in column.type
        histograms.append(
            {
                "name": column.name,
                "field": field(column.name),
                "source": column.source,
                "type": column.type,
                **_histogram(values[column.name], mask, integer),
            }
        )
    having = _having(state, table, index)
    every, kept = _counts(having.classes, mask)
    classes = [
        {"name": label, "all": int(a), "matching": int(m)}
        for label, a, m in zip(having.class_names, every.tolist(), kept.tolist(), strict=True)
    ]
    every, kept = _counts(having.checks, mask)
    checks = [
        {"rule": rule, "all": int(a), "matching": int(m)}
        for rule, a, m in zip(having.rules, every.tolist(), kept.tolist(), strict=True)
    ]
    by_visibility = {v: _counts(having.visibility[v], mask) for v in (0, 1, 2)}
    keypoints = [
        {
            "name": keypoint,
            "field": field(f"{LIST_PREFIX}{keypoint}"),
            "visibility": {
                str(v): {
                    "all": int(by_visibility[v][0][j]),
                    "matching": int(by_visibility[v][1][j]),
                }
                for v in (0, 1, 2)
            },
        }
        for j, keypoint in enumerate(table.schema.keypoint_names)
    ]
    return {
        "table": table.name,
        "revision": table.revision,
        "run": run,
        "filter": filter_text or "",
        "rows": len(index),
        "matching": int(mask.sum()),
        "histograms": histograms,
        "classes_field": field(CLASSES_COLUMN),
        "classes": classes,
        "check_field": field(CHECK_COLUMN),
        "checks": checks,
        "keypoints": keypoints,
    }


def embedding_groups(metric_names: list[str]) -> dict[str, list[str]]:
    """``{prefix: [prefix_0, prefix_1, ...]}`` for runs columns numbered from 0 (>= 2 dims)."""
    found: dict[str, dict[int, str]] = {}
    for name in metric_names:
        match = _DIMENSION.match(name)
        if match:
            found.setdefault(match["prefix"], {})[int(match["index"])] = name
    out = {}
    for prefix, dims in found.items():
        count = 0
        while count in dims:
            count += 1
        if count >= 2:
            out[prefix] = [dims[i] for i in range(count)]
    return out


def embeddings(
    state: DashboardState,
    run: str,
    *,
    table: str | None = None,
    revision: int | None = None,
    prefix: str | None = None,
    color: str | None = None,
    thresholds: SuspectThresholds,
) -> dict[str, Any]:
    """A run's embedding points (one per row that has one), coloured by a chosen column."""
    check_name(run, "run")
    name = table or state.run(run).run.table_name
    parts = _open(state, name, revision, run)
    table_obj, index, run_view = parts
    if run_view is None:
        raise RunError(f"run {run!r} could not be opened on table {name!r}")
    columns = catalog(table_obj, index, run_view)
    groups = embedding_groups(list(run_view.metric_names))
    if not groups:
        raise NotFoundError(
            f"run {run!r} has no embedding columns (per-sample columns name_0, name_1, ...); "
            "give Run.from_predictions sample_columns={'embedding': (rows, d) array}"
        )
    chosen = prefix or ("embedding" if "embedding" in groups else sorted(groups)[0])
    if chosen not in groups:
        raise QueryError(
            f"run {run!r} has no embedding {chosen!r}; it has: {', '.join(sorted(groups))}"
        )
    shown = {c.source_name: c.name for c in columns.values() if c.source == "run"}
    dims = [shown[d] for d in groups[chosen]]
    if color is not None and color not in columns:
        raise QueryError(
            f"cannot colour by unknown column {color!r}; known columns: "
            f"{', '.join(sorted(columns))}"
        )
    if color is not None and columns[color].source == "lists":
        raise QueryError(f"cannot colour by {color!r}: it holds a list per row")
    wanted = [SAMPLE_ID, *dims, *([color] if color and color not in dims else [])]
    values = _values(parts, columns, wanted, thresholds)
    coords = np.column_stack([values[d] for d in dims])
    keep = ~np.isnan(coords).any(axis=1)
    rows = np.flatnonzero(keep)
    colour: dict[str, Any] | None = None
    if color:
        raw = values[color][keep]
        numeric = _is_numeric(columns[color]) or color in dims
        colour = {
            "name": color,
            "numeric": bool(numeric),
            "values": [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                for v in raw.tolist()
            ],
        }
    return {
        "run": run,
        "table": table_obj.name,
        "revision": table_obj.revision,
        "prefix": chosen,
        "groups": {key: len(value) for key, value in groups.items()},
        "dimensions": dims,
        "count": len(rows),
        "rows": rows.tolist(),
        "sample_ids": index.sample_ids[rows].tolist(),
        "coordinates": coords[keep].tolist(),
        "color": colour,
        "color_options": [
            c.name for c in columns.values() if c.source != "lists" and c.name != SAMPLE_ID
        ],
        "sample_id_field": field(SAMPLE_ID),
    }


def _epoch_of(summary: dict[str, Any]) -> tuple[str, str, int] | None:
    info = summary.get("model_info") or {}
    group, stream, epoch = info.get("tlc_run"), info.get("stream"), info.get("epoch")
    if not isinstance(group, str) or not isinstance(stream, str):
        return None
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        return None
    return group, stream, epoch


def _summaries(state: DashboardState) -> list[dict[str, Any]]:
    out = []
    for name in state.run_names():
        try:
            out.append(run_summary(state, name))
        except PosetableError:
            continue
    return out


def training_runs(state: DashboardState) -> dict[str, Any]:
    """The 3LC training runs of the store: name, streams and how many epochs were collected."""
    return {"training_runs": training_groups(_summaries(state))}


def training_groups(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run summaries grouped by ``model_info['tlc_run']``: name, table, epochs per stream."""
    groups: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        found = _epoch_of(summary)
        if found is None:
            continue
        group, stream, _ = found
        entry = groups.setdefault(group, {"name": group, "table": summary["table"], "streams": {}})
        entry["streams"][stream] = entry["streams"].get(stream, 0) + 1
    return [groups[k] for k in sorted(groups)]


def _sample_means(state: DashboardState, name: str) -> dict[str, float | None]:
    """Means of a run's per-sample columns (losses, per-sample metrics), embeddings left out."""
    from posetable.runs import Run

    per_sample = Run.open(name, store=state.store).per_sample
    skip = {"row", "image_id"}
    for dims in embedding_groups(per_sample.column_names).values():
        skip.update(dims)
    out: dict[str, float | None] = {}
    for column_name in per_sample.column_names:
        if column_name in skip:
            continue
        column = per_sample.column(column_name)
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            continue
        values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        known = values[~np.isnan(values)]
        out[column_name] = float(known.mean()) if len(known) else None
    return out


def training(state: DashboardState, name: str) -> dict[str, Any]:
    """One training run: per stream, every collected epoch's metrics (the per-epoch charts)."""
    if not isinstance(name, str) or not name.strip("/"):
        raise QueryError(f"a training run is named project/run, got {name!r}")
    streams: dict[str, list[dict[str, Any]]] = {}
    table = None
    for summary in _summaries(state):
        found = _epoch_of(summary)
        if found is None or found[0] != name:
            continue
        _, stream, epoch = found
        table = summary["table"]
        streams.setdefault(stream, []).append(
            {
                "epoch": epoch,
                "run": summary["name"],
                "metrics": summary["metrics"],
                "sample_means": _sample_means(state, summary["name"]),
            }
        )
    if not streams:
        known = [t["name"] for t in training_runs(state)["training_runs"]]
        raise NotFoundError(
            f"no collected epochs of training run {name!r}; training runs in this store: "
            f"{', '.join(known) if known else 'none'}"
        )
    for epochs in streams.values():
        epochs.sort(key=lambda e: e["epoch"])
    metric_names = sorted({m for e in _all(streams) for m in e["metrics"]})
    sample_names = sorted({m for e in _all(streams) for m in e["sample_means"]})
    return {
        "name": name,
        "table": table,
        "streams": streams,
        "metrics": metric_names,
        "sample_metrics": sample_names,
    }


def _all(streams: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [e for epochs in streams.values() for e in epochs]
