"""The posetable dashboard: look at, filter, edit and fix keypoint tables in a browser.

``posetable serve`` starts it; :func:`create_app` builds the ASGI app over a store (needs
the ``[dashboard]`` extra: ``pip install "posetable[dashboard]"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posetable.dashboard.app import create_app
    from posetable.dashboard.server import serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from posetable.dashboard.app import create_app

        return create_app
    if name == "serve":
        from posetable.dashboard.server import serve

        return serve
    raise AttributeError(f"module 'posetable.dashboard' has no attribute {name!r}")
