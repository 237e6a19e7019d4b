"""3LC's ``tlc.core.helpers.keypoint_helper``."""

from posetable.helper import KeypointHelper

__all__ = ["KeypointHelper"]
