"""3LC's constants (``tlc.core.builtins.constants``)."""

from posetable.tlc.core.builtins.constants import column_names
from posetable.tlc.core.builtins.constants.column_names import *  # noqa: F403

__all__ = list(column_names.__all__)
