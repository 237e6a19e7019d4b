"""Turning row dicts into Arrow record batches (validated, columnar)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import pyarrow as pa

from posetable._arrow import (
    KEYPOINTS_COLUMN,
    extra_arrow_type,
    extras_of_type,
    instances_to_arrow,
    keypoints_type,
)
from posetable.errors import InstancesError, PosetableError, RowError
from posetable.instances import Keypoints2DInstances
from posetable.schema import Keypoints2DSchema

SAMPLE_ID = "sample_id"
BASE_COLUMNS = ("image", "width", "height", KEYPOINTS_COLUMN)
RESERVED = (SAMPLE_ID, "row")
DEFAULT_BATCH_ROWS = 4096


@dataclass
class RowLayout:
    """The Arrow types of a table's columns, fixed by its first rows."""

    schema: Keypoints2DSchema
    extras: dict[str, pa.DataType] | None = None
    user_types: dict[str, pa.DataType] | None = None
    user_order: list[str] = field(default_factory=list)

    @classmethod
    def from_arrow_schema(cls, schema: Keypoints2DSchema, arrow_schema: pa.Schema) -> RowLayout:
        """The layout of an existing table."""
        extras = extras_of_type(arrow_schema.field(KEYPOINTS_COLUMN).type)
        users = {
            f.name: f.type for f in arrow_schema if f.name not in (*BASE_COLUMNS, SAMPLE_ID)
        }
        return cls(schema, extras, users, list(users))

    def arrow_schema(self) -> pa.Schema:
        """The full Arrow schema (without posetable metadata)."""
        fields = [
            pa.field(SAMPLE_ID, pa.int64(), nullable=False),
            pa.field("image", pa.string()),
            pa.field("width", pa.int32()),
            pa.field("height", pa.int32()),
            pa.field(KEYPOINTS_COLUMN, keypoints_type(self.extras or {})),
        ]
        fields += [pa.field(n, (self.user_types or {})[n]) for n in self.user_order]
        return pa.schema(fields)


def _positive_int(row: Mapping[str, Any], key: str, where: str) -> int:
    if key not in row or row[key] is None:
        raise RowError(f"{where}: missing {key!r}; every row needs 'image', 'width' and 'height'")
    value = row[key]
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise RowError(f"{where}: {key} must be a positive integer, got {value!r}") from exc
    if isinstance(value, bool) or not number.is_integer() or number <= 0:
        raise RowError(f"{where}: {key} must be a positive integer, got {value!r}")
    return int(number)


def instances_of(row: Mapping[str, Any], schema: Keypoints2DSchema, where: str) -> Keypoints2DInstances:
    """The row's keypoints as a validated ``Keypoints2DInstances``."""
    value = row.get(KEYPOINTS_COLUMN)
    try:
        if value is None:
            item = Keypoints2DInstances.create_empty(num_keypoints=schema.num_keypoints)
        elif isinstance(value, Keypoints2DInstances):
            item = value
        else:
            item = Keypoints2DInstances.from_row(value)
    except InstancesError as exc:
        raise RowError(f"{where}: {exc}") from exc
    k = schema.num_keypoints
    if len(item) and item.num_keypoints != k:
        raise RowError(
            f"{where}: keypoints must have shape (N, K={k}, 2), got {tuple(item.keypoints.shape)}"
        )
    labels = item.instance_labels
    if len(labels) and (labels.min() < 0 or labels.max() >= len(schema.classes)):
        bad = int(labels[(labels < 0) | (labels >= len(schema.classes))][0])
        raise RowError(
            f"{where}: instance label must be in [0, {len(schema.classes) - 1}] "
            f"(classes {list(schema.classes)[:5]}{'...' if len(schema.classes) > 5 else ''}), got {bad}"
        )
    return item


