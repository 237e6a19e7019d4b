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

Needs ``pip install "posetable[ultralytics]"``.

Example:
    ``model = train("yolo11n-pose.yaml", train_table, val_table, epochs=10, imgsz=640)`` then
    ``run = validate(model, val_table, run_name="yolo11n-e10")`` and ``run.metrics["ap"]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
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
from posetable.store import Store, resolve_store
from posetable.table import StoreLike, Table

if TYPE_CHECKING:
    from ultralytics import YOLO

    from posetable.runs import Run

__all__ = ["data_config", "train", "train_and_validate", "validate"]

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
    trainer = trainer_class(
        sources, data, loss_sigmas=sigmas, metric_sigmas=val_table.schema.sigmas.tolist()
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
        **yolo_args: Ultralytics val arguments (``imgsz``, ``batch``, ``conf``, ``iou``,
            ``max_det``, ``device``...).

    Returns:
        The finished :class:`~posetable.Run`.
    """
    from posetable.runs import Run

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
    key = data_key(table)
    source = TableLabels.from_table(table)
    sink: dict[int, Any] = {}
    args = _defaults(target, f"val-{name}", {"exist_ok": True, "verbose": False, **yolo_args})
    args.pop("amp", None)
    with table_datasets({key: data_config(table)}):
        validator = validator_class({key: source}, table.schema.sigmas.tolist(), sink)
        metrics = yolo.val(validator=validator, data=key, **args)
    predictions = []
    for row in range(len(source)):
        width, height = float(source.widths[row]), float(source.heights[row])
        if row not in sink or len(sink[row][1]) == 0:
            predictions.append(empty_predictions(k, width, height))
            continue
        boxes, scores, classes, keypoints = sink[row]
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
    info = {
        "framework": "ultralytics",
        "ultralytics_version": str(_ultralytics().__version__),
        "model": _model_name(yolo),
        "kpt_shape": _model_kpt_shape(yolo),
        "val_args": {n: _plain(args.get(n)) for n in ("imgsz", "batch", "conf", "iou", "max_det")},
        "ultralytics_metrics": _ultralytics_metrics(metrics),
        **dict(model_info or {}),
    }
    return Run.from_predictions(table, predictions, name=name, model_info=info, store=target)


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
