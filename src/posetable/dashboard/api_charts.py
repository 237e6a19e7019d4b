"""Chart endpoints: the JSON twin of every chart the diagnosis and metrics pages draw.

``/api/runs/{name}/charts/diagnosis`` (AP after each fix, PR curves after each fix, error
kinds per keypoint, background errors), ``.../charts/background`` (a page of background
FP or FN), ``.../charts/keypoints`` (per-keypoint OKS-AP, mean similarity, PCK by
visibility), ``.../charts/calibration`` (reliability and ECE), ``.../charts/pr`` (PR
curves) and ``/api/tables/{name}/charts/histogram`` (any numeric column). Each is one call
into :mod:`posetable.dashboard._charts`; runs are charted against their own revision unless
``table`` / ``revision`` say otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter

from posetable.dashboard import _charts, _views
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes


def router(state: DashboardState) -> APIRouter:
    """The chart routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)
    charts = _charts.ChartData(state)

    @api.get("/runs/{name}/charts/diagnosis")
    def diagnosis(
        name: str, table: str | None = None, revision: int | None = None, limit: int = 100
    ) -> JSONBytes:
        """AP after each fix, PR curves after each fix, error kinds per keypoint, and the
        first ``limit`` background false positives and negatives."""
        return JSONBytes(
            charts.diagnosis(name, table=table or None, revision=revision, limit=limit)
        )

    @api.get("/runs/{name}/charts/background")
    def background(
        name: str,
        kind: str = "fp",
        table: str | None = None,
        revision: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> JSONBytes:
        """A page of background false positives (``kind=fp``) or negatives (``kind=fn``)."""
        return JSONBytes(
            charts.background(
                name, kind=kind, table=table or None, revision=revision, offset=offset, limit=limit
            )
        )

    @api.get("/runs/{name}/charts/keypoints")
    def keypoints(name: str, table: str | None = None, revision: int | None = None) -> JSONBytes:
        """Per-keypoint OKS-AP, mean similarity and PCK for all, v=1 and v=2 ground truth."""
        return JSONBytes(charts.keypoints(name, table=table or None, revision=revision))

    @api.get("/runs/{name}/charts/calibration")
    def calibration(name: str, table: str | None = None, revision: int | None = None) -> JSONBytes:
        """Reliability tables and ECE of keypoint confidences and instance scores."""
        return JSONBytes(charts.calibration(name, table=table or None, revision=revision))

    @api.get("/runs/{name}/charts/pr")
    def pr(name: str, table: str | None = None, revision: int | None = None) -> JSONBytes:
        """Precision-recall curves at each OKS threshold (area all)."""
        return JSONBytes(charts.pr(name, table=table or None, revision=revision))

    @api.get("/tables/{name}/charts/histogram")
    def histogram(
        name: str,
        column: str,
        revision: int | None = None,
        run: str | None = None,
        filter: str | None = None,
        bins: int = 30,
        suspect_instance: float | None = None,
        suspect_keypoint: float | None = None,
    ) -> JSONBytes:
        """A histogram of one numeric column over all rows and the rows ``filter`` keeps."""
        return JSONBytes(
            _charts.histogram(
                state,
                name,
                column,
                revision=revision,
                run=run or None,
                filter_text=filter,
                bins=bins,
                thresholds=_views.suspect_thresholds(suspect_instance, suspect_keypoint),
            )
        )

    return api
