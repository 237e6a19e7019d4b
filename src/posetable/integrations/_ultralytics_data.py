"""Ultralytics classes that read posetable tables (imported only with ultralytics installed).

* :class:`TableYOLODataset`: Ultralytics' own ``YOLODataset`` (so mosaic, flips with
  ``flip_idx``, letterboxing and collation are Ultralytics' code) whose image list and labels
  come from a table revision instead of a folder of label files.
* :func:`trainer_class` / :func:`validator_class`: ``PoseTrainer`` / ``PoseValidator``
  subclasses that build that dataset, take the data dict (``kpt_shape``, ``flip_idx``,
  ``kpt_names``, ``kpt_oks_sigmas``) from the table, optionally train with other loss
  sigmas, and capture every image's predictions in the table's pixel frame.
* :func:`table_datasets`: Ultralytics' stand-alone validation resolves ``data`` through
  ``check_det_dataset``; inside this context a ``posetable:<table>@<rev>`` key resolves to
  the table's data dict (nothing is written, nothing is downloaded).
* :class:`SampleCapture`: what one validation pass keeps per sample: predictions, the
  pose loss Ultralytics' own criterion gives each image alone (``box_loss``, ``pose_loss``,
  ``kobj_loss``, ``cls_loss``, ``dfl_loss``) and the backbone's pooled image embedding.
* :class:`CollectPlan`: when a training collects (epochs, train stream, after training) and
  where each collected pass goes; :func:`weighted_sampler` draws by a table's weights.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import ultralytics.engine.validator as _validator_module
from ultralytics.cfg import DEFAULT_CFG_DICT
from ultralytics.data.build import InfiniteDataLoader, seed_worker
from ultralytics.data.dataset import YOLODataset
from ultralytics.models.yolo.pose import PoseTrainer, PoseValidator
from ultralytics.utils import IterableSimpleNamespace, colorstr
from ultralytics.utils.loss import KeypointLoss, v8PoseLoss
from ultralytics.utils.torch_utils import unwrap_model

from posetable.errors import RowError, RunError
from posetable.integrations._common import TableLabels

ROW_KEY = "posetable_row"

#: one captured image: boxes xyxy (N, 4), scores (N,), classes (N,), keypoints (N, K, 3)
Captured = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: Ultralytics' pose loss components, in its order
LOSS_NAMES = ("box_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss")


def _pose_net(model: Any) -> Any:
    """The ``PoseModel`` inside an ``AutoBackend``, an EMA copy or a wrapper."""
    net = unwrap_model(model)
    for _ in range(4):
        if isinstance(getattr(net, "model", None), torch.nn.Sequential):
            return net
        net = getattr(net, "model", None)
        if net is None:
            break
    raise RunError(f"cannot find the layers of model {type(model).__name__}: not a YOLO model")


def _embedding_layer(net: Any) -> int:
    """The layer whose pooled output is the image embedding: SPPF, else the backbone's last."""
    layers = list(net.model)
    for i, layer in enumerate(layers):
        if type(layer).__name__ == "SPPF":
            return i
    backbone = (getattr(net, "yaml", None) or {}).get("backbone") or layers[:-1]
    return max(0, min(len(backbone), len(layers)) - 1)


def _raw_outputs(preds: Any) -> dict[str, Any] | None:
    """The head's raw outputs (``boxes``, ``scores``, ``kpts``, ``feats``) of a forward."""
    if isinstance(preds, dict):
        return preds if "kpts" in preds else None
    if isinstance(preds, (list, tuple)) and len(preds) == 2 and isinstance(preds[1], dict):
        return _raw_outputs(preds[1])
    return None


