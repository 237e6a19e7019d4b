"""``posetable.tlc.TableWriter``: 3LC's row-by-row writer over :class:`posetable.TableWriter`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import posetable as pt
from posetable.errors import RevisionError, RowError, UnsupportedError
from posetable.tlc._names import DEFAULT_DATASET, DEFAULT_PROJECT, DEFAULT_TABLE, decide, target
from posetable.tlc._rows import ColumnPlan
from posetable.tlc._table import META, Table
from posetable.tlc._url import Url

UrlLike = str | os.PathLike[str] | Url


class TableWriter:
    """Write rows one at a time (or in column batches), then :meth:`finalize` (3LC's API).

    ``column_schemas`` names the keypoints column's ``Keypoints2DSchema``, the image column
    (``ImageUrlSchema``, or a column named ``image``) and optional user-column schemas;
    other columns of the first row are stored with their inferred type. Rows are streamed
    to disk in batches; nothing is visible until :meth:`finalize` commits them as one new
    table, and an exception inside ``with TableWriter(...)`` leaves nothing behind.

    Example:
        >>> import posetable.tlc as tlc, tempfile
        >>> writer = tlc.TableWriter(
        ...     table_name="fish", dataset_name="Fish", project_name="Aquarium",
        ...     column_schemas={"image": tlc.ImageUrlSchema(),
        ...                     "kpts": tlc.Keypoints2DSchema(num_keypoints=2)},
        ...     root_url=tempfile.mkdtemp())
        >>> kp = tlc.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        >>> kp.add_instance(keypoints=[[1, 2], [3, 4]], label=0)
        >>> writer.add_row({"image": "a.jpg", "kpts": kp.to_row(), "tank": 3})
        >>> table = writer.finalize()
        >>> len(table), table.columns, table[0]["tank"]
        (1, ['image', 'kpts', 'tank'], 3)
    """

    def __init__(
        self,
        table_name: str = DEFAULT_TABLE,
        dataset_name: str = DEFAULT_DATASET,
        project_name: str = DEFAULT_PROJECT,
        description: str = "",
        column_schemas: Mapping[str, Any] | None = None,
        if_exists: str = "rename",
        root_url: UrlLike | None = None,
        input_tables: Sequence[UrlLike] | None = None,
        bulk_data_chunk_size_mb: float | None = None,
        bulk_data_context_key: str | None = None,
        bulk_data_url: UrlLike | None = None,
        *,
        table_url: UrlLike | None = None,
    ) -> None:
        if bulk_data_url is not None:
            raise UnsupportedError(
                f"bulk_data_url={bulk_data_url!r} is not supported: posetable stores every "
                "value in the table; pass bulk_data_url=None"
            )
        if column_schemas is None:
            raise UnsupportedError(
                "column_schemas=None is not supported: posetable needs the keypoints column's "
                "Keypoints2DSchema (K, names, sigmas), e.g. column_schemas={'image': "
                "ImageUrlSchema(), 'keypoints_2d': Keypoints2DSchema(num_keypoints=17)}"
            )
        names_given = table_url is None
        self._where = target(
            table_name if names_given else None,
            dataset_name if names_given else None,
            project_name if names_given else None,
            root_url,
            table_url,
        )
        self._where, action = decide(
            self._where,
            if_exists,
            "this TableWriter's rows",
            choices=("raise", "rename", "overwrite"),
        )
        self._native_if_exists = "new_revision" if action == "new_revision" else "error"
        self._schemas = column_schemas
        self._extra = {
            "description": description or "",
            "input_tables": [Url(u).to_str() for u in input_tables or ()],
        }
        self._writer: pt.TableWriter | None = None
        self._plan: ColumnPlan | None = None
        self._rows = 0
        self._table: Table | None = None
        self._done = False

    @property
    def url(self) -> Url:
        """The url the table will have."""
        from posetable.tlc._names import table_url

        return table_url(self._where)

    @property
    def row_count(self) -> int:
        """Rows added so far."""
        return self._rows

    def _open(self, first: Mapping[str, Any]) -> pt.TableWriter:
        if self._done:
            raise RevisionError(f"this TableWriter for {self._where.name!r} is finalized")
        if self._writer is None:
            self._plan = ColumnPlan.from_structure(
                self._schemas, list(first), argument="column_schemas", weight=None
            )
            meta = self._plan.metadata(
                {
                    "project": self._where.project,
                    "dataset": self._where.dataset,
                    "table": self._where.table,
                    **self._extra,
                }
            )
            self._writer = pt.TableWriter(
                self._where.name,
                schema=self._plan.keypoint_schema,
                store=self._where.store,
                metadata={META: meta},
                if_exists=self._native_if_exists,
                operation="tlc_table_writer",
            )
        return self._writer

    def add_row(self, table_row: Mapping[str, Any]) -> None:
        """Add one row ``{column: value}``."""
        writer = self._open(table_row)
        if self._plan is None:  # pragma: no cover - set by _open
            raise RevisionError("the TableWriter has no column plan")
        row = self._plan.native_row(table_row, self._rows)  # a bad row is refused alone
        writer.add_row(row)  # a batch that fails to write discards the writer (posetable's)
        self._rows += 1

    def add_batch(self, table_batch: Mapping[str, Sequence[Any]]) -> None:
        """Add rows given as columns ``{column: [values]}`` (one length for all)."""
        lengths = {column: len(values) for column, values in table_batch.items()}
        if len(set(lengths.values())) > 1:
            raise RowError(f"add_batch columns must have one length, got {lengths}")
        count = next(iter(lengths.values()), 0)
        for i in range(count):
            self.add_row({column: values[i] for column, values in table_batch.items()})

    def finalize(self) -> Table:
        """Commit every row added as one new table and return it."""
        if self._table is not None:
            return self._table
        if self._writer is None:
            keys = list(self._schemas) if isinstance(self._schemas, Mapping) else []
            self._open(dict.fromkeys(keys))
        if self._writer is None:  # pragma: no cover - set by _open
            raise RevisionError("the TableWriter could not be opened")
        self._table = Table(self._writer.finalize())
        self._done = True
        return self._table

    def get_finalized_table(self) -> Table | None:
        """The written table, or None before :meth:`finalize` (or after a failure)."""
        return self._table

    def clear(self) -> None:
        """Discard every row added so far (nothing is written)."""
        if self._writer is not None:
            self._writer.abort()
        self._writer, self._plan, self._rows, self._done = None, None, 0, False

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if error is None:
            self.finalize()
        elif self._writer is not None:
            self._writer.abort()
