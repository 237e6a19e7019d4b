"""``Table``: an immutable, versioned table of images and their keypoint instances.

One row per image: ``image``, ``width``, ``height``, ``keypoints`` (a
:class:`~posetable.Keypoints2DInstances`) and any user columns. Every edit returns a new
``Table`` at a new revision that records its parent; a revision never changes.

Rows keep a stable ``sample_id`` (hidden from :attr:`Table.columns`): Lance moves edited
rows to new fragments, so row position ``i`` is the ``i``-th smallest ``sample_id`` and
``table[i]`` means the same image in every revision until rows are deleted before it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow
from posetable._commit import (
    ALL,
    SCHEMA,
    Touch,
    commit_on,
    create_dataset,
    latest_version,
    rows_touch,
    write_new_version,
)
from posetable._lance_local import PerThreadDataset
from posetable._lazy import LazyModule
from posetable._rows import (
    BASE_COLUMNS,
    RESERVED,
    SAMPLE_ID,
    RowLayout,
    batches_from_arrow,
    batches_from_rows,
    build_batch,
    peek_batches,
)
from posetable._table_formats import TableFormats
from posetable._table_skeleton import TableSkeleton
from posetable.errors import (
    ConflictError,
    PosetableError,
    RevisionError,
    RowError,
    RowIndexError,
    SchemaError,
    StoreError,
)
from posetable.schema import Keypoints2DSchema
from posetable.store import (
    METADATA_KEY,
    STORAGE_VERSION,
    RevisionInfo,
    Store,
    StoreLike,
    check_if_exists,
    check_name,
    describe_write,
    encode_operation,
    parse_table_ref,
    read_operation_record,
    read_revision_info,
    read_table_metadata,
    resolve_store,
)

if TYPE_CHECKING:
    import lance
    import pandas
    import pyarrow as pa
    import pyarrow.parquet as pq
    from lance.dataset import LanceDataset, Transaction

    from posetable._flat_snapshot import Snapshot
else:
    lance = LazyModule("lance")
    pa = LazyModule("pyarrow")
    pq = LazyModule("pyarrow.parquet")

TABLE_FORMAT_VERSION = 1
#: bytes of reads Lance buffers in a scan bounded by ``iter_batches(read_ahead=...)``
BOUNDED_IO_BYTES = 16 << 20


def _column_values(values: Any, n: int, kind: pa.DataType, column: str) -> pa.Array:
    """``values`` (one, or ``n``) as an Arrow array of the column's type, safely cast."""
    if isinstance(values, (pa.Array, pa.ChunkedArray, np.ndarray, list, tuple)):
        given = pa.array(values) if not isinstance(values, pa.Array) else values
        if isinstance(given, pa.ChunkedArray):
            given = given.combine_chunks()
        if len(given) != n:
            raise RowError(f"set_values got {len(given)} values for {n} rows of {column!r}")
    else:
        given = pa.array([values] * n)
    try:
        return given.cast(kind, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise RowError(
            f"values for column {column!r} ({kind}) do not fit it: {given.type} ({exc})"
        ) from exc


def _metadata_json(schema: Keypoints2DSchema, metadata: Mapping[str, Any] | None) -> bytes:
    record = {
        "format_version": TABLE_FORMAT_VERSION,
        "schema": schema.to_dict(),
        "metadata": dict(metadata or {}),
    }
    try:
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise RevisionError(f"table metadata must be JSON values: {exc}") from exc


class _Guarded:
    """Wraps a batch iterator so our typed error survives Lance's writer."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.batches
        except BaseException as exc:
            self.error = exc
            raise


class Table(TableFormats, TableSkeleton):
    """An immutable revision of a keypoint table stored in a posetable store.

    Open one with :meth:`open`, make one with :meth:`from_rows` (or ``from_coco`` /
    ``from_yolo``); every edit returns a new ``Table``.

    Example:
        >>> import posetable as pt, tempfile
        >>> store = tempfile.mkdtemp()
        >>> kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        >>> kp.add_instance([[10, 10, 2], [20, 30, 1]])
        >>> schema = pt.Keypoints2DSchema(keypoint_names=["head", "tail"])
        >>> table = pt.Table.from_rows(
        ...     [{"image": "a.jpg", "width": 64, "height": 48, "keypoints": kp}],
        ...     name="demo", schema=schema, store=store)
        >>> len(table), table.revision, table.parent
        (1, 1, None)
        >>> table[0]["keypoints"].keypoints.tolist()
        [[[10.0, 10.0], [20.0, 30.0]]]
        >>> edited = table.with_rows({0: {"width": 32}})
        >>> edited.revision, edited.parent, edited[0]["width"], table[0]["width"]
        (2, 1, 32, 64)
        >>> pt.Table.open("demo", store=store).sql("SELECT count(*) AS n FROM t").to_pylist()
        [{'n': 1}]
    """

    def __init__(self, store: Store, name: str, dataset: LanceDataset) -> None:
        meta = read_table_metadata(dataset)
        self._start(
            store,
            name,
            PerThreadDataset.of(dataset),  # Lance handles are per thread
            Path(dataset.uri),
            meta,
            [n for n in dataset.schema.names if n != SAMPLE_ID],
        )

    def _start(
        self,
        store: Store,
        name: str,
        handles: PerThreadDataset,
        uri: Path,
        meta: Mapping[str, Any],
        columns: list[str],
    ) -> None:
        self._store = store
        self._name = name
        self._handles = handles
        self._version = handles.version
        self._local = threading.local()
        self._uri = uri
        self._schema = Keypoints2DSchema.from_dict(meta["schema"])
        self._metadata: dict[str, Any] = dict(meta.get("metadata") or {})
        self._info: RevisionInfo | None = None
        self._positions: np.ndarray | None = None
        self._ordered: bool | None = None
        self._ids: np.ndarray | None = None  # sample ids in physical order (a revision's are fixed)
        self._len: int | None = None
        self._columns = columns
        self._snapshot: Snapshot | None = None  # the flat snapshot it was opened from
        self._row_ids: np.ndarray | None = None  # sample ids in row order, kept

    @classmethod
    def _from_snapshot(cls, store: Store, name: str, snapshot: Snapshot) -> Table:
        """The revision a flat snapshot describes; its Lance dataset opens on first use."""
        table = cls.__new__(cls)
        uri = store.table_uri(name)
        handles = PerThreadDataset(uri, snapshot.revision)  # opens nothing yet
        meta = {"schema": snapshot.schema, "metadata": snapshot.metadata}
        table._start(store, name, handles, uri, meta, list(snapshot.columns))
        table._len = snapshot.num_rows
        table._snapshot = snapshot
        return table

    @property
    def _ds(self) -> LanceDataset:
        """This revision's Lance dataset for the calling thread (see ``_lance_local``)."""
        return self._handles.get()

    # -- opening and creating ------------------------------------------------------------
    @classmethod
    def open(cls, ref: str, *, store: StoreLike = None) -> Table:
        """Open ``"name"`` (latest revision) or ``"name@3"`` (revision 3).

        The store is ``store=``, else ``$POSETABLE_HOME``, else ``./posetable-data``.
        An unknown name or revision raises :class:`~posetable.errors.NotFoundError`
        listing the known ones.

        Example:
            >>> import posetable as pt, tempfile
            >>> store = tempfile.mkdtemp()
            >>> schema = pt.Keypoints2DSchema(1)
            >>> _ = pt.Table.from_rows([], name="empty", schema=schema, store=store)
            >>> pt.Table.open("empty@1", store=store).ref
            'empty@1'
        """
        name, revision = parse_table_ref(ref)
        resolved = resolve_store(store)
        # a revision evaluated before opens from its flat snapshot, without Lance
        from posetable._flat_snapshot import find as find_snapshot

        snapshot = find_snapshot(resolved, name, revision)
        if snapshot is not None:
            return cls._from_snapshot(resolved, name, snapshot)
        return cls(resolved, name, resolved.dataset(name, revision))

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        name: str,
        schema: Keypoints2DSchema,
        store: StoreLike = None,
        metadata: Mapping[str, Any] | None = None,
        if_exists: str = "error",
        operation: str = "create",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """Create a table (or a new revision of an existing name) from row dicts.

        Rows are ``{"image": str, "width": int, "height": int, "keypoints":
        Keypoints2DInstances or row value, **user_columns}``; they are read in batches and
        streamed to disk, never all held in Python. A failed write leaves nothing behind.

        Args:
            rows: any iterable of row dicts (a generator is fine).
            name: the table name.
            schema: the keypoints schema.
            store: the store (default ``$POSETABLE_HOME`` or ``./posetable-data``).
            metadata: extra JSON metadata kept with the revision (formats use it).
            if_exists: what to do when ``name`` already holds a table: ``"error"``
                (default: raise :class:`~posetable.errors.TableExistsError` naming it and
                this write; nothing is written) or ``"new_revision"`` (the rows become the
                next revision of that name, its parent the latest).
            operation: the operation name recorded in the lineage.
            arguments: the operation's arguments recorded in the lineage.

        Example:
            >>> import posetable as pt, tempfile
            >>> rows = ({"image": f"{i}.jpg", "width": 8, "height": 8} for i in range(3))
            >>> t = pt.Table.from_rows(rows, name="gen", schema=pt.Keypoints2DSchema(2),
            ...                        store=tempfile.mkdtemp())
            >>> len(t), len(t[2]["keypoints"])
            (3, 0)
        """
        if not isinstance(schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        layout = RowLayout(schema)
        return cls._write(
            batches_from_rows(rows, layout),
            layout,
            name=name,
            store=store,
            metadata=metadata,
            if_exists=if_exists,
            operation=operation,
            arguments=arguments,
        )

    @classmethod
    def from_arrow(
        cls,
        data: pa.Table | pa.RecordBatchReader,
        *,
        name: str,
        schema: Keypoints2DSchema,
        store: StoreLike = None,
        metadata: Mapping[str, Any] | None = None,
        if_exists: str = "error",
        operation: str = "create",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """Create a table from Arrow data already in posetable's row layout.

        The columns are ``image``, ``width``, ``height``, ``keypoints`` (the struct of
        :mod:`posetable._arrow`) and user columns. This is the fast path formats use:
        every batch is checked column-wise (sizes, K, finite coordinates, visibility),
        never row by row.

        Example:
            >>> import posetable as pt, tempfile
            >>> src = pt.Table.from_rows([{"image": "a.jpg", "width": 4, "height": 4}],
            ...     name="a", schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> copy = pt.Table.from_arrow(src.to_arrow(), name="b", schema=src.schema,
            ...                            store=src.store)
            >>> copy[0]["image"], copy.revision
            ('a.jpg', 1)
        """
        if not isinstance(schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        if not isinstance(data, (pa.Table, pa.RecordBatchReader)):
            raise RowError(
                f"from_arrow needs a pyarrow Table or RecordBatchReader, got {type(data).__name__}"
            )
        reader = data.to_reader() if isinstance(data, pa.Table) else data
        layout = RowLayout.from_arrow_schema(schema, reader.schema)
        return cls._write(
            batches_from_arrow(reader, layout),
            layout,
            name=name,
            store=store,
            metadata=metadata,
            if_exists=if_exists,
            operation=operation,
            arguments=arguments,
        )

    @classmethod
    def _write(
        cls,
        batches: Iterator[pa.RecordBatch],
        layout: RowLayout,
        *,
        name: str,
        store: StoreLike,
        metadata: Mapping[str, Any] | None,
        if_exists: str,
        operation: str,
        arguments: Mapping[str, Any] | None,
    ) -> Table:
        resolved = resolve_store(store)
        parent = check_if_exists(
            resolved, name, if_exists, describe_write(operation, arguments, layout.schema)
        )
        uri = resolved.table_uri(name)
        touched = ALL.to_json()
        properties = encode_operation(operation, dict(arguments or {}), parent, touched)
        meta = _metadata_json(layout.schema, metadata)
        arrow_schema, stream = peek_batches(batches, layout)
        arrow_schema = arrow_schema.with_metadata({METADATA_KEY: meta})
        guarded = _Guarded(stream)
        reader = pa.RecordBatchReader.from_batches(arrow_schema, iter(guarded))
        try:
            if parent is None:
                dataset = create_dataset(
                    resolved,
                    name,
                    lambda staged: _write_lance(reader, staged, arrow_schema, properties),
                )
            else:
                written = write_new_version(
                    uri,
                    reader,
                    base=parent,
                    what=f"table {name!r}",
                    schema=arrow_schema,
                    data_storage_version=STORAGE_VERSION,
                    transaction_properties=properties,
                )
                if written is None:
                    raise ConflictError(
                        f"table {name!r} got revision {latest_version(uri)} from another writer "
                        f"while this import was writing the revision after {parent}; nothing "
                        "was written"
                    )
                dataset = written
        except PosetableError:
            raise
        except Exception as exc:
            if guarded.error is not None:
                raise guarded.error from None
            raise StoreError(f"writing table {name!r} in {resolved.root} failed: {exc}") from exc
        return cls(resolved, name, dataset)

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The table name."""
        return self._name

    @property
    def store(self) -> Store:
        """The store holding the table."""
        return self._store

    @property
    def revision(self) -> int:
        """This revision's number (the Lance version)."""
        return self._version

    @property
    def info(self) -> RevisionInfo:
        """This revision's lineage record (parent, operation, arguments, time)."""
        if self._info is None:
            self._info = read_revision_info(self._ds, self.revision)
        return self._info

    @property
    def parent(self) -> int | None:
        """The parent revision number, or None for a first revision."""
        return self.info.parent

    @property
    def operation(self) -> str:
        """The operation that made this revision."""
        return self.info.operation

    @property
    def ref(self) -> str:
        """``"name@revision"``: what :meth:`open` takes to get exactly this revision."""
        return f"{self._name}@{self.revision}"

    @property
    def schema(self) -> Keypoints2DSchema:
        """The keypoints schema of this revision."""
        return self._schema

    @property
    def metadata(self) -> dict[str, Any]:
        """Format metadata kept with the revision (a copy)."""
        return dict(orjson.loads(orjson.dumps(self._metadata)))

    @property
    def columns(self) -> list[str]:
        """Column names (``image``, ``width``, ``height``, ``keypoints``, user columns)."""
        return list(self._columns)

    @property
    def dataset(self) -> LanceDataset:
        """The underlying Lance dataset at this revision (for Lance-aware tools)."""
        return self._ds

    def latest(self) -> Table:
        """The latest revision of this table."""
        return Table.open(self._name, store=self._store)

    def is_latest(self) -> bool:
        """Whether no revision was committed after this one."""
        return latest_version(self._uri) == self.revision

    def __repr__(self) -> str:
        return f"Table({self.ref!r}, rows={len(self)}, K={self._schema.num_keypoints})"

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        if self._len is None:
            self._len = int(self._ds.count_rows())
        return self._len

    def _physical(self) -> np.ndarray | None:
        """Physical offsets of positions 0..n-1, or None when physical order is row order."""
        if self._ordered is None:
            ids = self._scan_ids()
            self._ordered = bool(np.all(ids[1:] > ids[:-1]))
            if not self._ordered:
                self._positions = np.argsort(ids, kind="stable")
        return None if self._ordered else self._positions

    def _scan_ids(self) -> np.ndarray:
        """Sample ids in physical order: read once per Table object (a revision never
        changes), read-only so that no caller can alter the kept copy."""
        if self._ids is None:
            data = self._ds.to_table(columns=[SAMPLE_ID], scan_in_order=True)
            ids = np.array(data.column(SAMPLE_ID).to_numpy(), dtype=np.int64)
            ids.flags.writeable = False
            self._ids = ids
        return self._ids

    def sample_ids(self) -> np.ndarray:
        """The stable sample id of each row, in row order (kept across revisions)."""
        if self._row_ids is None:
            kept = None if self._snapshot is None else self._snapshot.row_column(SAMPLE_ID)
            if kept is None:
                ids = self._scan_ids()
                physical = self._physical()
                kept = ids if physical is None else ids[physical]
                kept.flags.writeable = False
            self._row_ids = kept
        return self._row_ids

    def _row_column(self, name: str) -> np.ndarray:
        """A numeric per-row column (``width``, ``height``) as numpy, in row order: from the
        flat snapshot the table was opened from when it keeps it, else read."""
        kept = None if self._snapshot is None else self._snapshot.row_column(name)
        if kept is not None:
            return kept
        values = self.to_arrow(columns=[name]).column(name).to_numpy(zero_copy_only=False)
        if self._snapshot is not None:  # kept for the next run made on this revision
            self._snapshot.keep_row_column(name, np.asarray(values, np.float64))
        return values

    def _positions_of(self, indices: Any) -> np.ndarray:
        """Row positions as an int64 array (negative counted from the end), checked."""
        raw = np.asarray(indices)
        if raw.size == 0:
            return np.zeros(0, dtype=np.int64)
        if raw.dtype.kind not in "iu" or raw.dtype == np.bool_:
            if raw.dtype.kind == "O" and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                for v in raw.ravel()
            ):
                raw = raw.astype(np.int64)
            else:
                raise RowError(f"row positions must be integers, got {raw.ravel()[:5].tolist()}")
        positions = raw.astype(np.int64).ravel()
        n = len(self)
        bad = (positions < -n) | (positions >= n)
        if bad.any():
            raise RowIndexError(
                f"row {int(positions[bad][0])} is out of range for table {self.ref} of {n} rows "
                f"(0..{n - 1})"
            )
        return np.where(positions < 0, positions + n, positions)

    def take(
        self, indices: Sequence[int] | np.ndarray, *, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Rows at the given positions as an Arrow table, in the order asked (one read).

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(4)], name="t", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> t.take([3, 0], columns=["image"]).column("image").to_pylist()
            ['3.jpg', '0.jpg']
        """
        positions = self._positions_of(indices)
        wanted = list(columns) if columns is not None else self._columns
        unknown = [c for c in wanted if c not in self._columns and c != SAMPLE_ID]
        if unknown:
            raise RowError(f"unknown columns {unknown}; table {self.ref} has {self._columns}")
        if len(positions) == 0:
            return self._ds.schema.empty_table().select(wanted)
        physical = self._physical()
        offsets = positions if physical is None else physical[positions]
        if len(offsets) == 1 or bool(np.all(offsets[1:] > offsets[:-1])):
            return self._take_offsets(offsets, wanted)
        unique, inverse = np.unique(offsets, return_inverse=True)
        got = self._take_offsets(unique, wanted)
        return got.take(pa.array(inverse.astype(np.int64)))

    def _take_offsets(self, offsets: np.ndarray, columns: list[str]) -> pa.Table:
        """Rows at increasing physical offsets, read fragment by fragment.

        A fragment's own ``take`` skips the dataset-level planning: one random row costs
        about three quarters of ``LanceDataset.take`` (measured with pylance 14.0.2).
        """
        cached = getattr(self._local, "fragments", None)
        if cached is None:
            fragments = self._ds.get_fragments()
            counts = np.array([f.count_rows() for f in fragments], dtype=np.int64)
            starts = np.zeros(len(fragments) + 1, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            cached = self._local.fragments = (fragments, starts)
        fragments, starts = cached
        which = np.searchsorted(starts, offsets, side="right") - 1
        parts = []
        for f in np.unique(which).tolist():
            local = offsets[which == f] - starts[f]
            parts.append(fragments[f].take(local.tolist(), columns=columns))
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def rows(self, indices: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """Rows at the given positions as dicts (keypoints as ``Keypoints2DInstances``).

        One batched read, however many rows: prefer it to a loop over ``table[i]``.
        """
        return _to_dicts(self.take(indices), self._schema.num_keypoints)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Row ``index`` as a dict; negative counts from the end."""
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"row index must be an int, got {type(index).__name__}")
        return self.rows([index])[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.iter_rows()

    def iter_rows(self, *, batch_rows: int = 1024) -> Iterator[dict[str, Any]]:
        """Iterate rows in order, reading ``batch_rows`` at a time."""
        k = self._schema.num_keypoints
        for batch in self.iter_batches(batch_rows=batch_rows):
            yield from _to_dicts(pa.Table.from_batches([batch]), k)

    def iter_batches(
        self,
        *,
        batch_rows: int = 4096,
        columns: Sequence[str] | None = None,
        read_ahead: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Iterate the table in row order as Arrow record batches.

        ``read_ahead``: how many batches Lance decodes ahead of the one handed out (default
        Lance's own, 16, from 4 fragments at once); a small number bounds the memory a long
        scan holds (and its reads are then buffered :data:`BOUNDED_IO_BYTES` at a time, not
        Lance's 2 GB: a million images' instances scanned so peaked 0.6-1 GB above the
        batch, 0.37 GB with it, in the same time).
        """
        wanted = list(columns) if columns is not None else self._columns
        physical = self._physical()
        if physical is None:
            ahead = None if read_ahead is None else max(1, int(read_ahead))  # None: Lance's
            yield from self._ds.to_batches(
                columns=wanted,
                batch_size=batch_rows,
                scan_in_order=True,
                batch_readahead=ahead,
                fragment_readahead=None if ahead is None else 1,
                io_buffer_size=None if ahead is None else BOUNDED_IO_BYTES,
            )
            return
        for start in range(0, len(self), batch_rows):
            positions = np.arange(start, min(start + batch_rows, len(self)))
            yield from self.take(positions, columns=wanted).to_batches()

    def to_arrow(self, *, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole revision as an Arrow table in row order (schema metadata included)."""
        wanted = list(columns) if columns is not None else self._columns
        physical = self._physical()
        data = self._ds.to_table(columns=wanted, scan_in_order=True)
        if physical is not None:
            data = data.take(pa.array(physical))
        return data.replace_schema_metadata(self._arrow_metadata())

    def _arrow_metadata(self) -> dict[bytes, bytes]:
        record = orjson.loads(_metadata_json(self._schema, self._metadata))
        record["table"] = {"name": self._name, "revision": self.revision, "parent": self.parent}
        return {METADATA_KEY.encode(): orjson.dumps(record)}

    def to_pandas(self) -> pandas.DataFrame:
        """The revision as a pandas DataFrame (needs pandas)."""
        try:
            import pandas  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise PosetableError("to_pandas needs pandas: pip install pandas") from exc
        return self.to_arrow().to_pandas()

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write plain Parquet with the schema in its key-value metadata under ``posetable``.

        Example:
            >>> import posetable as pt, tempfile, pyarrow.parquet as pq
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 8, "height": 8}],
            ...     name="p", schema=pt.Keypoints2DSchema(3), store=tempfile.mkdtemp())
            >>> path = t.to_parquet(t.store.root / "p.parquet")
            >>> b"posetable" in pq.read_schema(path).metadata
            True
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.to_arrow(), target)
        return target

    def sql(self, query: str) -> pa.Table:
        """Run DuckDB SQL over this revision, visible as ``t`` (with ``row`` and ``sample_id``).

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8 * (i + 1), "height": 8}
            ...     for i in range(3)], name="q", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> t.sql("SELECT row, width FROM t WHERE width > 8 ORDER BY row").to_pylist()
            [{'row': 1, 'width': 16}, {'row': 2, 'width': 24}]
        """
        import duckdb  # on first use: opening and reading a table needs no query engine

        con = duckdb.connect()
        try:
            con.register("_posetable_lance", self._ds)
            con.execute(
                "CREATE VIEW t AS SELECT (row_number() OVER (ORDER BY sample_id) - 1)::BIGINT "
                "AS row, * FROM _posetable_lance"
            )
            relation = con.sql(query)
            if relation is None:
                raise PosetableError(f"SQL on table {self.ref} must be a query that returns rows")
            if hasattr(relation, "to_arrow_table"):
                return relation.to_arrow_table()
            return relation.arrow()  # pragma: no cover - older DuckDB
        except duckdb.Error as exc:
            raise PosetableError(f"SQL failed on table {self.ref}: {exc}") from exc
        finally:
            con.close()

    # -- lineage ---------------------------------------------------------------------------
    def history(self) -> list[RevisionInfo]:
        """The lineage of this revision: itself, its parent, ... back to the first.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 8, "height": 8}],
            ...     name="h", schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> e = t.with_rows({0: {"image": "b.jpg"}})
            >>> [(h.revision, h.operation, h.parent) for h in e.history()]
            [(2, 'edit_rows', 1), (1, 'create', None)]
        """
        latest = lance.dataset(str(self._uri))
        stamps = {int(v["version"]): v.get("timestamp") for v in latest.versions()}
        seen: set[int] = set()
        out = []
        version: int | None = self.revision
        while version is not None and version not in seen:
            seen.add(version)
            info = read_revision_info(latest, version, timestamps=stamps)
            out.append(info)
            version = info.parent
        return out

    def revisions(self) -> list[RevisionInfo]:
        """Every revision of this table name, oldest first."""
        latest = lance.dataset(str(self._uri))
        stamps = {int(v["version"]): v.get("timestamp") for v in latest.versions()}
        return [read_revision_info(latest, v, timestamps=stamps) for v in sorted(stamps)]

    # -- editing ---------------------------------------------------------------------------
    def _at(self, version: int) -> Table:
        """Another revision of this table (the latest one an edit is rebuilt on)."""
        if version == self.revision:
            return self
        return Table(self._store, self._name, lance.dataset(str(self._uri), version=version))

    def _refuse_unless_rebuildable(self, touch: Touch, since: int, latest: int) -> None:
        """Raise ConflictError unless every revision after ``since`` up to ``latest`` touched
        nothing that an edit touching ``touch`` changes (DESIGN §1b)."""
        dataset = lance.dataset(str(self._uri), version=latest)
        for version in range(since + 1, latest + 1):
            record = read_operation_record(dataset, version)
            theirs = Touch.from_json(record.get("touched"))
            if touch.compatible(theirs):
                continue
            what = {"rows": "rows", "schema": "the schema"}.get(theirs.kind, "the table")
            if theirs.kind == "rows" and touch.kind == "rows":
                both = sorted(touch.sample_ids & theirs.sample_ids)[:5]
                what = f"the same rows (sample ids {both})"
            raise ConflictError(
                f"table {self._name!r}: this edit is based on revision {since}, but revision "
                f"{version} ({record.get('operation', 'unknown')}) changed {what} since "
                f"(latest is {latest}); nothing was written. Open Table.open({self._name!r}) "
                f"and redo the edit on revision {latest}, or keep revision {self.revision} "
                f"apart with table.derive(new_name)"
            )

    def check_editable(self, rows: Iterable[int] | None = None, *, schema: bool = False) -> None:
        """Raise :class:`~posetable.errors.ConflictError` now if an edit based on this
        revision could not be committed: of ``rows``, of the schema (``schema=True``), or,
        with neither, of the whole table. Clients call it before validating an edit, so a
        stale edit hears about the conflict first.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(2)], name="k", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> _ = t.with_rows({0: {"width": 4}})
            >>> t.check_editable(rows=[1])  # row 1 did not change since: fine
            >>> t.check_editable(rows=[0])
            Traceback (most recent call last):
            ...
            posetable.errors.ConflictError: table 'k': this edit is based on revision 1, ...
        """
        latest = latest_version(self._uri)
        if latest == self.revision:
            return
        touch = ALL
        if rows is not None:
            try:
                touch = rows_touch(self.sample_ids()[self._positions_of(list(rows))])
            except RowError:
                self._refuse_if_stale()
                raise
        elif schema:
            touch = SCHEMA
        self._refuse_unless_rebuildable(touch, self.revision, latest)

    def _refuse_if_stale(self) -> None:
        """ConflictError when this revision is not the latest (for edits that cannot say what
        they touch, e.g. rows out of range here: the latest revision decides)."""
        latest = latest_version(self._uri)
        if latest != self.revision:
            raise ConflictError(
                f"table {self._name!r}: revision {self.revision} is not the latest ({latest}) and "
                f"this edit cannot be applied to it; nothing was written. Open "
                f"Table.open({self._name!r}) and redo the edit on revision {latest}"
            )

    def _edit(
        self,
        build: Callable[[Table], Transaction],
        *,
        operation: str,
        arguments: Mapping[str, Any],
        touch: Touch,
    ) -> Table:
        """Commit ``build(base)`` as the revision after ``base``, atomically.

        ``base`` is this revision; when another writer committed after it, the edit is
        rebuilt on the new latest if that writer touched nothing this edit touches, and
        refused with :class:`~posetable.errors.ConflictError` otherwise. The recorded parent
        is always the revision the edit was applied to.
        """
        base: Table = self
        latest = latest_version(self._uri)
        if latest != self.revision:
            self._refuse_unless_rebuildable(touch, self.revision, latest)
            base = self._at(latest)
        for _ in range(_MAX_REBUILDS):
            txn = build(base)
            txn.transaction_properties = encode_operation(
                operation, dict(arguments), base.revision, touch.to_json()
            )
            dataset = commit_on(self._uri, txn, base=base.revision, what=f"table {self._name!r}")
            if dataset is not None:
                return Table(self._store, self._name, dataset)
            latest = latest_version(self._uri)
            self._refuse_unless_rebuildable(touch, base.revision, latest)
            base = self._at(latest)
        raise ConflictError(
            f"table {self._name!r} kept changing under this edit ({_MAX_REBUILDS} tries); "
            "nothing was written, retry later"
        )

    def restore(self) -> Table:
        """Make this revision's content the latest again, as a new revision.

        The new revision's parent is the latest it was applied to; its arguments name the
        revision restored. It refuses (``ConflictError``) when another writer commits while
        it runs, so no newer work is dropped unseen. To undo one revision's change and keep
        everything after it, use :meth:`revert`.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 8, "height": 8}],
            ...     name="r", schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> e = t.with_rows({0: {"image": "b.jpg"}})
            >>> back = t.restore()
            >>> back.revision, back.parent, back[0]["image"], back.info.arguments
            (3, 2, 'a.jpg', {'revision': 1})
        """
        latest = latest_version(self._uri)
        txn = lance.Transaction(latest, lance.LanceOperation.Restore(self.revision))
        txn.transaction_properties = encode_operation(
            "restore", {"revision": self.revision}, latest, ALL.to_json()
        )
        dataset = commit_on(self._uri, txn, base=latest, what=f"table {self._name!r}")
        if dataset is None:
            raise ConflictError(
                f"table {self._name!r} changed while restoring revision {self.revision} over "
                f"revision {latest}; nothing was written"
            )
        return Table(self._store, self._name, dataset)

    def revert(self) -> Table:
        """Undo this revision's change on the latest revision, keeping every later change.

        A row edit puts those rows back as they were in its parent; a schema edit puts the
        parent's schema back; anything else (deleted rows, a new column, an import) can be
        reverted only while it is the latest. When a later revision changed what this one
        changed, it raises :class:`~posetable.errors.ConflictError` and writes nothing.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(2)], name="v", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> a = t.with_rows({0: {"width": 1}})
            >>> b = a.with_rows({1: {"width": 2}})
            >>> undone = a.revert()
            >>> [r["width"] for r in undone], undone.parent, undone.operation
            ([8, 2], 3, 'revert')
        """
        if self.parent is None:
            raise RevisionError(
                f"revision {self.revision} of {self._name!r} is its first; there is nothing "
                "to revert"
            )
        touch = Touch.from_json(read_operation_record(self._ds, self.revision).get("touched"))
        parent = self._at(self.parent)
        arguments = {"revision": self.revision}
        if touch.kind == "rows":
            ids = np.array(sorted(touch.sample_ids), dtype=np.int64)

            def rows_back(base: Table) -> Transaction:
                return base._merge_rows_txn(base._positions_of_ids(ids), parent, ids)

            return self._edit(rows_back, operation="revert", arguments=arguments, touch=touch)
        if touch.kind == "schema":

            def schema_back(base: Table) -> Transaction:
                return base._schema_txn(parent.schema, parent._metadata)

            return self._edit(schema_back, operation="revert", arguments=arguments, touch=touch)
        latest = latest_version(self._uri)
        if latest != self.revision:
            raise ConflictError(
                f"table {self._name!r}: revision {self.revision} ({self.operation}) can be "
                f"reverted only while it is the latest, and revision {latest} came after it; "
                "nothing was written"
            )
        return parent._restore_on(self.revision, arguments)

    def _restore_on(self, base: int, arguments: Mapping[str, Any]) -> Table:
        txn = lance.Transaction(base, lance.LanceOperation.Restore(self.revision))
        txn.transaction_properties = encode_operation(
            "revert", dict(arguments), base, ALL.to_json()
        )
        dataset = commit_on(self._uri, txn, base=base, what=f"table {self._name!r}")
        if dataset is None:
            raise ConflictError(
                f"table {self._name!r} changed while reverting revision {base}; nothing was written"
            )
        return Table(self._store, self._name, dataset)

    def _positions_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """Row positions of sample ids (every id must be in this revision)."""
        mine = self.sample_ids()
        where = np.searchsorted(mine, ids)
        found = (where < len(mine)) & (mine[np.minimum(where, len(mine) - 1)] == ids)
        if not found.all():
            raise ConflictError(
                f"table {self._name!r}: rows with sample ids {ids[~found][:5].tolist()} are no "
                f"longer in revision {self.revision}; nothing was written"
            )
        return where.astype(np.int64)

    def _merge_rows_txn(
        self, positions: np.ndarray, source: Table, source_ids: np.ndarray
    ) -> Transaction:
        """Replace the rows at ``positions`` of this revision by ``source``'s rows of ids."""
        rows = source.rows(source._positions_of_ids(source_ids))
        return self._rows_txn(positions, rows, source_ids)

    def _rows_txn(
        self, positions: np.ndarray, rows: list[dict[str, Any]], ids: np.ndarray
    ) -> Transaction:
        """The merge of full row dicts at ``positions`` (sample ``ids``) of this revision,
        validated here."""
        layout = RowLayout.from_arrow_schema(self._schema, self._ds.schema)
        order = np.argsort(positions)
        batch = build_batch(
            [rows[i] for i in order], layout, ids[order], 0, row_numbers=positions[order]
        )
        txn, _ = (
            self._ds.merge_insert(SAMPLE_ID)
            .when_matched_update_all()
            .execute_uncommitted(pa.Table.from_batches([batch]))
        )
        return txn

    def _schema_txn(self, schema: Keypoints2DSchema, metadata: Mapping[str, Any]) -> Transaction:
        if schema.num_keypoints != self._schema.num_keypoints:
            raise SchemaError(
                f"a new schema must keep K={self._schema.num_keypoints} keypoints, got "
                f"{schema.num_keypoints}"
            )
        meta = _metadata_json(schema, metadata).decode()
        return lance.Transaction(
            self.revision,
            lance.LanceOperation.UpdateConfig(
                schema_metadata_updates=lance.LanceOperation.UpdateMap({METADATA_KEY: meta})
            ),
        )

    def with_rows(
        self,
        rows: Mapping[int, Mapping[str, Any]],
        *,
        operation: str = "edit_rows",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """A new revision with some rows replaced (only those rows are written).

        ``rows`` maps a row position to a row dict; keys left out of a row keep their value.
        The edit commits on top of this revision; if another writer committed since, it is
        applied to the new latest when that writer changed other rows only, and raises
        :class:`~posetable.errors.ConflictError` otherwise (DESIGN §1b).

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(3)], name="w", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> kp = pt.Keypoints2DInstances.create_empty(image_width=8, image_height=8)
            >>> kp.add_instance([[4, 4, 2]])
            >>> e = t.with_rows({1: {"keypoints": kp}})
            >>> [len(r["keypoints"]) for r in e], [len(r["keypoints"]) for r in t]
            ([0, 1, 0], [0, 0, 0])
        """
        if not isinstance(rows, Mapping):
            raise RowError(f"with_rows needs a dict {{row: row dict}}, got {type(rows).__name__}")
        if not rows:
            raise RowError("with_rows needs at least one row to change, got none")
        try:
            positions = self._positions_of(list(rows))
        except RowError:
            self._refuse_if_stale()
            raise
        if len(set(positions.tolist())) != len(positions):
            raise RowError(f"with_rows names a row twice: {sorted(rows)}")
        for pos, new in zip(positions.tolist(), rows.values(), strict=True):
            if not isinstance(new, Mapping):
                raise RowError(f"row {pos}: a row must be a dict, got {type(new).__name__}")
        changes = [dict(new) for new in rows.values()]
        ids = self.sample_ids()[positions]  # the same in every revision an edit lands on
        touch = rows_touch(ids)

        def build(base: Table) -> Transaction:
            current = base.rows(positions)
            merged = [{**old, **new} for old, new in zip(current, changes, strict=True)]
            return base._rows_txn(positions, merged, ids)

        args = {"rows": sorted(positions.tolist()), **dict(arguments or {})}
        return self._edit(build, operation=operation, arguments=args, touch=touch)

    def set_values(
        self,
        column: str,
        values: Any,
        rows: Iterable[int] | np.ndarray | None = None,
        *,
        operation: str = "set_values",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """A new revision where one user column of ``rows`` (default: every row) holds
        ``values`` (one value for all, or one per row).

        The edit stays in Arrow (no row dicts), so it costs about what writing those rows'
        bytes costs: setting 100,000 weights is one merge, not 100,000 row edits. The
        values are cast to the column's type; a value that does not fit is refused. Racing
        edits follow the same rule as :meth:`with_rows` (only those rows are touched).

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8,
            ...     "weight": 1.0} for i in range(4)], name="v",
            ...     schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> e = t.set_values("weight", 0.0, rows=[1, 3])
            >>> e.to_arrow(columns=["weight"]).column("weight").to_pylist()
            [1.0, 0.0, 1.0, 0.0]
        """
        if column not in self._columns:
            raise RowError(f"unknown column {column!r}; table {self.ref} has {self._columns}")
        if column in (*BASE_COLUMNS, KEYPOINTS_COLUMN, *RESERVED):
            raise RowError(
                f"set_values edits user columns; {column!r} is one of the table's own columns "
                "(edit it with with_rows, which checks rows as a whole)"
            )
        if rows is None:
            positions = np.arange(len(self), dtype=np.int64)
        else:
            try:
                positions = self._positions_of(list(np.asarray(list(rows)).tolist()))
            except RowError:
                self._refuse_if_stale()
                raise
        if len(positions) == 0:
            raise RowError("set_values needs at least one row to change, got none")
        if len(np.unique(positions)) != len(positions):
            raise RowError("set_values names a row twice")
        field = self._ds.schema.field(column)
        array = _column_values(values, len(positions), field.type, column)
        ids = self.sample_ids()[positions]
        order = np.argsort(positions, kind="stable")

        def build(base: Table) -> Transaction:
            names = [*base._columns, SAMPLE_ID]
            current = base.take(positions[order], columns=names)
            index = current.schema.get_field_index(column)
            updated = current.set_column(index, field, array.take(pa.array(order)))
            txn, _ = (
                base._ds.merge_insert(SAMPLE_ID)
                .when_matched_update_all()
                .execute_uncommitted(updated)
            )
            return txn

        args = {"column": column, "rows": sorted(positions.tolist()), **dict(arguments or {})}
        return self._edit(build, operation=operation, arguments=args, touch=rows_touch(ids))

    def delete_rows(self, indices: Iterable[int]) -> Table:
        """A new revision without the given rows (later rows move up).

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(3)], name="d", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> [r["image"] for r in t.delete_rows([0])]
            ['1.jpg', '2.jpg']
        """
        positions = np.unique(self._positions_of(list(indices)))
        if not len(positions):
            raise RowError("delete_rows needs at least one row index, got none")
        ids = self.sample_ids()[positions]

        def build(base: Table) -> Transaction:
            txn, _ = (
                base._ds.merge_insert(SAMPLE_ID)
                .when_matched_delete()
                .execute_uncommitted(pa.table({SAMPLE_ID: pa.array(ids, pa.int64())}))
            )
            return txn

        arguments = {"rows": positions.tolist()}
        return self._edit(build, operation="delete_rows", arguments=arguments, touch=ALL)

    def add_column(self, name: str, values: Sequence[Any] | np.ndarray | pa.Array) -> Table:
        """A new revision with one more column (one value per row, in row order).

        Only the new column is written; the existing data files are kept.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(2)], name="c", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> t.add_column("split", ["train", "val"])[1]["split"]
            'val'
        """
        if not isinstance(name, str) or not name or name.startswith("_"):
            raise RowError(
                f"a column name must be a non-empty string not starting with '_', got {name!r}"
            )
        if name in self._ds.schema.names or name in RESERVED or name in BASE_COLUMNS:
            raise RowError(
                f"column {name!r} already exists or is reserved (columns: {self.columns})"
            )
        try:
            if isinstance(values, (pa.Array, pa.ChunkedArray)):
                array = values
            elif isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
                array = pa.array(values)
            else:
                items = values.tolist() if isinstance(values, np.ndarray) else list(values)
                array = pa.array(items)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise RowError(
                f"add_column {name!r}: values cannot be stored as one column: {exc}"
            ) from exc
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_null(array.type):
            array = array.cast(pa.string())
        n = len(self)
        if len(array) != n:
            raise RowError(f"add_column {name!r} needs {n} values (one per row), got {len(array)}")
        if n == 0:
            raise RowError(f"add_column {name!r}: the table has no rows to fill")
        ids = self.sample_ids()
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        by_sorted_id = array.take(pa.array(order))

        def build(base: Table) -> Transaction:
            fragments = []
            merged_schema = None
            for fragment in base._ds.get_fragments():

                def values_for(
                    batch: pa.RecordBatch, column: pa.Array = by_sorted_id
                ) -> pa.RecordBatch:
                    where = np.searchsorted(sorted_ids, batch.column(SAMPLE_ID).to_numpy())
                    return pa.RecordBatch.from_arrays([column.take(pa.array(where))], names=[name])

                new_fragment, merged_schema = fragment.merge_columns(
                    values_for, columns=[SAMPLE_ID]
                )
                fragments.append(new_fragment)
            return lance.Transaction(
                base.revision, lance.LanceOperation.Merge(fragments, merged_schema)
            )

        return self._edit(build, operation="add_column", arguments={"name": name}, touch=ALL)

    def with_schema(
        self,
        schema: Keypoints2DSchema,
        *,
        operation: str = "edit_schema",
        arguments: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Table:
        """A new revision with another schema (same K); no data file is rewritten.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([], name="s", schema=pt.Keypoints2DSchema(2),
            ...                        store=tempfile.mkdtemp())
            >>> t2 = t.with_schema(t.schema.replace(keypoint_names=["a", "b"]))
            >>> t2.schema.keypoint_names, t.schema.keypoint_names
            (('a', 'b'), ('kpt_0', 'kpt_1'))
        """
        if not isinstance(schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        self._schema_txn(schema, self._metadata)  # K is checked before anything else runs

        def build(base: Table) -> Transaction:
            return base._schema_txn(schema, base._metadata if metadata is None else metadata)

        return self._edit(build, operation=operation, arguments=dict(arguments or {}), touch=SCHEMA)

    def derive(
        self,
        name: str,
        *,
        schema: Keypoints2DSchema | None = None,
        store: StoreLike = None,
        rows: Sequence[int] | np.ndarray | None = None,
        metadata: Mapping[str, Any] | None = None,
        operation: str = "derive",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """A NEW table ``name`` (revision 1) with this revision's rows, and lineage to it.

        This is how to build on an older revision without touching the table's own
        history (3LC's way: every derived table names its source). ``schema`` (same K)
        replaces the schema in the same write. ``rows`` (positions, each at most once)
        keeps only those rows, in table order (a split); ``metadata`` entries are added
        to this revision's metadata. The rows keep their sample ids. A name that already
        holds a table raises :class:`~posetable.errors.ConflictError`; nothing is written.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 8, "height": 8}],
            ...     name="src", schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> e = t.with_rows({0: {"width": 4}})
            >>> old = t.derive("src-v1")
            >>> old.ref, old[0]["width"], old.source, e.latest().revision
            ('src-v1@1', 8, 'src@1', 2)
            >>> [r["image"] for r in e.derive("first", rows=[0])]
            ['a.jpg']
        """
        new_schema = self._schema if schema is None else schema
        if not isinstance(new_schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        self._schema_txn(new_schema, self._metadata)
        check_name(name, "table")
        target = self._store if store is None else resolve_store(store)
        if metadata is not None and not isinstance(metadata, Mapping):
            raise RevisionError(f"metadata must be a dict, got {type(metadata).__name__}")
        meta = _metadata_json(new_schema, {**self._metadata, **dict(metadata or {})})
        arrow_schema = self._ds.schema.with_metadata({METADATA_KEY: meta})
        if rows is None:
            batches: Iterable[pa.RecordBatch] = self._ds.to_batches(scan_in_order=True)
        else:
            positions = self._positions_of(rows)
            unique = np.unique(positions)
            if len(unique) != len(positions):
                twice = sorted({int(p) for p in positions if np.sum(positions == p) > 1})[:5]
                raise RowError(f"derive rows= names rows {twice} more than once")
            batches = self._batches_at(unique, arrow_schema.names)
        reader = pa.RecordBatchReader.from_batches(
            arrow_schema, (b.replace_schema_metadata(arrow_schema.metadata) for b in batches)
        )
        args = {"source": self.ref, **dict(arguments or {})}
        if rows is not None:
            args.setdefault("rows", len(unique))
        properties = encode_operation(operation, args, None, ALL.to_json())
        dataset = create_dataset(
            target, name, lambda uri: _write_lance(reader, uri, arrow_schema, properties)
        )
        return Table(target, name, dataset)

    def _batches_at(
        self, positions: np.ndarray, columns: Sequence[str], *, chunk: int = 16384
    ) -> Iterator[pa.RecordBatch]:
        """The rows at increasing ``positions``, read ``chunk`` at a time."""
        for start in range(0, len(positions), chunk):
            yield from self.take(positions[start : start + chunk], columns=columns).to_batches()

    @property
    def source(self) -> str | None:
        """``"name@revision"`` this table was derived from (:meth:`derive`), or None."""
        value = self.history()[-1].arguments.get("source")
        return value if isinstance(value, str) else None

    def lineage(self) -> list[str]:
        """Every revision this one descends from, itself first, as ``"name@revision"``.

        Its own history, then on through :meth:`derive` into the source table's history
        (a derived table keeps its rows' sample ids, so a run made on an ancestor maps onto
        it). A source that was deleted ends the list.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 8, "height": 8}],
            ...     name="l", schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> d = t.with_rows({0: {"width": 4}}).derive("l-copy")
            >>> d.lineage()
            ['l-copy@1', 'l@2', 'l@1']
        """
        refs: list[str] = []
        table: Table = self
        while True:
            history = table.history()
            refs += [f"{table.name}@{info.revision}" for info in history]
            source = history[-1].arguments.get("source") if history else None
            if not isinstance(source, str) or source in refs:
                return refs
            try:
                table = Table.open(source, store=self._store)
            except PosetableError:  # the source is gone (or not a table ref)
                return refs


_MAX_REBUILDS = 32


def _write_lance(
    data: pa.RecordBatchReader, uri: Path, schema: pa.Schema, properties: dict[str, str]
) -> LanceDataset:
    return lance.write_dataset(
        data,
        str(uri),
        schema=schema,
        mode="create",
        data_storage_version=STORAGE_VERSION,
        transaction_properties=properties,
    )


def _to_dicts(data: pa.Table, num_keypoints: int | None = None) -> list[dict[str, Any]]:
    columns = {name: data.column(name) for name in data.column_names if name != SAMPLE_ID}
    kp_column = columns.pop(KEYPOINTS_COLUMN, None)
    keypoints = (
        None if kp_column is None else instances_from_arrow(kp_column, num_keypoints=num_keypoints)
    )
    plain = {name: col.to_pylist() for name, col in columns.items()}
    out = []
    for r in range(data.num_rows):
        row = {name: values[r] for name, values in plain.items()}
        if keypoints is not None:
            row[KEYPOINTS_COLUMN] = keypoints[r]
        out.append(row)
    return out


def list_tables(*, store: StoreLike = None) -> list[str]:
    """Names of the tables in a store.

    Example:
        >>> import posetable as pt, tempfile
        >>> pt.list_tables(store=tempfile.mkdtemp())
        []
    """
    return resolve_store(store).table_names()