class SampleCapture:
    """Per-sample results of one validation pass, keyed by table row.

    ``predictions[row]`` is a :data:`Captured` tuple (table pixels); with ``losses``, the
    criterion the model trains with (``v8PoseLoss``: its gains, its assigner) is run on each
    image of the batch alone, so ``losses[row]`` holds that image's ``box_loss``,
    ``pose_loss``, ``kobj_loss``, ``cls_loss``, ``dfl_loss`` and their sum ``loss``; with
    ``embeddings``, ``embeddings[row]`` is the global-average-pooled output of the backbone's
    SPPF layer (the last backbone layer when there is none).

    Example:
        ``capture = SampleCapture(losses=True, embeddings=True, loss_sigmas=table.schema.sigmas)``
        passed to :func:`validator_class`; ``capture.active = True`` before a pass.
    """

    def __init__(
        self,
        *,
        losses: bool = False,
        embeddings: bool = False,
        loss_sigmas: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        self.want_losses = losses
        self.want_embeddings = embeddings
        self.loss_sigmas = None if loss_sigmas is None else [float(v) for v in loss_sigmas]
        self.active = True
        self.predictions: dict[int, Captured] = {}
        self.losses: dict[int, dict[str, float]] = {}
        self.embeddings: dict[int, np.ndarray] = {}
        self._criterion: Any = None
        self._handle: Any = None
        self._pooled: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous pass."""
        self.predictions, self.losses, self.embeddings = {}, {}, {}

    def start(self, model: Any) -> None:
        """Attach to the model a pass runs (criterion, embedding hook)."""
        self.stop()
        if not self.active or not (self.want_losses or self.want_embeddings):
            return
        net = _pose_net(model)
        if self.want_losses:
            self._criterion = _criterion(net, self.loss_sigmas)
        if self.want_embeddings:
            layer = net.model[_embedding_layer(net)]

            def hook(_module: Any, _inputs: Any, output: Any) -> None:
                pooled = output.detach().float().mean(dim=(2, 3))
                self._pooled = pooled.cpu().numpy().astype(np.float64)

            self._handle = layer.register_forward_hook(hook)

    def stop(self) -> None:
        """Detach from the model."""
        if self._handle is not None:
            self._handle.remove()
        self._handle, self._criterion, self._pooled = None, None, None

    def add_batch(self, raw: Any, batch: Mapping[str, Any]) -> None:
        """Record the embeddings and per-image losses of one batch."""
        rows = [int(r) for r in batch[ROW_KEY]]
        if self.want_embeddings and self._pooled is not None:
            for si, row in enumerate(rows):
                self.embeddings[row] = self._pooled[si]
        if self.want_losses and self._criterion is not None:
            outputs = _raw_outputs(raw)
            if outputs is None:
                raise RunError(
                    "collect_loss: the model's forward gave no raw head outputs to compute the "
                    f"pose loss from (got {type(raw).__name__}); collect without losses"
                )
            for si, row in enumerate(rows):
                self.losses[row] = per_image_loss(self._criterion, outputs, batch, si)


def _criterion(net: Any, sigmas: Sequence[float] | None) -> Any:
    """``v8PoseLoss`` of a model with its training gains, scoring keypoints with ``sigmas``."""
    args = getattr(net, "args", None)
    if not isinstance(args, IterableSimpleNamespace):
        given = dict(args) if isinstance(args, Mapping) else dict(vars(args or {}))
        args = IterableSimpleNamespace(**{**DEFAULT_CFG_DICT, **given})
    previous = getattr(net, "args", None)
    net.args = args
    try:
        criterion = v8PoseLoss(net)
    finally:
        net.args = previous
    if sigmas is not None:
        criterion.keypoint_loss = KeypointLoss(
            sigmas=torch.as_tensor(sigmas, dtype=torch.float32, device=criterion.device)
        )
    return criterion


def per_image_loss(
    criterion: Any, outputs: Mapping[str, Any], batch: Mapping[str, Any], index: int
) -> dict[str, float]:
    """Ultralytics' pose loss components of image ``index`` of a batch, computed alone."""
    one = {key: value[index : index + 1] for key, value in outputs.items() if key != "feats"}
    one["feats"] = [f[index : index + 1] for f in outputs["feats"]]
    mask = batch["batch_idx"].view(-1) == index
    target = {
        "batch_idx": torch.zeros(int(mask.sum()), device=batch["batch_idx"].device),
        "cls": batch["cls"][mask],
        "bboxes": batch["bboxes"][mask],
        "keypoints": batch["keypoints"][mask],
    }
    with torch.no_grad():
        _, items = criterion.loss(one, target)
    values = {name: float(items[name]) for name in LOSS_NAMES}
    values["loss"] = float(sum(values.values()))
    return values


def weighted_sampler(
    weights: np.ndarray, *, weighted: bool, exclude_zero: bool, seed: int = 0
) -> torch.utils.data.Sampler[int]:
    """The sampler of a training epoch by sample weights (3LC's ``sampling_weights``).

    ``weighted``: rows are drawn with replacement, ``len(weights)`` per epoch, each with a
    probability proportional to its weight; otherwise every row once in random order.
    ``exclude_zero``: rows of weight 0 are never drawn.

    Example:
        >>> sampler = weighted_sampler(np.array([1.0, 0.0, 3.0]), weighted=True, exclude_zero=True)
        >>> 1 in set(sampler)
        False
    """
    weights = np.asarray(weights, dtype=np.float64)
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    keep = np.flatnonzero(weights > 0) if exclude_zero else np.arange(len(weights))
    if weighted:
        probabilities = np.zeros(len(weights))
        probabilities[keep] = weights[keep]
        if exclude_zero is False and probabilities.sum() == 0:
            probabilities[:] = 1.0
        return torch.utils.data.WeightedRandomSampler(
            probabilities.tolist(), num_samples=len(weights), replacement=True, generator=generator
        )
    return torch.utils.data.SubsetRandomSampler(keep.tolist(), generator=generator)


@dataclass
class CollectPlan:
    """When a training collects per-sample results, and where they go.

    ``epochs``: 1-based epochs after whose validation a pass is collected; ``train_stream``:
    the training table is collected too (without augmentation); ``final``: a pass after
    training, with the best weights. ``write(stream, epoch, phase, capture)`` receives each
    finished pass (``stream`` ``"train"``/``"val"``, ``phase`` ``"training"``/``"final"``).
    """

    epochs: frozenset[int]
    train_stream: bool
    final: bool
    losses: bool
    embeddings: bool
    loss_sigmas: Sequence[float] | None
    write: Callable[[str, int, str, SampleCapture], None]

    def capture(self) -> SampleCapture:
        """An inactive capture with this plan's options."""
        capture = SampleCapture(
            losses=self.losses, embeddings=self.embeddings, loss_sigmas=self.loss_sigmas
        )
        capture.active = False
        return capture


@contextmanager
def _kept_random_state() -> Iterator[None]:
    """A collection pass leaves the training's random streams as they were."""
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])


