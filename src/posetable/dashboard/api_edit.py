"""Write endpoints: save edits, undo, accept predictions, make a new instance.

Every write names its ``base_revision``; one based on a revision that is no longer the
latest is refused with 409 and ``{"type": "ConflictError"}``. A successful write answers
with the new revision so the page can follow it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from posetable.accept import PLAN_COUNTS
from posetable.dashboard import _edits, _views, _weights
from posetable.dashboard._params import MAX_INDEX, bounded, finite
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes
from posetable.errors import RowError
from posetable.table import Table

PLAN_TOTALS = PLAN_COUNTS  # what the accept preview adds up


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


def _flag(body: Any, key: str) -> bool:
    value = _field(body, key, False)
    if not isinstance(value, bool):
        raise RowError(f"{key} must be true or false, got {value!r}")
    return value


def router(state: DashboardState) -> APIRouter:
    """The editing routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)

    @api.post("/tables/{name}/edit")
    def edit(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008 - FastAPI's idiom
        """Save edited rows: ``{"base_revision": R, "rows": {"ROW": {"instances": [...]}}}``."""
        base = _field(body, "base_revision")
        saved = _edits.apply_edit(
            state, name, base, _field(body, "rows"), note=_field(body, "note", None)
        )
        return _written(saved, rows=saved.info.arguments.get("rows", []))

    @api.post("/tables/{name}/fix")
    def fix(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008 - FastAPI's idiom
        """Apply a one-click fix as a new revision.

        A check finding's: ``{"base_revision": R, "row": ROW, "instance": I, "rule": RULE,
        "keypoint": K (optional)}``; the fixable rules are ``left_right_swap``,
        ``num_keypoints_mismatch``, ``duplicate_instance``. One with a run's prediction as
        evidence (``posetable.diagnose.run_fixes``): ``{"base_revision": R, "row": ROW,
        "action": A, "run": RUN, "instance": I, "prediction": J, "keypoint": K,
        "keypoint_confidence_threshold": T}`` with A one of ``snap_keypoint``,
        ``accept_instance``, ``add_prediction``, ``mirror_instance``, ``drop_instance``.
        """
        if isinstance(body, dict) and "action" in body:
            done = _edits.run_fix(
                state,
                name,
                _field(body, "base_revision"),
                body["action"],
                row=_field(body, "row"),
                instance=_field(body, "instance", None),
                prediction=_field(body, "prediction", None),
                keypoint=_field(body, "keypoint", None),
                run=_field(body, "run", None),
                keypoint_confidence_threshold=_field(body, "keypoint_confidence_threshold", 0.5),
            )
            arguments = done.info.arguments
            return _written(
                done,
                rows=[int(body["row"])],
                note=arguments.get("note"),
                action=arguments.get("action"),
                instance=arguments.get("instance"),
            )
        saved = _edits.fix(
            state,
            name,
            _field(body, "base_revision"),
            _field(body, "row"),
            _field(body, "instance"),
            _field(body, "rule"),
            _field(body, "keypoint", None),
        )
        return _written(saved, rows=[int(body["row"])], note=saved.info.arguments.get("note"))

    @api.post("/tables/{name}/undo")
    def undo(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008
        """Restore the parent of the latest revision: ``{"base_revision": R}``."""
        return _written(_edits.undo(state, name, _field(body, "base_revision")))

    @api.post("/tables/{name}/accept")
    def accept(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008 - FastAPI's idiom
        """Accept a run's predictions (``pt.accept_predictions``) for rows, or preview it.

        Body: ``base_revision``, ``run``, ``rows`` (list or null for all),
        ``keypoint_confidence_threshold`` (default 0.5), ``instance_confidence_threshold``
        (default 0.0; a threshold keeps what is >= it), ``mode`` (``replace`` |
        ``add_unmatched``), ``dry_run`` (true: write nothing, answer the plan; ``plan`` is
        the same flag). A dry run answers ``{"plan": [one record per row with predictions:
        added, replaced, kept, removed, keypoints_visible (v=2), keypoints_occluded (v=1),
        replaced_ids, removed_ids...], "totals": {...}}`` (``pt.accept_predictions_plan``).
        """
        dry_run = _flag(body, "dry_run") or _flag(body, "plan")
        options = {
            "keypoint_confidence_threshold": _field(body, "keypoint_confidence_threshold", 0.5),
            "instance_confidence_threshold": _field(body, "instance_confidence_threshold", 0.0),
            "mode": str(_field(body, "mode", "replace")),
        }
        base = _field(body, "base_revision")
        result = _edits.accept(
            state,
            name,
            base,
            str(_field(body, "run")),
            rows=_field(body, "rows", None),
            plan_only=dry_run,
            **options,
        )
        if isinstance(result, Table):
            return _written(result, rows=result.info.arguments.get("rows", []))
        records = result.to_pylist()
        totals = {key: sum(int(r[key]) for r in records) for key in PLAN_TOTALS}
        totals["rows_changed"] = sum(1 for r in records if r["action"] != "none")
        return JSONBytes(
            {"table": name, "base_revision": base, "run": body["run"], **options}
            | {"plan": records, "totals": totals}
        )

    @api.get("/tables/{name}/new_instance/{row}")
    def new_instance(
        name: str,
        row: int,
        revision: int | None = None,
        x: float | None = None,
        y: float | None = None,
        size: float | None = None,
        x1: float | None = None,
        y1: float | None = None,
        x2: float | None = None,
        y2: float | None = None,
    ) -> JSONBytes:
        """A new instance from the default pose: scaled into the box ``x1, y1, x2, y2`` the
        user drew, or into a square of ``size`` around ``x, y`` (``pose_source`` says where
        the pose came from: the schema, COCO's, the table's own instances or a ring)."""
        bounded("row", row, 0, MAX_INDEX)
        x, y, size = finite("x", x), finite("y", y), finite("size", size)
        corners = [finite(n, v) for n, v in (("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2))]
        given = [v for v in corners if v is not None]
        if given and len(given) != 4:
            raise RowError("a box needs all of x1, y1, x2 and y2 (pixels)")
        box = (given[0], given[1], given[2], given[3]) if given else None
        center = None if x is None or y is None else (x, y)
        table = state.table(name, revision)
        return JSONBytes(_edits.new_instance(table, row, center=center, size=size, box=box))

    @api.post("/tables/{name}/weights")
    def weights(name: str, body: Any = Body(...)) -> JSONBytes:  # noqa: B008 - FastAPI's idiom
        """Set one sample weight on rows: ``{"base_revision": R, "weight": W, "rows": [...]}``
        or, instead of ``rows``, the grid's ``"filter"`` (with its ``run`` and suspect
        thresholds) for every row it matches. W must be a finite number >= 0."""
        table = _edits.base_table(state, name, _field(body, "base_revision"))
        run = _field(body, "run", None)
        if run is not None and not isinstance(run, str):
            raise RowError(f"run must be a run name, got {run!r}"[:200])
        thresholds = _views.suspect_thresholds(
            finite("suspect_instance", _field(body, "suspect_instance", None)),
            finite("suspect_keypoint", _field(body, "suspect_keypoint", None)),
        )
        saved = _weights.set_weights(
            state,
            table,
            _field(body, "weight"),
            rows=_field(body, "rows", None),
            filter_text=_field(body, "filter", None),
            run=run or None,
            thresholds=thresholds,
        )
        arguments = saved.info.arguments
        return _written(
            saved,
            changed=len(arguments.get("rows", [])),
            chosen=arguments.get("chosen"),
            weight=arguments.get("weight"),
            note=arguments.get("note"),
        )

    return api
