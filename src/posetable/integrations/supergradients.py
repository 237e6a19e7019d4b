"""SuperGradients YOLO-NAS-pose: a pose dataset built from a table, and predictions back as runs.

* :func:`pose_estimation_dataset` builds SuperGradients' pose dataset (its
  ``AbstractPoseEstimationDataset``, the base of the COCO pose dataset YOLO-NAS-pose trains
  on) from a table revision; :func:`default_transforms` gives resize / pad / standardise and,
  for training, a horizontal flip with the table's flip indices.
* :func:`collate_fn` and :func:`yolo_nas_pose_loss` (the loss with the table's OKS sigmas, or
  ``loss_sigmas=``) complete a training step.
* :func:`predict_table` runs a model over a table and :func:`validate` writes the result as a
  :class:`~posetable.Run` (metrics by posetable, with the table's sigmas);
  :func:`predictions_from_yolo_nas_pose` converts one SuperGradients prediction.

SuperGradients 3.7.1 pins old numpy/torch; install it without its pins (README, section
"SuperGradients"). Importing super_gradients writes a log folder (``$SUPER_GRADIENTS_LOG_DIR``,
default ``~/sg_logs``). Needs ``pip install "posetable[supergradients]"``.

Example:
    ``dataset = pose_estimation_dataset(table, image_size=640, train=True)``, a
    ``DataLoader(dataset, batch_size=16, collate_fn=collate_fn())``, the model from
    ``super_gradients.training.models.get("yolo_nas_pose_n", num_classes=K)`` and
    ``yolo_nas_pose_loss(table)``; then ``validate(model, val_table, run_name="nas-n")``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable._validate import check_sigmas
from posetable.errors import MissingDependencyError, RunError, SchemaError
from posetable.instances import Keypoints2DInstances
from posetable.integrations._common import (
    TableLabels,
    check_num_keypoints,
    check_run_name,
    prediction_instances,
    require,
    unique_run_name,
)
from posetable.store import resolve_store
from posetable.table import StoreLike, Table

if TYPE_CHECKING:
    from posetable.runs import Run

__all__ = [
    "collate_fn",
    "dataset_arguments",
    "default_transforms",
    "pose_estimation_dataset",
    "predict_table",
    "predictions_from_yolo_nas_pose",
    "validate",
    "yolo_nas_pose_loss",
]

EXTRA = "supergradients"
PAD_VALUE = 127


SG_INSTALL = (
    'pip install --no-deps "super-gradients==3.7.1" "data-gradients==0.3.2" and its runtime '
    'packages (README, section "SuperGradients"): its own pins do not install on current '
    "Python / numpy"
)


def _require() -> Any:
    require("torch", extra=EXTRA)
    try:
        return require("super_gradients", extra=EXTRA, package="super-gradients")
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{exc}, then {SG_INSTALL}") from exc


def default_transforms(
    table: Table,
    *,
    image_size: int = 640,
    train: bool = False,
    flip_probability: float = 0.5,
) -> list[Any]:
    """SuperGradients keypoint transforms: (flip,) longest side to ``image_size``, pad, /255.

    The flip (training only) uses the table's flip indices and is left out when the table
    has none. Padding is bottom-right, so predictions map back by a plain scale.
    """
    _require()
    from super_gradients.training.transforms.keypoints import (
        KeypointsImageStandardize,
        KeypointsLongestMaxSize,
        KeypointsPadIfNeeded,
        KeypointsRandomHorizontalFlip,
    )

    size = int(image_size)
    out: list[Any] = []
    flips = table.schema.flip_indices
    if train and flip_probability > 0 and flips is not None:
        out.append(
            KeypointsRandomHorizontalFlip(flip_index=list(flips), prob=float(flip_probability))
        )
    out += [
        KeypointsLongestMaxSize(max_height=size, max_width=size),
        KeypointsPadIfNeeded(
            min_height=size,
            min_width=size,
            image_pad_value=PAD_VALUE,
            mask_pad_value=1,
            padding_mode="bottom_right",
        ),
        KeypointsImageStandardize(max_value=255.0),
    ]
    return out


def pose_estimation_dataset(
    table: Table,
    *,
    image_size: int = 640,
    train: bool = False,
    flip_probability: float = 0.5,
    transforms: Sequence[Any] | None = None,
    include_empty_samples: bool | None = None,
) -> Any:
    """SuperGradients' pose dataset (``AbstractPoseEstimationDataset``) over a table revision.

    Samples carry joints ``(N, K, 3)`` (x, y, COCO visibility), ``xywh`` boxes, areas, crowd
    flags and a loss mask that is 0 over crowd boxes; images are read as BGR, as
    SuperGradients' COCO dataset does. Instances without a labeled keypoint are left out.

    Args:
        table: the table revision.
        image_size: the square input size of :func:`default_transforms`.
        train: add the training flip to the default transforms.
        flip_probability: the chance of that flip.
        transforms: SuperGradients keypoint transforms replacing the defaults.
        include_empty_samples: keep rows without instances (default: not when training).
    """
    _require()
    from posetable.integrations._supergradients_data import TablePoseEstimationDataset

    chosen = (
        list(transforms)
        if transforms is not None
        else default_transforms(
            table, image_size=image_size, train=train, flip_probability=flip_probability
        )
    )
    return TablePoseEstimationDataset(
        **dataset_arguments(
            table,
            transforms=chosen,
            include_empty_samples=(not train)
            if include_empty_samples is None
            else include_empty_samples,
        )
    )


def dataset_arguments(
    table: Table, *, transforms: Sequence[Any], include_empty_samples: bool
) -> dict[str, Any]:
    """The arguments of ``TablePoseEstimationDataset`` for a table revision (labels, skeleton,
    colours); shared with 3LC's ``PoseEstimationDataset`` (``posetable.tlc.integration``)."""
    schema = table.schema
    return {
        "source": TableLabels.from_table(table),
        "transforms": list(transforms),
        "edge_links": list(schema.lines),
        "keypoint_colors": schema.keypoint_colors or _palette(schema.num_keypoints),
        "edge_colors": schema.line_colors or _palette(len(schema.lines)),
        "include_empty_samples": bool(include_empty_samples),
    }