def yolo_labels(source: TableLabels) -> list[dict[str, Any]]:
    """Ultralytics label dicts (normalised ``xywh`` boxes, ``(n, K, 3)`` keypoints) per row.

    Crowd regions, instances without a labeled keypoint and empty boxes are left out (as
    Ultralytics' COCO converter does); unlabeled points are written as ``0, 0, 0``.
    """
    keep = source.trainable()
    counts = np.diff(source.offsets)
    width = np.repeat(source.widths.astype(np.float64), counts)[keep]
    height = np.repeat(source.heights.astype(np.float64), counts)[keep]
    boxes = source.boxes[keep].copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, width[:, None])
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, height[:, None])
    xywh = np.stack(
        [
            (boxes[:, 0] + boxes[:, 2]) / 2 / width,
            (boxes[:, 1] + boxes[:, 3]) / 2 / height,
            (boxes[:, 2] - boxes[:, 0]) / width,
            (boxes[:, 3] - boxes[:, 1]) / height,
        ],
        axis=1,
    ).astype(np.float32)
    vis = source.visibility[keep]
    points = np.zeros((*vis.shape, 3), dtype=np.float32)
    labeled = vis > 0
    points[..., 0] = np.where(labeled, source.keypoints[keep][..., 0] / width[:, None], 0.0)
    points[..., 1] = np.where(labeled, source.keypoints[keep][..., 1] / height[:, None], 0.0)
    points[..., 2] = vis
    classes = source.labels[keep].astype(np.float32)[:, None]
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    starts = kept_before[source.offsets].tolist()
    heights = source.heights.tolist()
    widths = source.widths.tolist()
    out = []
    for row, image in enumerate(source.images):
        a, b = starts[row], starts[row + 1]
        out.append(
            {
                "im_file": image,
                "shape": (int(heights[row]), int(widths[row])),
                "cls": classes[a:b],
                "bboxes": xywh[a:b],
                "segments": [],
                "keypoints": points[a:b],
                "normalized": True,
                "bbox_format": "xywh",
                ROW_KEY: row,
            }
        )
    return out


