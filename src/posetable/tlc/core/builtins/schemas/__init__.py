"""3LC's ``tlc.core.builtins.schemas``: the column schemas a keypoints table uses."""

from posetable.schema import Keypoints2DSchema
from posetable.tlc._schemas import (
    BoolListSchema,
    BoolSchema,
    CategoricalLabelListSchema,
    CategoricalLabelSchema,
    Float32ListSchema,
    Float32Schema,
    Float64Schema,
    ImageUrlSchema,
    Int32ListSchema,
    Int32Schema,
    Int64Schema,
    StringListSchema,
    StringSchema,
)

__all__ = [
    "BoolListSchema",
    "BoolSchema",
    "CategoricalLabelListSchema",
    "CategoricalLabelSchema",
    "Float32ListSchema",
    "Float32Schema",
    "Float64Schema",
    "ImageUrlSchema",
    "Int32ListSchema",
    "Int32Schema",
    "Int64Schema",
    "Keypoints2DSchema",
    "StringListSchema",
    "StringSchema",
]
