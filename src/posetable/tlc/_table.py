"""``posetable.tlc.Table``: 3LC's ``Table`` as a thin adapter over :class:`posetable.Table`.

It wraps one posetable table revision and delegates to it; what it adds is 3LC's view:
names (project / dataset / table), ``url``, and rows as 3LC gives them (the keypoints
column under its 3LC name, ``keypoints_2d`` by default, in 3LC's row layout; the image
size inside it, so posetable's ``width``/``height`` columns are hidden).

Where posetable differs on purpose: coordinates are float64 (COCO values come back
exactly), ``if_exists="overwrite"`` makes the next revision (the old content stays
readable as ``name@revision``), and image paths are stored expanded (aliases applied by
``Url.to_relative`` are expanded on write so every posetable tool can open the file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import pyarrow as pa

import posetable as pt
from posetable.errors import NotFoundError, UnsupportedError
from posetable.tlc._names import Target, table_of_url, table_url, target
from posetable.tlc._rows import NATIVE_IMAGE, NATIVE_KEYPOINTS
from posetable.tlc._schemas import Schema, schema_from_arrow
from posetable.tlc._url import Url

META = "tlc"
KEYPOINTS_2D = "keypoints_2d"
#: posetable columns a 3LC view of an imported table does not show.
_HIDDEN = ("width", "height", "coco_image_fields")

UrlLike = str | os.PathLike[str] | Url


def _refuse(argument: str, value: Any, supported: str) -> NoReturn:
    raise UnsupportedError(f"{argument}={value!r} is not supported; {supported}")


class TableRows:
    """``table.table_rows``: the rows of a table, indexable and iterable (3LC's view)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def __getitem__(self, row: int) -> dict[str, Any]:
        return self._table[row]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class Table:
    """3LC's ``Table`` over a :class:`posetable.Table` (one revision, immutable).

    Make one with 3LC's constructors (``Table.from_coco``, ``from_yolo``, ``from_dict``,
    ``from_names``, ``from_url``) or wrap a posetable table with :meth:`from_native`.
    ``table.native`` is the posetable table; rows read back as 3LC gives them.

    Example:
        >>> import posetable.tlc as tlc, tempfile
        >>> kp = tlc.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        >>> kp.add_instance(keypoints=[[10, 10], [20, 30]], label=0)
        >>> table = tlc.Table.from_dict(
        ...     data={"image": ["a.jpg"], "keypoints_2d": [kp.to_row()]},
        ...     structure={"image": tlc.ImageUrlSchema(),
        ...                "keypoints_2d": tlc.Keypoints2DSchema(num_keypoints=2)},
        ...     table_name="demo", dataset_name="My Data", project_name="My Project",
        ...     root_url=tempfile.mkdtemp())
        >>> table.name, table.dataset_name, table.project_name, len(table)
        ('demo', 'My Data', 'My Project', 1)
        >>> table[0]["keypoints_2d"]["instances"][0]["vertices_2d"]
        [10.0, 10.0, 20.0, 30.0]
        >>> table.native.ref
        'My Project/My Data/demo@1'
    """

    def __init__(self, native: pt.Table) -> None:
        if not isinstance(native, pt.Table):
            raise UnsupportedError(
                f"posetable.tlc.Table wraps a posetable.Table, got {type(native).__name__}"
            )
        self._native = native
        meta = native.metadata.get(META)
        self._meta: dict[str, Any] = dict(meta) if isinstance(meta, Mapping) else {}
        if self._meta:
            columns = list(self._meta["columns"])
            kp = str(self._meta["keypoints_column"])
            image = str(self._meta["image_column"])
        else:  # a posetable table opened through posetable.tlc: its own names
            columns = [c for c in native.columns if c not in _HIDDEN]
            kp, image = NATIVE_KEYPOINTS, NATIVE_IMAGE
        self._keypoints, self._image = kp, image
        self._source_of = {
            c: NATIVE_KEYPOINTS if c == kp else NATIVE_IMAGE if c == image else c for c in columns
        }

    # -- the posetable side ---------------------------------------------------------------
    @classmethod
    def from_native(cls, native: pt.Table) -> Table:
        """Wrap a posetable table (any revision) in 3LC's view."""
        return cls(native)

    @property
    def native(self) -> pt.Table:
        """The posetable table this wraps (``table.native.ref`` is ``name@revision``)."""
        return self._native

    def __posetable_table__(self) -> pt.Table:
        """The posetable table (the hook posetable's helpers unwrap a 3LC table with)."""
        return self._native

    def __posetable_wrap__(self, native: pt.Table) -> Table:
        """A table derived by a posetable helper, wrapped in the same 3LC view."""
        return type(self)(native)

    @property
    def schema(self) -> pt.Keypoints2DSchema:
        """The keypoints column's :class:`~posetable.Keypoints2DSchema`."""
        return self._native.schema

    @property
    def metadata(self) -> dict[str, Any]:
        """The posetable table's metadata (a copy; the 3LC view's under ``"tlc"``)."""
        return self._native.metadata

    @property
    def revision(self) -> int:
        """The posetable revision this is."""
        return self._native.revision

    def latest(self) -> Table:
        """The latest revision of this table."""
        return type(self)(self._native.latest())

    # -- names ---------------------------------------------------------------------------
    def _parts(self) -> list[str]:
        parts = self._native.name.split("/")
        return parts if len(parts) == 3 else ["", "", self._native.name]

    @property
    def name(self) -> str:
        """The table name (without project and dataset)."""
        return self._parts()[2]

    @property
    def dataset_name(self) -> str:
        """The dataset the table belongs to."""
        return self._parts()[1]

    @property
    def project_name(self) -> str:
        """The project the table belongs to."""
        return self._parts()[0]

    @property
    def description(self) -> str:
        """The table's description."""
        return str(self._meta.get("description") or "")

    @property
    def url(self) -> Url:
        """Where the table lives: ``<store>/tables/<project>/<dataset>/<table>``.

        :meth:`from_url` opens it (and 3LC's ``<root>/<project>/datasets/<dataset>/tables/
        <table>`` form).
        """
        project, dataset, name = self._parts()
        if not project:
            return Url(self._native.store.table_uri(name).with_suffix(""))
        return table_url(Target(self._native.store, project, dataset, name))

    def __repr__(self) -> str:
        return (
            f"Table(url={self.url.to_str()!r}, rows={len(self)}, "
            f"revision={self.revision}, K={self.schema.num_keypoints})"
        )

    # -- rows ----------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """The column names of a row, as 3LC code reads them."""
        return list(self._source_of)

    @property
    def keypoints_column(self) -> str:
        """The name of the keypoints column (``keypoints_2d`` for 3LC-made tables)."""
        return self._keypoints

    @property
    def image_column(self) -> str:
        """The name of the image column."""
        return self._image

    def __len__(self) -> int:
        return len(self._native)

    @property
    def row_count(self) -> int:
        """The number of rows."""
        return len(self._native)

    def _row(self, native: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, source in self._source_of.items():
            value = native.get(source)
            if source == NATIVE_KEYPOINTS and value is not None:
                value = value.to_row()
            out[column] = value
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._row(self._native[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self._native.iter_rows():
            yield self._row(row)

    @property
    def table_rows(self) -> TableRows:
        """The rows (3LC's ``table.table_rows``)."""
        return TableRows(self)

    def get_column(self, name: str, combine_chunks: bool | None = None) -> pa.Array:
        """One column as an Arrow array (the keypoints column as its struct array)."""
        if name not in self._source_of:
            raise NotFoundError(
                f"table {self.name!r} has no column {name!r}; columns: {self.columns}"
            )
        data = self._native.to_arrow(columns=[self._source_of[name]]).column(0)
        return data if combine_chunks is False else data.combine_chunks()

    @property
    def row_schema(self) -> Schema:
        """The schema of a row: ``row_schema.values[column]`` for each column."""
        arrow = self._native.dataset.schema
        return Schema(
            values={
                c: schema_from_arrow(arrow.field(s).type, c) for c, s in self._source_of.items()
            }
        )

    # -- opening ---------------------------------------------------------------------------
    @staticmethod
    def from_names(
        table_name: str | None = None,
        dataset_name: str | None = None,
        project_name: str | None = None,
        root_url: UrlLike | None = None,
    ) -> Table:
        """Open the latest revision of a table by its names (3LC's ``Table.from_names``)."""
        where = target(table_name, dataset_name, project_name, root_url)
        return Table(pt.Table.open(where.name, store=where.store))

    @staticmethod
    def from_url(url: UrlLike) -> Table:
        """Open a table by its url (``table.url``, or 3LC's form of it)."""
        store, name = table_of_url(url)
        return Table(pt.Table.open(name, store=store))

    # -- creating ----------------------------------------------------------------------------
    @staticmethod
    def from_dict(
        data: Mapping[str, Sequence[Any]],
        structure: Any = None,
        table_name: str | None = None,
        dataset_name: str | None = None,
        project_name: str | None = None,
        root_url: UrlLike | None = None,
        if_exists: str = "reuse",
        add_weight_column: bool = True,
        description: str | None = None,
        extra_columns: Mapping[str, Any] | None = None,
        input_tables: Sequence[UrlLike] | None = None,
        weight_column_value: float = 1.0,
        *,
        table_url: UrlLike | None = None,
    ) -> Table:
        """A table from columns ``{column: [value per row]}`` (3LC's ``Table.from_dict``).

        ``structure`` maps columns to schemas: exactly one ``Keypoints2DSchema`` (the
        keypoints column: 3LC row values or ``Keypoints2DInstances``), the image column
        (``ImageUrlSchema``, or a column named ``image``), and scalar user columns; columns
        left out are stored with their inferred type. ``if_exists`` is 3LC's (default
        ``"reuse"``: an existing table is opened as it is).
        """
        from posetable.tlc._create import write_rows

        if extra_columns:
            _refuse("extra_columns", extra_columns, "put the columns in data= and structure=")
        if not isinstance(data, Mapping):
            raise UnsupportedError(f"data must be a dict of columns, got {type(data).__name__}")
        lengths = {column: len(values) for column, values in data.items()}
        if len(set(lengths.values())) > 1:
            raise pt.errors.RowError(f"data columns must have one length, got {lengths}")
        where = target(table_name, dataset_name, project_name, root_url, table_url)
        count = next(iter(lengths.values()), 0)
        rows = ({column: values[i] for column, values in data.items()} for i in range(count))
        return write_rows(
            where,
            rows,
            structure=structure,
            first_keys=list(data),
            if_exists=if_exists,
            weight=weight_column_value if add_weight_column else None,
            extra={"description": description or "", "input_tables": _urls(input_tables)},
            operation="from_dict",
        )

    @staticmethod
    def from_coco(
        annotations_file: UrlLike,
        image_folder: UrlLike | None = None,
        structure: Any = None,
        table_name: str | None = None,
        dataset_name: str | None = None,
        project_name: str | None = None,
        root_url: UrlLike | None = None,
        if_exists: str = "reuse",
        add_weight_column: bool = True,
        description: str | None = None,
        extra_columns: Mapping[str, Any] | None = None,
        input_tables: Sequence[UrlLike] | None = None,
        weight_column_value: float = 1.0,
        include_iscrowd: bool = False,
        keep_crowd_annotations: bool = True,
        task: str = "detect",
        segmentation_format: str | None = None,
        points: Sequence[float] | None = None,
        point_attributes: Any = None,
        lines: Sequence[int] | None = None,
        line_attributes: Any = None,
        triangles: Sequence[int] | None = None,
        triangle_attributes: Any = None,
        flip_indices: Sequence[int] | None = None,
        oks_sigmas: Sequence[float] | None = None,
        per_instance_schemas: Mapping[str, Any] | None = None,
        *,
        table_url: UrlLike | None = None,
    ) -> Table:
        """A keypoints table from a COCO file (3LC's ``Table.from_coco`` with ``task="pose"``).

        posetable reads the file with :meth:`posetable.Table.from_coco` (every image,
        annotation and category field kept, COCO's sigmas and flip indices for COCO's
        names); ``lines``, ``points``, ``point_attributes``, ``line_attributes``,
        ``flip_indices`` and ``oks_sigmas`` override the file's. Without ``image_folder``,
        relative file names are read next to the annotations file. Every instance keeps
        its ``iscrowd`` flag (``include_iscrowd`` either way). Only ``task="pose"`` is
        supported: other values, ``structure``, ``segmentation_format``, ``extra_columns``,
        triangles and ``keep_crowd_annotations=False`` raise
        :class:`~posetable.errors.UnsupportedError` before anything is read.
        """
        from posetable.tlc._create import import_coco

        if task != "pose":
            _refuse("task", task, "posetable tables hold keypoints: pass task='pose'")
        for argument, value, hint in (
            ("structure", structure, "the schema comes from the file and the pose arguments"),
            ("segmentation_format", segmentation_format, "posetable stores keypoints only"),
            ("extra_columns", extra_columns or None, "add columns with from_dict/TableWriter"),
        ):
            if value is not None:
                _refuse(argument, value, f"pass {argument}=None ({hint})")
        if keep_crowd_annotations is not True:
            _refuse(
                "keep_crowd_annotations",
                keep_crowd_annotations,
                "posetable keeps crowd annotations (COCO evaluation needs them); pass True",
            )
        where = target(table_name, dataset_name, project_name, root_url, table_url)
        return import_coco(
            where,
            Url(annotations_file).to_absolute().to_str(),
            None if image_folder is None else Url(image_folder).to_absolute().to_str(),
            if_exists=if_exists,
            weight=weight_column_value if add_weight_column else None,
            extra={"description": description or "", "input_tables": _urls(input_tables)},
            pose={
                "points": points,
                "point_attributes": point_attributes,
                "lines": lines,
                "line_attributes": line_attributes,
                "triangles": triangles,
                "triangle_attributes": triangle_attributes,
                "flip_indices": flip_indices,
                "oks_sigmas": oks_sigmas,
            },
            per_instance=per_instance_schemas,
        )

    @staticmethod
    def from_yolo(
        dataset_yaml_file: UrlLike,
        split: str = "train",
        datasets_dir: UrlLike | None = None,
        override_split_path: UrlLike | Sequence[UrlLike] | None = None,
        task: str = "detect",
        structure: Any = None,
        table_name: str | None = None,
        dataset_name: str | None = None,
        project_name: str | None = None,
        root_url: UrlLike | None = None,
        if_exists: str = "reuse",
        add_weight_column: bool = True,
        description: str | None = None,
        extra_columns: Mapping[str, Any] | None = None,
        input_tables: Sequence[UrlLike] | None = None,
        weight_column_value: float = 1.0,
        points: Sequence[float] | None = None,
        point_attributes: Any = None,
        lines: Sequence[int] | None = None,
        line_attributes: Any = None,
        triangles: Sequence[int] | None = None,
        triangle_attributes: Any = None,
        flip_indices: Sequence[int] | None = None,
        oks_sigmas: Sequence[float] | None = None,
        *,
        table_url: UrlLike | None = None,
    ) -> Table:
        """A keypoints table from one split of a YOLO dataset YAML (3LC's ``from_yolo``).

        posetable reads it with :meth:`posetable.Table.from_yolo`. ``datasets_dir`` is
        put before a relative ``path:``; ``override_split_path`` (one or more folders or
        list files) replaces the split's entry. The pose arguments may also be keys of the
        YAML; arguments given here win. Only ``task="pose"`` is supported.
        """
        from posetable.tlc._create import import_yolo

        if task != "pose":
            _refuse("task", task, "posetable tables hold keypoints: pass task='pose'")
        for argument, value in (("structure", structure), ("extra_columns", extra_columns or None)):
            if value is not None:
                _refuse(argument, value, f"pass {argument}=None")
        where = target(table_name, dataset_name, project_name, root_url, table_url)
        return import_yolo(
            where,
            Url(dataset_yaml_file).to_absolute().to_str(),
            split,
            datasets_dir=None if datasets_dir is None else Url(datasets_dir).to_absolute().to_str(),
            override=override_split_path,
            if_exists=if_exists,
            weight=weight_column_value if add_weight_column else None,
            extra={"description": description or "", "input_tables": _urls(input_tables)},
            pose={
                "points": points,
                "point_attributes": point_attributes,
                "lines": lines,
                "line_attributes": line_attributes,
                "triangles": triangles,
                "triangle_attributes": triangle_attributes,
                "flip_indices": flip_indices,
                "oks_sigmas": oks_sigmas,
            },
        )

    @staticmethod
    def from_yolo_url(
        images_url: UrlLike | Sequence[UrlLike],
        categories: Any = None,
        task: str = "detect",
        max_depth: int | None = None,
        allow_fetch_remote_data: bool = False,
        table_name: str | None = None,
        dataset_name: str | None = None,
        project_name: str | None = None,
        root_url: UrlLike | None = None,
        if_exists: str = "reuse",
        add_weight_column: bool = True,
        weight_column_value: float = 1.0,
        description: str | None = None,
        extra_columns: Mapping[str, Any] | None = None,
        input_tables: Sequence[UrlLike] | None = None,
        *,
        table_url: UrlLike | None = None,
        kpt_shape: tuple[int, int] | None = None,
        points: Sequence[float] | None = None,
        point_attributes: Any = None,
        lines: Sequence[int] | None = None,
        line_attributes: Any = None,
        triangles: Sequence[int] | None = None,
        triangle_attributes: Any = None,
        flip_indices: Sequence[int] | None = None,
        oks_sigmas: Sequence[float] | None = None,
    ) -> Table:
        """A keypoints table from YOLO image folders or list files (3LC 3.x ``from_yolo_url``).

        Labels are found as Ultralytics finds them (``images/`` -> ``labels/``);
        ``categories`` names the classes (a list or ``{id: name}``); ``kpt_shape`` is
        required for ``task="pose"``, the only task supported.
        """
        from posetable.tlc._create import import_yolo_url

        if task != "pose":
            _refuse("task", task, "posetable tables hold keypoints: pass task='pose'")
        if kpt_shape is None:
            _refuse("kpt_shape", None, "pass kpt_shape=(K, 2) or (K, 3) for task='pose'")
        if allow_fetch_remote_data:
            _refuse("allow_fetch_remote_data", True, "posetable reads local files only")
        if max_depth is not None:
            _refuse("max_depth", max_depth, "pass the image folders or list files themselves")
        if extra_columns:
            _refuse("extra_columns", extra_columns, "pass extra_columns=None")
        where = target(table_name, dataset_name, project_name, root_url, table_url)
        return import_yolo_url(
            where,
            images_url,
            categories,
            kpt_shape,
            if_exists=if_exists,
            weight=weight_column_value if add_weight_column else None,
            extra={"description": description or "", "input_tables": _urls(input_tables)},
            pose={
                "points": points,
                "point_attributes": point_attributes,
                "lines": lines,
                "line_attributes": line_attributes,
                "triangles": triangles,
                "triangle_attributes": triangle_attributes,
                "flip_indices": flip_indices,
                "oks_sigmas": oks_sigmas,
            },
        )


def _urls(values: Sequence[UrlLike] | None) -> list[str]:
    return [Url(v).to_str() if not isinstance(v, Table) else v.url.to_str() for v in values or ()]
