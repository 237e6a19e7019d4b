"""What each page shows, as JSON-ready dicts: the API returns exactly these.

``tables_overview`` feeds the tables-and-runs page, ``table_detail`` the table header,
``grid_page`` the grid (sorting and filtering by DuckDB over the Lance dataset joined with
derived counts and run metrics), ``row_detail`` the image view, ``compare`` the run
comparison.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow
from posetable._rows import SAMPLE_ID
from posetable.dashboard._index import (
    CHECK_COLUMN,
    CLASSES_COLUMN,
    DEFAULT_SUSPECT_THRESHOLDS,
    DERIVED_COLUMNS,
    EAGER_SUSPECTS_ROWS,
    SUSPECT_COLUMNS,
    RunView,
    SuspectThresholds,
    TableIndex,
)
from posetable.dashboard._params import MAX_INDEX, bounded, finite
from posetable.dashboard._payload import instances_json, per_instance_json, schema_json
from posetable.dashboard._query import (
    QueryError,
    parse_filter,
    quote_identifier,
    referenced_columns,
)
from posetable.dashboard._state import DashboardState, _Lru
from posetable.diagnose._found import SEVERITIES
from posetable.diagnose.fixes import FIXES
from posetable.errors import PosetableError, RunError
from posetable.store import RevisionInfo, check_name
from posetable.table import Table

MAX_PAGE = 500
MAX_COMPARED = 32


@dataclass(frozen=True)
class Column:
    """A column the grid can show, sort and filter on."""

    name: str
    source: str  # "table" | "derived" | "lists" | "run" | "suspects"
    source_name: str
    type: str
    description: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "source": self.source,
            "type": self.type,
            "description": self.description,
        }


def revision_json(info: RevisionInfo) -> dict[str, Any]:
    """One lineage entry; long row lists are shortened to a count and the first 20."""
    arguments: dict[str, Any] = {}
    for key, value in info.arguments.items():
        if isinstance(value, list) and len(value) > 20:
            arguments[key] = value[:20]
            arguments[f"{key}_count"] = len(value)
        else:
            arguments[key] = value
    stamp = info.timestamp.isoformat() if info.timestamp is not None else None
    return {
        "revision": info.revision,
        "parent": info.parent,
        "operation": info.operation,
        "arguments": arguments,
        "timestamp": stamp,
    }


def run_summary(state: DashboardState, name: str) -> dict[str, Any]:
    """A run's manifest facts: table revision, model info, summary metrics, counts."""
    from posetable.runs import Run

    run = Run.open(check_name(name, "run"), store=state.store)
    manifest = run.manifest
    return {
        "name": run.name,
        "table": run.table_name,
        "table_revision": run.table_revision,
        "table_ref": run.table_ref,
        "model_info": run.model_info,
        "metrics": run.metrics,
        "created": manifest.get("created"),
        "counts": manifest.get("counts", {}),
        "sigmas_given": manifest.get("sigmas_given"),
    }


def _runs_by_table(state: DashboardState) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in state.run_names():
        try:
            summary = run_summary(state, name)
        except PosetableError:
            continue
        out.setdefault(summary["table"], []).append(summary)
    return out


def tables_overview(state: DashboardState) -> dict[str, Any]:
    """Every table with its revisions, counts and runs (the first page)."""
    runs = _runs_by_table(state)
    tables = []
    for name in state.table_names():
        table = state.table(name)
        index = state.index(table)
        counts = index.derived(["num_instances"])["num_instances"]
        tables.append(
            {
                "name": name,
                "revision": table.revision,
                "parent": table.parent,
                "operation": table.operation,
                "rows": len(table),
                "instances": int(counts.sum()),
                "num_keypoints": table.schema.num_keypoints,
                "classes": list(table.schema.classes),
                "revisions": [revision_json(i) for i in reversed(state.revisions(table))],
                "runs": runs.get(name, []),
            }
        )
    from posetable.dashboard._explore import training_groups

    every = [summary for group in runs.values() for summary in group]
    return {
        "store": str(state.store.root),
        "tables": tables,
        "training_runs": training_groups(every),
    }