def _palette(count: int) -> list[tuple[int, int, int]]:
    """``count`` distinct RGB colours (SuperGradients' own palette helper calls a matplotlib
    function that matplotlib 3.9 removed, so posetable always passes colours)."""
    import colorsys

    return [
        tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(count, 1), 0.8, 0.95))  # type: ignore[misc]
        for i in range(count)
    ]


def collate_fn() -> Any:
    """SuperGradients' ``YoloNASPoseCollateFN`` (images, (boxes, joints, crowd), extras)."""
    _require()
    from super_gradients.training.datasets.pose_estimation_datasets import YoloNASPoseCollateFN

    return YoloNASPoseCollateFN()


def yolo_nas_pose_loss(
    table: Table, *, loss_sigmas: Sequence[float] | np.ndarray | None = None, **options: Any
) -> Any:
    """``YoloNASPoseLoss`` with the table's OKS sigmas (or ``loss_sigmas``)."""
    _require()
    from super_gradients.training.losses import YoloNASPoseLoss

    k = table.schema.num_keypoints
    sigmas = table.schema.sigmas if loss_sigmas is None else loss_sigmas
    return YoloNASPoseLoss(
        oks_sigmas=check_sigmas(sigmas, k, error=SchemaError).tolist(), **options
    )


def predictions_from_yolo_nas_pose(
    prediction: Any,
    *,
    width: float,
    height: float,
    scale: float | tuple[float, float] = 1.0,
    num_keypoints: int | None = None,
) -> Keypoints2DInstances:
    """One SuperGradients pose prediction as run predictions in the table's pixels.

    ``prediction`` is a ``PoseEstimationPredictions`` (``poses`` (N, K, 3) with the
    per-point confidence last, ``scores``, ``bboxes_xyxy``) or what ``model.predict`` returns
    for one image (its ``.prediction``). Coordinates are divided by ``scale`` (the resize
    factor of the model input; 1 for ``model.predict``, which maps back itself).
    """
    inner = getattr(prediction, "prediction", prediction)
    poses = _numpy(inner.poses)
    scores = _numpy(inner.scores)
    boxes = _numpy(getattr(inner, "bboxes_xyxy", None))
    sx, sy = (scale, scale) if isinstance(scale, (int, float)) else scale
    if poses.ndim != 3 or poses.shape[-1] != 3:
        raise RunError(f"YOLO-NAS-pose poses must have shape (N, K, 3), got {poses.shape}")
    poses = poses.astype(np.float64).copy()
    poses[..., 0] /= sx
    poses[..., 1] /= sy
    if boxes is not None:
        boxes = boxes.astype(np.float64).reshape(-1, 4) / np.array([sx, sy, sx, sy])
    return prediction_instances(
        poses,
        scores=scores,
        boxes=boxes,
        width=width,
        height=height,
        num_keypoints=num_keypoints or (poses.shape[1] if poses.size else None),
    )