class TableYOLODataset(YOLODataset):
    """Ultralytics' ``YOLODataset`` reading images and labels from a table revision."""

    def __init__(self, *args: Any, source: TableLabels, **kwargs: Any) -> None:
        self.source = source
        super().__init__(*args, **kwargs)

    def get_img_files(self, img_path: Any) -> list[str]:
        """The table's image paths (Ultralytics' ``fraction`` keeps the first rows)."""
        files = list(self.source.images)
        fraction = self.fraction
        count = fraction if isinstance(fraction, int) else max(1, round(len(files) * fraction))
        return files[:count]

    def get_labels(self) -> list[dict[str, Any]]:
        """Label dicts of the rows kept by ``get_img_files``."""
        return yolo_labels(self.source)[: len(self.im_files)]

    def get_image_and_label(self, index: int) -> dict[str, Any]:
        """Ultralytics' sample, checking the image is the size the table says."""
        label = super().get_image_and_label(index)
        row = label[ROW_KEY]
        expected = (int(self.source.heights[row]), int(self.source.widths[row]))
        if tuple(int(v) for v in label["ori_shape"]) != expected:
            found = label["ori_shape"]
            raise RowError(
                f"table {self.source.table_ref}, row {row}: image {label['im_file']} is "
                f"{found[1]}x{found[0]} pixels, but the table says {expected[1]}x{expected[0]}; "
                "fix the row's width/height (labels are in the table's pixel frame)"
            )
        return label


def build_dataset(
    cfg: Any,
    source: TableLabels,
    batch: int | None,
    data: Mapping[str, Any],
    *,
    mode: str,
    rect: bool,
    stride: int,
) -> TableYOLODataset:
    """The table dataset with the arguments Ultralytics' ``build_yolo_dataset`` would use."""
    return TableYOLODataset(
        img_path=source.table_ref,
        imgsz=cfg.imgsz,
        batch_size=batch,
        augment=mode == "train",
        hyp=cfg,
        rect=cfg.rect or rect,
        cache=cfg.cache or None,
        single_cls=cfg.single_cls or False,
        stride=stride,
        pad=0.0 if mode == "train" else 0.5,
        prefix=colorstr(f"{mode}: "),
        task="pose",
        classes=cfg.classes,
        data=dict(data),
        fraction=cfg.fraction if mode == "train" else 1.0,
        source=source,
    )


def validator_class(
    sources: Mapping[str, TableLabels],
    metric_sigmas: Sequence[float],
    sink: dict[int, Captured] | None = None,
    capture: SampleCapture | None = None,
) -> type[PoseValidator]:
    """A ``PoseValidator`` reading tables, scoring with the validation table's sigmas; with
    ``sink``, it keeps every image's predictions (table pixels); with an active ``capture``,
    predictions, per-image losses and embeddings go there."""

    class TablePoseValidator(PoseValidator):
        def __call__(self, trainer: Any = None, model: Any = None) -> Any:
            try:
                return super().__call__(trainer, model)
            finally:
                if capture is not None:
                    capture.stop()

        def init_metrics(self, model: Any) -> None:
            super().init_metrics(model)
            self.sigma = np.asarray(metric_sigmas, dtype=np.float32)
            if capture is not None and capture.active:
                capture.start(model)

        def postprocess(self, preds: Any) -> Any:
            self._posetable_raw = preds
            return super().postprocess(preds)

        def build_dataset(self, img_path: str, mode: str = "val", batch: int | None = None) -> Any:
            return build_dataset(
                self.args,
                sources[str(img_path)],
                batch,
                self.data,
                mode=mode,
                rect=True,
                stride=self.stride if self.stride is not None else 32,
            )

        def update_metrics(self, preds: list[dict[str, Any]], batch: dict[str, Any]) -> None:
            target = sink
            if capture is not None and capture.active:
                capture.add_batch(getattr(self, "_posetable_raw", None), batch)
                target = capture.predictions
            super().update_metrics(preds, batch)
            if target is None:
                return
            for si, pred in enumerate(preds):
                pbatch = self._prepare_batch(si, batch)
                scaled = self.scale_preds(self._prepare_pred(pred), pbatch)
                target[int(batch[ROW_KEY][si])] = (
                    scaled["bboxes"].detach().cpu().numpy().astype(np.float64),
                    scaled["conf"].detach().cpu().numpy().astype(np.float64),
                    scaled["cls"].detach().cpu().numpy().astype(np.int64),
                    scaled["keypoints"].detach().cpu().numpy().astype(np.float64),
                )

    return TablePoseValidator


