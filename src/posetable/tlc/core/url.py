"""3LC's ``tlc.core.url``: ``Url``."""

from posetable.tlc._url import Url

__all__ = ["Url"]
