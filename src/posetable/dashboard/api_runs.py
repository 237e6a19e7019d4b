"""Run endpoints: the list of runs, one run's metrics and PR curves, comparisons."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter

from posetable.dashboard import _views
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes
from posetable.store import check_name


def router(state: DashboardState) -> APIRouter:
    """The run routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)

    @api.get("/runs")
    def runs(table: str | None = None) -> JSONBytes:
        """Summaries of the runs (of one table name when given)."""
        return JSONBytes({"runs": [_views.run_summary(state, n) for n in state.run_names(table)]})

    @api.get("/runs/{name}")
    def run(name: str) -> JSONBytes:
        """One run: manifest facts, summary metrics and PR curves."""
        check_name(name, "run")
        opened = state.open_run(name)
        curves = opened.pr_curves()
        return JSONBytes(
            {
                **_views.run_summary(state, name),
                "pr_curves": {key: np.asarray(value).tolist() for key, value in curves.items()},
            }
        )

    @api.get("/compare")
    def compare(runs: str = "") -> JSONBytes:
        """Runs side by side: ``?runs=a,b`` -> metrics table and PR curves of each."""
        names = [n for n in (part.strip() for part in runs.split(",")) if n]
        return JSONBytes(_views.compare(state, names))

    return api
