"""Review routes: video frames around a row, and the review queue's marks.

- ``GET /api/tables/NAME/frames/ROW``: the row's video, frame and the previous / next frame
  of the same video (:mod:`posetable.dashboard._frames`).
- ``GET /api/tables/NAME/review``: the rows' review marks and counts per status.
- ``POST /api/tables/NAME/review``: mark a row (``{"base_revision": R, "row": ROW,
  "status": S}``; :mod:`posetable.dashboard._review`); no table revision is written.
- ``GET /api/tables/NAME/review/next``: the next row of a queue (the grid's filter and
  sort, from ``position``) that has no decided mark.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Body

from posetable.dashboard import _views
from posetable.dashboard._edits import base_table
from posetable.dashboard._frames import frames_json
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._query import QueryError
from posetable.dashboard._review import REVIEWED, ReviewLog
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes
from posetable.errors import RowError

NEXT_CHUNK = 2000  # queue rows looked at per query while searching the next unreviewed one


def router(state: DashboardState) -> APIRouter:
    """The review routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)
    log = ReviewLog(state.store)

    @api.get("/tables/{name}/frames/{row}")
    def frames(name: str, row: int, revision: int | None = None) -> JSONBytes:
        """The row's place in its video: ``video``, ``frame_index``, ``position`` of
        ``count``, and the ``previous`` / ``next`` / ``first`` / ``last`` frame rows."""
        bounded("row", row, 0, MAX_INDEX)
        return JSONBytes(frames_json(state.table(name, revision), row))

    @api.get("/tables/{name}/review")
    def review(name: str, revision: int | None = None) -> JSONBytes:
        """Every marked row of the revision: ``{"marks": {ROW: mark}, "counts": {...}}``."""
        table = state.table(name, revision)
        marks = log.marks(table)
        counts: dict[str, int] = {}
        for record in marks.values():
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        return JSONBytes(
            {
                "table": table.name,
                "revision": table.revision,
                "rows": len(table),
                "reviewed": sum(1 for m in marks.values() if m["status"] in REVIEWED),
                "counts": counts,
                "marks": {str(r): m for r, m in sorted(marks.items())},
            }
        )

    @api.post("/tables/{name}/review")
    def mark(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008 - FastAPI's idiom
        """Mark a row reviewed: ``{"base_revision": R, "row": ROW, "status": S, "note": ...}``
        with S one of accepted, edited, fixed, rejected, skipped, cleared."""
        if not isinstance(body, dict):
            raise RowError(f"the request body must be a JSON object, got {type(body).__name__}")
        for key in ("base_revision", "row", "status"):
            if key not in body:
                raise RowError(f"the request body needs {key!r}")
        table = base_table(state, name, body["base_revision"])
        note = body.get("note")
        record = log.mark(table, body["row"], body["status"], note=note if note else None)
        return JSONBytes({"table": table.name, "mark": record, "counts": log.counts(table)})

    @api.get("/tables/{name}/review/next")
    def next_unreviewed(
        name: str,
        position: int = 0,
        revision: int | None = None,
        run: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        order: str = "asc",
        suspect_instance: float | None = None,
        suspect_keypoint: float | None = None,
    ) -> JSONBytes:
        """The first row after ``position`` in the queue (filter + sort) without a decided
        mark: ``{"position": P, "row": ROW}``, both null when every later row is reviewed."""
        bounded("position", position, 0, MAX_INDEX)
        if order not in ("asc", "desc"):
            raise QueryError(f"order must be 'asc' or 'desc', got {order!r}")
        table = state.table(name, revision)
        index = state.index(table)
        view = state.run_on(run, table) if run else None
        columns = _views.catalog(table, index, view)
        thresholds = _views.suspect_thresholds(suspect_instance, suspect_keypoint)
        decided = {r for r, m in log.marks(table).items() if m["status"] in REVIEWED}
        offset = position + 1
        while True:
            total, rows = _views._query_rows(
                table,
                index,
                view,
                columns,
                filter_text=filter,
                sort=sort,
                descending=order == "desc",
                offset=offset,
                limit=NEXT_CHUNK,
                thresholds=thresholds,
            )
            if not len(rows):
                return JSONBytes({"position": None, "row": None, "total": total})
            open_rows = np.flatnonzero(~np.isin(rows, np.fromiter(decided, np.int64)))
            if len(open_rows):
                at = int(open_rows[0])
                return JSONBytes({"position": offset + at, "row": int(rows[at]), "total": total})
            offset += len(rows)

    return api