def catalog(table: Table, index: TableIndex, run: RunView | None) -> dict[str, Column]:
    """The columns a grid over ``table`` (and ``run``) can sort and filter on."""
    columns: dict[str, Column] = {"row": Column("row", "derived", "row", "int64", "row position")}
    columns[SAMPLE_ID] = Column(
        SAMPLE_ID, "derived", SAMPLE_ID, "int64", "stable id of the row's sample across revisions"
    )
    for name, arrow_type in index.scalar_columns.items():
        columns[name] = Column(name, "table", name, str(arrow_type), "table column")
    for name, text in DERIVED_COLUMNS.items():
        columns.setdefault(name, Column(name, "derived", name, "int64", text))
    for name, text in index.list_column_names().items():
        kind = "list<string>" if name in (CLASSES_COLUMN, CHECK_COLUMN) else "list<int64>"
        columns.setdefault(name, Column(name, "lists", name, kind, text))
    if run is not None:
        for name in run.metric_names:
            shown = name if name not in columns else f"run_{name}"
            arrow_type = str(run.metric_schema.field(name).type)
            columns[shown] = Column(
                shown, "run", name, arrow_type, f"per-sample metric of run {run.name}"
            )
        for name, text in SUSPECT_COLUMNS.items():
            shown = name if name not in columns else f"run_{name}"
            kind = (
                "string"
                if name == "suspect_kinds"
                else ("double" if name == "suspect_score" else "int64")
            )
            columns[shown] = Column(shown, "suspects", name, kind, text)
    return columns


def _query_rows(
    table: Table,
    index: TableIndex,
    run: RunView | None,
    columns: dict[str, Column],
    *,
    filter_text: str | None,
    sort: str | None,
    descending: bool,
    offset: int,
    limit: int,
    thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
) -> tuple[int, np.ndarray]:
    """(matching row count, the page's rows) via DuckDB."""
    n = len(index)
    sort_name = sort or "row"
    if sort_name not in columns:
        raise QueryError(
            f"cannot sort by unknown column {sort_name!r}; "
            f"known columns: {', '.join(sorted(columns))}"
        )
    if columns[sort_name].source == "lists":
        raise QueryError(
            f"cannot sort by {sort_name!r}: it holds a list per row (filter it with 'has')"
        )
    condition, params = parse_filter(filter_text, columns)  # checks names and syntax first
    needed = referenced_columns(filter_text, columns) | {sort_name}
    if not condition and needed == {"row"}:  # row order, no filter: no query at all
        rows = np.arange(n, dtype=np.int64)[::-1] if descending else np.arange(n, dtype=np.int64)
        return n, rows[offset : offset + limit]
    sources, joins = joined_sources(table, index, run, columns, needed, thresholds=thresholds)
    direction = "DESC" if descending else "ASC"
    sort_sql = quote_identifier(sort_name) if sort_name != "row" else "d.row"
    where = f"FROM d {' '.join(joins)} {'WHERE ' + condition if condition else ''}"
    # the page and the count as two queries: a window count(*) OVER () over the matching
    # rows would make DuckDB sort them all, where ORDER BY .. LIMIT keeps the top rows only
    sql = (
        f"SELECT d.row {where} ORDER BY {sort_sql} {direction} NULLS LAST, d.row ASC "
        "LIMIT ? OFFSET ?"
    )
    count_sql = f"SELECT count(*) {where}" if condition else None  # no filter: every row
    return _run_sql(sql, count_sql, sources, params, limit, offset, n)


