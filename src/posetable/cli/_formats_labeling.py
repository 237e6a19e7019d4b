"""``posetable import|export`` for Label Studio, CVAT and Ultralytics NDJSON.

Registered by :mod:`posetable.cli._formats`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def register_import(
    kinds: Any, if_exists: Callable[[Any], None], add_store: Callable[[Any], None]
) -> None:
    """Add this module's ``posetable import <format>`` subcommands to ``kinds``."""


def register_export(kinds: Any, add_store: Callable[[Any], None]) -> None:
    """Add this module's ``posetable export <format>`` subcommands to ``kinds``."""
