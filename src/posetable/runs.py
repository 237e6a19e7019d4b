"""``Run``: a model's predictions on one exact table revision, and how good they were.

A run is stored under ``<store>/runs/<name>/``. Creating one writes what it was given:
``manifest.json`` (table revision, sigmas, model info, counts), ``predictions_eval/`` (the
predictions as flat numpy columns, see ``_run_columns``), ``predictions.parquet`` (``row``,
``sample_id`` and the keypoints struct) and ``sample_columns.parquet`` (the user's own
per-sample values) where given. Everything else is derived from those on first use and kept
in the folder: ``evaluation.json`` (the summary metrics), ``per_sample.parquet``,
``per_instance.parquet``, ``pr.npz`` (the precision/recall arrays), a record made from flat
columns, the dashboard's ``index/`` and the label-error suspects; :meth:`Run.materialize`
makes them all at once. So a run costs what reading its predictions costs, and its metrics
cost an evaluation once (runs written before format 2 carry their metrics in the manifest).
Metrics always use the TABLE's sigmas, so runs on one revision stay comparable.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from posetable._arrow import (
    KEYPOINTS_COLUMN,
    instances_from_arrow,
    instances_to_arrow,
    keypoints_column,
)
from posetable._commit import rename_into_place
from posetable._lazy import LazyModule
from posetable._rows import SAMPLE_ID
from posetable._run_columns import (
    PredictionArrays,
    read_prediction_arrays,
    read_record_columns,
    rows_for_samples,
    write_prediction_arrays,
)
from posetable._validate import check_row
from posetable.errors import NotFoundError, PosetableWarning, RunError
from posetable.eval.result import STAT_NAMES
from posetable.instances import Keypoints2DInstances
from posetable.store import Store, check_name, resolve_store
from posetable.table import StoreLike, Table

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq
else:
    pa = LazyModule("pyarrow")
    pq = LazyModule("pyarrow.parquet")

RUN_FORMAT_VERSION = 2  # 2: metrics derived on first use (1 kept them in the manifest)
METRIC_NAMES = STAT_NAMES
EVALUATION_FILE = "evaluation.json"  # the summary metrics, written after ``pr.npz``
SAMPLE_COLUMNS_FILE = "sample_columns.parquet"
#: the files a run derives on first use, and what makes each
_SUMMARY_FILES = ("pr.npz", EVALUATION_FILE)  # made by the first ``metrics``
_TABLE_FILES = ("per_sample.parquet", "per_instance.parquet")  # by the first table asked for
_EVALUATION_FILES = (*_TABLE_FILES, *_SUMMARY_FILES)
_RECORD_FILE = "predictions.parquet"

_derive_locks: dict[str, threading.Lock] = {}
_derive_locks_guard = threading.Lock()


def _derive_lock(path: Path) -> threading.Lock:
    """One lock per run folder in this process: a run's derived files are made once."""
    with _derive_locks_guard:
        return _derive_locks.setdefault(str(path), threading.Lock())


def _check_prediction(table: Table, row: int, instances: Any) -> Keypoints2DInstances:
    if not isinstance(instances, Keypoints2DInstances):
        try:
            instances = Keypoints2DInstances.from_row(instances)
        except Exception as exc:
            raise RunError(
                f"row {row}: predictions must be Keypoints2DInstances, "
                f"got {type(instances).__name__}"
            ) from exc
    k = table.schema.num_keypoints
    if len(instances) and instances.num_keypoints != k:
        raise RunError(
            f"row {row}: predictions must have K={k} keypoints like table {table.ref}, "
            f"got K={instances.num_keypoints}"
        )
    if len(instances) and instances.instance_confidences is None:
        raise RunError(
            f"row {row}: predictions need an instance score (instance_confidences), got none"
        )
    if len(instances) and instances.keypoint_visibilities is not None:
        # ground-truth style instances used as predictions: confidences from visibility
        instances = Keypoints2DInstances(
            instances.keypoints,
            keypoint_confidences=(instances.keypoint_visibilities > 0).astype(np.float32),
            instance_labels=instances.instance_labels,
            instance_confidences=instances.instance_confidences,
            instance_bbs=instances.instance_bbs,
            image_width=instances.image_width,
            image_height=instances.image_height,
        )
    return instances


