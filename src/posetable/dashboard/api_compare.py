"""Comparison endpoints: two runs image by image, and two revisions of a table row by row.

``/api/compare/images?runs=a,b`` lists images sorted by the change of a per-sample metric
(ΔOKS by default), ``/api/compare/images/{row}?runs=a,b`` gives one image with both runs'
predictions; ``/api/tables/{name}/diff?from=R1&to=R2`` lists the rows added, deleted and
edited between two revisions and ``/api/tables/{name}/diff/{sample_id}`` one changed row
before and after. Each is one call into :mod:`._compare` or :mod:`._diff`.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from posetable.dashboard import _compare, _diff
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes


def router(state: DashboardState) -> APIRouter:
    """The comparison routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)
    diffs = _diff.RevisionDiffs(state)

    @api.get("/compare/images")
    def compare_images(
        runs: str = "",
        revision: int | None = None,
        metric: str = "mean_oks",
        show: str = "all",
        order: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> JSONBytes:
        """Images sorted by the change of ``metric`` from run A to run B (``runs=a,b``)."""
        return JSONBytes(
            _compare.compare_images(
                state,
                runs,
                revision=revision,
                metric=metric,
                show=show,
                order=order or None,
                offset=offset,
                limit=limit,
            )
        )

    @api.get("/compare/images/{row}")
    def compare_image(row: int, runs: str = "", revision: int | None = None) -> JSONBytes:
        """One image: ground truth, both runs' predictions and per-sample metrics."""
        bounded("row", row, 0, MAX_INDEX)
        return JSONBytes(_compare.compare_sample(state, runs, row, revision=revision))

    @api.get("/tables/{name}/diff")
    def diff(
        name: str,
        from_revision: int | None = Query(None, alias="from"),
        to_revision: int | None = Query(None, alias="to"),
        kind: str = "all",
        offset: int = 0,
        limit: int = 50,
    ) -> JSONBytes:
        """Rows added, deleted and edited from revision ``from`` (default: ``to``'s parent)
        to ``to`` (default: the latest), with the revisions in between."""
        return JSONBytes(
            diffs.diff(
                name,
                from_revision=from_revision,
                to_revision=to_revision,
                kind=kind,
                offset=offset,
                limit=limit,
            )
        )

    @api.get("/tables/{name}/diff/{sample_id}")
    def diff_sample(
        name: str,
        sample_id: int,
        from_revision: int | None = Query(None, alias="from"),
        to_revision: int | None = Query(None, alias="to"),
    ) -> JSONBytes:
        """One sample before and after: instances, what changed, both images."""
        return JSONBytes(
            diffs.sample(name, sample_id, from_revision=from_revision, to_revision=to_revision)
        )

    return api
