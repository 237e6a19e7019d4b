"""3LC's ``MetricsTableWriter``: per-sample metrics of the user's own, written into a run.

Rows (``add_row``) or batches of columns (``add_batch``) carry ``example_id`` (the row of the
foreign table) and the user's columns, nested as 3LC writes them. ``finalize`` writes one
Parquet file ``<run>/metrics/<name>.parquet``, its Arrow types built from the column schemas
where given (``tlc.Schema(values=..., size0=...)`` becomes structs and lists) and inferred
elsewhere; its key-value metadata ``posetable`` names the foreign table (url and the
revision the writer saw). The file joins to the table's rows on ``example_id``.

Columns that hold keypoint predictions in 3LC's layouts (``{"instances": [{"xys": [...],
"xys_additional_data": {"conf": [...]}}], "x_min": ...}`` as 3LC's pose example writes, or
the ``keypoints_2d`` row layout of a ``Keypoints2DSchema`` column, ``vertices_2d``...) are
ALSO written as a native :class:`posetable.Run` on the foreign table (name
``<project>/<run>/<metrics name>-final``), evaluated with the table's sigmas, and added to
the run's collections, so posetable's metrics and the dashboard see them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from posetable.errors import RowError, RunError, UnsupportedError
from posetable.instances import Keypoints2DInstances
from posetable.tlc._run import METRICS_FOLDER, Run, run_of, stream_name
from posetable.tlc._schemas import Schema
from posetable.tlc._url import Url
from posetable.tlc.core.builtins.constants.column_names import EXAMPLE_ID

METADATA_KEY = b"posetable"


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (anywhere in a nested value) as Python lists and numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensors
        return value.detach().cpu().numpy().tolist()
    return value


def arrow_type_of(schema: Schema, column: str) -> pa.DataType:
    """The Arrow type of a 3LC column schema, composite ones (``values=``) included.

    Example:
        >>> import posetable.tlc as tlc
        >>> arrow_type_of(tlc.Schema(value=tlc.Float32Value(), size0=tlc.DimensionNumericValue()),
        ...               "xys")
        ListType(list<item: float>)
    """
    if not isinstance(schema, Schema):
        raise UnsupportedError(
            f"column_schemas[{column!r}] must be a tlc.Schema, got {type(schema).__name__}"
        )
    inner: pa.DataType
    if schema.values is not None:
        fields = [pa.field(k, arrow_type_of(v, f"{column}.{k}")) for k, v in schema.values.items()]
        inner = pa.struct(fields)
    elif schema.value is not None:
        inner = schema.value.arrow_type
    else:
        raise UnsupportedError(f"column_schemas[{column!r}] has neither value= nor values=")
    return pa.list_(inner) if schema.size0 is not None else inner


class MetricsTableWriter:
    """Writes a metrics table into a run (3LC's ``tlc.MetricsTableWriter``).

    Example:
        >>> import tempfile, posetable.tlc as tlc
        >>> run = tlc.init("docs", "metrics", root_url=tempfile.mkdtemp())
        >>> writer = tlc.MetricsTableWriter(run_url=run.url)
        >>> writer.add_batch({"loss": [0.1, 0.2], "example_id": [0, 1]})
        >>> writer.finalize().column("loss").to_pylist()
        [0.1, 0.2]
        >>> run.update_metrics(writer.get_written_metrics_infos())
        >>> [info["row_count"] for info in run.metrics]
        [2]
    """

    def __init__(
        self,
        run_url: Url | str | os.PathLike[str] | None = None,
        foreign_table_url: Url | str | os.PathLike[str] = "",
        foreign_table_display_name: str = "",
        column_schemas: Mapping[str, Schema] | None = None,
    ) -> None:
        self._run: Run = run_of(run_url, "MetricsTableWriter")
        self.run_url = self._run.url
        self.foreign_table_display_name = str(foreign_table_display_name or "")
        self._schemas = dict(column_schemas or {})
        self._types = {c: arrow_type_of(s, c) for c, s in self._schemas.items()}
        self._table: Any = None
        self.foreign_table_url: Url | str = ""
        if foreign_table_url:
            from posetable.tlc._table import Table

            self._table = Table.from_url(foreign_table_url)
            self.foreign_table_url = self._table.url
        self._rows: list[dict[str, Any]] = []
        self._infos: list[dict[str, Any]] = []
        self._finalized: pa.Table | None = None

    # -- adding ---------------------------------------------------------------------------------
    def add_row(self, row: Mapping[str, Any]) -> None:
        """Add one row: ``{"example_id": i, column: value, ...}``."""
        if self._finalized is not None:
            raise RunError("this MetricsTableWriter is finalized; make a new one")
        if not isinstance(row, Mapping):
            raise RowError(f"add_row takes a dict of column values, got {type(row).__name__}")
        self._rows.append({str(k): _plain(v) for k, v in row.items()})

    def add_batch(self, batch: Mapping[str, Sequence[Any]]) -> None:
        """Add rows given as columns of equal length: ``{"loss": [...], "example_id": [...]}``."""
        if not isinstance(batch, Mapping):
            raise RowError(f"add_batch takes a dict of columns, got {type(batch).__name__}")
        columns = {str(k): _plain(v) for k, v in batch.items()}
        lengths = {k: len(v) for k, v in columns.items() if isinstance(v, list)}
        if len(lengths) != len(columns) or len(set(lengths.values())) > 1:
            raise RowError(
                "add_batch needs one list per column, all of the same length, got "
                + ", ".join(f"{k}: {lengths.get(k, type(v).__name__)}" for k, v in columns.items())
            )
        count = next(iter(lengths.values()), 0)
        for i in range(count):
            self.add_row({k: v[i] for k, v in columns.items()})

    # -- writing --------------------------------------------------------------------------------
    def _arrow(self) -> pa.Table:
        names: list[str] = []
        for row in self._rows:
            names.extend(k for k in row if k not in names)
        columns: dict[str, pa.Array] = {}
        for name in names:
            values = [row.get(name) for row in self._rows]
            try:
                columns[name] = pa.array(values, type=self._types.get(name))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                given = "its column schema" if name in self._types else "an inferred type"
                raise RowError(f"metrics column {name!r} does not fit {given}: {exc}") from None
        if self._table is not None:
            if EXAMPLE_ID not in columns:
                raise RowError(
                    f"metrics rows for table {self._table.name!r} need an {EXAMPLE_ID!r} column "
                    "(the row of the foreign table each metrics row belongs to)"
                )
            ids = columns[EXAMPLE_ID]
            if not pa.types.is_integer(ids.type) or ids.null_count:
                raise RowError(f"{EXAMPLE_ID} must hold whole numbers, got {ids.type}")
            rows = np.asarray(ids.to_numpy(zero_copy_only=False))
            bad = np.flatnonzero((rows < 0) | (rows >= len(self._table)))
            if bad.size:
                raise RowError(
                    f"metrics row {int(bad[0])}: {EXAMPLE_ID}={int(rows[bad[0]])} is not a row "
                    f"of table {self._table.name!r} (0..{len(self._table) - 1})"
                )
            columns[EXAMPLE_ID] = ids.cast(pa.int64())
        return pa.table(columns) if columns else pa.table({EXAMPLE_ID: pa.array([], pa.int64())})

    def finalize(self) -> pa.Table:
        """Write the rows to ``<run>/metrics/<name>.parquet`` and return them (Arrow).

        Keypoint prediction columns also become a native run of the foreign table (see the
        module's docs); all are checked before anything is written.
        """
        if self._finalized is not None:
            return self._finalized
        data = self._arrow()
        predictions = self._predictions(data)
        folder = self._run.path / METRICS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        stem = stream_name(self._table.name) if self._table is not None else "metrics"
        number = 0
        while (folder / f"{stem}_{number:04d}.parquet").exists():
            number += 1
        name = f"{stem}_{number:04d}"
        meta: dict[str, Any] = {
            "run": self._run.native_name,
            "foreign_table_url": str(self.foreign_table_url),
            "foreign_table_display_name": self.foreign_table_display_name,
            "column_schemas": {c: s.to_dict() for c, s in self._schemas.items()},
        }
        if self._table is not None:
            meta["foreign_table"] = self._table.native.ref
        native_name = None
        if predictions:
            native_name = self._write_native_run(name, predictions)
            meta["native_run"] = native_name
        data = data.replace_schema_metadata({METADATA_KEY: orjson.dumps(meta)})
        path = folder / f"{name}.parquet"
        temporary = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        pq.write_table(data, temporary)
        os.replace(temporary, path)
        info: dict[str, Any] = {
            "url": f"{METRICS_FOLDER}/{name}.parquet",
            "file_size": path.stat().st_size,
            "stream_name": name,
            "row_count": data.num_rows,
            "foreign_table_url": str(self.foreign_table_url),
            "columns": data.column_names,
        }
        if self._table is not None:
            info["foreign_table"] = self._table.native.ref
        if native_name is not None:
            info["native_run"] = native_name
        self._infos.append(info)
        self._finalized = data
        return data

    def get_written_metrics_infos(self) -> list[dict[str, Any]]:
        """The infos of the written tables (urls relative to the run), for ``update_metrics``."""
        return [dict(i) for i in self._infos]

    # -- keypoint predictions -> a native run -----------------------------------------------------
    def _predictions(self, data: pa.Table) -> dict[int, Keypoints2DInstances]:
        if self._table is None:
            return {}
        found = [c for c in data.column_names if c != EXAMPLE_ID and _is_keypoints(data[c].type)]
        if not found:
            return {}
        k = self._table.schema.num_keypoints
        ids = data[EXAMPLE_ID].to_pylist()
        out: dict[int, Keypoints2DInstances] = {}
        column = found[0]
        for index, (row, value) in enumerate(zip(ids, data[column].to_pylist(), strict=True)):
            if value is None:
                continue
            where = f"metrics row {index} (example_id {row}), column {column!r}"
            item = _instances(value, k, where)
            if row in out and len(item):
                merged = out[row].copy()
                for i in range(len(item)):
                    merged._append(item.select([i]))
                item = merged
            elif row in out:
                continue
            out[int(row)] = item
        return out

    def _write_native_run(self, name: str, predictions: dict[int, Keypoints2DInstances]) -> str:
        from posetable.runs import Run as NativeRun

        target = self._run.unique_collection_name(name, None)
        native = NativeRun.from_predictions(
            self._table.native,
            predictions,
            name=target,
            store=self._run.store,
            model_info={
                "tlc_run": self._run.native_name,
                "stream": name,
                "epoch": -1,
                "source": "MetricsTableWriter",
            },
        )
        self._run.add_collection(native)
        return native.name


def _is_keypoints(arrow_type: pa.DataType) -> bool:
    if not pa.types.is_struct(arrow_type):
        return False
    names = {f.name for f in arrow_type}
    if "instances" not in names:
        return False
    instances = arrow_type.field("instances").type
    if not pa.types.is_list(instances) or not pa.types.is_struct(instances.value_type):
        return False
    inner = {f.name for f in instances.value_type}
    return "xys" in inner or "vertices_2d" in inner


def _instances(value: Mapping[str, Any], k: int, where: str) -> Keypoints2DInstances:
    from posetable.integrations._common import prediction_instances

    instances = value.get("instances") or []
    if instances and "vertices_2d" in instances[0]:
        try:
            item = Keypoints2DInstances.from_row(value)
        except Exception as exc:
            raise RowError(f"{where}: not 3LC's keypoints layout: {exc}") from None
        if len(item) and item.num_keypoints != k:
            raise RunError(f"{where}: predictions have K={item.num_keypoints}, the table K={k}")
        conf = item.keypoint_confidences
        if len(item) and conf is None:
            raise RunError(f"{where}: predicted keypoints need per-point confidences")
        if len(item) and conf is not None and item.instance_confidences is None:
            item.instance_confidences = conf.mean(axis=1)
        return item
    poses = np.zeros((len(instances), k, 3))
    scores = np.zeros(len(instances))
    for i, instance in enumerate(instances):
        xys = np.asarray(instance.get("xys") or [], dtype=np.float64)
        if xys.size != 2 * k:
            raise RunError(
                f"{where}, instance {i}: 'xys' must hold 2*K={2 * k} values for the table's "
                f"K={k} keypoints, got {xys.size}"
            )
        extra = instance.get("xys_additional_data") or {}
        conf = extra.get("conf", extra.get("confidence"))
        if conf is None or len(conf) != k:
            raise RunError(
                f"{where}, instance {i}: predicted keypoints need "
                f"xys_additional_data.conf with K={k} values, got {conf!r}"
            )
        poses[i, :, :2] = xys.reshape(k, 2)
        poses[i, :, 2] = np.asarray(conf, dtype=np.float64)
        score = instance.get("score", instance.get("confidence"))
        scores[i] = float(np.mean(conf)) if score is None else float(score)
    width = _bound(value, "x_max")
    height = _bound(value, "y_max")
    return prediction_instances(poses, scores=scores, width=width, height=height, num_keypoints=k)


def _bound(value: Mapping[str, Any], key: str) -> float | None:
    got = value.get(key)
    return None if got is None else float(got)
