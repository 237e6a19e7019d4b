"""3LC's SuperGradients integration (``tlc.integration.super_gradients``) on posetable.

* :class:`PoseEstimationDataset` ``(table, transforms=...)``: SuperGradients' pose dataset
  (``AbstractPoseEstimationDataset``) over a table, one sample per row (the adapter of
  :mod:`posetable.integrations.supergradients`).
* :class:`PoseEstimationMetricsCollectionCallback` ``(project_name=, run_name=, ...)``: a
  SuperGradients ``Callback`` that, during ``Trainer.train``, logs SuperGradients' aggregate
  metrics of every epoch into a 3LC run (``tlc.init``) and collects per-sample predictions
  and metrics of the train and val tables after the epochs ``metrics_collection_epochs``
  names and when training ends. Each collection is a native :class:`posetable.Run` named
  ``"<project>/<run>/<stream>-epoch-0003"`` (stream ``train`` / ``val``), evaluated with the
  table's sigmas (:func:`posetable.integrations.supergradients.validate`'s predictions), and
  listed in ``run.collections``. Each is written atomically when collected, so an
  interrupted training leaves the epochs already collected readable.
  ``collect_embeddings=True`` adds each row's image embedding (the global average pool of
  the backbone's last feature map) reduced to ``embeddings_dim`` 2 or 3 as the columns
  ``embeddings_0``...: one reducer per training, fitted on the first collection (the train
  stream, or the first collected) and applied to every later one; ``embeddings_method``
  None (default) or ``"pca"`` needs nothing more, ``"umap"``/``"pacmap"`` need
  ``posetable[tlc]``.

Needs ``pip install "posetable[supergradients]"`` (SuperGradients installed without its pins,
README "SuperGradients"); importing this module imports super_gradients.

Example:
    ``train = PoseEstimationDataset(train_table, transforms=train_transforms)``, then
    ``Trainer(...).train(model=..., training_params={..., "phase_callbacks":
    [PoseEstimationMetricsCollectionCallback(project_name="P", run_name="R")]}, ...)``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posetable.errors import MissingDependencyError, RunError, UnsupportedError
from posetable.integrations import supergradients as _sg
from posetable.integrations._common import check_num_keypoints
from posetable.integrations._embeddings import REDUCERS, EmbeddingReducer
from posetable.tlc.core.builtins.constants.column_names import IMAGE, KEYPOINTS_2D

_sg._require()

from super_gradients.training.utils.callbacks import Callback, PhaseContext  # noqa: E402

from posetable.integrations._supergradients_data import TablePoseEstimationDataset  # noqa: E402
from posetable.table import Table as NativeTable  # noqa: E402
from posetable.tlc._run import Run, active_run, init  # noqa: E402

__all__ = [
    "MetricsCollectionCallback",
    "PipelineParams",
    "PoseEstimationDataset",
    "PoseEstimationMetricsCollectionCallback",
]

#: embeddings reducers; None (the default) is PCA, which needs no extra
EMBEDDING_METHODS = ("pacmap", "umap", "pca")
DEFAULT_IMAGE_SIZE = 640


def _native(table: Any, argument: str = "table") -> NativeTable:
    native = getattr(table, "native", table)
    if not isinstance(native, NativeTable):
        raise UnsupportedError(
            f"{argument} must be a tlc.Table or a posetable.Table, got {type(table).__name__}"
        )
    return native


def _columns_of(table: Any) -> tuple[str, str]:
    """The (image, keypoints) column names 3LC code sees for ``table``."""
    if isinstance(table, NativeTable):
        return "image", KEYPOINTS_2D  # a native table's "keypoints" is accepted too
    return str(table.image_column), str(table.keypoints_column)


class PoseEstimationDataset(TablePoseEstimationDataset):
    """SuperGradients' pose dataset over a table, one sample per row (3LC's class).

    ``transforms`` are SuperGradients keypoint transforms; ``image_column`` and
    ``keypoints_column`` must name the table's image and keypoints columns (3LC's
    defaults ``"image"`` and ``"keypoints_2d"``; a native table's ``"keypoints"`` is
    accepted too). ``oks_sigmas`` and ``flip_indices`` are the table's.

    Example:
        ``PoseEstimationDataset(train_table, transforms=train_transforms)[0]`` is a
        ``PoseEstimationSample``; ``dataset.num_joints`` is the table's K.
    """

    def __init__(
        self,
        table: Any,
        transforms: Sequence[Any],
        image_column: str = IMAGE,
        keypoints_column: str = KEYPOINTS_2D,
    ) -> None:
        native = _native(table)
        image, keypoints = _columns_of(table)
        if image_column != image:
            raise UnsupportedError(
                f"image_column={image_column!r} is not the image column of table "
                f"{native.ref} ({image!r})"
            )
        if keypoints_column not in (keypoints, "keypoints"):
            raise UnsupportedError(
                f"keypoints_column={keypoints_column!r} is not the keypoints column of table "
                f"{native.ref} ({keypoints!r})"
            )
        if transforms is None or isinstance(transforms, (str, bytes)):
            raise UnsupportedError(
                f"transforms must be a list of SuperGradients keypoint transforms, got "
                f"{transforms!r}"
            )
        self.table = table
        self.native_table = native
        self.image_column = image_column
        self.keypoints_column = keypoints_column
        super().__init__(
            **_sg.dataset_arguments(native, transforms=list(transforms), include_empty_samples=True)
        )
        self.oks_sigmas = native.schema.sigmas.tolist()
        flips = native.schema.flip_indices
        self.flip_indices = None if flips is None else list(flips)

    def check_table(
        self, table: Any, image_column: str = IMAGE, keypoints_column: str = KEYPOINTS_2D
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """K, the skeleton and the colours of ``table`` (3LC's check of a table)."""
        native = _native(table)
        arguments = _sg.dataset_arguments(native, transforms=[], include_empty_samples=True)
        return (
            native.schema.num_keypoints,
            list(arguments["edge_links"]),
            list(arguments["keypoint_colors"]),
            list(arguments["edge_colors"]),
        )


@dataclasses.dataclass
class PipelineParams:
    """Prediction settings of the collection (3LC's ``PipelineParams``).

    ``conf``, ``iou`` and ``max_predictions`` (or ``post_nms_max_predictions``) are used by
    :func:`posetable.integrations.supergradients.predict_table` (None: its defaults 0.01,
    0.7, 20); ``pre_nms_max_predictions``, ``nms_top_k``, ``multi_label_per_box`` and
    ``class_agnostic_nms`` are kept in the run's parameters; ``fuse_model``, ``fp16`` and
    ``skip_image_resizing`` must stay False.
    """

    iou: float | None = None
    conf: float | None = None
    fuse_model: bool = False
    skip_image_resizing: bool = False
    nms_top_k: int | None = None
    max_predictions: int | None = None
    multi_label_per_box: bool | None = None
    class_agnostic_nms: bool | None = None
    pre_nms_max_predictions: int | None = None
    post_nms_max_predictions: int | None = None
    fp16: bool = False

    def predict_options(self) -> dict[str, Any]:
        """The options of ``predict_table`` these settings give."""
        out: dict[str, Any] = {}
        for name in ("conf", "iou"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise UnsupportedError(
                        f"pipeline_params.{name} must be a number, got {value!r}"
                    )
                if not 0 <= float(value) <= 1:
                    raise UnsupportedError(f"pipeline_params.{name} must be in [0, 1], got {value}")
                out[name] = float(value)
        most = self.post_nms_max_predictions or self.max_predictions
        if most is not None:
            if isinstance(most, bool) or not isinstance(most, int) or most < 1:
                raise UnsupportedError(
                    f"pipeline_params.max_predictions must be an int >= 1, got {most!r}"
                )
            out["max_predictions"] = int(most)
        for name in ("fuse_model", "fp16", "skip_image_resizing"):
            if getattr(self, name):
                raise UnsupportedError(
                    f"pipeline_params.{name}=True is not supported by posetable's collection "
                    "(it predicts in float32 on letterboxed images); leave it False"
                )
        return out


def _pipeline_params(value: Any) -> PipelineParams:
    if value is None:
        return PipelineParams()
    if isinstance(value, PipelineParams):
        return value
    if isinstance(value, Mapping):
        known = {f.name for f in dataclasses.fields(PipelineParams)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise UnsupportedError(
                f"pipeline_params has unknown keys {unknown}; known: {sorted(known)}"
            )
        return PipelineParams(**dict(value))
    raise UnsupportedError(
        f"pipeline_params must be a PipelineParams, a dict or None, got {type(value).__name__}"
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:
        return _json_safe(value.item())
    return repr(value) if len(repr(value)) < 200 else type(value).__name__


def _floats(metrics: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in dict(metrics or {}).items():
        try:
            number = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[str(key)] = number
    return out


def _image_size(dataset: Any) -> int:
    """The square input size the dataset's transforms give (LongestMaxSize / PadIfNeeded)."""
    composed = getattr(dataset, "transforms", None)
    found = 0
    for transform in getattr(composed, "transforms", []) or []:
        for attribute in ("max_height", "max_width", "min_height", "min_width"):
            value = getattr(transform, attribute, None)
            if isinstance(value, int) and value > 0:
                found = max(found, value)
    return found or DEFAULT_IMAGE_SIZE


class MetricsCollectionCallback(Callback):
    """Logs SuperGradients' aggregate metrics into a 3LC run and collects per-sample ones.

    Subclasses say how: :class:`PoseEstimationMetricsCollectionCallback` for pose models.
    The arguments are 3LC's; those posetable cannot honour raise
    :class:`~posetable.errors.UnsupportedError` here, before training starts.
    """

    def __init__(
        self,
        project_name: str | None = None,
        run_name: str | None = None,
        run_description: str | None = None,
        image_column_name: str = IMAGE,
        label_column_name: str | None = None,
        metrics_collection_epochs: list[int] | None = None,
        collect_metrics_on_train_end: bool = True,
        collect_val_only: bool = False,
        batch_size: int | None = 32,
        pipeline_params: PipelineParams | dict[str, Any] | None = None,
        collect_predictions: bool | None = None,
        collect_embeddings: bool = False,
        embeddings_dim: int = 2,
        embeddings_method: str | None = None,
        inference_chunk_size: int | None = None,
        dataloader_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        epochs = list(metrics_collection_epochs or [])
        for epoch in epochs:
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise UnsupportedError(
                    f"metrics_collection_epochs must hold zero-based epochs (ints >= 0), got "
                    f"{metrics_collection_epochs!r}"
                )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise UnsupportedError(f"batch_size must be an int >= 1 or None, got {batch_size!r}")
        if embeddings_method is not None and embeddings_method not in EMBEDDING_METHODS:
            raise UnsupportedError(
                f"embeddings_method must be one of {list(EMBEDDING_METHODS)} or None (PCA), "
                f"got {embeddings_method!r}"
            )
        if isinstance(embeddings_dim, bool) or embeddings_dim not in (2, 3):
            raise UnsupportedError(f"embeddings_dim must be 2 or 3, got {embeddings_dim!r}")
        method = embeddings_method or "pca"
        if collect_embeddings and method != "pca":
            module, package = REDUCERS[method]
            try:
                __import__(module)
            except ImportError:
                raise MissingDependencyError(
                    f"collect_embeddings=True with embeddings_method={method!r} needs "
                    f'{package}, which is not installed: pip install "posetable[tlc]" (or '
                    "embeddings_method='pca', always there)"
                ) from None
        self.project_name = project_name
        self.run_name = run_name
        self.run_description = run_description
        self.image_column_name = image_column_name
        self._label_column_name = label_column_name
        self.metrics_collection_epochs = sorted(set(epochs))
        self.collect_metrics_on_train_end = bool(collect_metrics_on_train_end)
        self.collect_val_only = bool(collect_val_only)
        self.batch_size = batch_size
        self.pipeline_params = _pipeline_params(pipeline_params)
        self._predict_options = self.pipeline_params.predict_options()
        self.collect_predictions = True if collect_predictions is None else collect_predictions
        self.collect_embeddings = bool(collect_embeddings)
        self.embeddings_dim = embeddings_dim
        self.embeddings_method = method
        self._reducer = self._new_reducer()
        self.inference_chunk_size = inference_chunk_size
        self.dataloader_args = dict(dataloader_args or {})
        self._run: Run | None = None
        self._collected: set[int] = set()

    def _new_reducer(self) -> EmbeddingReducer | None:
        """A training's one embeddings reducer: fitted on its first collection (the train
        stream, or the first collected), applied to every later one (3LC's rule)."""
        if not self.collect_embeddings:
            return None
        return EmbeddingReducer(self.embeddings_dim, self.embeddings_method)

    @property
    def embeddings_reducer(self) -> EmbeddingReducer | None:
        """The reducer of the current training (None without ``collect_embeddings``)."""
        return self._reducer

    # -- the run ------------------------------------------------------------------------------
    @property
    def run(self) -> Run:
        """The 3LC run metrics go to (made when training starts)."""
        if self._run is None:
            raise RunError("the callback has no run yet: it is made when training starts")
        return self._run

    @property
    def label_column_name(self) -> str:
        """The name of the label column."""
        return self._label_column_name or KEYPOINTS_2D

    def _open_run(self) -> Run:
        run = active_run()
        if run is not None and run.path.is_dir():
            for given, have, what in (
                (self.project_name, run.project_name, "project_name"),
                (self.run_name, run.name, "run_name"),
            ):
                if given is not None and given != have:
                    raise RunError(
                        f"{what}={given!r} differs from the active run {run.native_name!r}; "
                        "call tlc.close() first or leave it out"
                    )
            return run
        return init(self.project_name, self.run_name, self.run_description)

    def _tables(self, context: PhaseContext) -> list[tuple[str, Any]]:
        loaders = [("val", context.valid_loader)]
        if not self.collect_val_only:
            loaders.insert(0, ("train", context.train_loader))
        out = []
        for stream, loader in loaders:
            dataset = getattr(loader, "dataset", None)
            table = getattr(dataset, "table", None)
            if table is None:
                if self._collects():
                    raise RunError(
                        f"metrics collection on the {stream} stream needs a table-backed "
                        f"dataset (PoseEstimationDataset), got {type(dataset).__name__}"
                    )
                continue
            out.append((stream, dataset))
        return out

    def _collects(self) -> bool:
        return bool(self.metrics_collection_epochs) or self.collect_metrics_on_train_end

    def _check(self, model: Any, table: Any, stream: str) -> None:
        native = _native(table, f"the {stream} table")
        image, keypoints = _columns_of(table)
        if self.image_column_name != image:
            raise UnsupportedError(
                f"image_column_name={self.image_column_name!r} is not the image column of the "
                f"{stream} table {native.ref} ({image!r})"
            )
        if self.label_column_name not in (keypoints, "keypoints"):
            raise UnsupportedError(
                f"label_column_name={self.label_column_name!r} is not the keypoints column of "
                f"the {stream} table {native.ref} ({keypoints!r})"
            )
        found = getattr(_unwrap(model), "num_classes", None)
        if found is not None:
            check_num_keypoints(native, int(found), f"YOLO-NAS-pose model on the {stream} table")
        if native.store.root != self.run.store.root:
            raise RunError(
                f"the {stream} table {native.ref} is in store {native.store.root}, the 3LC run "
                f"{self.run.native_name} in {self.run.store.root}: runs are kept beside their "
                "tables; pass root_url of the tables' store to tlc.init (or POSETABLE_HOME)"
            )

    # -- SuperGradients phases -------------------------------------------------------------------
    def on_training_start(self, context: PhaseContext) -> None:
        """Open (or make) the 3LC run, log the training parameters, check the tables."""
        self._run = self._open_run()
        self._reducer = self._new_reducer()  # one reducer for this training
        model = _model_of(context)
        for stream, dataset in self._tables(context):
            self._check(model, dataset.table, stream)
            self._run.add_input_table(dataset.table)
        params = getattr(context, "training_params", None)
        to_dict = getattr(params, "to_dict", None)
        as_dict = to_dict() if callable(to_dict) else dict(params or {})
        parameters = {
            **self._run.parameters,
            **_json_safe({k: v for k, v in as_dict.items() if k != "phase_callbacks"}),
            "collection": _json_safe(
                {
                    "metrics_collection_epochs": self.metrics_collection_epochs,
                    "collect_metrics_on_train_end": self.collect_metrics_on_train_end,
                    "collect_val_only": self.collect_val_only,
                    "batch_size": self.batch_size,
                    "pipeline_params": dataclasses.asdict(self.pipeline_params),
                    "collect_embeddings": self.collect_embeddings,
                    "embeddings_dim": self.embeddings_dim,
                    "embeddings_method": self.embeddings_method,
                }
            ),
        }
        self._run.set_parameters(parameters)
        self._run.set_status_running()

    def on_train_loader_end(self, context: PhaseContext) -> None:
        """Log SuperGradients' aggregate train metrics of the epoch."""
        if self._run is not None:
            values = _floats(context.metrics_dict)
            self._run.add_output_value({"stream": "train", "epoch": context.epoch, **values})

    def on_validation_loader_end(self, context: PhaseContext) -> None:
        """Log the aggregate val metrics; collect per-sample metrics at the asked epochs."""
        if self._run is None:
            return
        values = _floats(context.metrics_dict)
        self._run.add_output_value({"stream": "val", "epoch": context.epoch, **values})
        if context.epoch in self.metrics_collection_epochs:
            self._collect(_model_of(context), self._tables(context), int(context.epoch))

    def on_training_end(self, context: PhaseContext) -> None:
        """Collect after the last epoch (unless training failed) and mark the run."""
        if self._run is None:
            return
        failed = sys.exc_info()[0] is not None or bool(getattr(context, "stop_training", False))
        if failed:
            self._run.set_status_cancelled()
            return
        epoch = getattr(context, "epoch", None)
        epoch = int(epoch) if isinstance(epoch, int) else None
        if self.collect_metrics_on_train_end and (epoch is None or epoch not in self._collected):
            self._collect(_model_of(context), self._tables(context), epoch)
        self._run.set_status_completed()

    # -- collecting ---------------------------------------------------------------------------
    def collect_metrics_direct(
        self, model: Any, tables: Sequence[Any], constants: dict[str, Any] | None = None
    ) -> None:
        """Collect per-sample predictions and metrics of ``model`` on ``tables`` now.

        Each table becomes the native run ``<project>/<run>/<table name>-final``.
        """
        if self._run is None:
            self._run = self._open_run()
        streams = []
        for table in tables:
            stream = _native(table).name.split("/")[-1]
            self._check(model, table, stream)
            streams.append((stream, _Direct(table)))
        if constants:
            self._run.add_output_value(_json_safe(dict(constants)))
        self._collect(model, streams, None)

    def _collect(self, model: Any, streams: Sequence[tuple[str, Any]], epoch: int | None) -> None:
        from posetable.runs import Run as NativeRun

        run = self.run
        run.set_status_collecting()
        options = dict(self._predict_options)
        if self.batch_size is not None:
            options["batch_size"] = self.batch_size
        for stream, dataset in streams:
            native = _native(dataset.table)
            size = _image_size(dataset)
            vectors: dict[int, np.ndarray] | None = {} if self._reducer is not None else None
            predictions = _sg.predict_table(
                _unwrap(model), native, image_size=size, embeddings=vectors, **options
            )
            name = run.unique_collection_name(stream, epoch)
            columns: dict[str, Any] = {}
            info: dict[str, Any] = {}
            if self._reducer is not None and vectors is not None:
                reduced = np.full((len(native), self.embeddings_dim), np.nan)
                rows = sorted(vectors)
                if rows:
                    reduced[rows] = self._reducer(np.stack([vectors[r] for r in rows]), name=name)
                columns["embeddings"] = reduced  # embeddings_0.. as with Ultralytics
                info["embeddings"] = {
                    "dim": self.embeddings_dim,
                    "method": self.embeddings_method,
                    "fitted_on": self._reducer.fitted_on,
                    "source": "global average pool of the backbone's last feature map",
                }
            collected = NativeRun.from_predictions(
                native,
                predictions,
                name=name,
                store=run.store,
                sample_columns=columns,
                model_info={
                    "tlc_run": run.native_name,
                    "stream": stream,
                    "epoch": -1 if epoch is None else epoch,
                    "framework": "super-gradients",
                    "model": type(_unwrap(model)).__name__,
                    "image_size": size,
                    "predict": options,
                    **info,
                },
            )
            run.add_collection(collected)
        if epoch is not None:
            self._collected.add(epoch)
        run.set_status_running()

    def compute_metrics(self, images: list[str], predictions: Any, table: Any) -> dict[str, Any]:
        """Not used: posetable evaluates a collection as a whole (pycocotools-exact)."""
        raise UnsupportedError(
            "posetable computes per-sample metrics by evaluating the whole collection with the "
            "table's sigmas (see posetable.Run.per_sample); compute_metrics is not used"
        )

    def metrics_column_schemas(self, table: Any) -> dict[str, Any]:
        """The columns a collection holds are a native run's (``posetable.Run.per_sample``)."""
        return {}


class PoseEstimationMetricsCollectionCallback(MetricsCollectionCallback):
    """Collects YOLO-NAS-pose predictions and per-sample metrics into a 3LC run (3LC's class).

    Example:
        ``PoseEstimationMetricsCollectionCallback(project_name="P", run_name="R",
        metrics_collection_epochs=[0])`` in ``training_params["phase_callbacks"]`` writes the
        native runs ``"P/R/train-epoch-0000"`` and ``"P/R/val-epoch-0000"`` after the first
        epoch, and the last epoch's when training ends.
    """

    @property
    def label_column_name(self) -> str:
        """The keypoints column (``keypoints_2d``)."""
        return self._label_column_name or KEYPOINTS_2D


class _Direct:
    """A table standing in for a dataset in :meth:`collect_metrics_direct`."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.transforms = None


def _unwrap(model: Any) -> Any:
    while hasattr(model, "module") and not hasattr(model, "num_classes"):
        model = model.module
    return model


def _model_of(context: PhaseContext) -> Any:
    ema = getattr(context, "ema_model", None)
    inner = getattr(ema, "ema", None)
    return inner if inner is not None else context.net