def joined_sources(
    table: Table,
    index: TableIndex,
    run: RunView | None,
    columns: dict[str, Column],
    needed: set[str],
    *,
    thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
) -> tuple[dict[str, Any], list[str]]:
    """DuckDB relations and JOIN clauses giving ``d`` (one row per table row) the columns
    ``needed`` under their catalog names."""
    n = len(index)
    by_source: dict[str, list[Column]] = {}
    for name in sorted(needed - {"row", SAMPLE_ID}):
        by_source.setdefault(columns[name].source, []).append(columns[name])
    base = {"row": pa.array(np.arange(n, dtype=np.int64)), SAMPLE_ID: pa.array(index.sample_ids)}
    derived = index.derived([c.source_name for c in by_source.get("derived", [])])
    base.update({name: pa.array(values) for name, values in derived.items()})
    lists = index.list_columns([c.source_name for c in by_source.get("lists", [])])
    base.update(lists)
    sources: dict[str, Any] = {}
    joins = []
    if "table" in by_source:
        sources["l"] = table.dataset
        picked = ", ".join(quote_identifier(c.source_name) for c in by_source["table"])
        joins.append(f"JOIN (SELECT {SAMPLE_ID}, {picked} FROM l) USING ({SAMPLE_ID})")
    suspects = (
        run.suspects(thresholds=thresholds) if run is not None and "suspects" in by_source else None
    )
    for source, data in (
        ("run", run.metrics if run is not None else None),
        ("suspects", suspects),
    ):
        if source not in by_source:
            continue
        if data is None:
            raise QueryError(
                "label-error suspects are not available on this revision: they are found on "
                "the run's revision or one descending from it"
                if source == "suspects"
                else "run metrics need a run: choose one"
            )
        # one value per table row (null where the run has none: a LEFT JOIN on sample_id,
        # made once per run and revision), so DuckDB sorts one table and joins nothing
        at = _row_positions(data, index)
        for c in by_source[source]:
            base[c.name] = data.column(c.source_name).take(at)
    sources["d"] = pa.table(base)
    return sources, joins


_POSITIONS: _Lru[tuple[int, int], tuple[pa.Table, TableIndex, pa.Array]] = _Lru(8)


def _row_positions(data: pa.Table, index: TableIndex) -> pa.Array:
    """For each row of ``index``, the row of ``data`` (unique ``sample_id`` values) with
    its sample, null where none: a left join on sample id as positions (cached while
    ``data`` and ``index`` live: both never change)."""
    key = (id(data), id(index))
    got = _POSITIONS.peek(key)
    if got is not None and got[0] is data and got[1] is index:
        return got[2]
    ids = data.column(SAMPLE_ID).to_numpy()
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    wanted = index.sample_ids
    if len(sorted_ids) == 0:
        at = pa.nulls(len(wanted), pa.int64())
    else:
        where = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
        found = sorted_ids[where] == wanted
        at = pa.array(np.where(found, order[where], 0), pa.int64(), mask=~found)
    _POSITIONS.drop(lambda k: k == key)
    _POSITIONS.get(key, lambda: (data, index, at))
    return at


def _run_sql(
    sql: str,
    count_sql: str | None,
    sources: dict[str, Any],
    params: list[Any],
    limit: int,
    offset: int,
    rows: int,
) -> tuple[int, np.ndarray]:
    """(matching rows: ``count_sql``'s count, or ``rows`` when None; the page's rows)."""
    import duckdb

    con = _connection()
    cursor = con.cursor()
    try:
        for alias, data in sources.items():
            cursor.register(alias, data)
        try:
            got = cursor.execute(sql, [*params, limit, offset]).fetchall()
            total = rows
            if count_sql is not None:
                total = int(cursor.execute(count_sql, params).fetchall()[0][0])
        except duckdb.Error as exc:
            raise QueryError(f"the query failed: {exc}") from exc
    finally:
        cursor.close()
    return total, np.asarray([r[0] for r in got], dtype=np.int64)


_CON: Any = None


def _connection() -> Any:
    """One shared in-memory DuckDB database; each query takes its own cursor."""
    global _CON
    if _CON is None:
        import duckdb

        _CON = duckdb.connect()
    return _CON


def _urls(name: str, row: int, revision: int) -> dict[str, str]:
    base = f"/api/tables/{quote(name, safe='')}"
    return {
        "thumbnail_url": f"{base}/thumbnail/{row}?revision={revision}",
        "image_url": f"{base}/image/{row}?revision={revision}",
    }


