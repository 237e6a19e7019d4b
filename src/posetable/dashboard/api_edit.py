"""Write endpoints: save edits, undo, accept predictions, make a new instance.

Every write names its ``base_revision``; one based on a revision that is no longer the
latest is refused with 409 and ``{"type": "ConflictError"}``. A successful write answers
with the new revision so the page can follow it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from posetable.dashboard import _edits
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes
from posetable.errors import RowError
from posetable.table import Table


def _written(table: Table, **extra: Any) -> JSONBytes:
    return JSONBytes(
        {
            "table": table.name,
            "revision": table.revision,
            "parent": table.parent,
            "operation": table.operation,
            "ref": table.ref,
            **extra,
        }
    )


def _field(body: Any, key: str, default: Any = ...) -> Any:
    if not isinstance(body, dict):
        raise RowError(f"the request body must be a JSON object, got {type(body).__name__}")
    if key not in body:
        if default is ...:
            raise RowError(f"the request body needs {key!r}")
        return default
    return body[key]


def router(state: DashboardState) -> APIRouter:
    """The editing routes over ``state``."""
    api = APIRouter(prefix="/api")

    @api.post("/tables/{name}/edit")
    def edit(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008 - FastAPI's idiom
        """Save edited rows: ``{"base_revision": R, "rows": {"ROW": {"instances": [...]}}}``."""
        base = _field(body, "base_revision")
        saved = _edits.apply_edit(
            state, name, base, _field(body, "rows"), note=_field(body, "note", None)
        )
        return _written(saved, rows=saved.info.arguments.get("rows", []))

    @api.post("/tables/{name}/undo")
    def undo(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008
        """Restore the parent of the latest revision: ``{"base_revision": R}``."""
        return _written(_edits.undo(state, name, _field(body, "base_revision")))

    @api.post("/tables/{name}/accept")
    def accept(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008
        """Accept a run's predictions (``pt.accept_predictions``) for rows, or plan it.

        Body: ``base_revision``, ``run``, ``rows`` (list or null for all),
        ``keypoint_confidence_threshold`` (default 0.5), ``instance_confidence_threshold``
        (default 0.0), ``mode`` (``replace`` | ``add_unmatched``), ``plan`` (true: no write).
        """
        plan = bool(_field(body, "plan", False))
        result = _edits.accept(
            state,
            name,
            _field(body, "base_revision"),
            str(_field(body, "run")),
            rows=_field(body, "rows", None),
            keypoint_confidence_threshold=_field(body, "keypoint_confidence_threshold", 0.5),
            instance_confidence_threshold=_field(body, "instance_confidence_threshold", 0.0),
            mode=str(_field(body, "mode", "replace")),
            plan_only=plan,
        )
        if isinstance(result, Table):
            return _written(result, rows=result.info.arguments.get("rows", []))
        return JSONBytes({"plan": result.to_pylist()})

    @api.get("/tables/{name}/new_instance/{row}")
    def new_instance(
        name: str,
        row: int,
        revision: int | None = None,
        x: float | None = None,
        y: float | None = None,
        size: float | None = None,
    ) -> JSONBytes:
        """A new instance from the schema's default pose, scaled into the row's image."""
        center = None if x is None or y is None else (x, y)
        table = state.table(name, revision)
        return JSONBytes(_edits.new_instance(table, row, center=center, size=size))

    return api
