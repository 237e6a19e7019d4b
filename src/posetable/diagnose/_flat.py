"""A table's ground truth as flat arrays for the checks: one pass over the keypoints column.

Everything a rule needs, for every instance of every row at once (no object per instance):
points, visibility, boxes, labels, the COCO fields where the table has them, and the size
of the image each instance lies in.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from posetable.eval._columns import AREA_FROM_BOX, flatten_keypoints

if TYPE_CHECKING:
    from posetable.table import Table

EXTRAS = ("area", "iscrowd", "id", "num_keypoints", "coco_derived")
DERIVED_BOX = 16  # formats.coco: the bit of ``coco_derived`` for a box made from the points


@dataclass(frozen=True)
class GroundTruth:
    """Every instance of a table (N instances, K keypoints), in row order.

    Attributes:
        num_rows: rows of the table.
        row: (N,) table row of each instance.
        index: (N,) instance index within its row.
        keypoints: (N, K, 2) x, y.
        visibility: (N, K) int 0/1/2 (2 where the table holds no visibility).
        has_visibility: (N,) whether the table gave a visibility for the instance.
        labeled: (N, K) visibility > 0.
        box: (N, 4) xyxy.
        box_given: (N,) False where the box was derived from the points on import.
        label: (N,) class index.
        area: (N,) the COCO area (given) or box w*h*0.53.
        area_given: (N,) whether the area came from the data.
        num_keypoints: (N,) the ``num_keypoints`` field, NaN where the table has none.
        iscrowd: (N,) bool.
        ids: (N,) annotation id, -1 where none.
        width, height: (N,) size of the instance's image (NaN where unknown).
    """

    num_rows: int
    row: np.ndarray
    index: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    has_visibility: np.ndarray
    labeled: np.ndarray
    box: np.ndarray
    box_given: np.ndarray
    label: np.ndarray
    area: np.ndarray
    area_given: np.ndarray
    num_keypoints: np.ndarray
    iscrowd: np.ndarray
    ids: np.ndarray
    width: np.ndarray
    height: np.ndarray

    def __len__(self) -> int:
        return int(self.row.shape[0])

    @property
    def counts(self) -> np.ndarray:
        """(N,) number of labeled keypoints of each instance."""
        return self.labeled.sum(axis=1)

    @property
    def box_size(self) -> np.ndarray:
        """(N, 2) box width and height."""
        return self.box[:, 2:] - self.box[:, :2]

    def subset(self, keep: np.ndarray) -> GroundTruth:
        """The instances where ``keep`` (N,) is True, rows numbered as before."""
        at = np.flatnonzero(keep)
        values = {
            name: getattr(self, name)[at]
            for name in self.__dataclass_fields__
            if name != "num_rows"
        }
        return GroundTruth(num_rows=self.num_rows, **values)


BATCH_ROWS = 1 << 15  # rows read and flattened at a time: the Arrow column never whole
READ_AHEAD = 2  # batches Lance decodes ahead (its default, 16, holds ~500k rows)
_COLUMNS = ["width", "height", "keypoints"]


def read_ground_truth(table: Table, rows: np.ndarray | None = None) -> GroundTruth:
    """The table's instances as :class:`GroundTruth` (read :data:`BATCH_ROWS` rows at a
    time, so only the flat arrays and one batch are held); with ``rows`` (sorted, unique),
    only those rows' instances, numbered by their table rows."""
    k = table.schema.num_keypoints
    n_rows = len(table)
    if rows is not None:
        rows = np.asarray(rows, np.int64)
        return _ground_truth(table.take(rows, columns=_COLUMNS), rows, n_rows, k)
    parts = list(ground_truth_pieces(table, BATCH_ROWS))
    if not parts:
        return _ground_truth(table.to_arrow(columns=_COLUMNS), np.zeros(0, np.int64), n_rows, k)
    if len(parts) == 1:
        return parts[0]
    fields = [name for name in GroundTruth.__dataclass_fields__ if name != "num_rows"]
    joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in fields}
    return GroundTruth(num_rows=n_rows, **joined)


def ground_truth_pieces(table: Table, piece_rows: int) -> Iterator[GroundTruth]:
    """The table's instances in pieces of about ``piece_rows`` consecutive rows (the
    scan's batches gathered until they reach it), each numbered by its table rows: what
    :func:`read_ground_truth` gives, a piece at a time (none for a table without rows)."""
    k = table.schema.num_keypoints
    n_rows = len(table)
    start = 0
    pending: list[pa.RecordBatch] = []
    held = 0
    batches = table.iter_batches(
        batch_rows=min(piece_rows, BATCH_ROWS), columns=_COLUMNS, read_ahead=READ_AHEAD
    )
    for batch in itertools.chain(batches, [None]):  # None: the end, flush what is held
        if batch is not None:
            pending.append(batch)
            held += batch.num_rows
        if pending and (batch is None or held >= piece_rows):
            data = pa.Table.from_batches(pending)
            yield _ground_truth(data, np.arange(start, start + held), n_rows, k)
            start += held
            pending, held = [], 0


def _ground_truth(
    data: pa.Table | pa.RecordBatch, rows: np.ndarray, n_rows: int, k: int
) -> GroundTruth:
    """The instances of ``data`` (``width``, ``height``, ``keypoints`` of the table rows
    ``rows``) as :class:`GroundTruth`."""
    flat = flatten_keypoints(data.column("keypoints"), rows, k, extras=EXTRAS)
    n = flat.row.shape[0]
    if flat.visibility is None:
        visibility = np.full((n, k), 2, np.int64)
    else:
        visibility = flat.visibility.astype(np.int64)

    def extra(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in flat.extras:
            return np.full(n, np.nan), np.zeros(n, bool)
        values, given = flat.extras[name]
        return values, given & ~np.isnan(values)

    box = flat.box
    size = box[:, 2:] - box[:, :2]
    area, area_given = extra("area")
    area = np.where(area_given, area, size[:, 0] * size[:, 1] * AREA_FROM_BOX)
    number, number_given = extra("num_keypoints")
    crowd, crowd_given = extra("iscrowd")
    ids, ids_given = extra("id")
    derived, derived_given = extra("coco_derived")
    box_given = ~(derived_given & ((np.nan_to_num(derived).astype(np.int64) & DERIVED_BOX) > 0))
    widths = _column(data, "width", len(rows))
    heights = _column(data, "height", len(rows))
    position = np.searchsorted(rows, flat.row)  # each instance's entry in ``rows``
    return GroundTruth(
        num_rows=n_rows,
        row=flat.row,
        index=flat.index,
        keypoints=flat.keypoints,
        visibility=visibility,
        has_visibility=flat.has_visibility,
        labeled=visibility > 0,
        box=box,
        box_given=box_given,
        label=flat.label,
        area=area,
        area_given=area_given,
        num_keypoints=np.where(number_given, number, np.nan),
        iscrowd=crowd_given & (np.nan_to_num(crowd) != 0),
        ids=np.where(ids_given, np.nan_to_num(ids), -1).astype(np.int64),
        width=widths[position],
        height=heights[position],
    )


def _column(data: pa.Table | pa.RecordBatch, name: str, n_rows: int) -> np.ndarray:
    """(rows,) float64 of an int column, NaN where null or not positive."""
    column = data.column(name)
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    values[~(values > 0)] = np.nan
    return values if values.shape[0] == n_rows else np.full(n_rows, np.nan)
