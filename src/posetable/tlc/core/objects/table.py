"""3LC's ``tlc.core.objects.table``."""

from posetable.tlc._table import Table, TableRows

__all__ = ["Table", "TableRows"]
