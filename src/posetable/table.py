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
    RESERVED,
    SAMPLE_ID,
    RowLayout,
    batches_from_arrow,
    batches_from_rows,
    build_batch,
    peek_batches,
)
from posetable.errors import (
    ConflictError,
    PosetableError,
    RevisionError,
    RowError,
    RowIndexError,
    SchemaError,
)
from posetable.schema import Keypoints2DSchema
from posetable.store import (
    METADATA_KEY,
    STORAGE_VERSION,
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
        self._columns = [n for n in dataset.schema.names if n != SAMPLE_ID]
        self._fragments: tuple[list[Any], np.ndarray] | None = None

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
        if_exists: str = "new_revision",
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
        properties = encode_operation(operation, dict(arguments or {}), parent)
        meta = _metadata_json(layout.schema, metadata)
        arrow_schema, stream = peek_batches(batches, layout)
        arrow_schema = arrow_schema.with_metadata({METADATA_KEY: meta})
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
                data_storage_version=STORAGE_VERSION,
                transaction_properties=properties,
            )
        except Exception:
            if not exists:
                _remove_uncommitted(uri)
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
        """Import an Ultralytics YOLO-pose dataset.

        See :func:`posetable.formats.yolo.table_from_yolo`.
        """
        from posetable.formats.yolo import table_from_yolo

        return table_from_yolo(data_yaml, split=split, name=name, store=store, **options)

    def export_coco(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write this revision as COCO keypoints JSON.

        See :func:`posetable.formats.coco.export_coco`.
        """
        from posetable.formats.coco import export_coco

        return export_coco(self, path, **options)

    def export_yolo(
        self, folder: str | os.PathLike[str], *, image_mode: str = "symlink", **options: Any
    ) -> Path:
        """Write this revision as an Ultralytics YOLO-pose folder.

        See :func:`posetable.formats.yolo.export_yolo`.
        """
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
        """This revision's number (the Lance version)."""
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
        return int(lance.dataset(self._ds.uri).version) == self.revision

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
        data = self._ds.to_table(columns=[SAMPLE_ID], scan_in_order=True)
        return np.asarray(data.column(SAMPLE_ID).to_numpy(), dtype=np.int64)

    def sample_ids(self) -> np.ndarray:
        """The stable sample id of each row, in row order (kept across revisions)."""
        ids = self._scan_ids()
        physical = self._physical()
        return ids if physical is None else ids[physical]

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
        if self._fragments is None:
            fragments = self._ds.get_fragments()
            counts = np.array([f.count_rows() for f in fragments], dtype=np.int64)
            starts = np.zeros(len(fragments) + 1, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            self._fragments = (fragments, starts)
        fragments, starts = self._fragments
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
        self, *, batch_rows: int = 4096, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Iterate the table in row order as Arrow record batches."""
        wanted = list(columns) if columns is not None else self._columns
        physical = self._physical()
        if physical is None:
            yield from self._ds.to_batches(
                columns=wanted, batch_size=batch_rows, scan_in_order=True
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
        latest = lance.dataset(self._ds.uri)
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
        latest = lance.dataset(self._ds.uri)
        stamps = {int(v["version"]): v.get("timestamp") for v in latest.versions()}
        return [read_revision_info(latest, v, timestamps=stamps) for v in sorted(stamps)]

    # -- editing ---------------------------------------------------------------------------
    def _check_base(self, branch: bool) -> None:
        """Raise the conflict of editing a revision that is not the latest (unless branching)."""
        if not isinstance(branch, bool):
            raise RevisionError(f"branch must be True or False, got {branch!r}")
        latest = int(lance.dataset(self._ds.uri).version)
        if latest != self.revision and not branch:
            raise ConflictError(
                f"table {self._name!r}: revision {self.revision} is not the latest "
                f"({latest}); edits start from the latest revision. Open "
                f"Table.open({self._name!r}) to edit the latest, or pass branch=True to make a "
                f"new revision from revision {self.revision}"
            )

    def _base(self) -> tuple[LanceDataset, int]:
        """The dataset to edit and the parent revision: this one, or a branch of it.

        Called only after every check passed, so a failed edit writes nothing.
        """
        latest = lance.dataset(self._ds.uri)
        if latest.version == self.revision:
            return self._ds, self.revision
        restored = LanceDataset.commit(
            self._ds.uri,
            Transaction(
                latest.version,
                LanceOperation.Restore(self.revision),
                transaction_properties=encode_operation(
                    "branch", {"from": self.revision}, self.revision
                ),
            ),
            read_version=latest.version,
        )
        return restored, int(restored.version)

    def _commit(
        self,
        txn: Transaction,
        base: LanceDataset,
        operation: str,
        arguments: Mapping[str, Any],
        parent: int,
    ) -> Table:
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

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 8, "height": 8}],
            ...     name="r", schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
            >>> e = t.with_rows({0: {"image": "b.jpg"}})
            >>> back = t.restore()
            >>> back.revision, back.parent, back[0]["image"]
            (3, 1, 'a.jpg')
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
        Editing a revision that is not the latest raises
        :class:`~posetable.errors.ConflictError` unless ``branch=True``.

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
        self._check_base(branch)
        if not isinstance(rows, Mapping):
            raise RowError(f"with_rows needs a dict {{row: row dict}}, got {type(rows).__name__}")
        if not rows:
            raise RowError("with_rows needs at least one row to change, got none")
        positions = self._positions_of(list(rows))
        if len(set(positions.tolist())) != len(positions):
            raise RowError(f"with_rows names a row twice: {sorted(rows)}")
        current = self.rows(positions)
        merged = []
        for pos, old, new in zip(positions.tolist(), current, rows.values(), strict=True):
            if not isinstance(new, Mapping):
                raise RowError(f"row {pos}: a row must be a dict, got {type(new).__name__}")
            merged.append({**old, **dict(new)})
        layout = RowLayout.from_arrow_schema(self._schema, self._ds.schema)
        ids = self.sample_ids()[positions]
        order = np.argsort(positions)
        batch = build_batch(
            [merged[i] for i in order], layout, ids[order], 0, row_numbers=positions[order]
        )
        base, parent = self._base()
        txn, _ = (
            base.merge_insert(SAMPLE_ID)
            .when_matched_update_all()
            .execute_uncommitted(pa.Table.from_batches([batch]))
        )
        args = {"rows": sorted(positions.tolist()), **dict(arguments or {})}
        return self._commit(txn, base, operation, args, parent)

    def delete_rows(self, indices: Iterable[int], *, branch: bool = False) -> Table:
        """A new revision without the given rows (later rows move up).

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 8, "height": 8}
            ...     for i in range(3)], name="d", schema=pt.Keypoints2DSchema(1),
            ...     store=tempfile.mkdtemp())
            >>> [r["image"] for r in t.delete_rows([0])]
            ['1.jpg', '2.jpg']
        """
        self._check_base(branch)
        positions = np.unique(self._positions_of(list(indices)))
        if not len(positions):
            raise RowError("delete_rows needs at least one row index, got none")
        ids = self.sample_ids()[positions]
        base, parent = self._base()
        txn, _ = (
            base.merge_insert(SAMPLE_ID)
            .when_matched_delete()
            .execute_uncommitted(pa.table({SAMPLE_ID: pa.array(ids, pa.int64())}))
        )
        return self._commit(txn, base, "delete_rows", {"rows": positions.tolist()}, parent)

    def add_column(
        self,
        name: str,
        values: Sequence[Any] | np.ndarray | pa.Array,
        *,
        branch: bool = False,
    ) -> Table:
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
        self._check_base(branch)
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
        base, parent = self._base()
        fragments = []
        merged_schema = None
        for fragment in base.get_fragments():

            def values_for(
                batch: pa.RecordBatch, column: pa.Array = by_sorted_id
            ) -> pa.RecordBatch:
                where = np.searchsorted(sorted_ids, batch.column(SAMPLE_ID).to_numpy())
                return pa.RecordBatch.from_arrays([column.take(pa.array(where))], names=[name])

            new_fragment, merged_schema = fragment.merge_columns(values_for, columns=[SAMPLE_ID])
            fragments.append(new_fragment)
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
        """A new revision with another schema (same K); no data file is rewritten.

        Example:
            >>> import posetable as pt, tempfile
            >>> t = pt.Table.from_rows([], name="s", schema=pt.Keypoints2DSchema(2),
            ...                        store=tempfile.mkdtemp())
            >>> t2 = t.with_schema(t.schema.replace(keypoint_names=["a", "b"]))
            >>> t2.schema.keypoint_names, t.schema.keypoint_names
            (('a', 'b'), ('kpt_0', 'kpt_1'))
        """
        self._check_base(branch)
        if not isinstance(schema, Keypoints2DSchema):
            raise SchemaError(f"schema must be a Keypoints2DSchema, got {type(schema).__name__}")
        if schema.num_keypoints != self._schema.num_keypoints:
            raise SchemaError(
                f"a new schema must keep K={self._schema.num_keypoints} keypoints, got "
                f"{schema.num_keypoints}"
            )
        meta = _metadata_json(schema, self._metadata if metadata is None else metadata).decode()
        base, parent = self._base()
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
    if uri.exists() and (not versions.is_dir() or not any(versions.iterdir())):
        shutil.rmtree(uri, ignore_errors=True)


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
