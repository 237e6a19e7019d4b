"""What changed between two revisions of a table: rows added, deleted and edited, by sample id.

Rows are matched by their stable ``sample_id`` (a row's position may move), and compared
column by column in DuckDB (``IS DISTINCT FROM`` over the nested keypoints too), so nothing
loops over rows in Python. Lance data files never change once written, so rows that both
revisions read from the same data file, undeleted in both, are the same: only the other rows
(those of fragments one revision lacks, or deleted in one of them) are compared. An edit of
ten rows of a 100,000-row table compares ten rows, not 100,000.

For a page of edited rows the change is spelled out per instance (matched by COCO ``id``
where both revisions carry unique ids, else by position): points moved, visibilities and
boxes changed, labels changed, instances added and removed.

Example:
    >>> import numpy as np
    >>> from posetable.instances import Keypoints2DInstances
    >>> before = Keypoints2DInstances(np.zeros((1, 2, 2)), keypoint_visibilities=[[2, 2]])
    >>> after = Keypoints2DInstances(np.array([[[0.0, 0.0], [3.0, 4.0]]]),
    ...     keypoint_visibilities=[[2, 1]])
    >>> change = instance_changes(before, after)
    >>> change["changed"][0]["moved"], change["changed"][0]["max_shift"]
    ([1], 5.0)
    >>> change["changed"][0]["visibility"]
    [[1, 2, 1]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow
from posetable._rows import SAMPLE_ID
from posetable.dashboard._index import TableIndex
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._payload import instances_json, schema_json
from posetable.dashboard._query import QueryError, quote_identifier
from posetable.dashboard._state import DashboardState, _Lru
from posetable.dashboard._views import _connection, _jsonable, _urls, revision_json
from posetable.errors import NotFoundError, RevisionError
from posetable.instances import Keypoints2DInstances
from posetable.table import Table

KINDS = ("all", "added", "deleted", "edited")
MAX_DIFF_PAGE = 200
FULL_COMPARE_SHARE = 0.5  # past this share of candidate rows, one full join is cheaper


@dataclass(frozen=True)
class Changes:
    """The changed samples between two revisions (sorted by sample id)."""

    sample_ids: np.ndarray  # (n,) int64
    kind: np.ndarray  # (n,) object: added / deleted / edited
    fields: np.ndarray  # (n, len(columns)) bool: that column differs
    columns: tuple[str, ...]  # the columns both revisions have (sample_id left out)
    columns_added: tuple[str, ...]
    columns_removed: tuple[str, ...]
    compared: int  # rows compared in DuckDB (the candidates)


def _file_key(fragment: Any) -> tuple[str, ...]:
    return tuple(str(f.path) for f in fragment.metadata.files)


def _fragment_ids(fragment: Any) -> np.ndarray:
    data = fragment.to_table(columns=[SAMPLE_ID])
    return np.asarray(data.column(0).to_numpy(), np.int64)


def candidate_ids(a: Any, b: Any) -> np.ndarray:
    """Sample ids whose row may differ between Lance datasets ``a`` and ``b``: every row not
    read from one data file that both keep undeleted."""
    left = {_file_key(f): f for f in a.get_fragments()}
    right = {_file_key(f): f for f in b.get_fragments()}
    parts = [np.zeros(0, np.int64)]
    for key, fragment in left.items():
        other = right.get(key)
        if other is None:
            parts.append(_fragment_ids(fragment))
            continue
        mine, theirs = fragment.metadata.deletion_file, other.metadata.deletion_file
        same = (mine is None and theirs is None) or (
            mine is not None and theirs is not None and mine.asdict() == theirs.asdict()
        )
        if not same:
            parts.append(np.setxor1d(_fragment_ids(fragment), _fragment_ids(other)))
    parts.extend(_fragment_ids(f) for key, f in right.items() if key not in left)
    return np.unique(np.concatenate(parts))


def _compare(
    sides: tuple[tuple[Table, TableIndex], tuple[Table, TableIndex]],
    columns: list[str],
    candidates: np.ndarray | None,
) -> pa.Table:
    """DuckDB: the changed sample ids, whether each side has them, and per column a flag."""
    (from_table, from_index), (to_table, to_index) = sides
    if candidates is None:
        a: Any = from_table.dataset
        b: Any = to_table.dataset
    else:
        a = _rows_of_ids(from_table, from_index, candidates, [SAMPLE_ID, *columns])
        b = _rows_of_ids(to_table, to_index, candidates, [SAMPLE_ID, *columns])
    flags = [f"(a.{quote_identifier(c)} IS DISTINCT FROM b.{quote_identifier(c)})" for c in columns]
    picked = ", ".join(
        f"{flag} AS {quote_identifier(c)}" for flag, c in zip(flags, columns, strict=True)
    )
    differs = " OR ".join(flags) if flags else "false"
    sql = (
        f"SELECT coalesce(a.{SAMPLE_ID}, b.{SAMPLE_ID}) AS {SAMPLE_ID}, "
        f"a.{SAMPLE_ID} IS NOT NULL AS in_from, b.{SAMPLE_ID} IS NOT NULL AS in_to"
        f"{', ' + picked if picked else ''} "
        f"FROM a FULL OUTER JOIN b ON a.{SAMPLE_ID} = b.{SAMPLE_ID} "
        f"WHERE a.{SAMPLE_ID} IS NULL OR b.{SAMPLE_ID} IS NULL OR {differs} "
        f"ORDER BY {SAMPLE_ID}"
    )
    cursor = _connection().cursor()
    try:
        cursor.register("a", a)
        cursor.register("b", b)
        return cursor.sql(sql).to_arrow_table()
    finally:
        cursor.close()


def _rows_of_ids(table: Table, index: TableIndex, ids: np.ndarray, columns: list[str]) -> pa.Table:
    """The rows of ``table`` holding some sample ids (those it has), as Arrow."""
    rows = index.rows_of(ids) if len(ids) else np.zeros(0, np.int64)
    rows = np.sort(rows[rows >= 0])
    return table.take(rows, columns=columns)


def changes(
    from_table: Table,
    to_table: Table,
    *,
    from_index: TableIndex | None = None,
    to_index: TableIndex | None = None,
) -> Changes:
    """The rows that differ between two revisions, by sample id (vectorised)."""
    sides = (
        (from_table, from_index or TableIndex(from_table)),
        (to_table, to_index or TableIndex(to_table)),
    )
    before = [c for c in from_table.dataset.schema.names if c != SAMPLE_ID]
    after = [c for c in to_table.dataset.schema.names if c != SAMPLE_ID]
    common = [c for c in after if c in before]
    candidates: np.ndarray | None = candidate_ids(from_table.dataset, to_table.dataset)
    largest = max(len(from_table), len(to_table), 1)
    if candidates is not None and len(candidates) > FULL_COMPARE_SHARE * largest:
        candidates = None
    found = _compare(sides, common, candidates)
    in_from = np.asarray(found.column("in_from").to_numpy(zero_copy_only=False), bool)
    in_to = np.asarray(found.column("in_to").to_numpy(zero_copy_only=False), bool)
    kind = np.where(~in_from, "added", np.where(~in_to, "deleted", "edited")).astype(object)
    fields = (
        np.column_stack(
            [
                np.asarray(found.column(c).fill_null(True).to_numpy(zero_copy_only=False), bool)
                for c in common
            ]
        )
        if common and found.num_rows
        else np.zeros((found.num_rows, len(common)), bool)
    )
    return Changes(
        sample_ids=np.asarray(found.column(SAMPLE_ID).to_numpy(), np.int64),
        kind=kind,
        fields=fields,
        columns=tuple(common),
        columns_added=tuple(c for c in after if c not in before),
        columns_removed=tuple(c for c in before if c not in after),
        compared=int(largest if candidates is None else len(candidates)),
    )


def _ids(item: Keypoints2DInstances) -> np.ndarray | None:
    ids = item.instance_extras.get("id")
    if ids is None:
        return None
    values = np.asarray(ids)
    if values.dtype.kind not in "iu" or len(np.unique(values)) != len(values):
        return None
    return values.astype(np.int64)


def _pairs(before: Keypoints2DInstances, after: Keypoints2DInstances) -> list[tuple[int, int]]:
    """Instances of ``before`` and ``after`` that are the same person: by id, else position."""
    a_ids, b_ids = _ids(before), _ids(after)
    if a_ids is not None and b_ids is not None:
        where = {int(v): j for j, v in enumerate(b_ids.tolist())}
        return [(i, where[v]) for i, v in enumerate(a_ids.tolist()) if v in where]
    return [(i, i) for i in range(min(len(before), len(after)))]


def instance_changes(
    before: Keypoints2DInstances | None, after: Keypoints2DInstances | None
) -> dict[str, Any]:
    """How one row's instances changed: per matched instance the moved points (and the
    largest shift in pixels), visibility changes ``[k, before, after]``, box and label
    changes, and the instances added (indices in ``after``) and removed (in ``before``)."""
    n0 = 0 if before is None else len(before)
    n1 = 0 if after is None else len(after)
    out: dict[str, Any] = {
        "instances_before": n0,
        "instances_after": n1,
        "added": list(range(n1)) if before is None else [],
        "removed": list(range(n0)) if after is None else [],
        "changed": [],
        "matched_by": None,
    }
    if before is None or after is None:
        return out
    pairs = _pairs(before, after)
    out["matched_by"] = "id" if _ids(before) is not None and _ids(after) is not None else "position"
    out["removed"] = sorted(set(range(n0)) - {i for i, _ in pairs})
    out["added"] = sorted(set(range(n1)) - {j for _, j in pairs})
    if not pairs:
        return out
    i = np.asarray([p[0] for p in pairs])
    j = np.asarray([p[1] for p in pairs])
    p0, p1 = before.keypoints[i], after.keypoints[j]
    shift = np.hypot(p1[..., 0] - p0[..., 0], p1[..., 1] - p0[..., 1])
    moved = ~np.isclose(p1, p0, atol=1e-9, equal_nan=True).all(axis=2)
    vis0 = before.keypoint_visibilities
    vis1 = after.keypoint_visibilities
    box = ~np.all(np.isclose(after.instance_bbs[j], before.instance_bbs[i], atol=1e-9), axis=1)
    labels0, labels1 = before.instance_labels[i], after.instance_labels[j]
    for n, (a, b) in enumerate(pairs):
        visibility: list[list[int]] = []
        if vis0 is not None and vis1 is not None:
            ks = np.flatnonzero(vis0[a] != vis1[b])
            visibility = [[int(k), int(vis0[a][k]), int(vis1[b][k])] for k in ks.tolist()]
        points = np.flatnonzero(moved[n])
        extras = sorted(
            name
            for name in set(before.instance_extras) | set(after.instance_extras)
            if not _same_extra(
                before.instance_extras.get(name), after.instance_extras.get(name), a, b
            )
        )
        if not (points.size or visibility or box[n] or labels0[n] != labels1[n] or extras):
            continue
        out["changed"].append(
            {
                "before": int(a),
                "after": int(b),
                "moved": points.tolist(),
                "max_shift": float(np.nanmax(shift[n][points])) if points.size else 0.0,
                "visibility": visibility,
                "box": bool(box[n]),
                "label": [int(labels0[n]), int(labels1[n])] if labels0[n] != labels1[n] else None,
                "extras": extras,
            }
        )
    return out


def _same_extra(left: Any, right: Any, a: int, b: int) -> bool:
    if left is None or right is None:
        return left is None and right is None
    x, y = np.asarray(left)[a], np.asarray(right)[b]
    if isinstance(x, float) or isinstance(y, float) or np.asarray(x).dtype.kind == "f":
        return bool(np.isclose(float(x), float(y), equal_nan=True))
    return bool(x == y)


class RevisionDiffs:
    """Diffs of table revisions over one dashboard state (cached: revisions never change).

    Example:
        >>> import tempfile
        >>> diffs = RevisionDiffs(DashboardState(tempfile.mkdtemp()))
        >>> diffs.diff("nope")
        Traceback (most recent call last):
        ...
        posetable.errors.NotFoundError: ...
    """

    def __init__(self, state: DashboardState) -> None:
        self.state = state
        self._changes: _Lru[tuple[str, int, int], Changes] = _Lru(8)

    def _pair(
        self, name: str, from_revision: int | None, to_revision: int | None
    ) -> tuple[Table, Table]:
        to_table = self.state.table(name, to_revision)
        if from_revision is None:
            if to_table.parent is None:
                raise RevisionError(
                    f"revision {to_table.revision} of table {to_table.name!r} has no parent: "
                    "give from= (the revision to compare it with)"
                )
            from_revision = to_table.parent
        return self.state.table(to_table.name, from_revision), to_table

    def changes(self, from_table: Table, to_table: Table) -> Changes:
        """The changed rows between two revisions (computed once per pair)."""
        key = (to_table.name, from_table.revision, to_table.revision)
        return self._changes.get(
            key,
            lambda: changes(
                from_table,
                to_table,
                from_index=self.state.index(from_table),
                to_index=self.state.index(to_table),
            ),
        )

    def diff(
        self,
        name: str,
        *,
        from_revision: int | None = None,
        to_revision: int | None = None,
        kind: str = "all",
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """The revision diff page: counts, a page of changed rows (what changed in each),
        and the revisions in between with their operation, arguments and note."""
        if kind not in KINDS:
            raise QueryError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}"[:200])
        bounded("offset", offset, 0, MAX_INDEX)
        bounded("limit", limit, 1, MAX_DIFF_PAGE)
        from_table, to_table = self._pair(name, from_revision, to_revision)
        found = self.changes(from_table, to_table)
        chosen = (
            np.arange(len(found.sample_ids))
            if kind == "all"
            else np.flatnonzero(found.kind == kind)
        )
        page = chosen[offset : offset + limit]
        entries = self._entries(from_table, to_table, found, page)
        return {
            "table": to_table.name,
            "from": from_table.revision,
            "to": to_table.revision,
            "from_ref": from_table.ref,
            "to_ref": to_table.ref,
            "rows_from": len(from_table),
            "rows_to": len(to_table),
            "counts": {k: int((found.kind == k).sum()) for k in KINDS[1:]},
            "compared_rows": found.compared,
            "columns": list(found.columns),
            "columns_added": list(found.columns_added),
            "columns_removed": list(found.columns_removed),
            "schema_changes": _schema_changes(from_table, to_table),
            "kind": kind,
            "total": int(chosen.size),
            "offset": offset,
            "changes": entries,
            **_histories(from_table, to_table),
        }

    def _entries(
        self, from_table: Table, to_table: Table, found: Changes, page: np.ndarray
    ) -> list[dict[str, Any]]:
        """The page's changed rows, each with its rows in both revisions and what changed."""
        if not page.size:
            return []
        ids = found.sample_ids[page]
        rows_from = self.state.index(from_table).rows_of(ids)
        rows_to = self.state.index(to_table).rows_of(ids)
        before = _instances_at(from_table, rows_from)
        after = _instances_at(to_table, rows_to)
        scalars = [
            c
            for c in found.columns
            if c != KEYPOINTS_COLUMN and c in self.state.index(to_table).scalar_columns
        ]
        values_from = _scalars_at(from_table, rows_from, scalars)
        values_to = _scalars_at(to_table, rows_to, scalars)
        out = []
        for n, slot in enumerate(page.tolist()):
            changed = [c for c, flag in zip(found.columns, found.fields[slot], strict=True) if flag]
            entry: dict[str, Any] = {
                "sample_id": int(ids[n]),
                "kind": str(found.kind[slot]),
                "row_from": int(rows_from[n]) if rows_from[n] >= 0 else None,
                "row_to": int(rows_to[n]) if rows_to[n] >= 0 else None,
                "fields": changed if found.kind[slot] == "edited" else [],
                "values": {
                    c: [_jsonable(values_from[c][n]), _jsonable(values_to[c][n])]
                    for c in changed
                    if c in values_from and found.kind[slot] == "edited"
                },
                "link": _diff_link(
                    to_table.name, from_table.revision, to_table.revision, int(ids[n])
                ),
            }
            if found.kind[slot] != "edited" or KEYPOINTS_COLUMN in changed:
                entry["instances"] = instance_changes(before[n], after[n])
            out.append(entry)
        return out

    def sample(
        self,
        name: str,
        sample_id: int,
        *,
        from_revision: int | None = None,
        to_revision: int | None = None,
    ) -> dict[str, Any]:
        """One changed sample: its instances before and after (drawn side by side), what
        changed, and each revision's image."""
        bounded("sample_id", sample_id, 0, MAX_INDEX)
        from_table, to_table = self._pair(name, from_revision, to_revision)
        ids = np.asarray([sample_id], np.int64)
        row_from = int(self.state.index(from_table).rows_of(ids)[0])
        row_to = int(self.state.index(to_table).rows_of(ids)[0])
        if row_from < 0 and row_to < 0:
            raise NotFoundError(
                f"sample id {sample_id} is in neither {from_table.ref} nor {to_table.ref}"
            )
        before = _instances_at(from_table, np.asarray([row_from]))[0]
        after = _instances_at(to_table, np.asarray([row_to]))[0]
        found = self.changes(from_table, to_table)
        where = np.searchsorted(found.sample_ids, sample_id)
        listed = where < len(found.sample_ids) and found.sample_ids[where] == sample_id
        sides: dict[str, dict[str, Any] | None] = {}
        for side, table, row in (("from", from_table, row_from), ("to", to_table, row_to)):
            if row < 0:
                sides[side] = None
                continue
            record = table.take([row], columns=["image", "width", "height"]).to_pylist()[0]
            sides[side] = {
                "revision": table.revision,
                "row": row,
                **record,
                **_urls(table.name, row, table.revision),
                "schema": schema_json(table.schema),
                "instances": instances_json(before if side == "from" else after),
            }
        return {
            "table": to_table.name,
            "from": from_table.revision,
            "to": to_table.revision,
            "sample_id": int(sample_id),
            "kind": str(found.kind[where]) if listed else "unchanged",
            "fields": [
                c for c, flag in zip(found.columns, found.fields[where], strict=True) if flag
            ]
            if listed
            else [],
            "changes": instance_changes(before, after),
            "sides": sides,
        }