class Run:
    """Predictions of one model on one table revision, with metrics once finished.

    Example:
        >>> import posetable as pt, tempfile
        >>> from posetable.sample import sample_table
        >>> table = sample_table(store=tempfile.mkdtemp())
        >>> run = pt.Run.create(table, name="copy-of-gt", model_info={"model": "oracle"})
        >>> for i, row in enumerate(table):
        ...     gt = row["keypoints"].select(row["keypoints"].instance_extras["num_keypoints"] > 0)
        ...     gt.instance_confidences = np.ones(len(gt))
        ...     run.add_predictions(i, gt)
        >>> run = run.finish()
        >>> round(run.metrics["ap"], 3)
        1.0
    """

    def __init__(
        self,
        store: Store,
        name: str,
        manifest: dict[str, Any] | None = None,
        table: Table | None = None,
    ) -> None:
        self._store = store
        self._name = name
        self._manifest = manifest
        self._table = table
        self._pending: dict[int, Keypoints2DInstances] = {}
        self._cache: dict[str, Any] = {}
        self._model_info: dict[str, Any] = {}
        self._sample_columns: dict[str, np.ndarray] = {}

    # -- creating ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        table: Table,
        *,
        name: str,
        model_info: Mapping[str, Any] | None = None,
        store: StoreLike = None,
        sample_columns: Mapping[str, Any] | None = None,
    ) -> Run:
        """Start a run of predictions on ``table`` (its exact revision); add, then finish.

        ``sample_columns`` are the user's own per-sample values kept beside the metrics
        (losses, embeddings, ...): ``{name: values}``, one value per table row (NaN where a
        row has none), or a ``(rows, d)`` array that becomes columns ``name_0 .. name_{d-1}``.
        The dashboard sorts, filters and plots them like any metric.
        """
        if not isinstance(table, Table):
            raise RunError(f"a run is made on a posetable Table, got {type(table).__name__}")
        check_name(name, "run")
        resolved = table.store if store is None else resolve_store(store)
        columns = _sample_columns(sample_columns, len(table), where=f"run {name!r}")
        if (resolved.runs_dir / name / "manifest.json").exists():
            raise RunError(
                f"a run named {name!r} already exists in {resolved.root}; choose another name"
            )
        run = cls(resolved, name, None, table)
        run._model_info = dict(model_info or {})
        run._sample_columns = columns
        return run

    def add_predictions(self, row_index: int, instances: Keypoints2DInstances) -> None:
        """Add one row's predicted instances (keypoint and instance confidences)."""
        if self._manifest is not None:
            raise RunError(f"run {self._name!r} is finished; predictions cannot be added")
        table = self._require_table()
        where = f"table {table.ref}"
        row_index = check_row(row_index, len(table), argument="row_index", where=where)
        checked = _check_prediction(table, int(row_index), instances)
        if int(row_index) in self._pending and len(self._pending[int(row_index)]):
            merged = self._pending[int(row_index)].copy()
            for i in range(len(checked)):
                merged._append(checked.select([i]))
            checked = merged
        self._pending[int(row_index)] = checked

    def finish(self) -> Run:
        """Write the run and return it opened (its metrics, with the table's sigmas, are
        computed when first asked for, and kept)."""
        if self._manifest is not None:
            return self
        table = self._require_table()
        return _write_run(
            self._store,
            self._name,
            table,
            self._pending,
            self._model_info,
            self._sample_columns,
        )

    @classmethod
    def from_predictions(
        cls,
        table: Table,
        predictions: Sequence[Keypoints2DInstances | None] | Mapping[int, Keypoints2DInstances],
        *,
        name: str,
        model_info: Mapping[str, Any] | None = None,
        store: StoreLike = None,
        sample_columns: Mapping[str, Any] | None = None,
    ) -> Run:
        """A finished run from predictions per row (a list aligned with rows or a mapping).

        ``sample_columns``: per-sample values of the user's own, see :meth:`create`.
        """
        run = cls.create(
            table, name=name, model_info=model_info, store=store, sample_columns=sample_columns
        )
        items = predictions.items() if isinstance(predictions, Mapping) else enumerate(predictions)
        if not isinstance(predictions, Mapping) and len(predictions) > len(table):
            raise RunError(
                f"predictions for {len(predictions)} rows, but table {table.ref} "
                f"has {len(table)} rows"
            )
        for row, instances in items:
            if instances is not None:
                run.add_predictions(row, instances)
        return run.finish()

    @classmethod
    def from_coco_results(
        cls,
        table: Table,
        results_json: str | os.PathLike[str],
        *,
        name: str,
        model_info: Mapping[str, Any] | None = None,
        store: StoreLike = None,
    ) -> Run:
        """A finished run from a COCO keypoint results JSON (image ids -> table rows).

        The file is read into flat columns and written without an object per row or result
        (see :func:`posetable.eval.api.read_coco_result_rows`).
        """
        from posetable.eval.api import read_coco_result_rows

        info = {"source": str(results_json), **dict(model_info or {})}
        run = cls.create(table, name=name, model_info=info, store=store)
        flat = read_coco_result_rows(results_json, table)
        rows = flat.rows  # sorted; the file's order kept within a row
        starts, counts = _row_groups(rows)
        index = np.arange(rows.shape[0], dtype=np.int64) - np.repeat(starts, counts)
        sizes = _image_sizes(table, rows[starts])
        arrays = PredictionArrays(
            row=rows,
            sample_id=table.sample_ids()[rows],
            index=index,
            label=flat.labels,
            score=flat.scores,
            area=flat.areas,
            keypoints=flat.keypoints,
        )
        record = {
            "confidences": flat.confidences,
            "boxes": flat.boxes,
            "image_sizes": np.repeat(sizes, counts, axis=0),
        }
        return _write_run_columns(
            run._store,
            name,
            table,
            arrays,
            run._model_info,
            None,
            rows_with_predictions=int(starts.shape[0]),
            record=record,
        )

    @classmethod
    def from_yolo_predictions(
        cls,
        table: Table,
        folder: str | os.PathLike[str],
        *,
        name: str,
        model_info: Mapping[str, Any] | None = None,
        store: StoreLike = None,
    ) -> Run:
        """A finished run from Ultralytics-style predicted label files (one per image)."""
        from posetable.formats.yolo import read_yolo_predictions

        predictions = read_yolo_predictions(folder, table)
        info = {"source": str(folder), **dict(model_info or {})}
        return cls.from_predictions(table, predictions, name=name, model_info=info, store=store)

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, name: str, *, store: StoreLike = None) -> Run:
        """Open a finished run by name (checked: a name never reaches outside the store)."""
        check_name(name, "run")
        resolved = resolve_store(store)
        path = resolved.runs_dir / name / "manifest.json"
        if not path.is_file():
            known = list_runs(store=resolved)
            raise NotFoundError(
                f"no run named {name!r} in store {resolved.root}; known runs: "
                f"{', '.join(known) if known else '(none)'}"
            )
        return cls(resolved, name, orjson.loads(path.read_bytes()))

    # -- properties --------------------------------------------------------------------------
    def _require_table(self) -> Table:
        if self._table is None:
            self._table = self.table()
        return self._table

    def _finished(self) -> dict[str, Any]:
        if self._manifest is None:
            raise RunError(f"run {self._name!r} is not finished: call run.finish() first")
        return self._manifest

    @property
    def name(self) -> str:
        """The run name."""
        return self._name

    @property
    def path(self) -> Path:
        """The run folder."""
        return self._store.runs_dir / self._name

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest (a copy)."""
        return orjson.loads(orjson.dumps(self._finished()))

    @property
    def table_name(self) -> str:
        """The name of the table the run was made on."""
        if self._manifest is None:
            return self._require_table().name
        return str(self._manifest["table"]["name"])

    @property
    def table_revision(self) -> int:
        """The exact table revision the run was made on."""
        if self._manifest is None:
            return self._require_table().revision
        return int(self._manifest["table"]["revision"])

    @property
    def table_ref(self) -> str:
        """``"name@revision"`` of the run's table."""
        return f"{self.table_name}@{self.table_revision}"

    def table(self) -> Table:
        """Open the exact table revision the run was made on."""
        if self._table is not None:
            return self._table
        try:
            self._table = Table.open(self.table_ref, store=self._store)
        except NotFoundError as exc:
            raise RunError(
                f"run {self._name!r} was made on {self.table_ref}, which no longer exists in "
                f"{self._store.root}: {exc}"
            ) from exc
        return self._table

    @property
    def model_info(self) -> dict[str, Any]:
        """What the run says about the model."""
        return dict(self._finished().get("model_info") or {})

    @property
    def sigmas(self) -> np.ndarray:
        """The OKS sigmas the metrics were computed with (the table's)."""
        return np.asarray(self._finished()["sigmas"], dtype=np.float64)

    @property
    def sigmas_source(self) -> str:
        """Where those sigmas came from (``COCO``, ``uniform 1/K``, ``estimated from ...``,
        ``user``), as the table's schema said when the run was made."""
        manifest = self._finished()
        if "sigmas_source" in manifest:
            return str(manifest["sigmas_source"])
        from posetable.schema import sigmas_source_of

        return sigmas_source_of(manifest["sigmas"])  # a run written before sources

    @property
    def metrics(self) -> dict[str, float]:
        """The 10 COCO keypoint stats (``ap``, ``ap50``, ... ``ar_large``): evaluated the
        first time they are asked for (on the run's table revision), then kept."""
        return dict(self._evaluation())

    @property
    def evaluated(self) -> bool:
        """Whether the metrics are known without evaluating (kept, or computed already)."""
        manifest = self._finished()
        return (
            "metrics" in manifest
            or "evaluation" in self._cache
            or self._kept(EVALUATION_FILE) is not None
        )

    @property
    def created(self) -> str:
        """When the run was written (ISO 8601, UTC)."""
        return str(self._finished()["created"])

    def _parquet(self, stem: str) -> pa.Table:
        if stem not in self._cache:
            self._cache[stem] = pq.read_table(self.file(f"{stem}.parquet"))
        return self._cache[stem]

    # -- files derived on first use ----------------------------------------------------------
    def file(self, name: str) -> Path:
        """The path of one of the run's files, made first when the run derives it on first
        use: ``predictions.parquet``, ``per_sample.parquet``, ``per_instance.parquet``,
        ``pr.npz`` or ``evaluation.json``.

        A file is made in the run's folder, or where that folder cannot be written (a store
        on a read-only disk) in a folder of the system's temporary directory.

        Example:
            ``pq.read_table(run.file("per_sample.parquet"))``
        """
        self._finished()
        kept = self._kept(name)
        if kept is not None:
            return kept
        if name in _SUMMARY_FILES:
            metrics = self._evaluation()
            if self._kept(name) is None and name == EVALUATION_FILE:
                self._write_summary(metrics)  # a format-1 run: its manifest's metrics
        elif name in _TABLE_FILES:
            with _derive_lock(self.path):
                if any(self._kept(n) is None for n in _TABLE_FILES):
                    self._evaluate_and_keep(tables=True)
        elif name == _RECORD_FILE:
            with _derive_lock(self.path):
                if self._kept(name) is None:
                    self._write_derived(name, self._record_table())
        else:
            raise RunError(
                f"run {self._name!r} has no file {name!r}; its derived files are "
                f"{', '.join((_RECORD_FILE, *_EVALUATION_FILES))}"
            )
        made = self._kept(name)
        if made is None:  # a format-1 run written without it (its files are all made then)
            raise RunError(f"run {self._name!r} in {self.path} has no {name}: the run is damaged")
        return made

    def materialize(self) -> Run:
        """Make every file the run derives on first use now: its evaluation, its record,
        the dashboard's index and its label-error suspects (what the CLI does after
        creating a run, so that opening it in the dashboard costs nothing more).

        Example:
            ``pt.Run.from_coco_results(table, "results.json", name="r").materialize()``
        """
        from posetable._run_index import INDEX_FOLDER, sorted_lance_copy
        from posetable._run_suspects import SUSPECT_THRESHOLDS, find_and_keep, suspects_path

        self.file("per_sample.parquet")  # one evaluation: the summary and both tables
        record = self.file(_RECORD_FILE)
        folder = record.parent
        ids = self._require_table().sample_ids()
        sorted_lance_copy(record, folder / INDEX_FOLDER / "predictions.lance", ids)
        sorted_lance_copy(
            self.file("per_instance.parquet"), folder / INDEX_FOLDER / "per_instance.lance", ids
        )
        if not suspects_path(self.path, SUSPECT_THRESHOLDS).is_file():
            find_and_keep(self, self._require_table())
        return self

    def _fallback_folder(self) -> Path:
        """Where this run's derived files go when its own folder cannot be written."""
        key = f"{self.path.resolve()}|{self._finished().get('created')}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "posetable-derived" / digest

    def _kept(self, name: str) -> Path | None:
        """The run's file ``name`` where it exists (its folder, then the fallback), else None."""
        for folder in (self.path, self._fallback_folder()):
            if (folder / name).is_file():
                return folder / name
        return None

    def _write_derived(self, name: str, data: Any) -> Path:
        """Write one derived file atomically (a temporary name renamed into place)."""
        for folder in (self.path, self._fallback_folder()):
            target = folder / name
            staging = folder / f".{name}.{uuid.uuid4().hex}"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                if isinstance(data, pa.Table):
                    group = PER_SAMPLE_GROUP if name == "per_sample.parquet" else None
                    pq.write_table(data, staging, row_group_size=group, **_PLAIN)
                elif isinstance(data, bytes):
                    staging.write_bytes(data)
                else:  # the precision/recall arrays
                    with open(staging, "wb") as out:
                        np.savez(out, **data)
                os.replace(staging, target)
                return target
            except OSError as exc:  # a folder that cannot be written: the next one
                staging.unlink(missing_ok=True)
                if exc.errno not in _READ_ONLY_ERRNOS:
                    raise
        raise RunError(
            f"run {self._name!r}: could not keep {name} in {self.path} or in "
            f"{self._fallback_folder()}"
        )

    def _evaluation(self) -> dict[str, float]:
        """The summary metrics: the manifest's (format 1), kept, or evaluated now."""
        manifest = self._finished()
        if "metrics" in manifest:
            return dict(manifest["metrics"])
        hit = self._cache.get("evaluation")
        if hit is not None:
            return dict(hit)
        with _derive_lock(self.path):
            kept = self._kept(EVALUATION_FILE)
            metrics = None
            if kept is not None:
                try:
                    metrics = dict(orjson.loads(kept.read_bytes())["metrics"])
                except (OSError, ValueError, KeyError, TypeError):
                    metrics = None  # damaged: evaluated again
            if metrics is None:
                metrics = self._evaluate_and_keep(tables=False)
        self._cache["evaluation"] = metrics
        return dict(metrics)

    def _evaluate_and_keep(self, *, tables: bool) -> dict[str, float]:
        """Evaluate on the run's revision with its sigmas and keep the summary (``pr.npz``,
        then ``evaluation.json``) and, with ``tables``, the per-sample and per-instance
        tables (building them costs several times the evaluation: the first ``metrics``
        does without)."""
        from posetable.eval import evaluate

        try:
            table = self.table()
        except RunError as exc:
            raise RunError(
                f"run {self._name!r} was never evaluated, and its metrics cannot be now: {exc}"
            ) from exc
        result = evaluate(table, self, sigmas=self.sigmas)
        if tables:
            per_sample = _with_sample_columns(result.per_sample, self._stored_sample_columns())
            self._write_derived("per_sample.parquet", per_sample)
            self._write_derived("per_instance.parquet", result.per_instance)
            self._cache["per_sample"] = per_sample
        self._write_derived(
            "pr.npz",
            {
                "precision": result.precision,
                "recall": result.recall,
                "recall_thresholds": result.recall_thresholds,
                "oks_thresholds": result.oks_thresholds,
            },
        )
        metrics = {m: float(getattr(result, m)) for m in METRIC_NAMES}
        self._write_summary(metrics)
        self._cache["evaluation"] = metrics
        return metrics

    def _write_summary(self, metrics: Mapping[str, float]) -> None:
        """Keep ``evaluation.json``: the summary metrics, with the sigmas they used."""
        summary = {
            "metrics": dict(metrics),
            "sigmas": self.sigmas.tolist(),
            "created": self.created,
        }
        self._write_derived(EVALUATION_FILE, orjson.dumps(summary, option=orjson.OPT_INDENT_2))

    def _stored_sample_columns(self) -> dict[str, np.ndarray]:
        """The user's per-sample columns kept with the run (one value per table row)."""
        path = self.path / SAMPLE_COLUMNS_FILE
        if not path.is_file():
            return {}
        data = pq.read_table(path)
        return {n: data.column(n).to_numpy(zero_copy_only=False) for n in data.column_names}

    def _record_table(self) -> pa.Table:
        """``predictions.parquet``'s table from the flat columns a run keeps (format 2)."""
        arrays = read_prediction_arrays(self.path)
        record = read_record_columns(self.path)
        if arrays is None or record is None:
            raise RunError(
                f"run {self._name!r} in {self.path} has neither predictions.parquet nor the "
                "flat columns it is made from: the run folder is damaged"
            )
        rows = np.asarray(arrays.row)
        starts, counts = _row_groups(rows)
        sizes = np.asarray(record["image_sizes"])[starts]
        column = keypoints_column(
            counts,
            arrays.keypoints,
            widths=sizes[:, 0],
            heights=sizes[:, 1],
            confidences=record["confidences"],
            boxes=record["boxes"],
            labels=arrays.label,
            instance_confidences=arrays.score,
            num_keypoints=len(self._finished()["sigmas"]),
        )
        return pa.table(
            {
                "row": pa.array(rows[starts], pa.int64()),
                SAMPLE_ID: pa.array(np.asarray(arrays.sample_id)[starts], pa.int64()),
                KEYPOINTS_COLUMN: column,
            }
        )

    @property
    def per_sample(self) -> pa.Table:
        """Per-image metrics (join to table rows on ``row``)."""
        return self._parquet("per_sample")

    @property
    def per_instance(self) -> pa.Table:
        """Per-instance metrics of ground truth and predictions (join on ``row``)."""
        return self._parquet("per_instance")

    def export_coco_results(self, path: str | os.PathLike[str]) -> Path:
        """Write the predictions as a COCO keypoint results JSON (``COCO.loadRes``' input).

        Image ids are the table's ``image_id`` column (else row indices) and categories its
        COCO ids, so ``Run.from_coco_results(table, path, name=...)`` gives them back.

        Example:
            >>> import posetable as pt, tempfile, os
            >>> from tests._predictions import noisy_predictions
            >>> folder = tempfile.mkdtemp()
            >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 64, "height": 48,
            ...     "keypoints": pt.Keypoints2DInstances([[[10.0, 12.0], [20.0, 22.0]]],
            ...         keypoint_visibilities=[[2, 2]])}], schema=pt.Keypoints2DSchema(2),
            ...     name="t", store=folder)
            >>> run = pt.Run.from_predictions(t, noisy_predictions(t), name="r")
            >>> path = run.export_coco_results(os.path.join(folder, "results.json"))
            >>> back = pt.Run.from_coco_results(t, path, name="r2")
            >>> back.metrics == run.metrics
            True
        """
        from posetable._coco_results import write_coco_results

        return write_coco_results(self, path)

    def predictions_arrow(self) -> pa.Table:
        """All predictions: ``row``, ``sample_id``, ``keypoints`` (the posetable struct)."""
        return self._parquet("predictions")

    def predictions(self, row: int) -> Keypoints2DInstances | None:
        """The predictions of one table row, or None when the run has none for it."""
        rows = int(self._finished()["table"]["rows"])
        row = check_row(row, rows, argument="row", where=f"the run's table {self.table_ref}")
        data = self.predictions_arrow()
        if "row_order" not in self._cache:  # runs write their rows sorted: searched as they are
            entries = data.column("row").to_numpy()
            order = None
            if entries.size > 1 and not bool(np.all(entries[1:] > entries[:-1])):
                order = np.argsort(entries, kind="stable")
                entries = entries[order]
            self._cache["row_order"] = (entries, order)
        entries, order = self._cache["row_order"]
        at = int(np.searchsorted(entries, row))
        if at >= entries.shape[0] or int(entries[at]) != row:
            return None
        at = at if order is None else int(order[at])
        return instances_from_arrow(data.column(KEYPOINTS_COLUMN).slice(at, 1))[0]

    def all_predictions(self) -> list[Keypoints2DInstances | None]:
        """Predictions aligned with the table's rows (None where the run has none)."""
        data = self.predictions_arrow()
        out: list[Keypoints2DInstances | None] = [None] * int(self._finished()["table"]["rows"])
        decoded = instances_from_arrow(data.column(KEYPOINTS_COLUMN))
        for r, item in zip(data.column("row").to_pylist(), decoded, strict=True):
            out[int(r)] = item
        return out

    def pr_curves(self) -> dict[str, np.ndarray]:
        """PR curves for area "all", mean over categories: precision (10, 101) per OKS threshold."""
        with np.load(self.file("pr.npz")) as data:
            precision = data["precision"]  # (T, R, C, A, M)
            recall_thresholds = data["recall_thresholds"]
            oks_thresholds = data["oks_thresholds"]
        curve = precision[:, :, :, 0, -1]
        valid = curve > -1
        summed = np.where(valid, curve, 0.0).sum(axis=2)
        count = valid.sum(axis=2)
        mean = np.where(count > 0, summed / np.maximum(count, 1), -1.0)
        return {
            "recall_thresholds": recall_thresholds,
            "oks_thresholds": oks_thresholds,
            "precision": mean,
        }

    def evaluate(
        self,
        *,
        instance_confidence_threshold: float | None = None,
        keypoint_confidence_threshold: float | None = None,
    ) -> Any:
        """Re-evaluate with confidence filters (a metrics view; the run is unchanged).

        Instances under ``instance_confidence_threshold`` are dropped. Keypoints under
        ``keypoint_confidence_threshold`` are moved out of reach (they count as misses for
        OKS), so the view shows the quality of what a user would keep.
        """
        from posetable.eval import evaluate
        from posetable.filtering import filter_predictions

        table = self.table()
        if instance_confidence_threshold is None and keypoint_confidence_threshold is None:
            return evaluate(table, self, sigmas=table.schema.sigmas)
        filtered: list[Keypoints2DInstances | None] = []
        for item in self.all_predictions():
            if item is None:
                filtered.append(None)
                continue
            kept, mask = filter_predictions(
                item,
                keypoint_confidence_threshold=keypoint_confidence_threshold,
                instance_confidence_threshold=instance_confidence_threshold,
            )
            if keypoint_confidence_threshold is not None and len(kept):
                far = kept.keypoints.copy()
                far[~mask] = -1e9
                kept.keypoints = far
            filtered.append(kept)
        return evaluate(table, filtered, sigmas=table.schema.sigmas)

    def _check_descends(self, table: Table) -> None:
        """A RunError unless ``table`` is the run's revision or descends from it (also
        through ``derive``: a table made by ``KeypointHelper.edit_*`` from the run's)."""
        if self.table_ref == table.ref:
            return
        lineage = table.lineage()
        if self.table_ref not in lineage:
            raise RunError(
                f"run {self._name!r} was made on {self.table_ref}, which is not an ancestor "
                f"of {table.ref} (its lineage: {', '.join(lineage[:6])}); use a revision that "
                f"descends from {self.table_ref}"
            )
        # a skeleton operation between the two (reorder, rename, add, remove, map) would
        # score the run's points in another layout: refuse rather than give wrong numbers
        own = self.table().schema.keypoint_names
        if tuple(own) != tuple(table.schema.keypoint_names):
            raise RunError(
                f"run {self._name!r} predicts the keypoints of {self.table_ref} "
                f"({_names_text(own)}), but {table.ref} has "
                f"{_names_text(table.schema.keypoint_names)}: its skeleton changed since; "
                "evaluate on a revision with the run's keypoints, or make a new run"
            )

    def prediction_columns(self, table: Table | None = None) -> pa.Table:
        """Every predicted instance as one flat row, for evaluation.

        Columns ``row``, ``sample_id``, ``index`` (within its row), ``label``, ``score``,
        ``area`` and ``keypoints`` (a fixed-size list of 2K float64: x0, y0, x1, ...). Rows
        are those of ``table`` (default: the run's own revision), which must be the run's
        revision or descend from it: predictions are matched to its rows by sample id, and
        those whose sample it no longer has are left out.

        Example:
            ``run.prediction_columns().column("score")``
        """
        return self.prediction_arrays(table).to_arrow()

    def prediction_arrays(self, table: Table | None = None) -> PredictionArrays:
        """:meth:`prediction_columns` as numpy arrays (memory-mapped from the run's files:
        reading them needs neither pyarrow nor Lance when ``table`` is the run's revision).

        Example:
            ``run.prediction_arrays().score``
        """
        data = self._cache.get("prediction_arrays")
        if data is None:
            data = read_prediction_arrays(self.path)
            if data is None:  # a run written before the files existed
                from posetable.eval import api

                inputs = api.prepare(self.table(), self.predictions_arrow())
                data = _prediction_arrays(inputs, self.table().sample_ids())
            self._cache["prediction_arrays"] = data
        if table is None or (
            table.name == self.table_name and table.revision == self.table_revision
        ):
            return data
        self._check_descends(table)
        rows = rows_for_samples(np.asarray(data.sample_id), table.sample_ids())
        keep = rows >= 0
        return dataclasses.replace(data.take(keep), row=rows[keep])

    def rows_in(self, table: Table) -> dict[int, int]:
        """Map rows of ``table`` to the run's rows holding the same samples.

        ``table`` must be the run's revision or one descending from it (rows are matched by
        their stable sample ids, so edits and deletes in between are handled).
        """
        self._check_descends(table)
        data = self.predictions_arrow()
        run_rows = data.column("row").to_numpy()
        target = rows_for_samples(data.column(SAMPLE_ID).to_numpy(), table.sample_ids())
        return {int(t): int(r) for t, r in zip(target, run_rows, strict=True) if t >= 0}

    def __repr__(self) -> str:
        if self._manifest is None:
            pending = len(self._pending)
            return f"Run({self._name!r}, table={self.table_ref}, unfinished, rows={pending})"
        if not self.evaluated:  # a repr never evaluates
            return f"Run({self._name!r}, table={self.table_ref}, not evaluated yet)"
        return f"Run({self._name!r}, table={self.table_ref}, ap={self.metrics['ap']:.4f})"


