"""Ultralytics YOLO-pose: train on tables, validate into runs.

``train(model, train_table, val_table, **yolo_args)`` trains with Ultralytics' own trainer,
augmentation, loss and metric, but reads images and labels straight from the tables (no
label folder is written) and takes the keypoint layout from the table's schema: ``kpt_shape``
``[K, 3]``, ``flip_idx`` (flips swap left and right), ``kpt_names`` and ``kpt_oks_sigmas``,
so Ultralytics' pose metric and its keypoint loss use the table's sigmas (Ultralytics falls
back to uniform 1/K for K != 17 otherwise). ``loss_sigmas=`` trains with other sigmas; every
metric posetable reports still uses the table's.

``validate(model, table)`` runs Ultralytics' validator on the table and writes every image's
predictions (boxes, instance scores, keypoints with per-point confidences, in the table's
pixels) into a :class:`~posetable.Run`, whose metrics posetable computes with the table's
sigmas; ``run.model_info["ultralytics_metrics"]`` keeps Ultralytics' own numbers beside them.

Offline use: set ``YOLO_OFFLINE=1`` (before importing ultralytics) and Ultralytics'
``sync`` setting to False. These functions default to ``plots=False`` (plots need a font
download) and, when Ultralytics finds no network, ``amp=False`` (the AMP check downloads a
model), so nothing is fetched; a ``.pt`` weights file that is absent is an error, not a
download.

Per-sample collection: ``validate(..., collect_loss=True, image_embeddings_dim=2)`` keeps,
beside each image's predictions and metrics, the pose loss Ultralytics' criterion gives that
image alone (``box_loss``, ``pose_loss``, ``kobj_loss``, ``cls_loss``, ``dfl_loss``, ``loss``)
and its backbone embedding reduced to 2 or 3 dimensions (``embeddings_0``...), as run
columns. ``train(..., collect=Collection(...))`` writes one such run per collected (stream,
epoch) while training, each as soon as it is done; ``sampling_weights=True`` draws training
samples by the table's ``weight`` column.

Needs ``pip install "posetable[ultralytics]"`` (the ``umap``/``pacmap`` reducers:
``posetable[tlc]``).

Example:
    ``model = train("yolo11n-pose.yaml", train_table, val_table, epochs=10, imgsz=640)`` then
    ``run = validate(model, val_table, run_name="yolo11n-e10")`` and ``run.metrics["ap"]``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable._validate import check_sigmas
from posetable.errors import NotFoundError, RunError, SchemaError
from posetable.integrations._common import (
    TableLabels,
    check_num_keypoints,
    check_run_name,
    empty_predictions,
    prediction_instances,
    require,
    unique_run_name,
)
from posetable.integrations._embeddings import (
    REDUCERS,
    EmbeddingReducer,
    check_embeddings,
    reduce_embeddings,
)
from posetable.store import Store, check_name, resolve_store
from posetable.table import StoreLike, Table

if TYPE_CHECKING:
    from ultralytics import YOLO

    from posetable.integrations._ultralytics_data import SampleCapture
    from posetable.runs import Run

__all__ = [
    "REDUCERS",
    "Collection",
    "EmbeddingReducer",
    "data_config",
    "reduce_embeddings",
    "sample_weights",
    "train",
    "train_and_validate",
    "validate",
]


logger = logging.getLogger(__name__)

DATA_KEY_PREFIX = "posetable:"
_ULTRALYTICS_METRICS = {
    "pose_map50_95": ("pose", "map"),
    "pose_map50": ("pose", "map50"),
    "pose_map75": ("pose", "map75"),
    "box_map50_95": ("box", "map"),
    "box_map50": ("box", "map50"),
}


def _ultralytics() -> Any:
    return require("ultralytics", extra="ultralytics")


def data_key(table: Table) -> str:
    """The ``data`` value Ultralytics sees for a table: ``"posetable:<name>@<revision>"``."""
    return f"{DATA_KEY_PREFIX}{table.ref}"


def data_config(table: Table, *, val_table: Table | None = None) -> dict[str, Any]:
    """The Ultralytics dataset dict of a table (what a data.yaml would hold).

    ``kpt_shape`` is ``[K, 3]``, ``flip_idx`` the schema's flip indices (empty when it has
    none, which makes Ultralytics turn flips off), ``kpt_names`` the names for every class,
    ``kpt_oks_sigmas`` the table's sigmas (uniform 1/K when the table has none, the rule
    every posetable metric uses). ``train`` and ``val`` are the tables' data keys.

    Example:
        >>> import posetable as pt, tempfile
        >>> schema = pt.Keypoints2DSchema(keypoint_names=["l_eye", "r_eye"], flip_indices=[1, 0])
        >>> table = pt.Table.from_rows([], name="eyes", schema=schema, store=tempfile.mkdtemp())
        >>> config = data_config(table)
        >>> config["kpt_shape"], config["flip_idx"], config["kpt_oks_sigmas"], config["names"]
        ([2, 3], [1, 0], [0.5, 0.5], {0: 'person'})
    """
    schema = table.schema
    classes = list(schema.classes)
    val = table if val_table is None else val_table
    return {
        "path": table.store.root,
        "train": data_key(table),
        "val": data_key(val),
        "names": dict(enumerate(classes)),
        "nc": len(classes),
        "kpt_shape": [schema.num_keypoints, 3],
        "flip_idx": [] if schema.flip_indices is None else list(schema.flip_indices),
        "kpt_names": {i: list(schema.keypoint_names) for i in range(len(classes))},
        "kpt_oks_sigmas": [float(s) for s in schema.sigmas],
        "channels": 3,
    }


def _load_model(model: Any) -> YOLO:
    ultralytics = _ultralytics()
    if isinstance(model, ultralytics.YOLO):
        yolo = model
    elif isinstance(model, (str, os.PathLike)):
        path = str(model)
        if path.endswith(".pt") and not Path(path).is_file() and not _online():
            raise NotFoundError(
                f"weights {path!r} do not exist and Ultralytics finds no network to download "
                "them; give a local .pt file or a model .yaml to train from scratch"
            )
        yolo = ultralytics.YOLO(path, task="pose")
    else:
        raise RunError(
            "model must be a .yaml config, a weights path or an ultralytics.YOLO, got "
            f"{type(model).__name__}"
        )
    if yolo.task != "pose":
        raise RunError(
            f"model {_model_name(yolo)} is a {yolo.task!r} model; a 'pose' model is needed"
        )
    return yolo


def _online() -> bool:
    from ultralytics.utils import ONLINE

    return bool(ONLINE)


def _model_name(yolo: Any) -> str:
    overrides = getattr(yolo, "overrides", None) or {}
    for value in (
        overrides.get("model"),
        getattr(yolo, "ckpt_path", None),
        getattr(yolo, "model_name", None),
    ):
        if value:
            return str(value)
    return "model"


def _model_stem(yolo: Any) -> str:
    """The model's short name; ``<training name>-best`` for ``.../NAME/weights/best.pt``."""
    path = Path(_model_name(yolo))
    if path.parent.name == "weights" and path.stem in ("best", "last"):
        return f"{path.parent.parent.name}-{path.stem}"
    return path.stem