def _page_rows(
    table: Table,
    index: TableIndex,
    run: RunView | None,
    rows: np.ndarray,
    thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
) -> list[dict[str, Any]]:
    scalar = list(index.scalar_columns)
    data = table.take(rows, columns=[*scalar, KEYPOINTS_COLUMN])
    gt = instances_from_arrow(data.column(KEYPOINTS_COLUMN)) if len(rows) else []
    values = {name: data.column(name).to_pylist() for name in scalar}
    sample_ids = index.sample_ids[rows]
    predictions = run.predictions(sample_ids) if run is not None else [None] * len(rows)
    metrics = run.metrics_of(sample_ids) if run is not None else {}
    eager = len(index) <= EAGER_SUSPECTS_ROWS
    suspects = run.suspects(compute=eager, thresholds=thresholds) if run is not None else None
    suspect_of = {}
    if suspects is not None and suspects.num_rows:
        mine = suspects.filter(pc.is_in(suspects.column(SAMPLE_ID), value_set=pa.array(sample_ids)))
        suspect_of = {record[SAMPLE_ID]: record for record in mine.to_pylist()}
    derived = {k: v[rows] for k, v in index.cached_derived().items()}
    if run is not None and not eager:  # a large run's: in the background, ready for a sort
        run.start_suspects(thresholds)  # (before the check: the first job submitted runs first)
    findings = row_findings(index, rows)  # a large revision's check starts after its rows
    out = []
    for i, row in enumerate(rows.tolist()):
        sid = int(sample_ids[i])
        record = {
            "row": row,
            "sample_id": sid,
            "image": values["image"][i] if "image" in values else None,
            "width": values["width"][i] if "width" in values else None,
            "height": values["height"][i] if "height" in values else None,
            "values": {name: values[name][i] for name in scalar},
            "derived": {name: int(v[i]) for name, v in derived.items()},
            "gt": instances_json(gt[i]),
            "pred": instances_json(predictions[i]),
            "metrics": {name: metrics[name][i] for name in metrics} if run is not None else None,
            "suspects": suspect_of.get(sid),
            "findings": findings[row],
            **_urls(table.name, row, table.revision),
        }
        out.append(record)
    return out


def row_findings(index: TableIndex, rows: np.ndarray) -> dict[int, dict[str, Any]]:
    """Each row's check findings for its badge: counts by severity, the worst severity and
    the findings (rule, instance, keypoint, message, and ``fix``: what the one-click fix of
    ``POST /api/tables/NAME/fix`` does, null where none) in check's order, most severe first.

    ``complete`` is False while the check of a large revision runs: the badge then holds the
    per-row rules' findings of the row, found for it alone (``check_state`` says more).
    Messages are written for these rows only.
    """
    found, complete = index.row_findings(rows)
    out: dict[int, dict[str, Any]] = {
        int(r): {
            "error": 0,
            "warning": 0,
            "info": 0,
            "worst": None,
            "items": [],
            "complete": complete,
        }
        for r in rows.tolist()
    }
    if len(found) and len(rows):
        severities = [SEVERITIES[s] for s in found.severity.tolist()]
        for row, rule, severity, instance, keypoint, message in zip(
            found.row.tolist(),
            found.rules(),
            severities,
            found.instance.tolist(),
            found.keypoint.tolist(),
            found.messages(),
            strict=True,
        ):
            badge = out[int(row)]
            badge[severity] += 1
            badge["worst"] = badge["worst"] or severity
            badge["items"].append(
                {
                    "rule": rule,
                    "severity": severity,
                    "instance": instance,
                    "keypoint": keypoint if keypoint >= 0 else None,
                    "message": message,
                    "fix": FIXES.get(rule),
                }
            )
    return out


def suspects_state(run: RunView | None, thresholds: SuspectThresholds) -> str | None:
    """``ready`` when the run's label-error suspects (at ``thresholds``) are at hand,
    ``computing`` while they are found in the background, ``on request`` when a large run
    finds them only when asked (a sort or filter by them), None without a run."""
    if run is None:
        return None
    if run.suspects(compute=False, thresholds=thresholds) is not None:
        return "ready"
    return "computing" if run.computing(thresholds) else "on request"


