"""Table and run names with ``/`` in URLs (``project/dataset/table``).

The pages put a name in one path segment with ``encodeURIComponent`` (``/`` as ``%2F``), but
the server decodes ``%2F`` before routing, which would split the name over segments.
:class:`EncodedSlashMiddleware` re-derives the routed path from the raw bytes so an encoded
slash stays inside its segment (as the text ``%2F``), and :class:`SlashAwareRoute` turns it
back into ``/`` in the path parameters, the one place handlers read names from.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

ENCODED_SLASH = "%2F"


class EncodedSlashMiddleware:
    """Route on the raw path, keeping ``%2F`` inside a segment (an ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw and b"%2f" in raw.lower():
            text = raw.decode("latin-1").split("?", 1)[0]
            segments = [unquote(part).replace("/", ENCODED_SLASH) for part in text.split("/")]
            scope = {**scope, "path": "/".join(segments)}
        await self.app(scope, receive, send)


class SlashAwareRoute(APIRoute):
    """An API route whose path parameters get back the ``/`` that a segment encoded."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        params: dict[str, Any] | None = child.get("path_params")
        if match != Match.NONE and params:
            child["path_params"] = {
                key: value.replace(ENCODED_SLASH, "/") if isinstance(value, str) else value
                for key, value in params.items()
            }
        return match, child
