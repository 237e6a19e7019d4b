"""Turning row dicts into Arrow record batches (validated, columnar)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable._arrow import (
    KEYPOINTS_COLUMN,
    concat_values,
    extra_arrow_type,
    extras_of_type,
    flat_from_arrow,
    instances_to_arrow,
    keypoints_type,
)
from posetable._lazy import LazyModule
from posetable.errors import InstancesError, PosetableError, RowError
from posetable.instances import Keypoints2DInstances
from posetable.schema import Keypoints2DSchema

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa = LazyModule("pyarrow")
    pc = LazyModule("pyarrow.compute")

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
        users = {f.name: f.type for f in arrow_schema if f.name not in (*BASE_COLUMNS, SAMPLE_ID)}
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


def _first_bad_value(values: list[Any], arrow_type: pa.DataType, numbers: list[int]) -> str:
    """``row N, got <value>`` for the first value that is not of ``arrow_type``."""
    for value, number in zip(values, numbers, strict=True):
        try:
            pa.array([value], arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return f"row {number} (got {value!r})"
    return f"rows {numbers[0]}..{numbers[-1]}"  # pragma: no cover - the batch failed as a whole


def instances_of(
    row: Mapping[str, Any], schema: Keypoints2DSchema, where: str
) -> Keypoints2DInstances:
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
    return item


def build_batch(
    rows: list[Mapping[str, Any]],
    layout: RowLayout,
    sample_ids: np.ndarray,
    first_row: int,
    *,
    row_numbers: Sequence[int] | np.ndarray | None = None,
) -> pa.RecordBatch:
    """Validate rows and build one record batch; fixes the layout on the first call.

    Messages name ``row first_row + i``, or ``row row_numbers[i]`` when given (edits).
    """
    schema = layout.schema
    numbers = (
        list(range(first_row, first_row + len(rows)))
        if row_numbers is None
        else [int(r) for r in row_numbers]
    )
    items, images, widths, heights = [], [], [], []
    for offset, row in enumerate(rows):
        where = f"row {numbers[offset]}"
        if not isinstance(row, Mapping):
            raise RowError(f"{where}: a row must be a dict, got {type(row).__name__}")
        image = row.get("image")
        if not isinstance(image, str) or not image:
            raise RowError(
                f"{where}: 'image' must be a non-empty path or URL string, got {image!r}"
            )
        widths.append(_positive_int(row, "width", where))
        heights.append(_positive_int(row, "height", where))
        images.append(image)
        items.append(instances_of(row, schema, where))
    if layout.extras is None:
        parts: dict[str, list[np.ndarray]] = {}
        for item in items:
            for name, values in item.instance_extras.items():
                parts.setdefault(name, []).append(values)
        layout.extras = {
            name: extra_arrow_type(concat_values(values)) for name, values in parts.items()
        }
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
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                first = next(r.get(name) for r in rows if r.get(name) is not None)
                user_types[name] = pa.array([first]).type  # the mismatch is named below
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
            row_numbers=None if row_numbers is None else numbers,
            classes=schema.classes,
        )
    except InstancesError as exc:
        raise RowError(f"rows {numbers[0]}..{numbers[-1]}: {exc}") from exc
    columns: list[pa.Array] = [
        pa.array(sample_ids, pa.int64()),
        pa.array(images, pa.string()),
        pa.array(widths, pa.int32()),
        pa.array(heights, pa.int32()),
        keypoints,
    ]
    for name in layout.user_order:
        arrow_type = (layout.user_types or {})[name]
        column_values = [r.get(name) for r in rows]
        try:
            columns.append(pa.array(column_values, arrow_type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise RowError(
                f"{_first_bad_value(column_values, arrow_type, numbers)}: column {name!r} must "
                f"hold {arrow_type} values like the first rows: {exc}"
            ) from exc
    known = {*BASE_COLUMNS, *layout.user_order}
    for offset, row in enumerate(rows):
        unknown = [key for key in row if key not in known]
        if unknown:
            raise RowError(
                f"row {numbers[offset]}: columns {sorted(unknown)} are not columns of this table "
                f"(user columns: {layout.user_order}); add one with Table.add_column, or give "
                "every column in the first rows"
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


def peek_batches(
    batches: Iterator[pa.RecordBatch], layout: RowLayout
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
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


def batches_from_arrow(reader: pa.RecordBatchReader, layout: RowLayout) -> Iterator[pa.RecordBatch]:
    """Check Arrow batches already in the row layout column-wise and add sample ids."""
    missing = [c for c in BASE_COLUMNS if c not in reader.schema.names]
    if missing:
        raise RowError(
            f"Arrow data must have columns {list(BASE_COLUMNS)}, missing {missing} "
            f"(got {reader.schema.names})"
        )
    reserved = [c for c in reader.schema.names if c in RESERVED]
    if reserved:
        raise RowError(f"column names {reserved} are reserved by posetable; rename them")
    target = layout.arrow_schema()
    done = 0
    for batch in reader:
        ids = pa.array(np.arange(done, done + batch.num_rows, dtype=np.int64))
        columns: list[pa.Array] = [ids]
        for name in target.names[1:]:
            column = batch.column(name)
            if column.offset:  # a slice: Lance needs nested offsets that start at 0
                column = pa.concat_arrays([column])
            try:
                columns.append(column.cast(target.field(name).type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise RowError(
                    f"rows {done}..{done + batch.num_rows - 1}: column {name!r} must be "
                    f"{target.field(name).type}: {exc}"
                ) from exc
        out = pa.RecordBatch.from_arrays(columns, schema=target)
        check_arrow_batch(out, layout.schema, done)
        yield out
        done += batch.num_rows


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_arrow_batch(batch: pa.RecordBatch, schema: Keypoints2DSchema, first_row: int) -> None:
    """Vectorised checks of a batch in the row layout; errors name the row (and instance)."""
    image = batch.column("image")
    empty = pc.fill_null(pc.equal(pc.utf8_length(image), 0), True)
    if pc.any(empty).as_py():
        r = _first_bad(empty.to_numpy(zero_copy_only=False))
        raise RowError(
            f"row {first_row + r}: 'image' must be a non-empty path or URL string, "
            f"got {image[r].as_py()!r}"
        )
    for key in ("width", "height"):
        values = batch.column(key)
        if values.null_count:
            r = _first_bad(values.is_null().to_numpy(zero_copy_only=False))
            raise RowError(
                f"row {first_row + r}: missing {key!r}; every row needs 'image', 'width' and "
                "'height'"
            )
        numbers = values.to_numpy()
        if np.any(numbers <= 0):
            r = _first_bad(numbers <= 0)
            raise RowError(
                f"row {first_row + r}: {key} must be a positive integer, got {int(numbers[r])}"
            )
    try:
        flat = flat_from_arrow(batch.column(KEYPOINTS_COLUMN), num_keypoints=schema.num_keypoints)
    except RowError as exc:
        raise RowError(f"rows {first_row}..{first_row + batch.num_rows - 1}: {exc}") from exc

    def where(t: int) -> str:
        r = int(np.searchsorted(flat.offsets, t, side="right") - 1)
        return f"row {first_row + r}, instance {t - int(flat.offsets[r])}"

    bad = ~np.isfinite(flat.keypoints)
    if bad.any():
        t, j = (int(v) for v in np.argwhere(bad)[0][:2])
        raise RowError(
            f"{where(t)}: keypoints must be finite, got {flat.keypoints[t, j].tolist()} "
            f"at keypoint {j}"
        )
    bad_vis = (flat.visibilities < 0) | (flat.visibilities > 2)
    if bad_vis.any():
        t, j = (int(v) for v in np.argwhere(bad_vis)[0])
        raise RowError(
            f"{where(t)}: keypoint_visibilities must be 0, 1 or 2, got "
            f"{int(flat.visibilities[t, j])} at keypoint {j}"
        )
    if not np.all(np.isfinite(flat.boxes)):
        t = _first_bad(~np.isfinite(flat.boxes).all(axis=1))
        raise RowError(f"{where(t)}: instance_bbs must be finite, got {flat.boxes[t].tolist()}")
    inverted = (flat.boxes[:, 2] < flat.boxes[:, 0]) | (flat.boxes[:, 3] < flat.boxes[:, 1])
    if inverted.any():
        t = _first_bad(inverted)
        raise RowError(
            f"{where(t)}: instance_bbs must be [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1, "
            f"got {flat.boxes[t].tolist()}"
        )
    n_classes = len(schema.classes)
    bad_label = (flat.labels < 0) | (flat.labels >= n_classes)
    if bad_label.any():
        t = _first_bad(bad_label)
        raise RowError(
            f"{where(t)}: instance label must be in [0, {n_classes - 1}], got {int(flat.labels[t])}"
        )