def _jsonable(value: Any) -> Any:
    """A value orjson can write (bytes become a size note)."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def suspect_thresholds(instance: float | None, keypoint: float | None) -> SuspectThresholds:
    """Checked (instance score, keypoint confidence) thresholds; None takes the default."""
    low, high = DEFAULT_SUSPECT_THRESHOLDS
    chosen = (
        low if instance is None else finite("suspect_instance", instance, limit=1.0),
        high if keypoint is None else finite("suspect_keypoint", keypoint, limit=1.0),
    )
    for name, value in zip(("suspect_instance", "suspect_keypoint"), chosen, strict=True):
        if value < 0:
            raise QueryError(f"{name} must be a number in [0, 1], got {value!r}")
    return chosen


def thresholds_json(thresholds: SuspectThresholds) -> dict[str, float]:
    """The suspect thresholds as the pages show them (and the defaults beside)."""
    return {
        "instance": thresholds[0],
        "keypoint": thresholds[1],
        "default_instance": DEFAULT_SUSPECT_THRESHOLDS[0],
        "default_keypoint": DEFAULT_SUSPECT_THRESHOLDS[1],
    }


def _check_page(offset: int, limit: int) -> None:
    bounded("offset", offset, 0, MAX_INDEX)
    bounded("limit", limit, 1, MAX_PAGE)


def _open(
    state: DashboardState, name: str, revision: int | None, run: str | None
) -> tuple[Table, TableIndex, RunView | None]:
    table = state.table(name, revision)
    run_index = state.run(run) if run else None
    if run_index is not None and run_index.run.table_name != table.name:
        raise RunError(
            f"run {run!r} was made on {run_index.run.table_ref}, not on table {table.name!r}"
        )
    # metrics and suspects against THIS revision (re-evaluated when it is not the run's)
    view = state.run_on(run, table) if run and run_index is not None else None
    return table, state.index(table), view


def _metrics_source(view: RunView | None) -> dict[str, Any]:
    """Which revision the shown metrics were computed against, and the run's stats there."""
    return {
        "metrics_ref": view.evaluated_on if view is not None else None,
        "run_metrics": view.summary if view is not None else None,
        # "re-evaluating": the summary of an edited large revision is still being computed
        "run_metrics_state": view.summary_state if view is not None else None,
    }


def grid_page(
    state: DashboardState,
    name: str,
    *,
    revision: int | None = None,
    run: str | None = None,
    filter_text: str | None = None,
    sort: str | None = None,
    order: str = "asc",
    offset: int = 0,
    limit: int = 48,
    thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
) -> dict[str, Any]:
    """One page of the grid: matching count and the rows with GT, predictions and metrics.

    ``thresholds``: (instance score, keypoint confidence) of the label-error suspects.
    """
    _check_page(offset, limit)
    if order not in ("asc", "desc"):
        raise QueryError(f"order must be 'asc' or 'desc', got {order!r}")
    table, index, run_index = _open(state, name, revision, run)
    columns = catalog(table, index, run_index)
    total, rows = _query_rows(
        table,
        index,
        run_index,
        columns,
        filter_text=filter_text,
        sort=sort,
        descending=order == "desc",
        offset=offset,
        limit=limit,
        thresholds=thresholds,
    )
    page_rows = _page_rows(table, index, run_index, rows, thresholds)  # starts suspects, check
    return {
        "table": table.name,
        "revision": table.revision,
        "latest_revision": state.latest_revision(table.name),
        "ref": table.ref,
        "run": run,
        "run_table_ref": run_index.run.table_ref if run_index is not None else None,
        **_metrics_source(run_index),
        "total": total,
        "offset": offset,
        "limit": limit,
        "sort": sort or "row",
        "order": order,
        "filter": filter_text or "",
        "columns": [c.to_json() for c in columns.values()],
        "schema": schema_json(table.schema),
        "suspect_thresholds": thresholds_json(thresholds),
        "rows": page_rows,
        "check_state": index.check_state(),
        "suspects_state": suspects_state(run_index, thresholds),
    }