def _numpy(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Longest side to ``size``, pad bottom-right to ``size`` x ``size``, scale to [0, 1]."""
    from PIL import Image

    h, w = image.shape[:2]
    ratio = size / max(h, w)
    new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas.astype(np.float32) / 255.0, (new_w / w, new_h / h)


def predict_table(
    model: Any,
    table: Table,
    *,
    image_size: int = 640,
    batch_size: int = 8,
    conf: float = 0.01,
    iou: float = 0.7,
    max_predictions: int = 20,
    device: str | None = None,
    embeddings: dict[int, np.ndarray] | None = None,
) -> list[Keypoints2DInstances]:
    """Run a YOLO-NAS-pose model over every row of a table (predictions in table pixels).

    With ``embeddings`` (a dict), ``embeddings[row]`` receives each row's image embedding:
    the global average pool of the backbone's last (deepest) feature map, ``(C,)`` float64.
    """
    torch = require("torch", extra=EXTRA)
    _require()
    from super_gradients.training.models.pose_estimation_models.yolo_nas_pose import (
        YoloNASPosePostPredictionCallback,
    )

    from posetable.integrations._supergradients_data import load_bgr

    k = table.schema.num_keypoints
    model_k = getattr(model, "num_classes", None)  # YOLO-NAS-pose: one "class" per keypoint
    if model_k is not None:
        check_num_keypoints(table, int(model_k), f"YOLO-NAS-pose model {type(model).__name__}")
    source = TableLabels.from_table(table)
    callback = YoloNASPosePostPredictionCallback(
        pose_confidence_threshold=float(conf),
        nms_iou_threshold=float(iou),
        pre_nms_max_predictions=max(1000, int(max_predictions)),
        post_nms_max_predictions=int(max_predictions),
    )
    target = torch.device(device) if device else next(model.parameters()).device
    pooled: list[np.ndarray] = []
    handle = None
    if embeddings is not None:
        handle = backbone_module(model).register_forward_hook(
            lambda _module, _inputs, output: pooled.append(pool_last_feature_map(output))
        )
    was_training = model.training
    model.eval()
    out: list[Keypoints2DInstances] = []
    try:
        for start in range(0, len(source), int(batch_size)):
            rows = range(start, min(start + int(batch_size), len(source)))
            inputs, scales = zip(
                *(_letterbox(load_bgr(source.images[r]), int(image_size)) for r in rows),
                strict=True,
            )
            batch = torch.from_numpy(np.stack(inputs)).permute(0, 3, 1, 2).to(target)
            pooled.clear()
            with torch.no_grad():
                decoded = callback(model(batch))
            if embeddings is not None:
                if len(pooled) != 1:
                    raise RunError(
                        f"the backbone of {type(model).__name__} ran {len(pooled)} times in one "
                        "forward; cannot tell which output is the image embedding"
                    )
                for row, vector in zip(rows, pooled[0], strict=True):
                    embeddings[row] = vector
            for row, scale, prediction in zip(rows, scales, decoded, strict=True):
                item = predictions_from_yolo_nas_pose(
                    prediction,
                    width=float(source.widths[row]),
                    height=float(source.heights[row]),
                    scale=scale,
                    num_keypoints=k,
                )
                check_num_keypoints(table, item.num_keypoints, "YOLO-NAS-pose model")
                out.append(item)
    finally:
        model.train(was_training)
        if handle is not None:
            handle.remove()
    return out


def backbone_module(model: Any) -> Any:
    """The backbone of a YOLO-NAS-pose model (``model.backbone``; under DDP/EMA wrappers too)."""
    inner = model
    for _ in range(3):
        backbone = getattr(inner, "backbone", None)
        if backbone is not None and hasattr(backbone, "register_forward_hook"):
            return backbone
        inner = getattr(inner, "module", None)
        if inner is None:
            break
    raise RunError(
        f"model {type(model).__name__} has no .backbone module to take image embeddings from; "
        "collect without embeddings (collect_embeddings=False)"
    )


def pool_last_feature_map(output: Any) -> np.ndarray:
    """``(B, C)`` float64: the global average pool of a backbone's last feature map.

    ``output`` is a ``(B, C, H, W)`` tensor or a list/tuple of them (YOLO-NAS's
    ``NStageBackbone`` gives one per stage, deepest last).
    """
    last = output[-1] if isinstance(output, (list, tuple)) else output
    if getattr(last, "ndim", 0) != 4:
        raise RunError(
            f"the backbone's last output must be a (B, C, H, W) feature map, got "
            f"{getattr(last, 'shape', type(last).__name__)}"
        )
    return last.detach().float().mean(dim=(2, 3)).cpu().numpy().astype(np.float64)


def validate(
    model: Any,
    table: Table,
    *,
    run_name: str | None = None,
    model_info: Mapping[str, Any] | None = None,
    store: StoreLike = None,
    **predict_options: Any,
) -> Run:
    """Predict every row of ``table`` with a YOLO-NAS-pose model and write the run.

    The run name defaults to ``<model class>-on-<table>-<revision>``.

    ``predict_options`` go to :func:`predict_table` (``image_size``, ``batch_size``,
    ``conf``, ``iou``, ``max_predictions``, ``device``).
    """
    from posetable.runs import Run

    sg = _require()
    target = table.store if store is None else resolve_store(store)
    name = run_name or unique_run_name(
        target, f"{type(model).__name__.lower()}-on-{table.name}-{table.revision}"
    )
    check_run_name(target, name)
    predictions = predict_table(model, table, **predict_options)
    info = {
        "framework": "super-gradients",
        "super_gradients_version": str(getattr(sg, "__version__", "")),
        "model": type(model).__name__,
        "predict": {k: v for k, v in predict_options.items() if k != "device"},
        **dict(model_info or {}),
    }
    return Run.from_predictions(table, predictions, name=name, model_info=info, store=target)