def build_batch(
    rows: list[Mapping[str, Any]],
    layout: RowLayout,
    sample_ids: np.ndarray,
    first_row: int,
) -> pa.RecordBatch:
    """Validate rows and build one record batch; fixes the layout on the first call."""
    schema = layout.schema
    items, images, widths, heights = [], [], [], []
    for offset, row in enumerate(rows):
        where = f"row {first_row + offset}"
        if not isinstance(row, Mapping):
            raise RowError(f"{where}: a row must be a dict, got {type(row).__name__}")
        image = row.get("image")
        if not isinstance(image, str) or not image:
            raise RowError(f"{where}: 'image' must be a non-empty path or URL string, got {image!r}")
        widths.append(_positive_int(row, "width", where))
        heights.append(_positive_int(row, "height", where))
        images.append(image)
        items.append(instances_of(row, schema, where))
    if layout.extras is None:
        extras: dict[str, pa.DataType] = {}
        for item in items:
            for name, values in item.instance_extras.items():
                extras.setdefault(name, extra_arrow_type(values))
        layout.extras = extras
    if layout.user_types is None:
        names: list[str] = []
        for row in rows:
            for key in row:
                if key not in BASE_COLUMNS and key not in names:
                    if key in RESERVED:
                        raise RowError(f"column name {key!r} is reserved by posetable; rename it")
                    names.append(key)
        user_types = {}
        for name in names:
            try:
                user_types[name] = pa.array([r.get(name) for r in rows]).type
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise RowError(f"column {name!r}: values of mixed types cannot be stored: {exc}") from exc
            if pa.types.is_null(user_types[name]):
                user_types[name] = pa.string()
        layout.user_types, layout.user_order = user_types, names
    try:
        keypoints = instances_to_arrow(
            items,
            num_keypoints=schema.num_keypoints,
            extras=layout.extras,
            widths=widths,
            heights=heights,
            first_row=first_row,
        )
    except InstancesError as exc:
        raise RowError(f"rows {first_row}..{first_row + len(rows) - 1}: {exc}") from exc
    columns: list[pa.Array] = [
        pa.array(sample_ids, pa.int64()),
        pa.array(images, pa.string()),
        pa.array(widths, pa.int32()),
        pa.array(heights, pa.int32()),
        keypoints,
    ]
    for name in layout.user_order:
        arrow_type = (layout.user_types or {})[name]
        values = [r.get(name) for r in rows]
        try:
            columns.append(pa.array(values, arrow_type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise RowError(
                f"rows {first_row}..{first_row + len(rows) - 1}: column {name!r} must hold "
                f"{arrow_type} values like the first rows: {exc}"
            ) from exc
    unknown = {k for r in rows for k in r} - set(BASE_COLUMNS) - set(layout.user_order)
    if unknown:
        raise RowError(
            f"rows {first_row}..{first_row + len(rows) - 1}: columns {sorted(unknown)} were not in "
            f"the first rows (known: {layout.user_order})"
        )
    return pa.RecordBatch.from_arrays(columns, schema=layout.arrow_schema())


def batches_from_rows(
    rows: Iterable[Mapping[str, Any]],
    layout: RowLayout,
    *,
    first_sample_id: int = 0,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Stream rows into validated record batches of ``batch_rows`` rows."""
    iterator = iter(rows)
    done = 0
    while True:
        chunk = list(islice(iterator, batch_rows))
        if not chunk:
            return
        ids = np.arange(first_sample_id + done, first_sample_id + done + len(chunk), dtype=np.int64)
        yield build_batch(chunk, layout, ids, done)
        done += len(chunk)


def peek_batches(batches: Iterator[pa.RecordBatch], layout: RowLayout) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Build the first batch (which fixes the layout) and return the schema and all batches."""
    try:
        first = next(batches)
    except StopIteration:
        layout.extras = layout.extras or {}
        layout.user_types = layout.user_types or {}
        return layout.arrow_schema(), iter(())
    except PosetableError:
        raise

    def chain() -> Iterator[pa.RecordBatch]:
        yield first
        yield from batches

    return first.schema, chain()
