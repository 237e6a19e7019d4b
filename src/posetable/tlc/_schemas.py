"""3LC's column schemas, as far as a keypoints table uses them.

A posetable table has one image column, one keypoints column and plain user columns. The
schemas 3LC code passes for them map onto those:

- ``ImageUrlSchema``: the image column (paths; ``Url`` aliases are expanded on write).
- ``Keypoints2DSchema`` (posetable's own class): the keypoints column.
- ``StringSchema``, ``Int32Schema``/``Int64Schema``, ``Float32Schema``/``Float64Schema``,
  ``BoolSchema``, their ``*ListSchema`` forms, ``CategoricalLabelSchema`` (an int index
  into a value map) and ``CategoricalLabelListSchema``: user columns of that Arrow type.
- ``Schema(value=Int32Value())`` and the other scalar values: the same.

Anything else (bounding-box lists, segmentation masks, composite ``Schema(values=...)``)
raises :class:`~posetable.errors.UnsupportedError` naming the column when a table is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from posetable.errors import RowError, UnsupportedError


def _element(value: Any) -> dict[str, Any]:
    """A value-map entry (3LC's ``MapElement``, a dict or a name) as a plain dict."""
    if isinstance(value, str):
        return {"internal_name": value}
    fields = ("internal_name", "display_name", "description", "display_color", "url")
    if isinstance(value, Mapping):
        return {k: value[k] for k in fields if value.get(k)}
    out = {k: getattr(value, k) for k in fields if getattr(value, k, None)}
    if not out:
        raise UnsupportedError(
            f"a value map entry must be a MapElement, a dict or a name, got {value!r}"
        )
    return out


def value_map(classes: Any, class_names: Any = None) -> dict[int, dict[str, Any]]:
    """3LC's ``classes=`` (a list of names or an ``{index: MapElement}`` map) as
    ``{index: {"internal_name": ...}}``."""
    if classes is None and class_names is not None:
        classes = class_names
    if classes is None:
        return {}
    if isinstance(classes, Mapping):
        out = {}
        for key, value in classes.items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                raise UnsupportedError(
                    f"classes must map int indices to names or MapElements, got key {key!r}"
                ) from None
            out[index] = _element(value)
        return out
    if isinstance(classes, str):
        raise UnsupportedError(f"classes must be a list of names or a map, got {classes!r}")
    return {i: _element(value) for i, value in enumerate(classes)}


class ScalarValue:
    """One scalar value type of a 3LC schema (``Int32Value()``, ``StringValue()``...)."""

    arrow_type: pa.DataType = pa.string()
    kind = "string"

    def __init__(self, *args: Any, value_map: Mapping[Any, Any] | None = None, **options: Any):
        self.options = dict(options)
        self.value_map = dict(value_map or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class StringValue(ScalarValue):
    """A string value."""


class UrlStringValue(StringValue):
    """A URL string value."""


class ImageUrlStringValue(UrlStringValue):
    """An image URL string value."""


class BoolValue(ScalarValue):
    """A bool value."""

    arrow_type = pa.bool_()
    kind = "bool"


class NumericValue(ScalarValue):
    """A number (float64)."""

    arrow_type = pa.float64()
    kind = "float"


class Float32Value(NumericValue):
    """A float32 value."""

    arrow_type = pa.float32()


class Float64Value(NumericValue):
    """A float64 value."""


class Int32Value(NumericValue):
    """An int32 value."""

    arrow_type = pa.int32()
    kind = "int"


class Int64Value(Int32Value):
    """An int64 value."""

    arrow_type = pa.int64()


class Int8Value(Int32Value):
    """An int8 value."""

    arrow_type = pa.int8()


class Int16Value(Int32Value):
    """An int16 value."""

    arrow_type = pa.int16()


class Uint8Value(Int32Value):
    """A uint8 value."""

    arrow_type = pa.uint8()


class Uint16Value(Int32Value):
    """A uint16 value."""

    arrow_type = pa.uint16()


class Uint32Value(Int32Value):
    """A uint32 value."""

    arrow_type = pa.uint32()


class Uint64Value(Int32Value):
    """A uint64 value."""

    arrow_type = pa.uint64()


class DimensionNumericValue(Int32Value):
    """The size of a list dimension (``size0=``); any length is accepted."""


_INT_RANGES = {
    pa.int8(): (-(2**7), 2**7 - 1),
    pa.int16(): (-(2**15), 2**15 - 1),
    pa.int32(): (-(2**31), 2**31 - 1),
    pa.int64(): (-(2**63), 2**63 - 1),
    pa.uint8(): (0, 2**8 - 1),
    pa.uint16(): (0, 2**16 - 1),
    pa.uint32(): (0, 2**32 - 1),
    pa.uint64(): (0, 2**64 - 1),
}


class Schema:
    """A 3LC column schema: one scalar ``value`` (optionally a list, ``size0=``).

    Composite schemas (``values=``) describe 3LC's own nested columns; posetable keeps
    only the keypoints column nested, so a composite schema passed for a user column raises
    :class:`~posetable.errors.UnsupportedError` when a table is made. Read back from a table
    (``table.row_schema``), a composite schema lists the nested fields in ``values``.

    Example:
        >>> import posetable.tlc as tlc
        >>> schema = tlc.Int32Schema(default_visible=False, writable=False)
        >>> schema.arrow_type(), schema.coerce(3, "age", 0)
        (DataType(int32), 3)
    """

    def __init__(
        self,
        display_name: str = "",
        description: str = "",
        writable: bool = True,
        display_importance: float = 0,
        value: ScalarValue | None = None,
        values: Mapping[str, Schema] | None = None,
        *,
        size0: DimensionNumericValue | None = None,
        default_visible: bool = True,
        **options: Any,
    ) -> None:
        self.display_name = display_name
        self.description = description
        self.writable = writable
        self.display_importance = display_importance
        self.value = value
        self.values = None if values is None else dict(values)
        self.size0 = size0
        self.default_visible = default_visible
        self.options = dict(options)

    def __repr__(self) -> str:
        inner = f"values={list(self.values)}" if self.values is not None else f"value={self.value}"
        return f"{type(self).__name__}({inner}{', list' if self.size0 is not None else ''})"

    @property
    def is_list(self) -> bool:
        """Whether the column holds a list of values per row."""
        return self.size0 is not None

    def arrow_type(self, column: str = "the column") -> pa.DataType:
        """The Arrow type of the user column this schema describes."""
        if self.values is not None or self.value is None:
            raise UnsupportedError(
                f"column {column!r}: a composite {type(self).__name__} (values=...) is not "
                "supported by posetable, which keeps one keypoints column, one image column "
                "and scalar (or list) user columns; pass a scalar schema such as "
                "StringSchema(), Int32Schema(), Float32Schema() or CategoricalLabelSchema()"
            )
        scalar = self.value.arrow_type
        return pa.list_(scalar) if self.is_list else scalar

    def coerce(self, value: Any, column: str, row: int) -> Any:
        """The value as stored (checked against the schema); errors name row and column."""
        if value is None:
            return None
        if self.is_list:
            if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
                raise RowError(f"row {row}: column {column!r} holds lists, got {value!r}")
            return [self._one(v, column, row) for v in value]
        return self._one(value, column, row)

    def _one(self, value: Any, column: str, row: int) -> Any:
        if self.value is None:
            self.arrow_type(column)  # raises: a composite schema holds no scalar values
            return value  # pragma: no cover
        kind = self.value.kind
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()  # numpy scalars
        if kind == "string":
            if not isinstance(value, str):
                raise RowError(f"row {row}: column {column!r} holds strings, got {value!r}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise RowError(f"row {row}: column {column!r} holds booleans, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RowError(f"row {row}: column {column!r} holds numbers, got {value!r}")
        if kind == "float":
            return float(value)
        if isinstance(value, float) and math.isnan(value):
            return None
        if float(value) != int(value):
            raise RowError(f"row {row}: column {column!r} holds whole numbers, got {value!r}")
        low, high = _INT_RANGES[self.value.arrow_type]
        if not low <= int(value) <= high:
            raise RowError(
                f"row {row}: column {column!r} holds {self.value.arrow_type} values "
                f"({low}..{high}), got {value!r}"
            )
        return int(value)

    def to_dict(self) -> dict[str, Any]:
        """The schema as JSON values (kept in the table's metadata)."""
        out: dict[str, Any] = {"type": type(self).__name__}
        if self.value is not None:
            out["value"] = type(self.value).__name__
            if self.value.value_map:
                out["value_map"] = {str(k): v for k, v in self.value.value_map.items()}
        if self.is_list:
            out["list"] = True
        for key in ("display_name", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if not self.writable:
            out["writable"] = False
        if not self.default_visible:
            out["default_visible"] = False
        return out


class ImageUrlSchema(Schema):
    """The image column: a path (or ``Url``) per row."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("value", ImageUrlStringValue())
        super().__init__(**kwargs)


class StringSchema(Schema):
    """A string column."""

    def __init__(self, string_role: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("value", StringValue())
        super().__init__(**kwargs)


class StringListSchema(StringSchema):
    """A column of string lists."""

    def __init__(self, list_size: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("size0", DimensionNumericValue())
        super().__init__(**kwargs)


class BoolSchema(Schema):
    """A bool column."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("value", BoolValue())
        super().__init__(**kwargs)


class BoolListSchema(BoolSchema):
    """A column of bool lists."""

    def __init__(self, list_size: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("size0", DimensionNumericValue())
        super().__init__(**kwargs)


class Int32Schema(Schema):
    """An int32 column."""

    def __init__(self, number_role: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("value", Int32Value())
        super().__init__(**kwargs)


class Int32ListSchema(Int32Schema):
    """A column of int32 lists."""

    def __init__(self, list_size: int | None = None, number_role: str = "", **kwargs: Any):
        kwargs.setdefault("size0", DimensionNumericValue())
        super().__init__(number_role, **kwargs)


class Int64Schema(Schema):
    """An int64 column."""

    def __init__(self, number_role: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("value", Int64Value())
        super().__init__(**kwargs)


class Float32Schema(Schema):
    """A float32 column."""

    def __init__(self, number_role: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("value", Float32Value())
        super().__init__(**kwargs)


class Float32ListSchema(Float32Schema):
    """A column of float32 lists."""

    def __init__(self, list_size: int | None = None, number_role: str = "", **kwargs: Any):
        kwargs.setdefault("size0", DimensionNumericValue())
        super().__init__(number_role, **kwargs)


class Float64Schema(Schema):
    """A float64 column."""

    def __init__(self, number_role: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("value", Float64Value())
        super().__init__(**kwargs)


class CategoricalLabelSchema(Schema):
    """An int column whose values index a value map (``classes=``).

    Example:
        >>> import posetable.tlc as tlc
        >>> schema = tlc.CategoricalLabelSchema(classes=["day", "night"])
        >>> schema.classes, schema.coerce(1, "scene", 0)
        ({0: {'internal_name': 'day'}, 1: {'internal_name': 'night'}}, 1)
    """

    def __init__(
        self, class_names: list[str] | None = None, classes: Any = None, **kwargs: Any
    ) -> None:
        self.classes = value_map(classes, class_names)
        kwargs.setdefault("value", Int32Value(value_map=self.classes))
        super().__init__(**kwargs)

    def _one(self, value: Any, column: str, row: int) -> Any:
        number = super()._one(value, column, row)
        if number is not None and self.classes and number not in self.classes:
            raise RowError(
                f"row {row}: column {column!r} must hold one of the class indices "
                f"{sorted(self.classes)}, got {value!r}"
            )
        return number


class CategoricalLabelListSchema(CategoricalLabelSchema):
    """A column of lists of class indices."""

    def __init__(
        self,
        classes: Any = None,
        class_names: list[str] | None = None,
        list_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("size0", DimensionNumericValue())
        super().__init__(class_names=class_names, classes=classes, **kwargs)


def schema_from_arrow(arrow_type: pa.DataType, name: str = "") -> Schema:
    """The schema of a stored column, read back (``table.row_schema``)."""
    if pa.types.is_struct(arrow_type):
        return Schema(
            display_name=name,
            values={f.name: schema_from_arrow(f.type, f.name) for f in arrow_type},
        )
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = schema_from_arrow(arrow_type.value_type, name)
        inner.size0 = DimensionNumericValue()
        return inner
    value: ScalarValue
    if pa.types.is_boolean(arrow_type):
        value = BoolValue()
    elif pa.types.is_integer(arrow_type):
        value = Int64Value() if arrow_type == pa.int64() else Int32Value()
    elif pa.types.is_floating(arrow_type):
        value = Float32Value() if arrow_type == pa.float32() else Float64Value()
    else:
        value = StringValue()
    return Schema(display_name=name, value=value)
