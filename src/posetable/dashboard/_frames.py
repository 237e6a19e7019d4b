"""Frames of a video: stepping from a row to the previous / next frame of the same video.

A table whose rows are video frames has a ``video`` column (DeepLabCut's labeled-data
folder, SLEAP's and PoseTrack's video) and, where the format numbers them, ``frame_index``.
The frames of one video are ordered by ``frame_index`` when the table has it, else by the
``image`` path (DeepLabCut's ``img0042.png`` names sort in frame order), ties by row. Each
revision's order is computed once, over whole columns (no loop per row), and cached.

Example:
    >>> import pyarrow as pa
    >>> order = FrameOrder.from_columns(pa.table({"video": ["a", "b", "a", "a"],
    ...                                            "frame_index": [7, 0, 3, 5]}))
    >>> order.neighbours(0)["previous"], order.neighbours(0)["position"], order.count(0)
    (3, 2, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable.dashboard._state import _Lru
from posetable.errors import RowError
from posetable.table import Table

VIDEO_COLUMN = "video"
FRAME_COLUMN = "frame_index"
IMAGE_COLUMN = "image"
_ORDERS: _Lru[tuple[str, str, int], FrameOrder | None] = _Lru(8)  # revisions never change


@dataclass(frozen=True)
class FrameOrder:
    """Rows grouped by video, each group in frame order.

    ``order``: row numbers sorted by (video, frame, row); ``place[row]``: the row's index in
    ``order``; ``start`` / ``stop``: where its video's run in ``order`` begins and ends.
    """

    order: np.ndarray
    place: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    videos: list[Any]
    codes: np.ndarray
    frames: np.ndarray | None
    by: str

    @classmethod
    def from_columns(cls, data: pa.Table) -> FrameOrder:
        """The order of a table of ``video`` (+ ``frame_index`` or ``image``) columns."""
        n = data.num_rows
        encoded = pc.dictionary_encode(data.column(VIDEO_COLUMN).combine_chunks())
        codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
        videos = encoded.dictionary.to_pylist()
        rows = np.arange(n, dtype=np.int64)
        frames: np.ndarray | None = None
        if FRAME_COLUMN in data.column_names:
            raw = data.column(FRAME_COLUMN).combine_chunks()
            frames = np.asarray(raw.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
            key, by = frames, FRAME_COLUMN
        elif IMAGE_COLUMN in data.column_names:
            ranked = pc.rank(data.column(IMAGE_COLUMN).combine_chunks(), tiebreaker="dense")
            key, by = np.asarray(ranked.to_numpy(), np.int64), IMAGE_COLUMN
        else:
            key, by = rows, "row"
        order = np.lexsort((rows, key, codes))
        place = np.empty(n, np.int64)
        place[order] = rows
        sorted_codes = codes[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        starts = np.concatenate([[0], bounds]) if n else np.zeros(0, np.int64)
        stops = np.concatenate([bounds, [n]]) if n else np.zeros(0, np.int64)
        group = np.repeat(np.arange(len(starts)), stops - starts)
        start = np.empty(n, np.int64)
        stop = np.empty(n, np.int64)
        start[order] = starts[group]
        stop[order] = stops[group]
        return cls(order, place, start, stop, videos, codes, frames, by)

    def count(self, row: int) -> int:
        """How many frames the row's video has in the table (0: the row names no video)."""
        return int(self.stop[row] - self.start[row]) if self.codes[row] >= 0 else 0

    def neighbours(self, row: int) -> dict[str, Any]:
        """The row's video, frame, place among its video's frames and the rows around it."""
        at, start, stop = int(self.place[row]), int(self.start[row]), int(self.stop[row])
        code = int(self.codes[row])
        if code < 0:  # no video named: a still image, no frames around it
            start = stop = at

        def row_at(i: int) -> int | None:
            return int(self.order[i]) if start <= i < stop else None

        return {
            "video": self.videos[code] if code >= 0 else None,
            "frame_index": int(self.frames[row]) if self.frames is not None else None,
            "ordered_by": self.by,
            "position": at - start,
            "count": stop - start,
            "previous": row_at(at - 1),
            "next": row_at(at + 1),
            "first": row_at(start),
            "last": row_at(stop - 1),
        }


def frame_order(table: Table) -> FrameOrder | None:
    """The revision's frame order (cached), or None when it has no ``video`` column."""
    if VIDEO_COLUMN not in table.columns:
        return None

    def make() -> FrameOrder:
        wanted = [VIDEO_COLUMN]
        wanted += [FRAME_COLUMN] if FRAME_COLUMN in table.columns else [IMAGE_COLUMN]
        return FrameOrder.from_columns(table.to_arrow(columns=wanted))

    return _ORDERS.get((str(table.store.root), table.name, table.revision), make)


def frames_json(table: Table, row: int) -> dict[str, Any]:
    """What the image view's frame indicator shows for ``row`` (``video`` null: no video)."""
    n = len(table)
    if isinstance(row, bool) or not 0 <= int(row) < n:
        raise RowError(f"row {row} does not exist: table {table.ref} has {n} rows (0..{n - 1})")
    order = frame_order(table)
    base: dict[str, Any] = {"table": table.name, "revision": table.revision, "row": int(row)}
    if order is None:
        return base | {"video": None, "frame_index": None, "count": 0, "ordered_by": None}
    return base | order.neighbours(int(row))
