"""3LC's ``tlc.core.writers``: ``TableWriter``."""

from posetable.tlc._writer import TableWriter

__all__ = ["TableWriter"]
