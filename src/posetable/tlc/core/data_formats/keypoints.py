"""3LC's ``tlc.core.data_formats.keypoints``."""

from posetable.instances import Keypoints2DInstances

__all__ = ["Keypoints2DInstances"]