def trainer_class(
    sources: Mapping[str, TableLabels],
    data: Mapping[str, Any],
    *,
    loss_sigmas: Sequence[float] | None,
    metric_sigmas: Sequence[float],
    collect: CollectPlan | None = None,
    train_weights: np.ndarray | None = None,
    weighted: bool = False,
    exclude_zero: bool = False,
) -> type[PoseTrainer]:
    """A ``PoseTrainer`` whose datasets, data dict and validator come from tables.

    With ``collect``, the passes it names are captured and handed to ``collect.write``; with
    ``train_weights`` (one per training row), the training loader draws by
    :func:`weighted_sampler`.
    """
    val_capture = collect.capture() if collect is not None else None
    train_capture = collect.capture() if collect is not None else None
    validator = validator_class(sources, metric_sigmas, capture=val_capture)
    train_validator = validator_class(sources, metric_sigmas, capture=train_capture)

    class TablePoseTrainer(PoseTrainer):
        def get_dataset(self) -> dict[str, Any]:
            resolved = copy.deepcopy(dict(data))
            if self.args.single_cls:
                resolved["names"], resolved["nc"] = {0: "item"}, 1
            return resolved

        def build_dataset(
            self, img_path: str, mode: str = "train", batch: int | None = None
        ) -> Any:
            stride = max(int(unwrap_model(self.model).stride.max()), 32)
            return build_dataset(
                self.args,
                sources[str(img_path)],
                batch,
                self.data,
                mode=mode,
                rect=mode == "val",
                stride=stride,
            )

        def get_dataloader(
            self, dataset_path: str, batch_size: int = 16, rank: int = 0, mode: str = "train"
        ) -> Any:
            if mode != "train" or train_weights is None:
                return super().get_dataloader(dataset_path, batch_size, rank, mode)
            dataset = self.build_dataset(dataset_path, mode, batch_size)
            weights = np.asarray(train_weights, dtype=np.float64)[: len(dataset)]
            sampler = weighted_sampler(
                weights, weighted=weighted, exclude_zero=exclude_zero, seed=int(self.args.seed)
            )
            return InfiniteDataLoader(
                dataset=dataset,
                batch_size=min(batch_size, len(dataset)),
                shuffle=False,
                num_workers=min(int(self.args.workers), 8),
                sampler=sampler,
                collate_fn=getattr(dataset, "collate_fn", None),
                worker_init_fn=seed_worker,
            )

        def set_model_attributes(self) -> None:
            super().set_model_attributes()
            if loss_sigmas is not None:
                self.model.kpt_oks_sigmas = [float(s) for s in loss_sigmas]

        def get_validator(self) -> Any:
            return validator(
                self.test_loader,
                save_dir=self.save_dir,
                args=copy.copy(self.args),
                _callbacks=self.callbacks,
            )

        def _collect_train(self, epoch: int, phase: str, model: Any = None) -> None:
            if collect is None or train_capture is None or not collect.train_stream:
                return
            loader = getattr(self, "_posetable_train_eval", None)
            if loader is None:
                loader = self.get_dataloader(
                    str(self.data["train"]), batch_size=self.batch_size * 2, rank=-1, mode="val"
                )
                self._posetable_train_eval = loader
            args = copy.copy(self.args)
            args.plots = False
            runner = train_validator(loader, save_dir=self.save_dir, args=args)
            train_capture.reset()
            train_capture.active = True
            try:
                with _kept_random_state():
                    runner(trainer=self) if model is None else runner(model=model)
            finally:
                train_capture.active = False
            collect.write("train", epoch, phase, train_capture)

        def validate(self) -> Any:
            epoch = self.epoch + 1
            if collect is None or val_capture is None or epoch not in collect.epochs:
                return super().validate()
            self._collect_train(epoch, "training")
            val_capture.reset()
            val_capture.active = True
            try:
                out = super().validate()
            finally:
                val_capture.active = False
            collect.write("val", epoch, "training", val_capture)
            return out

        def final_eval(self) -> None:
            if collect is None or val_capture is None or not collect.final:
                super().final_eval()
                return
            epoch = self.epoch + 1
            val_capture.reset()
            val_capture.active = True
            try:
                super().final_eval()
            finally:
                val_capture.active = False
            if not self.best.exists():
                return
            if val_capture.predictions:
                collect.write("val", epoch, "final", val_capture)
            self._collect_train(epoch, "final", model=self.best)

    return TablePoseTrainer


@contextmanager
def table_datasets(data_by_key: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Resolve ``posetable:<table>@<rev>`` data keys in Ultralytics' stand-alone validation."""
    original = _validator_module.check_det_dataset

    def resolve(dataset: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = str(dataset)
        if key in data_by_key:
            return copy.deepcopy(dict(data_by_key[key]))
        return original(dataset, *args, **kwargs)

    _validator_module.check_det_dataset = resolve
    try:
        yield
    finally:
        _validator_module.check_det_dataset = original
