"""3LC's names over posetable: 3LC keypoint code runs with only its imports changed.

``import tlc`` becomes ``import posetable.tlc as tlc``; ``from tlc.core import X`` becomes
``from posetable.tlc.core import X``. The classes shared with posetable are the same objects
(one implementation): ``posetable.tlc.Keypoints2DSchema is posetable.Keypoints2DSchema``.
``posetable.tlc.Table`` wraps a :class:`posetable.Table` (``table.native``).

A 3LC name posetable does not provide (bounding-box or segmentation schemas...)
raises :class:`~posetable.errors.UnsupportedNameError` (an ``AttributeError``) saying so.

Example:
    >>> import posetable as pt
    >>> import posetable.tlc as tlc
    >>> tlc.Keypoints2DInstances is pt.Keypoints2DInstances
    True
    >>> tlc.MapElement is pt.MapElement
    True
"""

from __future__ import annotations

from typing import Any

from posetable.errors import UnsupportedNameError
from posetable.helper import KeypointHelper
from posetable.instances import Keypoints2DInstances
from posetable.map_element import MapElement, hex_to_rgb_tuple, rgb_tuple_to_hex
from posetable.schema import Keypoints2DSchema
from posetable.tlc import data_types, helpers  # 3LC 3.x: tlc.data_types, tlc.helpers
from posetable.tlc._metrics_writer import MetricsTableWriter
from posetable.tlc._run import Run, active_run, close, init
from posetable.tlc._schemas import (
    BoolListSchema,
    BoolSchema,
    BoolValue,
    CategoricalLabelListSchema,
    CategoricalLabelSchema,
    DimensionNumericValue,
    Float32ListSchema,
    Float32Schema,
    Float32Value,
    Float64Schema,
    Float64Value,
    ImageUrlSchema,
    ImageUrlStringValue,
    Int32ListSchema,
    Int32Schema,
    Int32Value,
    Int64Schema,
    Int64Value,
    ScalarValue,
    Schema,
    StringListSchema,
    StringSchema,
    StringValue,
    UrlStringValue,
)
from posetable.tlc._table import Table, TableRows
from posetable.tlc._url import (
    Url,
    get_registered_url_aliases,
    register_url_alias,
    unregister_url_alias,
)
from posetable.tlc._writer import TableWriter
from posetable.tlc.core.builtins.constants.column_names import *  # noqa: F403

#: 3LC names that are not keypoint tables; each raises UnsupportedNameError when used.
_NOT_PROVIDED = {
    "BoundingBoxListSchema": "bounding-box list columns",
    "SegmentationSchema": "segmentation columns",
    "SegmentationHelper": "segmentation helpers",
    "SegmentationMasksDict": "segmentation masks",
    "InstanceSegmentationMasks": "segmentation masks",
    "InstanceSegmentationPolygons": "segmentation polygons",
    "OrientedBoundingBoxes2DSchema": "oriented bounding boxes",
    "EditedTable": "3LC's edited tables (posetable edits make revisions: Table.with_rows)",
}


def __getattr__(name: str) -> Any:
    if name in _NOT_PROVIDED:
        raise UnsupportedNameError(
            f"posetable.tlc.{name} is not provided: posetable holds keypoint tables and does "
            f"not support {_NOT_PROVIDED[name]}"
        )
    raise AttributeError(f"module 'posetable.tlc' has no attribute {name!r}")


__all__ = [
    "BoolListSchema",
    "BoolSchema",
    "BoolValue",
    "CategoricalLabelListSchema",
    "CategoricalLabelSchema",
    "DimensionNumericValue",
    "Float32ListSchema",
    "Float32Schema",
    "Float32Value",
    "Float64Schema",
    "Float64Value",
    "ImageUrlSchema",
    "ImageUrlStringValue",
    "Int32ListSchema",
    "Int32Schema",
    "Int32Value",
    "Int64Schema",
    "Int64Value",
    "KeypointHelper",
    "Keypoints2DInstances",
    "Keypoints2DSchema",
    "MapElement",
    "MetricsTableWriter",
    "Run",
    "ScalarValue",
    "Schema",
    "StringListSchema",
    "StringSchema",
    "StringValue",
    "Table",
    "TableRows",
    "TableWriter",
    "Url",
    "UrlStringValue",
    "active_run",
    "close",
    "data_types",
    "get_registered_url_aliases",
    "helpers",
    "hex_to_rgb_tuple",
    "init",
    "register_url_alias",
    "rgb_tuple_to_hex",
    "unregister_url_alias",
]
