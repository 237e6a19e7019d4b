"""``Table``: an immutable, versioned table of images and their keypoint instances.

One row per image: ``image``, ``width``, ``height``, ``keypoints`` (a
:class:`~posetable.Keypoints2DInstances`) and any user columns. Every edit returns a new
``Table`` at a new revision that records its parent; a revision never changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import lance
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from lance import LanceOperation
from lance.dataset import LanceDataset, Transaction

from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow
from posetable._rows import (
    BASE_COLUMNS,
    SAMPLE_ID,
    RowLayout,
    batches_from_rows,
    build_batch,
    peek_batches,
)
from posetable.errors import (
    ConflictError,
    PosetableError,
    RevisionError,
    RowError,
    SchemaError,
)
from posetable.schema import Keypoints2DSchema
from posetable.store import (
    METADATA_KEY,
    RevisionInfo,
    Store,
    check_name,
    encode_operation,
    parse_table_ref,
    read_revision_info,
    read_table_metadata,
    resolve_store,
)

if TYPE_CHECKING:
    import pandas

TABLE_FORMAT_VERSION = 1
StoreLike = Store | str | os.PathLike[str] | None


def _metadata_json(schema: Keypoints2DSchema, metadata: Mapping[str, Any] | None) -> bytes:
    record = {
        "format_version": TABLE_FORMAT_VERSION,
        "schema": schema.to_dict(),
        "metadata": dict(metadata or {}),
    }
    return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)


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


class Table:
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
        self._store = store
        self._name = name
        self._ds = dataset
        meta = read_table_metadata(dataset)
        self._schema = Keypoints2DSchema.from_dict(meta["schema"])
        self._metadata: dict[str, Any] = dict(meta.get("metadata") or {})
        self._info: RevisionInfo | None = None
        self._positions: np.ndarray | None = None
        self._ordered: bool | None = None
        self._len: int | None = None

    # -- opening and creating ------------------------------------------------------------
    @classmethod
    def open(cls, ref: str, *, store: StoreLike = None) -> Table:
        """Open ``"name"`` (latest revision) or ``"name@3"`` (revision 3).

        The store is ``store=``, else ``$POSETABLE_HOME``, else ``./posetable-data``.
        """
        name, revision = parse_table_ref(ref)
        resolved = resolve_store(store)
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
        if_exists: str = "new_revision",
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
            if_exists: ``"new_revision"`` (default: the rows become the next revision of
                that name, its parent the latest) or ``"error"``.
            operation: the operation name recorded in the lineage.
            arguments: the operation's arguments recorded in the lineage.
        """
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
        if_exists: str = "new_revision",
        operation: str = "create",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """Create a table from Arrow data already in posetable's row layout.

        The columns are ``image``, ``width``, ``height``, ``keypoints`` (the struct of
        :mod:`posetable._arrow`) and user columns. This is the fast path formats use.
        """
        reader = data.to_reader() if isinstance(data, pa.Table) else data
        missing = [c for c in BASE_COLUMNS if c not in reader.schema.names]
        if missing:
            raise RowError(f"Arrow data must have columns {list(BASE_COLUMNS)}, missing {missing}")
        layout = RowLayout.from_arrow_schema(schema, reader.schema)
        target = layout.arrow_schema()

        def batches() -> Iterator[pa.RecordBatch]:
            done = 0
            for batch in reader:
                ids = pa.array(np.arange(done, done + batch.num_rows, dtype=np.int64))
                columns = [ids] + [batch.column(n).cast(target.field(n).type) for n in target.names[1:]]
                yield pa.RecordBatch.from_arrays(columns, schema=target)
                done += batch.num_rows

        return cls._write(
            batches(),
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
        if if_exists not in ("new_revision", "error"):
            raise RevisionError(f"if_exists must be 'new_revision' or 'error', got {if_exists!r}")
        resolved = resolve_store(store)
        check_name(name, "table")
        uri = resolved.table_uri(name)
        exists = name in resolved.table_names()
        parent = lance.dataset(str(uri)).version if exists else None
        if exists and if_exists == "error":
            raise RevisionError(
                f"table {name!r} already exists in {resolved.root} (latest revision {parent}); "
                "choose another name or pass if_exists='new_revision'"
            )
        arrow_schema, stream = peek_batches(batches, layout)
        arrow_schema = arrow_schema.with_metadata(
            {METADATA_KEY: _metadata_json(layout.schema, metadata)}
        )
        guarded = _Guarded(stream)
        reader = pa.RecordBatchReader.from_batches(arrow_schema, iter(guarded))
        uri.parent.mkdir(parents=True, exist_ok=True)
        if not exists and uri.exists():
            _remove_uncommitted(uri)
        try:
            dataset = lance.write_dataset(
                reader,
                str(uri),
                schema=arrow_schema,
                mode="overwrite" if exists else "create",
                transaction_properties=encode_operation(operation, dict(arguments or {}), parent),
            )
        except Exception:
            if guarded.error is not None:
                raise guarded.error from None
            raise
        return cls(resolved, name, dataset)

    # -- formats (implemented in posetable.formats) --------------------------------------
    @classmethod
    def from_coco(
        cls,
        annotation_file: str | os.PathLike[str],
        image_folder: str | os.PathLike[str] | None = None,
        *,
        name: str,
        store: StoreLike = None,
        **options: Any,
    ) -> Table:
        """Import a COCO keypoints JSON (see :func:`posetable.formats.coco.table_from_coco`)."""
        from posetable.formats.coco import table_from_coco

        return table_from_coco(annotation_file, image_folder, name=name, store=store, **options)

    @classmethod
    def from_yolo(
        cls,
        data_yaml: str | os.PathLike[str],
        *,
        split: str = "train",
        name: str,
        store: StoreLike = None,
        **options: Any,
    ) -> Table:
        """Import an Ultralytics YOLO-pose dataset (see :func:`posetable.formats.yolo.table_from_yolo`)."""
        from posetable.formats.yolo import table_from_yolo

        return table_from_yolo(data_yaml, split=split, name=name, store=store, **options)

    def export_coco(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write this revision as COCO keypoints JSON (see :func:`posetable.formats.coco.export_coco`)."""
        from posetable.formats.coco import export_coco

        return export_coco(self, path, **options)

    def export_yolo(self, folder: str | os.PathLike[str], *, image_mode: str = "symlink", **options: Any) -> Path:
        """Write this revision as an Ultralytics YOLO-pose folder (see :func:`posetable.formats.yolo.export_yolo`)."""
        from posetable.formats.yolo import export_yolo

        return export_yolo(self, folder, image_mode=image_mode, **options)

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
        """This revision's number."""
        return int(self._ds.version)

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
        return orjson.loads(orjson.dumps(self._metadata))

    @property
    def columns(self) -> list[str]:
        """Column names (``image``, ``width``, ``height``, ``keypoints``, user columns)."""
        return [n for n in self._ds.schema.names if n != SAMPLE_ID]

    @property
    def dataset(self) -> LanceDataset:
        """The underlying Lance dataset at this revision (for Lance-aware tools)."""
        return self._ds

    def latest(self) -> Table:
        """The latest revision of this table."""
        return Table.open(self._name, store=self._store)

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
            ids = self._ds.to_table(columns=[SAMPLE_ID])[SAMPLE_ID].to_numpy()
            self._ordered = bool(np.all(ids[1:] > ids[:-1]))
            if not self._ordered:
                self._positions = np.argsort(ids, kind="stable")
        return None if self._ordered else self._positions

    def sample_ids(self) -> np.ndarray:
        """The stable sample id of each row, in row order (kept across revisions)."""
        ids = self._ds.to_table(columns=[SAMPLE_ID])[SAMPLE_ID].to_numpy()
        physical = self._physical()
        return ids if physical is None else ids[physical]

    def _normalise(self, index: int) -> int:
        n = len(self)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"row index must be an int, got {type(index).__name__}")
        i = int(index) + (n if index < 0 else 0)
        if not 0 <= i < n:
            raise IndexError(f"row {index} is out of range for a table of {n} rows")
        return i

    def take(self, indices: Sequence[int] | np.ndarray, *, columns: Sequence[str] | None = None) -> pa.Table:
        """Rows at the given positions as an Arrow table (one batched read)."""
        positions = np.asarray([self._normalise(int(i)) for i in indices], dtype=np.int64)
        physical = self._physical()
        offsets = positions if physical is None else physical[positions]
        wanted = list(columns) if columns is not None else self.columns
        if len(offsets) == 0:
            return self._ds.schema.empty_table().select(wanted)
        order = np.argsort(offsets, kind="stable")
        got = self._ds.take(offsets[order].tolist(), columns=wanted)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return got.take(pa.array(inverse))

    def rows(self, indices: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """Rows at the given positions as dicts (keypoints as ``Keypoints2DInstances``)."""
        return _to_dicts(self.take(indices))

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows([index])[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.iter_rows()

    def iter_rows(self, *, batch_rows: int = 1024) -> Iterator[dict[str, Any]]:
        """Iterate rows in order, reading ``batch_rows`` at a time."""
        for batch in self.iter_batches(batch_rows=batch_rows):
            yield from _to_dicts(pa.Table.from_batches([batch]))

    def iter_batches(self, *, batch_rows: int = 4096, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Iterate the table in row order as Arrow record batches."""
        wanted = list(columns) if columns is not None else self.columns
        physical = self._physical()
        if physical is None:
            yield from self._ds.to_batches(columns=wanted, batch_size=batch_rows, scan_in_order=True)
            return
        for start in range(0, len(self), batch_rows):
            yield from self.take(np.arange(start, min(start + batch_rows, len(self))), columns=wanted).to_batches()

    def to_arrow(self, *, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole revision as an Arrow table in row order (schema metadata included)."""
        wanted = list(columns) if columns is not None else self.columns
        physical = self._physical()
        data = self._ds.to_table(columns=wanted)
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
            raise PosetableError('to_pandas needs pandas: pip install pandas') from exc
        return self.to_arrow().to_pandas()

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write plain Parquet with the schema in its key-value metadata under ``posetable``."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.to_arrow(), target)
        return target

    def sql(self, query: str) -> pa.Table:
        """Run DuckDB SQL over this revision, visible as ``t`` (with ``row`` and ``sample_id``).

        Example:
            ``table.sql("SELECT row, len(keypoints.instances) AS n FROM t ORDER BY n DESC")``
        """
        con = duckdb.connect()
        try:
            con.register("_posetable_lance", self._ds)
            con.execute(
                "CREATE VIEW t AS SELECT (row_number() OVER (ORDER BY sample_id) - 1)::BIGINT AS row, * "
                "FROM _posetable_lance"
            )
            relation = con.sql(query)
            if relation is None:
                raise PosetableError(f"SQL on table {self.ref} must be a query that returns rows")
            return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
        except duckdb.Error as exc:
            raise PosetableError(f"SQL failed on table {self.ref}: {exc}") from exc
        finally:
            con.close()

    # -- lineage ---------------------------------------------------------------------------
    def history(self) -> list[RevisionInfo]:
        """The lineage of this revision: itself, its parent, ... back to the first."""
        seen: set[int] = set()
        out = []
        version: int | None = self.revision
        latest = lance.dataset(self._ds.uri)
        while version is not None and version not in seen:
            seen.add(version)
            info = read_revision_info(latest, version)
            out.append(info)
            version = info.parent
        return out

    def revisions(self) -> list[RevisionInfo]:
        """Every revision of this table name, oldest first."""
        latest = lance.dataset(self._ds.uri)
        return [read_revision_info(latest, int(v["version"])) for v in latest.versions()]

    # -- editing ---------------------------------------------------------------------------
    def _base(self, branch: bool) -> tuple[LanceDataset, int]:
        """The dataset to edit and the parent revision; branches when asked."""
        latest = lance.dataset(self._ds.uri)
        if latest.version == self.revision:
            return self._ds, self.revision
        if not branch:
            raise ConflictError(
                f"table {self._name!r}: revision {self.revision} is not the latest "
                f"({latest.version}); edits start from the latest revision. Open "
                f"Table.open({self._name!r}) to edit the latest, or pass branch=True to make a "
                f"new revision from revision {self.revision}"
            )
        restored = LanceDataset.commit(
            self._ds.uri,
            Transaction(
                latest.version,
                LanceOperation.Restore(self.revision),
                transaction_properties=encode_operation("branch", {"from": self.revision}, self.revision),
            ),
            read_version=latest.version,
        )
        return restored, int(restored.version)

    def _commit(self, txn: Transaction, base: LanceDataset, operation: str, arguments: Mapping[str, Any], parent: int) -> Table:
        txn.transaction_properties = encode_operation(operation, dict(arguments), parent)
        latest = lance.dataset(self._ds.uri)
        if latest.version != base.version:
            raise ConflictError(
                f"table {self._name!r} changed while editing: revision {latest.version} appeared "
                f"after {base.version}; nothing was written, retry from the latest"
            )
        dataset = LanceDataset.commit(self._ds.uri, txn, read_version=base.version)
        return Table(self._store, self._name, dataset)

    def restore(self) -> Table:
        """Make this revision's content the latest again, as a new revision (undo).

        The new revision's parent is this one.
        """
        latest = lance.dataset(self._ds.uri)
        txn = Transaction(latest.version, LanceOperation.Restore(self.revision))
        return self._commit(txn, latest, "restore", {"revision": self.revision}, self.revision)

    def with_rows(
        self,
        rows: Mapping[int, Mapping[str, Any]],
        *,
        branch: bool = False,
        operation: str = "edit_rows",
        arguments: Mapping[str, Any] | None = None,
    ) -> Table:
        """A new revision with some rows replaced (only those rows are written).

        ``rows`` maps a row position to a row dict; keys left out of a row keep their value.
        """
        base, parent = self._base(branch)
        if not rows:
            raise RowError("with_rows needs at least one row to change, got none")
        positions = [self._normalise(int(i)) for i in rows]
        current = self.rows(positions)
        merged = []
        for pos, old, (_, new) in zip(positions, current, rows.items(), strict=True):
            if not isinstance(new, Mapping):
                raise RowError(f"row {pos}: a row must be a dict, got {type(new).__name__}")
            merged.append({**old, **dict(new)})
        layout = RowLayout.from_arrow_schema(self._schema, self._ds.schema)
        ids = self.sample_ids()[positions]
        order = np.argsort(positions)
        batch = build_batch([merged[i] for i in order], layout, ids[order], 0)
        txn, _ = base.merge_insert(SAMPLE_ID).when_matched_update_all().execute_uncommitted(
            pa.Table.from_batches([batch])
        )
        args = {"rows": sorted(positions), **dict(arguments or {})}
        return self._commit(txn, base, operation, args, parent)

    def delete_rows(self, indices: Iterable[int], *, branch: bool = False) -> Table:
        """A new revision without the given rows (later rows move up)."""
        base, parent = self._base(branch)
        positions = sorted({self._normalise(int(i)) for i in indices})
        if not positions:
            raise RowError("delete_rows needs at least one row index, got none")
        ids = self.sample_ids()[positions]
        txn, _ = base.merge_insert(SAMPLE_ID).when_matched_delete().execute_uncommitted(
            pa.table({SAMPLE_ID: pa.array(ids, pa.int64())})
        )
        return self._commit(txn, base, "delete_rows", {"rows": positions}, parent)

    def add_column(self, name: str, values: Sequence[Any] | np.ndarray | pa.Array, *, branch: bool = False) -> Table:
        """A new revision with one more column (one value per row, in row order)."""
        base, parent = self._base(branch)
        if name in self._ds.schema.names or name in ("row",):
            raise RowError(f"column {name!r} already exists (columns: {self.columns})")
        array = values if isinstance(values, pa.Array) else pa.array(
            values.tolist() if isinstance(values, np.ndarray) else list(values)
        )
        if len(array) != len(self):
            raise RowError(f"add_column {name!r} needs {len(self)} values (one per row), got {len(array)}")
        sorted_ids = np.sort(self.sample_ids())
        by_sorted_id = array.take(pa.array(np.argsort(self.sample_ids(), kind="stable")))
        fragments = []
        merged_schema = None
        for fragment in base.get_fragments():

            def values_for(batch: pa.RecordBatch, column: pa.Array = by_sorted_id) -> pa.RecordBatch:
                ids = batch.column(SAMPLE_ID).to_numpy()
                where = np.searchsorted(sorted_ids, ids)
                return pa.RecordBatch.from_arrays([column.take(pa.array(where))], names=[name])

            new_fragment, merged_schema = fragment.merge_columns(values_for, columns=[SAMPLE_ID])
            fragments.append(new_fragment)
        if merged_schema is None:
            raise RowError("add_column on an empty table has no rows to fill")
        txn = Transaction(base.version, LanceOperation.Merge(fragments, merged_schema))
        return self._commit(txn, base, "add_column", {"name": name}, parent)

    def with_schema(
        self,
        schema: Keypoints2DSchema,
        *,
        operation: str = "edit_schema",
        arguments: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        branch: bool = False,
    ) -> Table:
        """A new revision with another schema (same K); no data file is rewritten."""
        if not isinstance(schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        base, parent = self._base(branch)
        if schema.num_keypoints != self._schema.num_keypoints:
            raise SchemaError(
                f"a new schema must keep K={self._schema.num_keypoints} keypoints, got "
                f"{schema.num_keypoints}"
            )
        meta = _metadata_json(schema, self._metadata if metadata is None else metadata).decode()
        txn = Transaction(
            base.version,
            LanceOperation.UpdateConfig(
                schema_metadata_updates=LanceOperation.UpdateMap({METADATA_KEY: meta})
            ),
        )
        return self._commit(txn, base, operation, dict(arguments or {}), parent)


def _remove_uncommitted(uri: Path) -> None:
    """Remove the leftovers of a create that never committed (no version exists)."""
    import shutil

    versions = uri / "_versions"
    if not versions.is_dir() or not any(versions.iterdir()):
        shutil.rmtree(uri)


def _to_dicts(data: pa.Table) -> list[dict[str, Any]]:
    columns = {name: data.column(name) for name in data.column_names if name != SAMPLE_ID}
    keypoints = instances_from_arrow(columns.pop(KEYPOINTS_COLUMN)) if KEYPOINTS_COLUMN in columns else None
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