def _model_kpt_shape(yolo: Any) -> list[int]:
    net = yolo.model
    shape = getattr(net, "kpt_shape", None)
    if shape is None and hasattr(net, "model"):
        shape = getattr(net.model[-1], "kpt_shape", None)
    if shape is None:
        raise RunError(f"model {_model_name(yolo)} has no kpt_shape: is it a YOLO-pose model?")
    return [int(v) for v in shape]


def _defaults(store: Store, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Offline-safe defaults, overridden by anything the caller gave."""
    out: dict[str, Any] = {"plots": False, "project": str(store.root / "ultralytics"), "name": name}
    if not _online():
        out["amp"] = False
    out.update(args)
    if "," in str(out.get("device", "")):
        raise RunError(
            f"device={out['device']!r}: multi-GPU (DDP) training launches separate processes that "
            "cannot see the tables; train on one device"
        )
    return out


def _check_pair(train_table: Table, val_table: Table) -> None:
    a, b = train_table.schema, val_table.schema
    if a.num_keypoints != b.num_keypoints:
        raise SchemaError(
            f"train table {train_table.ref} has K={a.num_keypoints} keypoints but val table "
            f"{val_table.ref} has K={b.num_keypoints}; both must share one keypoint layout"
        )
    if tuple(a.classes) != tuple(b.classes):
        raise SchemaError(
            f"train table {train_table.ref} has classes {list(a.classes)[:5]} but val table "
            f"{val_table.ref} has {list(b.classes)[:5]}; both must share one class list"
        )


def train(
    model: Any,
    train_table: Table,
    val_table: Table,
    *,
    loss_sigmas: Sequence[float] | np.ndarray | None = None,
    collect: Collection | None = None,
    sampling_weights: bool = False,
    exclude_zero_weight: bool = False,
    **yolo_args: Any,
) -> YOLO:
    """Train a YOLO-pose model on a table, validating on another, with Ultralytics' trainer.

    Args:
        model: a model ``.yaml`` (from scratch), a ``.pt`` weights path or an
            ``ultralytics.YOLO``. A model with another K is re-headed by Ultralytics.
        train_table: the training table revision.
        val_table: the validation table revision (same K and classes).
        loss_sigmas: K sigmas for the keypoint loss only (default: the training table's;
            Ultralytics' per-epoch pose metric always uses the validation table's).
        collect: the per-sample collection while training (:class:`Collection`): one run
            per collected (stream, epoch), written as soon as that pass ends.
        sampling_weights: draw training samples with probability proportional to the
            training table's ``weight`` column (with replacement, one epoch = len(table)).
        exclude_zero_weight: never draw rows of weight 0.
        **yolo_args: Ultralytics train arguments (``epochs``, ``imgsz``, ``batch``,
            ``device``, ``workers``, ``project``, ``name``...). Defaults: ``plots=False``,
            ``project=<store>/ultralytics``, ``name=<train table name>``, and ``amp=False``
            when offline.

    Returns:
        The trained ``ultralytics.YOLO`` (best weights loaded).
    """
    yolo = _load_model(model)
    _check_pair(train_table, val_table)
    k = train_table.schema.num_keypoints
    sigmas = (
        None if loss_sigmas is None else check_sigmas(loss_sigmas, k, error=SchemaError).tolist()
    )
    for key in ("data", "trainer"):
        if key in yolo_args:
            raise RunError(f"{key}= is set by posetable from the tables; leave it out")
    weights = None
    if sampling_weights or exclude_zero_weight:
        weights = sample_weights(
            train_table, setting="sampling_weights" if sampling_weights else "exclude_zero_weight"
        )
    if collect is not None:
        collect.check()
        for table in (train_table, val_table):
            check_collection_name(collect, table)
    model_k = _model_kpt_shape(yolo)[0]
    if model_k != k:
        logger.info(
            "model %s has K=%d keypoints; Ultralytics re-heads it for the table's K=%d",
            _model_name(yolo),
            model_k,
            k,
        )
    from posetable.integrations._ultralytics_data import table_datasets, trainer_class

    sources = {data_key(train_table): TableLabels.from_table(train_table)}
    sources.setdefault(data_key(val_table), TableLabels.from_table(val_table))
    data = data_config(train_table, val_table=val_table)
    args = _defaults(train_table.store, train_table.name, yolo_args)
    keys = {data_key(train_table): data, data_key(val_table): data}
    plan = None
    if collect is not None:
        plan = collect.plan(
            train_table, val_table, sigmas if sigmas is not None else train_table.schema.sigmas
        )
    trainer = trainer_class(
        sources,
        data,
        loss_sigmas=sigmas,
        metric_sigmas=val_table.schema.sigmas.tolist(),
        collect=plan,
        train_weights=weights,
        weighted=sampling_weights,
        exclude_zero=exclude_zero_weight,
    )
    with table_datasets(keys):
        yolo.train(trainer=trainer, data=data_key(train_table), **args)
    return yolo


def validate(
    model: Any,
    table: Table,
    *,
    run_name: str | None = None,
    model_info: Mapping[str, Any] | None = None,
    store: StoreLike = None,
    collect_loss: bool = False,
    image_embeddings_dim: int = 0,
    image_embeddings_reducer: str = "pca",
    image_embeddings_reducer_args: Mapping[str, Any] | None = None,
    loss_sigmas: Sequence[float] | np.ndarray | None = None,
    embeddings_reducer: EmbeddingReducer | None = None,
    **yolo_args: Any,
) -> Run:
    """Validate a YOLO-pose model on a table and write its predictions as a run.

    Every image of the table gets an entry in the run (empty when the model found nothing).
    The run's metrics are posetable's, with the table's sigmas; Ultralytics' own metrics are
    kept in ``run.model_info["ultralytics_metrics"]``.

    Args:
        model: a ``.pt`` weights path or an ``ultralytics.YOLO`` whose K is the table's.
        table: the table revision to validate on.
        run_name: the run's name (default: ``<model>-on-<table>-<revision>``).
        model_info: extra information stored with the run.
        store: where the run is written (default: the table's store).
        collect_loss: keep each image's pose loss (run columns ``box_loss``, ``pose_loss``,
            ``kobj_loss``, ``cls_loss``, ``dfl_loss``, ``loss``).
        image_embeddings_dim: 0, or 2 or 3: keep each image's backbone embedding reduced to
            that many dimensions (run columns ``embeddings_0``...).
        image_embeddings_reducer: ``"pca"`` (always there), ``"umap"`` or ``"pacmap"``
            (``posetable[tlc]``); ``image_embeddings_reducer_args`` go to the reducer.
        loss_sigmas: K sigmas for the collected keypoint loss (default: the table's).
        embeddings_reducer: a reducer shared by several passes (fitted by the first, applied
            to the others); default: this pass's embeddings are reduced alone.
        **yolo_args: Ultralytics val arguments (``imgsz``, ``batch``, ``conf``, ``iou``,
            ``max_det``, ``device``...).

    Returns:
        The finished :class:`~posetable.Run`.
    """
    run, _ = validate_with_metrics(
        model,
        table,
        run_name=run_name,
        model_info=model_info,
        store=store,
        collect_loss=collect_loss,
        image_embeddings_dim=image_embeddings_dim,
        image_embeddings_reducer=image_embeddings_reducer,
        image_embeddings_reducer_args=image_embeddings_reducer_args,
        loss_sigmas=loss_sigmas,
        embeddings_reducer=embeddings_reducer,
        **yolo_args,
    )
    return run


def validate_with_metrics(
    model: Any,
    table: Table,
    *,
    run_name: str | None = None,
    model_info: Mapping[str, Any] | None = None,
    store: StoreLike = None,
    collect_loss: bool = False,
    image_embeddings_dim: int = 0,
    image_embeddings_reducer: str = "pca",
    image_embeddings_reducer_args: Mapping[str, Any] | None = None,
    loss_sigmas: Sequence[float] | np.ndarray | None = None,
    embeddings_reducer: EmbeddingReducer | None = None,
    **yolo_args: Any,
) -> tuple[Run, Any]:
    """:func:`validate`, also giving Ultralytics' own metrics object of the pass.

    The second value is what ``ultralytics.YOLO.val`` returns (``PoseMetrics``: its
    ``results_dict``, ``box.map``, ``pose.map``...), for callers that hand it on as 3LC's
    ``model.val`` does.
    """
    yolo = _load_model(model)
    k = table.schema.num_keypoints
    check_num_keypoints(table, _model_kpt_shape(yolo)[0], f"model {_model_name(yolo)}")
    names = getattr(yolo, "names", None) or {}
    if len(names) > len(table.schema.classes):
        raise RunError(
            f"model {_model_name(yolo)} predicts {len(names)} classes but table {table.ref} "
            f"has {len(table.schema.classes)} ({list(table.schema.classes)[:5]})"
        )
    for key in ("data", "validator"):
        if key in yolo_args:
            raise RunError(f"{key}= is set by posetable from the table; leave it out")
    from posetable.integrations._ultralytics_data import table_datasets, validator_class

    target = table.store if store is None else resolve_store(store)
    name = run_name or unique_run_name(
        target, f"{_model_stem(yolo)}-on-{table.name}-{table.revision}"
    )
    check_run_name(target, name)
    check_embeddings(image_embeddings_dim, image_embeddings_reducer)
    sigmas = table.schema.sigmas if loss_sigmas is None else check_sigmas(loss_sigmas, k)
    key = data_key(table)
    source = TableLabels.from_table(table)
    from posetable.integrations._ultralytics_data import SampleCapture

    capture = SampleCapture(
        losses=collect_loss, embeddings=image_embeddings_dim > 0, loss_sigmas=sigmas
    )
    args = _defaults(target, f"val-{name}", {"exist_ok": True, "verbose": False, **yolo_args})
    args.pop("amp", None)
    with table_datasets({key: data_config(table)}):
        validator = validator_class({key: source}, table.schema.sigmas.tolist(), capture=capture)
        metrics = yolo.val(validator=validator, data=key, **args)
    info = {
        "framework": "ultralytics",
        "ultralytics_version": str(_ultralytics().__version__),
        "model": _model_name(yolo),
        "kpt_shape": _model_kpt_shape(yolo),
        "val_args": {n: _plain(args.get(n)) for n in ("imgsz", "batch", "conf", "iou", "max_det")},
        "ultralytics_metrics": _ultralytics_metrics(metrics),
        **dict(model_info or {}),
    }
    run = capture_run(
        table,
        capture,
        name=name,
        model_info=info,
        store=target,
        embeddings_dim=image_embeddings_dim,
        reducer=image_embeddings_reducer,
        reducer_args=image_embeddings_reducer_args,
        fitted=embeddings_reducer,
    )
    return run, metrics


def capture_run(
    table: Table,
    capture: SampleCapture,
    *,
    name: str,
    model_info: Mapping[str, Any],
    store: StoreLike = None,
    embeddings_dim: int = 0,
    reducer: str = "pca",
    reducer_args: Mapping[str, Any] | None = None,
    fitted: EmbeddingReducer | None = None,
) -> Run:
    """The run of one captured pass: every row's predictions, losses and reduced embedding.

    Rows the pass did not see get an empty prediction and NaN losses and embeddings. With
    ``fitted`` (a training's one reducer), the embeddings are reduced by it: the first pass
    fits it, later passes are projected into that same space.
    """
    from posetable.runs import Run

    k = table.schema.num_keypoints
    widths = np.asarray(table.to_arrow(columns=["width"]).column("width"), dtype=np.float64)
    heights = np.asarray(table.to_arrow(columns=["height"]).column("height"), dtype=np.float64)
    predictions = []
    for row in range(len(table)):
        width, height = float(widths[row]), float(heights[row])
        seen = capture.predictions.get(row)
        if seen is None or len(seen[1]) == 0:
            predictions.append(empty_predictions(k, width, height))
            continue
        boxes, scores, classes, keypoints = seen
        predictions.append(
            prediction_instances(
                keypoints,
                scores=scores,
                boxes=boxes,
                labels=classes,
                width=width,
                height=height,
                num_keypoints=k,
            )
        )
    columns: dict[str, Any] = {}
    if capture.want_losses:
        from posetable.integrations._ultralytics_data import LOSS_NAMES

        for loss in (*LOSS_NAMES, "loss"):
            values = np.full(len(table), np.nan)
            for row, items in capture.losses.items():
                values[row] = items[loss]
            columns[loss] = values
    if capture.want_embeddings and embeddings_dim > 0:
        rows = sorted(capture.embeddings)
        reduced = np.full((len(table), embeddings_dim), np.nan)
        if rows:
            vectors = np.stack([capture.embeddings[r] for r in rows])
            if fitted is None:
                reduced[rows] = reduce_embeddings(
                    vectors, embeddings_dim, method=reducer, reducer_args=reducer_args
                )
            else:
                reduced[rows] = fitted(vectors, name=name)
        columns["embeddings"] = reduced
    collected: dict[str, Any] = {
        "losses": bool(capture.want_losses),
        "image_embeddings_dim": int(embeddings_dim),
        "image_embeddings_reducer": reducer if embeddings_dim else None,
    }
    if fitted is not None and embeddings_dim:
        collected["image_embeddings_fitted_on"] = fitted.fitted_on
    info = {**dict(model_info), "collected": collected}
    return Run.from_predictions(
        table, predictions, name=name, model_info=info, store=store, sample_columns=columns
    )


def sample_weights(table: Table, *, setting: str, column: str = "weight") -> np.ndarray:
    """The table's sample weights, checked: finite, >= 0, not all 0.

    Example:
        >>> import posetable as pt, tempfile
        >>> t = pt.Table.from_rows([], name="w", schema=pt.Keypoints2DSchema(1),
        ...                        store=tempfile.mkdtemp())
        >>> sample_weights(t, setting="sampling_weights")
        Traceback (most recent call last):
        ...
        posetable.errors.SchemaError: sampling_weights=True needs a 'weight' column on table w@1 ...
    """
    if column not in table.columns:
        raise SchemaError(
            f"{setting}=True needs a {column!r} column on table {table.ref} (it has "
            f"{table.columns}); 3LC tables made with add_weight_column=True have one, or use "
            f"table.add_column({column!r}, values)"
        )
    raw = table.to_arrow(columns=[column]).column(column).to_pylist()
    weights = np.array([math.nan if v is None else float(v) for v in raw], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        raise SchemaError(
            f"{setting}=True: column {column!r} of table {table.ref} must hold finite weights "
            f">= 0, but row {int(bad[0])} has {weights[bad[0]]!r} ({len(bad)} such rows)"
        )
    if len(weights) and not (weights > 0).any():
        raise SchemaError(
            f"{setting}=True: every weight of table {table.ref} is 0; nothing to train on"
        )
    return weights


@dataclass(frozen=True)
class Collection:
    """Per-sample collection while training (:func:`train`'s ``collect``).

    Each collected pass becomes a finished run named
    ``f"{run_prefix}/{stream}-epoch-{epoch:04d}"`` (``stream`` ``"train"`` or ``"val"``;
    the pass after training, with the best weights, is ``{stream}-final``), written as soon as the
    pass ends, so a training that stops early leaves the passes already done readable.

    Attributes:
        run_prefix: the path-like prefix of the runs' names (``"project/run"``).
        epochs: 1-based epochs after which to collect during training.
        train_stream: also collect on the training table (without augmentation).
        final: collect after training with the best weights.
        collect_loss: keep the per-image pose losses.
        image_embeddings_dim: 0, 2 or 3.
        image_embeddings_reducer: ``"pca"``, ``"umap"`` or ``"pacmap"``.
        image_embeddings_reducer_args: arguments of the reducer.
        model_info: stored in every run (the stream, epoch and phase are added).
        on_run: called with each finished run (e.g. to record it in a 3LC run).
        store: where the runs go (default: each table's store).
        reducer: the training's one :class:`EmbeddingReducer` (made by :meth:`plan`, fitted
            on the first collected pass, applied to every later one; None before training).

    Example:
        ``train(model, t, v, collect=Collection("proj/r1", epochs=[1, 2], collect_loss=True))``
    """

    run_prefix: str
    epochs: Sequence[int] = ()
    train_stream: bool = True
    final: bool = True
    collect_loss: bool = False
    image_embeddings_dim: int = 0
    image_embeddings_reducer: str = "pca"
    image_embeddings_reducer_args: Mapping[str, Any] = field(default_factory=dict)
    model_info: Mapping[str, Any] = field(default_factory=dict)
    on_run: Callable[[Run], None] | None = None
    store: StoreLike = None
    reducer: EmbeddingReducer | None = field(default=None, init=False, compare=False, repr=False)

    def check(self) -> None:
        """Fail before training when the options cannot be honoured."""
        check_embeddings(self.image_embeddings_dim, self.image_embeddings_reducer)
        bad = [e for e in self.epochs if isinstance(e, bool) or not isinstance(e, int) or e < 1]
        if bad:
            raise RunError(f"collection epochs must be integers >= 1, got {bad}")

    def run_name(self, stream: str, epoch: int, phase: str) -> str:
        """The name of the run of one pass."""
        if phase == "final":
            return f"{self.run_prefix}/{stream}-final"
        return f"{self.run_prefix}/{stream}-epoch-{epoch:04d}"

    def plan(self, train_table: Table, val_table: Table, loss_sigmas: Any) -> Any:
        """The trainer-side plan writing each finished pass as a run."""
        from posetable.integrations._ultralytics_data import CollectPlan

        tables = {"train": train_table, "val": val_table}
        reducer = None
        if self.image_embeddings_dim:
            # one reducer for the whole training (3LC's rule): the first pass collected fits it
            reducer = EmbeddingReducer(
                self.image_embeddings_dim,
                self.image_embeddings_reducer,
                self.image_embeddings_reducer_args,
            )
        object.__setattr__(self, "reducer", reducer)  # frozen: the training's state

        def write(stream: str, epoch: int, phase: str, capture: SampleCapture) -> None:
            table = tables[stream]
            info = {
                "framework": "ultralytics",
                "ultralytics_version": str(_ultralytics().__version__),
                **dict(self.model_info),
                "stream": stream,
                "epoch": epoch,
                "phase": phase,
            }
            run = capture_run(
                table,
                capture,
                name=self.run_name(stream, epoch, phase),
                model_info=info,
                store=self.store,
                embeddings_dim=self.image_embeddings_dim,
                reducer=self.image_embeddings_reducer,
                reducer_args=self.image_embeddings_reducer_args,
                fitted=reducer,
            )
            if self.on_run is not None:
                self.on_run(run)

        return CollectPlan(
            epochs=frozenset(int(e) for e in self.epochs),
            train_stream=self.train_stream,
            final=self.final,
            losses=self.collect_loss,
            embeddings=self.image_embeddings_dim > 0,
            loss_sigmas=[float(v) for v in loss_sigmas],
            write=write,
        )


def check_collection_name(collect: Collection, table: Table) -> None:
    """Fail before training when a run the collection would write already exists."""
    target = table.store if collect.store is None else resolve_store(collect.store)
    check_name(f"{collect.run_prefix}/val-epoch-0001", "run")
    if (target.runs_dir / collect.run_prefix).is_dir() and any(
        (target.runs_dir / collect.run_prefix).glob("*/manifest.json")
    ):
        raise RunError(
            f"runs named {collect.run_prefix}/... already exist in {target.root}; choose another "
            "run name"
        )


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def _ultralytics_metrics(metrics: Any) -> dict[str, float]:
    """Ultralytics' own numbers (its pose mAP uses its own matching, not COCO's)."""
    out: dict[str, float] = {}
    for name, (part, attribute) in _ULTRALYTICS_METRICS.items():
        value = getattr(getattr(metrics, part, None), attribute, None)
        if value is not None:
            out[name] = float(value)
    results = getattr(metrics, "results_dict", None) or {}
    out.update({str(k): float(v) for k, v in results.items()})
    return out


def train_and_validate(
    model: Any,
    train_table: Table,
    val_table: Table,
    *,
    run_name: str | None = None,
    loss_sigmas: Sequence[float] | np.ndarray | None = None,
    **yolo_args: Any,
) -> tuple[YOLO, Run]:
    """:func:`train`, then :func:`validate` the trained model on ``val_table`` (one run).

    Validation reuses ``imgsz``, ``batch`` and ``device`` from ``yolo_args``.
    """
    trained = train(model, train_table, val_table, loss_sigmas=loss_sigmas, **yolo_args)
    shared = {k: yolo_args[k] for k in ("imgsz", "batch", "device", "workers") if k in yolo_args}
    return trained, validate(trained, val_table, run_name=run_name, **shared)
