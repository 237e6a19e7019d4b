"""What a format reader hands to ``Table.from_*``, and what a writer gets from a table.

Formats never import :class:`~posetable.table.Table` (DESIGN §3): a reader returns an
:class:`Imported` (Arrow data in posetable's row layout, the schema, the metadata and the
notes to emit once the table is written); a writer takes an :class:`Exported` (the
revision's Arrow data, schema and metadata). ``Table.from_*`` / ``table.export_*`` are the
only places that cross between the two.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._arrow_decode import FlatKeypoints, flat_from_arrow
from posetable.errors import MissingDependencyError
from posetable.formats._notes import Notes
from posetable.schema import Keypoints2DSchema


@dataclass(frozen=True)
class Imported:
    """A file read into posetable's row layout, not yet written to a store.

    Attributes:
        data: ``image``, ``width``, ``height``, ``keypoints`` and user columns.
        schema: the keypoints schema.
        metadata: the table metadata (``metadata[<format>]`` keeps what export needs).
        notes: what the reader assumed; emitted once after the write succeeded.
        operation: the lineage operation (``"import_dlc"``).
        arguments: the lineage arguments.
    """

    data: pa.Table
    schema: Keypoints2DSchema
    metadata: dict[str, Any]
    notes: Notes
    operation: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exported:
    """One table revision as a writer sees it.

    Attributes:
        data: the revision's rows (Arrow).
        schema: the keypoints schema.
        metadata: the table metadata.
        ref: ``name@revision``, for messages.
    """

    data: pa.Table
    schema: Keypoints2DSchema
    metadata: Mapping[str, Any]
    ref: str = "table"

    def flat(self) -> FlatKeypoints:
        """The keypoints column as flat arrays (all instances of all rows)."""
        return flat_from_arrow(
            self.data.column(KEYPOINTS_COLUMN), num_keypoints=self.schema.num_keypoints
        )

    def column(self, name: str) -> list[Any] | None:
        """A user column as a Python list, or None when the table has none."""
        if name not in self.data.column_names:
            return None
        return self.data.column(name).to_pylist()

    def extra(self, flat: FlatKeypoints, name: str) -> np.ndarray | None:
        """A per-instance extra as (T,) values, or None when no row has it."""
        found = flat.extras.get(name)
        return None if found is None else found[0]


def rows_table(
    images: Sequence[str] | np.ndarray,
    widths: Sequence[int] | np.ndarray,
    heights: Sequence[int] | np.ndarray,
    keypoints: pa.Array,
    columns: Mapping[str, Any] | None = None,
) -> pa.Table:
    """An import's rows in posetable's layout: ``image``, ``width``, ``height``,
    ``keypoints``, then the format's own ``columns`` (Arrow arrays) in their order.

    Example:
        >>> from posetable._arrow import keypoints_column
        >>> kp = keypoints_column([1], np.zeros((1, 2, 2)), widths=[64], heights=[48])
        >>> rows_table(["a.jpg"], [64], [48], kp, {"split": pa.array(["val"])}).column_names
        ['image', 'width', 'height', 'keypoints', 'split']
    """
    return pa.table(
        {
            "image": pa.array(images, pa.string()),
            "width": pa.array(widths, pa.int32()),
            "height": pa.array(heights, pa.int32()),
            KEYPOINTS_COLUMN: keypoints,
            **(columns or {}),
        }
    )


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency or raise ``MissingDependencyError`` naming the extra.

    Example:
        >>> require("json", "dlc", "reading JSON").__name__
        'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f'{what} needs the optional dependency {module!r}: pip install "posetable[{extra}]"'
        ) from exc


def as_path(path: str | os.PathLike[str]) -> Path:
    """The argument as an absolute :class:`~pathlib.Path`."""
    return Path(path).expanduser().absolute()