def row_detail(
    state: DashboardState,
    name: str,
    row: int,
    *,
    revision: int | None = None,
    run: str | None = None,
    position: int | None = None,
    filter_text: str | None = None,
    sort: str | None = None,
    order: str = "asc",
    thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
) -> dict[str, Any]:
    """The image view of one row: instances, predictions, per-instance metrics, suspects.

    With ``position`` (the row's place in a grid ordering given by the same ``filter_text``,
    ``sort`` and ``order``) the answer also names the previous and next rows.
    """
    bounded("position", position, 0, MAX_INDEX)
    table, index, run_index = _open(state, name, revision, run)
    n = len(table)
    if isinstance(row, bool) or not 0 <= int(row) < n:
        raise QueryError(f"row {row} does not exist: table {table.ref} has {n} rows (0..{n - 1})")
    record = _page_rows(
        table, index, run_index, np.asarray([int(row)], dtype=np.int64), thresholds
    )[0]
    others = [c for c in table.columns if c != KEYPOINTS_COLUMN and c not in index.scalar_columns]
    if others:
        extra = table.take([int(row)], columns=others).to_pylist()[0]
        record["values"].update({k: _jsonable(v) for k, v in extra.items()})
    sample_id = record["sample_id"]
    record["per_instance"] = (
        per_instance_json(run_index.per_instance(sample_id), table.schema.sigmas)
        if run_index is not None
        else None
    )
    eager = len(index) <= EAGER_SUSPECTS_ROWS
    found = (
        run_index.suspect_rows(compute=eager, thresholds=thresholds, sample_id=sample_id)
        if run_index is not None
        else None
    )
    if found is not None:
        mine = found.filter(pc.equal(found.column(SAMPLE_ID), sample_id))
        record["suspect_list"] = mine.drop_columns([SAMPLE_ID]).to_pylist()
    else:
        record["suspect_list"] = None
    neighbours: dict[str, Any] = {
        "position": position,
        "previous": None,
        "next": None,
        "total": None,
    }
    if position is not None:
        columns = catalog(table, index, run_index)
        start = max(int(position) - 1, 0)
        total, rows = _query_rows(
            table,
            index,
            run_index,
            columns,
            filter_text=filter_text,
            sort=sort,
            descending=order == "desc",
            offset=start,
            limit=3,
            thresholds=thresholds,
        )
        listed = rows.tolist()
        here = int(position) - start
        neighbours.update(
            total=total,
            previous=listed[here - 1] if here >= 1 and here - 1 < len(listed) else None,
            next=listed[here + 1] if here + 1 < len(listed) else None,
        )
    return {
        "table": table.name,
        "revision": table.revision,
        "latest_revision": state.latest_revision(table.name),
        "parent": table.parent,
        "ref": table.ref,
        "run": run,
        "run_info": run_summary(state, run) if run else None,
        **_metrics_source(run_index),
        "schema": schema_json(table.schema),
        "suspect_thresholds": thresholds_json(thresholds),
        "navigation": neighbours,
        **record,
        "check_state": index.check_state(),
        "suspects_state": suspects_state(run_index, thresholds),
    }


def table_detail(
    state: DashboardState, name: str, *, revision: int | None = None, run: str | None = None
) -> dict[str, Any]:
    """A table revision's header: schema, lineage, columns, runs on it."""
    table, index, run_index = _open(state, name, revision, run)
    runs = _runs_by_table(state).get(table.name, [])
    return {
        "table": table.name,
        "revision": table.revision,
        "latest_revision": state.latest_revision(table.name),
        "parent": table.parent,
        "operation": table.operation,
        "ref": table.ref,
        "rows": len(table),
        "schema": schema_json(table.schema),
        "image_roots": state.images(table).roots,
        "history": [revision_json(i) for i in table.history()],
        "revisions": [revision_json(i) for i in reversed(state.revisions(table))],
        "columns": [c.to_json() for c in catalog(table, index, run_index).values()],
        "runs": runs,
    }


def compare(state: DashboardState, names: list[str]) -> dict[str, Any]:
    """Runs side by side: summary metrics (``pt.compare_runs``) and PR curves."""
    from posetable.runs import Run, compare_runs

    if not names:
        raise QueryError("compare needs at least one run name, got none")
    if len(names) > MAX_COMPARED:
        raise QueryError(f"compare takes at most {MAX_COMPARED} runs, got {len(names)}")
    runs = [Run.open(check_name(n, "run"), store=state.store) for n in names]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compare_runs(runs)
    curves = {}
    for run in runs:
        pr = run.pr_curves()
        curves[run.name] = {
            "recall_thresholds": np.asarray(pr["recall_thresholds"]).tolist(),
            "oks_thresholds": np.asarray(pr["oks_thresholds"]).tolist(),
            "precision": np.asarray(pr["precision"]).tolist(),
        }
    return {
        "runs": [run_summary(state, n) for n in names],
        "metrics": table.to_pylist(),
        "warnings": [str(w.message) for w in caught],
        "pr_curves": curves,
    }
