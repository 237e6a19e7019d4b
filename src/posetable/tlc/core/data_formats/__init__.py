"""3LC's ``tlc.core.data_formats``: ``Keypoints2DInstances`` (posetable's own class)."""

from posetable.instances import Keypoints2DInstances

__all__ = ["Keypoints2DInstances"]