def _write_run(
    store: Store,
    name: str,
    table: Table,
    predictions: Mapping[int, Keypoints2DInstances],
    model_info: Mapping[str, Any],
    sample_columns: Mapping[str, np.ndarray] | None = None,
) -> Run:
    from posetable.eval import api

    sigmas = np.asarray(table.schema.sigmas, dtype=np.float64)
    aligned: list[Keypoints2DInstances | None] = [None] * len(table)
    for row, item in predictions.items():
        aligned[row] = item
    inputs = api.prepare(table, aligned, sigmas=sigmas)
    rows = sorted(predictions)
    items = [predictions[r] for r in rows]
    keypoints = instances_to_arrow(
        items,
        num_keypoints=table.schema.num_keypoints,
        extras={},
        widths=[it.image_width or 0.0 for it in items],
        heights=[it.image_height or 0.0 for it in items],
    )
    sample_ids = table.sample_ids()
    row_numbers = np.asarray(rows, np.int64)
    record = pa.table(
        {
            "row": pa.array(row_numbers, pa.int64()),
            SAMPLE_ID: pa.array(sample_ids[row_numbers], pa.int64()),
            KEYPOINTS_COLUMN: keypoints,
        }
    )
    return _write_run_columns(
        store,
        name,
        table,
        _prediction_arrays(inputs, sample_ids),
        model_info,
        sample_columns,
        rows_with_predictions=len(rows),
        predictions=record,
    )


