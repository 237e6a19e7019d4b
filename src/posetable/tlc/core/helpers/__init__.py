"""3LC's ``tlc.core.helpers``: ``KeypointHelper`` (posetable's own class)."""

from posetable.helper import KeypointHelper

__all__ = ["KeypointHelper"]
