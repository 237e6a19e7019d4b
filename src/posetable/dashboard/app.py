"""The dashboard's ASGI app: ``create_app(store)`` -> a FastAPI application.

Every page is fed by one JSON endpoint under ``/api`` that returns exactly what the page
shows (see :mod:`posetable.dashboard._views`); the pages themselves are plain ES modules
and canvas served from ``posetable/dashboard/static``. Library errors come back as
``{"error": message, "type": class name}`` with a 4xx status (404 not found, 409 conflict,
403 outside the image roots or a refused request, 413 a body too large, 400 otherwise); any
other exception is a 500 with the same body shape and no traceback (the server logs it).

Every request first passes :class:`~posetable.dashboard._security.SecurityMiddleware`: the
``Host`` must name this server (DNS rebinding), writes must come from its own pages as
JSON, bodies are limited in size, a token is needed when the server listens beyond
loopback, and every response forbids framing.

Example:
    ``uvicorn.run(create_app("./posetable-data", port=8765), host="127.0.0.1", port=8765)``
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

from posetable.dashboard._paths import EncodedSlashMiddleware
from posetable.dashboard._payload import dumps
from posetable.dashboard._security import (
    DEFAULT_MAX_BODY_BYTES,
    SECURITY_HEADERS,
    AccessPolicy,
    SecurityMiddleware,
)
from posetable.dashboard._state import DashboardState
from posetable.dashboard.thumbnails import ForbiddenPathError
from posetable.errors import ConflictError, NotFoundError, PosetableError, missing_extra
from posetable.table import StoreLike

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("fastapi", "dashboard") from exc

logger = logging.getLogger(__name__)
STATIC_DIR = Path(str(files("posetable.dashboard") / "static"))


class JSONBytes(Response):
    """A JSON response written by orjson (numpy values allowed, NaN as null)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def status_of(error: PosetableError) -> int:
    """The HTTP status of a library error."""
    status = getattr(error, "http_status", None)
    if isinstance(status, int):
        return status
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ForbiddenPathError):
        return 403
    return 400


def error_response(error: PosetableError) -> JSONBytes:
    """``{"error": message, "type": class name}`` with the error's status."""
    return JSONBytes(
        {"error": str(error), "type": type(error).__name__}, status_code=status_of(error)
    )


def create_app(
    store: StoreLike = None,
    *,
    thumbnail_dir: str | Path | None = None,
    prewarm: bool = False,
    allowed_hosts: Iterable[str] = (),
    port: int | None = None,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The dashboard application over one store.

    Args:
        store: the store directory (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        thumbnail_dir: where thumbnails are cached (default ``<store>/.cache/thumbnails``).
        prewarm: build the caches of every table and run in a background thread at start.
        allowed_hosts: ``Host`` names accepted besides 127.0.0.1, localhost and [::1]
            (the name the server was started for with ``--host``); others get 403.
        port: the served port; a ``Host`` or ``Origin`` naming another port gets 403
            (None: any port).
        token: the access token every request must carry (query ``?token=``, the cookie
            it sets, or ``Authorization: token ...``); None: no token (loopback).
        max_body_bytes: the largest request body accepted (413 beyond).

    Example:
        >>> import tempfile
        >>> from fastapi.testclient import TestClient
        >>> client = TestClient(create_app(tempfile.mkdtemp()), base_url="http://127.0.0.1")
        >>> client.get("/api/tables").json()["tables"]
        []
        >>> client.get("/api/tables", headers={"Host": "evil.example"}).status_code
        403
    """
    from posetable.dashboard import api_checks, api_edit, api_explore, api_runs, api_tables

    state = DashboardState(store, thumbnail_dir=thumbnail_dir)
    app = FastAPI(
        title="posetable dashboard", docs_url="/api/docs", openapi_url="/api/openapi.json"
    )
    app.state.dashboard = state
    if prewarm:
        threading.Thread(target=state.prewarm, name="posetable-prewarm", daemon=True).start()

    @app.exception_handler(PosetableError)
    async def _library_error(request: Request, error: PosetableError) -> Response:
        return error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, error: Exception) -> Response:
        # the last resort (Starlette's ServerErrorMiddleware, outside every other middleware,
        # calls it and then re-raises so the server logs the traceback): no traceback here
        return JSONBytes(
            {
                "error": f"{request.method} {request.url.path} failed: an internal error "
                f"({type(error).__name__}); the server log has the details",
                "type": "InternalError",
            },
            status_code=500,
            headers=dict(SECURITY_HEADERS),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        kind = "NotFound" if error.status_code == 404 else "HTTPError"
        return JSONBytes(
            {"error": f"{request.url.path}: {error.detail}", "type": kind},
            status_code=error.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        parts = []
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return JSONBytes({"error": "; ".join(parts), "type": "ValidationError"}, status_code=422)

    @app.middleware("http")
    async def _server_timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        elapsed = (time.perf_counter() - start) * 1000.0
        response.headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
        return response

    app.include_router(api_tables.router(state))
    app.include_router(api_edit.router(state))
    app.include_router(api_runs.router(state))
    app.include_router(api_checks.router(state))
    app.include_router(api_explore.router(state))
    from posetable.dashboard import api_charts, api_compare

    app.include_router(api_charts.router(state))
    app.include_router(api_compare.router(state))
    from posetable.dashboard import api_review

    app.include_router(api_review.router(state))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def _index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    policy = AccessPolicy.create(
        allowed_hosts, port=port, token=token, max_body_bytes=max_body_bytes
    )
    app.state.access_policy = policy
    app.add_middleware(EncodedSlashMiddleware)  # names like project/dataset/table
    app.add_middleware(SecurityMiddleware, policy=policy)  # added last: runs first
    return app
