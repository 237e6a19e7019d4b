"""Read endpoints: tables, the grid, the image view, images and thumbnails.

Each endpoint is one call into :mod:`posetable.dashboard._views` (or the image helpers);
they parse the query string and return the JSON the page draws.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from posetable.dashboard import _views
from posetable.dashboard._params import MAX_INDEX, bounded
from posetable.dashboard._paths import SlashAwareRoute
from posetable.dashboard._state import DashboardState
from posetable.dashboard.app import JSONBytes
from posetable.dashboard.thumbnails import THUMBNAIL_SIDE, ImageUnavailable, placeholder_png
from posetable.errors import NotFoundError, RowError

IMMUTABLE = "private, max-age=86400"
MIN_THUMBNAIL_SIDE = 32
MAX_THUMBNAIL_SIDE = 1024
MAX_SHOWN_PATH = 1000


def _missing_reason(exc: Exception, path: Path | None) -> str:
    """What the page says about an image it cannot show, without naming any server path."""
    if isinstance(exc, PermissionError):
        return "image outside the table's image roots"
    if path is None:
        return "image not served"  # a URL or an empty path
    if not path.exists():
        return "image not found"
    return "image not readable"


def _placeholder(
    width: int, height: int, max_side: int, exc: Exception, image: str, path: Path | None
) -> Response:
    """A placeholder PNG for a row whose image cannot be read.

    ``X-Posetable-Missing`` carries the path as the table row names it (percent-encoded: the
    row's JSON already shows it) and ``X-Posetable-Missing-Reason`` what is wrong; both are
    drawn on the placeholder too. ``X-Posetable-Placeholder`` keeps the full reason.
    """
    text = str(exc).encode("ascii", "replace").decode()[:200]
    reason = _missing_reason(exc, path)
    return Response(
        placeholder_png(width, height, max_side=max_side, text=f"{reason}: {image}"),
        media_type="image/png",
        headers={
            "X-Posetable-Placeholder": text,
            "X-Posetable-Missing": quote(image[:MAX_SHOWN_PATH], safe="/:._-~()[],+=@"),
            "X-Posetable-Missing-Reason": reason,
            "Cache-Control": "no-cache",
        },
    )


def router(state: DashboardState) -> APIRouter:
    """The read-only routes over ``state``."""
    api = APIRouter(prefix="/api", route_class=SlashAwareRoute)

    @api.get("/tables")
    def tables() -> JSONBytes:
        """Tables with revisions, counts and their runs (the tables-and-runs page)."""
        return JSONBytes(_views.tables_overview(state))

    @api.get("/tables/{name}")
    def table(name: str, revision: int | None = None, run: str | None = None) -> JSONBytes:
        """One revision's schema, lineage, columns and runs."""
        return JSONBytes(_views.table_detail(state, name, revision=revision, run=run or None))

    @api.get("/tables/{name}/rows")
    def rows(
        name: str,
        revision: int | None = None,
        run: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        order: str = "asc",
        offset: int = 0,
        limit: int = 48,
        suspect_instance: float | None = None,
        suspect_keypoint: float | None = None,
    ) -> JSONBytes:
        """A grid page: rows matching ``filter``, ordered by ``sort``.

        ``suspect_instance`` / ``suspect_keypoint``: the label-error suspects' thresholds.
        """
        bounded("offset", offset, 0, MAX_INDEX)
        bounded("limit", limit, 1, _views.MAX_PAGE)
        return JSONBytes(
            _views.grid_page(
                state,
                name,
                revision=revision,
                run=run or None,
                filter_text=filter,
                sort=sort or None,
                order=order,
                offset=offset,
                limit=limit,
                thresholds=_views.suspect_thresholds(suspect_instance, suspect_keypoint),
            )
        )

    @api.get("/tables/{name}/rows/{row}")
    def row(
        name: str,
        row: int,
        revision: int | None = None,
        run: str | None = None,
        position: int | None = None,
        filter: str | None = None,
        sort: str | None = None,
        order: str = "asc",
        suspect_instance: float | None = None,
        suspect_keypoint: float | None = None,
    ) -> JSONBytes:
        """The image view of one row (with its neighbours in the grid order)."""
        bounded("row", row, 0, MAX_INDEX)
        bounded("position", position, 0, MAX_INDEX)
        return JSONBytes(
            _views.row_detail(
                state,
                name,
                row,
                revision=revision,
                run=run or None,
                position=position,
                filter_text=filter,
                sort=sort or None,
                order=order,
                thresholds=_views.suspect_thresholds(suspect_instance, suspect_keypoint),
            )
        )

    def _row_image(name: str, row: int, revision: int | None) -> tuple[str, int, int, int]:
        bounded("row", row, 0, MAX_INDEX)
        found = state.table(name, revision)
        n = len(found)
        if not 0 <= row < n:
            raise RowError(f"row {row} does not exist: table {found.ref} has {n} rows (0..{n - 1})")
        record = found.take([row], columns=["image", "width", "height"]).to_pylist()[0]
        return str(record["image"]), int(record["width"]), int(record["height"]), found.revision

    @api.get("/tables/{name}/thumbnail/{row}")
    def thumbnail(
        name: str, row: int, revision: int | None = None, size: int = THUMBNAIL_SIDE
    ) -> Response:
        """A JPEG thumbnail of the row's image (a placeholder when it cannot be read)."""
        side = bounded("size", size, MIN_THUMBNAIL_SIDE, MAX_THUMBNAIL_SIDE)
        image, width, height, rev = _row_image(name, row, revision)
        path: Path | None = None
        try:
            path = state.images(state.table(name, rev)).resolve(image)
            data = state.thumbnails.thumbnail(path, max_side=side)
        except (ImageUnavailable, PermissionError) as exc:
            return _placeholder(width, height, side, exc, image, path)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": IMMUTABLE})

    @api.get("/tables/{name}/image/{row}")
    def image(name: str, row: int, revision: int | None = None) -> Response:
        """The row's full image (a placeholder when it cannot be read)."""
        image, width, height, rev = _row_image(name, row, revision)
        path: Path | None = None
        try:
            path = state.images(state.table(name, rev)).resolve(image)
            found, media = state.thumbnails.full(path)
        except (ImageUnavailable, PermissionError) as exc:
            return _placeholder(width, height, 1024, exc, image, path)
        if isinstance(found, bytes):
            return Response(found, media_type=media, headers={"Cache-Control": IMMUTABLE})
        return FileResponse(found, media_type=media, headers={"Cache-Control": IMMUTABLE})

    @api.get("/tables/{name}/file")
    def file(
        name: str, path: str = Query(..., min_length=1), revision: int | None = None
    ) -> Response:
        """A file under the table's image roots; anything else is refused (403)."""
        return _serve_file(name, path, revision)

    @api.get("/tables/{name}/images/{path:path}")
    def image_file(name: str, path: str, revision: int | None = None) -> Response:
        """The same as ``/file?path=`` with the path in the URL (relative to a root)."""
        return _serve_file(name, path, revision)

    def _serve_file(name: str, path: str, revision: int | None) -> Response:
        source = state.images(state.table(name, revision))
        resolved = source.resolve(path)  # ForbiddenPathError -> 403
        if not resolved.is_file():
            raise NotFoundError(
                f"{path!r}: no such file under the image roots of {source.table_ref}"
            )
        found, media = state.thumbnails.full(resolved)
        if isinstance(found, bytes):
            return Response(found, media_type=media)
        return FileResponse(found, media_type=media)

    return api
