"""Exploring endpoints: filter-widget counts, a run's embeddings, 3LC training epochs.

Each endpoint is one call into :mod:`posetable.dashboard._explore` and returns what its
page draws: ``/api/tables/{name}/facets`` the widgets' histograms and counts,
``/api/runs/{name}/embeddings`` the scatter, ``/api/training`` and ``/api/training/{name}``
(``project/run`` with ``/`` encoded as ``%2F``) the per-epoch charts.
"""

from __future__ import annotations

from fastapi import APIRouter

from posetable.dashboard import _explore, _views
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes


def router(state: DashboardState) -> APIRouter:
    """The exploring routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)

    @api.get("/tables/{name}/facets")
    def facets(
        name: str,
        revision: int | None = None,
        run: str | None = None,
        filter: str | None = None,
        suspect_instance: float | None = None,
        suspect_keypoint: float | None = None,
    ) -> JSONBytes:
        """Histograms of numeric columns, class and keypoint-visibility counts (all and kept)."""
        return JSONBytes(
            _explore.facets(
                state,
                name,
                revision=revision,
                run=run or None,
                filter_text=filter,
                thresholds=_views.suspect_thresholds(suspect_instance, suspect_keypoint),
            )
        )

    @api.get("/runs/{name}/embeddings")
    def embeddings(
        name: str,
        table: str | None = None,
        revision: int | None = None,
        prefix: str | None = None,
        color: str | None = None,
        suspect_instance: float | None = None,
        suspect_keypoint: float | None = None,
    ) -> JSONBytes:
        """A run's embedding points (rows, sample ids, coordinates) and their colours."""
        return JSONBytes(
            _explore.embeddings(
                state,
                name,
                table=table or None,
                revision=revision,
                prefix=prefix or None,
                color=color or None,
                thresholds=_views.suspect_thresholds(suspect_instance, suspect_keypoint),
            )
        )

    @api.get("/training")
    def training_runs() -> JSONBytes:
        """The 3LC training runs in the store (runs grouped by ``model_info['tlc_run']``)."""
        return JSONBytes(_explore.training_runs(state))

    @api.get("/training/{name}")
    def training(name: str) -> JSONBytes:
        """One training run's collected epochs per stream with their metrics."""
        return JSONBytes(_explore.training(state, name))

    return api