def _instances_at(table: Table, rows: np.ndarray) -> list[Keypoints2DInstances | None]:
    """Decoded ground truth of some rows (None where a row is -1: not in this revision)."""
    out: list[Keypoints2DInstances | None] = [None] * len(rows)
    present = np.flatnonzero(rows >= 0)
    if present.size:
        data = table.take(rows[present], columns=[KEYPOINTS_COLUMN])
        for slot, item in zip(present.tolist(), instances_from_arrow(data.column(0)), strict=True):
            out[slot] = item
    return out


def _scalars_at(table: Table, rows: np.ndarray, columns: list[str]) -> dict[str, list[Any]]:
    present = np.flatnonzero(rows >= 0)
    known = [c for c in columns if c in table.columns]
    out: dict[str, list[Any]] = {c: [None] * len(rows) for c in known}
    if present.size and known:
        data = table.take(rows[present], columns=known)
        for c in known:
            for slot, value in zip(present.tolist(), data.column(c).to_pylist(), strict=True):
                out[c][slot] = value
    return out


def _schema_changes(from_table: Table, to_table: Table) -> dict[str, list[Any]]:
    """Schema fields that differ (sigmas, names, lines, flip indices, classes...)."""
    a, b = schema_json(from_table.schema), schema_json(to_table.schema)
    return {
        key: [a.get(key), b.get(key)] for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)
    }


def _histories(from_table: Table, to_table: Table) -> dict[str, Any]:
    """The revisions between the two (to's lineage back to from), and whether from is an
    ancestor of to; each with its operation, arguments (a note among them) and time."""
    lineage = to_table.history()
    revisions = [info.revision for info in lineage]
    ancestor = from_table.revision in revisions
    if ancestor:
        between = lineage[: revisions.index(from_table.revision)]
    else:
        theirs = {info.revision for info in from_table.history()}
        between = [info for info in lineage if info.revision not in theirs]
    return {
        "ancestor": ancestor,
        "between": [revision_json(info) for info in between],
        "from_revision_info": revision_json(from_table.info),
        "to_revision_info": revision_json(to_table.info),
    }


def _diff_link(name: str, from_revision: int, to_revision: int, sample_id: int) -> str:
    return f"#/t/{quote(name, safe='')}/diff?from={from_revision}&to={to_revision}&sel={sample_id}"
