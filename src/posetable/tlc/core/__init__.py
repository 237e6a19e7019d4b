"""3LC's ``tlc.core``: the names 3LC keypoint code imports from it.

Example:
    >>> from posetable.tlc.core import Keypoints2DInstances, Table, Url
    >>> import posetable as pt
    >>> Keypoints2DInstances is pt.Keypoints2DInstances
    True
"""

from posetable.helper import KeypointHelper
from posetable.instances import Keypoints2DInstances
from posetable.map_element import MapElement
from posetable.schema import Keypoints2DSchema
from posetable.tlc._schemas import (
    BoolValue,
    CategoricalLabelListSchema,
    CategoricalLabelSchema,
    DimensionNumericValue,
    Float32Schema,
    Float32Value,
    Float64Schema,
    Float64Value,
    ImageUrlSchema,
    ImageUrlStringValue,
    Int32Schema,
    Int32Value,
    Int64Schema,
    Int64Value,
    ScalarValue,
    Schema,
    StringSchema,
    StringValue,
    UrlStringValue,
)
from posetable.tlc._table import Table, TableRows
from posetable.tlc._url import Url
from posetable.tlc._writer import TableWriter
from posetable.tlc.core.builtins.constants.column_names import *  # noqa: F403

__all__ = [
    "BoolValue",
    "CategoricalLabelListSchema",
    "CategoricalLabelSchema",
    "DimensionNumericValue",
    "Float32Schema",
    "Float32Value",
    "Float64Schema",
    "Float64Value",
    "ImageUrlSchema",
    "ImageUrlStringValue",
    "Int32Schema",
    "Int32Value",
    "Int64Schema",
    "Int64Value",
    "KeypointHelper",
    "Keypoints2DInstances",
    "Keypoints2DSchema",
    "MapElement",
    "ScalarValue",
    "Schema",
    "StringSchema",
    "StringValue",
    "Table",
    "TableRows",
    "TableWriter",
    "Url",
    "UrlStringValue",
]