def _write_run_columns(
    store: Store,
    name: str,
    table: Table,
    arrays: PredictionArrays,
    model_info: Mapping[str, Any],
    sample_columns: Mapping[str, np.ndarray] | None,
    *,
    rows_with_predictions: int,
    predictions: pa.Table | None = None,
    record: dict[str, np.ndarray] | None = None,
) -> Run:
    """Write a run of flat prediction columns: its manifest, ``arrays`` and either the
    record table ``predictions`` or the ``record`` columns it is made from on first use.
    Nothing is evaluated: the metrics are derived when first asked for."""
    if predictions is None and record is None:
        raise ValueError("a run is written with its record: predictions or record columns")
    sigmas = np.asarray(table.schema.sigmas, dtype=np.float64)
    manifest = {
        "format_version": RUN_FORMAT_VERSION,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(),
        "table": {"name": table.name, "revision": table.revision, "rows": len(table)},
        "sigmas": sigmas.tolist(),
        "sigmas_given": table.schema.oks_sigmas_given,
        "sigmas_source": table.schema.oks_sigmas_source,
        "model_info": dict(model_info),
        "counts": {"rows_with_predictions": rows_with_predictions, "predictions": len(arrays)},
    }
    final = store.runs_dir / name
    if (final / "manifest.json").exists():
        raise RunError(f"a run named {name!r} already exists in {store.root}; choose another name")
    final.parent.mkdir(parents=True, exist_ok=True)  # path-like names live in folders
    staging = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir()
    try:
        write_prediction_arrays(staging, arrays, record)
        if predictions is not None:
            pq.write_table(predictions, staging / _RECORD_FILE, **_PLAIN)
        if sample_columns:
            pq.write_table(
                pa.table({n: pa.array(v, pa.float64()) for n, v in sample_columns.items()}),
                staging / SAMPLE_COLUMNS_FILE,
                **_PLAIN,
            )
        (staging / "manifest.json").write_bytes(
            orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        )
        taken_error = RunError(
            f"a run named {name!r} was created in {store.root} by another writer while this "
            "one was being written; nothing was written under that name"
        )
        rename_into_place(staging, final, taken=taken_error, what=f"the new run {name!r}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Run(store, name, manifest, table)


# float lists gain nothing from dictionary pages (half the write time at val2017 size)
_PLAIN = {"use_dictionary": False}
PER_SAMPLE_GROUP = 1 << 16  # rows per row group of per_sample.parquet
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _row_groups(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(where each row's entries start, how many it has) of ``rows``, sorted."""
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows
    return starts, np.diff(np.r_[starts, rows.shape[0]])


def _image_sizes(table: Table, rows: np.ndarray) -> np.ndarray:
    """(len(rows), 2) float64 width and height of some table rows."""
    columns = [np.asarray(table._row_column(n), np.float64)[rows] for n in ("width", "height")]
    return np.stack(columns, axis=1).reshape(len(rows), 2)


def _prediction_arrays(inputs: Any, sample_ids: np.ndarray) -> PredictionArrays:
    """The flat evaluation columns of a run from the engine's prepared inputs."""
    dt = inputs.dt
    rows = inputs.rows[dt.image].astype(np.int64)
    return PredictionArrays(
        row=rows,
        sample_id=sample_ids[rows],
        index=dt.index,
        label=inputs.category_labels[dt.category],
        score=dt.score,
        area=dt.area,
        keypoints=dt.keypoints,
    )


def _names_text(names: Sequence[str]) -> str:
    shown = ", ".join(names[:6])
    return f"K={len(names)}: {shown}{', ...' if len(names) > 6 else ''}"


def list_runs(table: Table | str | None = None, *, store: StoreLike = None) -> list[str]:
    """Names of the finished runs in a store, optionally only those made on one table name.

    Example:
        >>> import posetable as pt, tempfile
        >>> pt.list_runs(store=tempfile.mkdtemp())
        []
    """
    if isinstance(table, Table):
        resolved = table.store if store is None else resolve_store(store)
        wanted: str | None = table.name
    else:
        resolved = resolve_store(store)
        wanted = table
    if not resolved.runs_dir.is_dir():
        return []
    names = []
    for manifest in sorted(resolved.runs_dir.rglob("manifest.json")):
        relative = manifest.parent.relative_to(resolved.runs_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue  # a staging folder, or inside a run's own files
        if wanted is not None:
            record = orjson.loads(manifest.read_bytes())
            if record["table"]["name"] != wanted:
                continue
        names.append(relative.as_posix())
    return sorted(names)


def compare_runs(runs: Iterable[Run | str], *, store: StoreLike = None) -> pa.Table:
    """One table of summary metrics, a row per run, side by side.

    Warns (``PosetableWarning``) when the runs used different sigmas or table revisions,
    because their numbers are then not comparable.
    """
    opened = [r if isinstance(r, Run) else Run.open(r, store=store) for r in runs]
    if not opened:
        raise RunError("compare_runs needs at least one run, got none")
    sigma_sets = {tuple(np.round(r.sigmas, 12)) for r in opened}
    if len(sigma_sets) > 1:
        warnings.warn(
            "runs were evaluated with different OKS sigmas ("
            + ", ".join(f"{r.name}: {r.table_ref}" for r in opened)
            + "); their metrics are not comparable",
            PosetableWarning,
            stacklevel=2,
        )
    elif len({r.table_ref for r in opened}) > 1:
        warnings.warn(
            "runs were made on different table revisions ("
            + ", ".join(f"{r.name}: {r.table_ref}" for r in opened)
            + "); compare them on the same revision for a fair comparison",
            PosetableWarning,
            stacklevel=2,
        )
    columns: dict[str, list[Any]] = {
        "run": [r.name for r in opened],
        "table": [r.table_ref for r in opened],
        "model": [str(r.model_info.get("model", "")) for r in opened],
    }
    for metric in METRIC_NAMES:
        columns[metric] = [r.metrics[metric] for r in opened]
    columns["created"] = [r.created for r in opened]
    return pa.table(columns)


def _sample_columns(columns: Mapping[str, Any] | None, rows: int, *, where: str) -> dict[str, Any]:
    """Checked per-sample columns: 1-D float arrays of ``rows`` values (2-D ones split)."""
    if columns is None:
        return {}
    if not isinstance(columns, Mapping):
        raise RunError(f"{where}: sample_columns must be a dict {{name: values}}, got {columns!r}")
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if not isinstance(name, str) or not name or name in _RESERVED_SAMPLE_COLUMNS:
            raise RunError(
                f"{where}: sample column name {name!r} must be a non-empty string other than "
                f"{sorted(_RESERVED_SAMPLE_COLUMNS)}"
            )
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RunError(f"{where}: sample column {name!r} must hold numbers: {exc}") from exc
        if array.ndim not in (1, 2) or array.shape[0] != rows:
            raise RunError(
                f"{where}: sample column {name!r} needs one value (or one vector) per table row "
                f"({rows}), got shape {array.shape}"
            )
        if np.isinf(array).any():
            raise RunError(f"{where}: sample column {name!r} holds inf (NaN marks a missing value)")
        if array.ndim == 1:
            out[name] = array
        else:
            out.update({f"{name}_{j}": array[:, j] for j in range(array.shape[1])})
    from posetable.eval._details import PER_SAMPLE_COLUMNS

    # checked when the run is made: its per-sample table is built on first use
    taken = sorted(set(out) & set(PER_SAMPLE_COLUMNS))
    if taken:
        raise RunError(
            f"{where}: sample columns {taken} would replace metrics of the same name; "
            "choose other names"
        )
    return out


# per-sample columns every run has: the user's own may not take these names
_RESERVED_SAMPLE_COLUMNS = frozenset({"row", "image_id", SAMPLE_ID})


def _with_sample_columns(per_sample: pa.Table, columns: Mapping[str, np.ndarray]) -> pa.Table:
    """The per-sample metrics with the user's columns added, aligned by ``row`` (their
    names checked against the metrics' by :func:`_sample_columns`)."""
    rows = per_sample.column("row").to_numpy()
    for name, values in columns.items():
        picked = values[rows]
        per_sample = per_sample.append_column(
            name, pa.array(picked, pa.float64(), mask=np.isnan(picked))
        )
    return per_sample
