"""3LC's public keypoint examples, with only their imports and data paths changed."""
