"""``TableWriter``: build a table by appending rows, committed as one revision.

Rows are validated and written to Lance data files a batch at a time (never all held in
Python); nothing is visible until :meth:`TableWriter.finalize` commits every file in one
Lance commit, so an abandoned or failed writer leaves no revision behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from lance import LanceOperation
from lance.dataset import LanceDataset, Transaction
from lance.fragment import FragmentMetadata, write_fragments

from posetable._commit import (
    ALL,
    commit_on,
    latest_version,
    publish,
    staging_uri,
    sweep_staging,
)
from posetable._rows import DEFAULT_BATCH_ROWS, RowLayout, build_batch
from posetable.errors import ConflictError, RevisionError, RowError, SchemaError
from posetable.schema import Keypoints2DSchema
from posetable.store import (
    METADATA_KEY,
    STORAGE_VERSION,
    check_if_exists,
    check_name,
    describe_write,
    encode_operation,
)
from posetable.table import StoreLike, Table, _metadata_json, resolve_store


class TableWriter:
    """Append rows to a new table (or a new revision of a name), then :meth:`finalize`.

    The same rows as :meth:`Table.from_rows` (``image``, ``width``, ``height``,
    ``keypoints`` and user columns), given one at a time (:meth:`add_row`), from any
    iterable (:meth:`add_rows`) or as columns (:meth:`add_batch`, 3LC's form). Used as a
    context manager it finalizes on success and discards everything on an exception.

    Args:
        name: the table name.
        schema: the keypoints schema.
        store: the store (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        metadata: JSON metadata kept with the revision.
        if_exists: when ``name`` already holds a table: ``"error"`` (default: raise
            :class:`~posetable.errors.TableExistsError` naming it; nothing is written) or
            ``"new_revision"`` (the rows become its next revision).
        operation: the operation recorded in the lineage.
        arguments: its arguments.
        batch_rows: rows validated and written together.

    Example:
        >>> import posetable as pt, tempfile
        >>> schema = pt.Keypoints2DSchema(keypoint_names=["head", "tail"])
        >>> with pt.TableWriter("fish", schema=schema, store=tempfile.mkdtemp()) as writer:
        ...     for i in range(3):
        ...         kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        ...         kp.add_instance([[10 + i, 10, 2], [20, 30, 2]])
        ...         writer.add_row({"image": f"{i}.jpg", "width": 64, "height": 48,
        ...                         "keypoints": kp})
        >>> table = writer.table
        >>> len(table), table.revision, table[2]["keypoints"].keypoints[0, 0].tolist()
        (3, 1, [12.0, 10.0])
    """

    def __init__(
        self,
        name: str,
        *,
        schema: Keypoints2DSchema,
        store: StoreLike = None,
        metadata: Mapping[str, Any] | None = None,
        if_exists: str = "error",
        operation: str = "create",
        arguments: Mapping[str, Any] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        if not isinstance(schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise RowError(f"batch_rows must be an int >= 1, got {batch_rows!r}")
        self._store = resolve_store(store)
        self._name = check_name(name, "table")
        final = self._store.table_uri(name)
        self._parent: int | None = check_if_exists(
            self._store, name, if_exists, describe_write(operation, arguments, schema)
        )
        exists = self._parent is not None
        self._layout = RowLayout(schema)
        self._meta = _metadata_json(schema, metadata)
        self._properties = encode_operation(
            operation, dict(arguments or {}), self._parent, ALL.to_json()
        )
        if exists:
            self._uri = final  # a new revision: its data files go beside the table's
        else:  # a new table is written apart and gets its name only when committed
            sweep_staging(self._store)
            self._uri = staging_uri(self._store, name)
        self._batch_rows = batch_rows
        self._pending: list[Mapping[str, Any]] = []
        self._fragments: list[FragmentMetadata] = []
        self._arrow_schema: pa.Schema | None = None
        self._written = 0
        self._state = "open"
        self._table: Table | None = None

    # -- adding rows -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._state != "open":
            raise RevisionError(f"this TableWriter for {self._name!r} is {self._state}")

    def add_row(self, row: Mapping[str, Any]) -> None:
        """Append one row (validated with its batch; errors name the row number)."""
        self._check_open()
        self._pending.append(row)
        if len(self._pending) >= self._batch_rows:
            self._flush()

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append every row of an iterable (a generator is fine)."""
        for row in rows:
            self.add_row(row)

    def append(self, row: Mapping[str, Any]) -> None:
        """Same as :meth:`add_row` (the list spelling)."""
        self.add_row(row)

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Same as :meth:`add_rows` (the list spelling)."""
        self.add_rows(rows)

    def add_batch(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """Append rows given as columns: ``{"image": [...], "width": [...], ...}``."""
        self._check_open()
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise RowError(f"add_batch columns must have one length, got {lengths}")
        count = next(iter(lengths.values()), 0)
        for i in range(count):
            self.add_row({name: values[i] for name, values in columns.items()})

    def __len__(self) -> int:
        """Rows added so far."""
        return self._written + len(self._pending)

    def _flush(self) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        ids = np.arange(self._written, self._written + len(rows), dtype=np.int64)
        try:
            batch = build_batch(rows, self._layout, ids, self._written)
            if self._arrow_schema is None:
                self._arrow_schema = batch.schema.with_metadata({METADATA_KEY: self._meta})
            batch = batch.replace_schema_metadata(self._arrow_schema.metadata)
            self._fragments += write_fragments(
                pa.Table.from_batches([batch]),
                str(self._uri),
                schema=self._arrow_schema,
                data_storage_version=STORAGE_VERSION,
            )
        except BaseException:
            self.abort()
            raise
        self._written += len(rows)

    # -- finishing ---------------------------------------------------------------------------
    def finalize(self) -> Table:
        """Write the last rows and commit everything as one new revision; returns it."""
        if self._state == "finalized" and self._table is not None:
            return self._table
        self._check_open()
        self._flush()
        if self._arrow_schema is None:
            self._layout.extras = self._layout.extras or {}
            self._layout.user_types = self._layout.user_types or {}
            self._arrow_schema = self._layout.arrow_schema().with_metadata(
                {METADATA_KEY: self._meta}
            )
        try:
            if self._parent is None:
                LanceDataset.commit(
                    str(self._uri),
                    Transaction(
                        0,
                        LanceOperation.Overwrite(self._arrow_schema, self._fragments),
                        transaction_properties=self._properties,
                    ),
                )
                dataset = publish(self._store, self._name, self._uri)
            else:
                txn = Transaction(
                    self._parent,
                    LanceOperation.Overwrite(self._arrow_schema, self._fragments),
                    transaction_properties=self._properties,
                )
                committed = commit_on(
                    self._uri, txn, base=self._parent, what=f"table {self._name!r}"
                )
                if committed is None:
                    raise ConflictError(
                        f"table {self._name!r} changed while writing: its latest revision is "
                        f"now {latest_version(self._uri)}, not {self._parent}; nothing was "
                        "written"
                    )
                dataset = committed
        except BaseException:
            self.abort()
            raise
        self._state = "finalized"
        self._table = Table(self._store, self._name, dataset)
        return self._table

    def close(self) -> Table:
        """Same as :meth:`finalize` (the file spelling)."""
        return self.finalize()

    def abort(self) -> None:
        """Discard everything added; no revision is made."""
        if self._state == "finalized":
            return
        self._state = "aborted"
        self._pending = []
        self._fragments = []
        if self._parent is None:
            shutil.rmtree(self._uri, ignore_errors=True)

    @property
    def table(self) -> Table:
        """The table made by :meth:`finalize`."""
        if self._table is None:
            raise RevisionError(f"the TableWriter for {self._name!r} has not been finalized")
        return self._table

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if error is None:
            self.finalize()
        else:
            self.abort()
