"""3LC's ``tlc.core.objects``: ``Table``."""

from posetable.tlc._table import Table

__all__ = ["Table"]
