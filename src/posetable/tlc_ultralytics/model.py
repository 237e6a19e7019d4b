"""``YOLO``: Ultralytics' ``YOLO`` with 3LC's ``train(tables=, settings=)``, ``val`` and
``collect``, on posetable tables and runs.

Training goes through :func:`posetable.integrations.ultralytics.train` (Ultralytics' own
trainer reading the tables); each collected (stream, epoch) becomes a native
:class:`posetable.Run` named ``"<project>/<run>/<stream>-epoch-0003"`` recorded in the 3LC
run (:meth:`posetable.tlc.Run.add_collection`), as soon as that pass ends.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ultralytics
import yaml

import posetable as pt
from posetable.errors import PosetableWarning, SchemaError, UnsupportedError
from posetable.integrations import ultralytics as native
from posetable.tlc_ultralytics.settings import (
    DEFAULT_COLLECT_RUN_DESCRIPTION,
    DEFAULT_TRAIN_RUN_DESCRIPTION,
    Settings,
)

__all__ = ["TLCYOLO", "YOLO"]


def _native_table(value: Any, what: str) -> pt.Table:
    """A native table from a ``tlc.Table``, a ``posetable.Table`` or a table url."""
    import posetable.tlc as tlc

    if isinstance(value, pt.Table):
        return value
    if isinstance(value, tlc.Table):
        return value.native
    if isinstance(value, (str, os.PathLike, tlc.Url)):
        return tlc.Table.from_url(value).native
    raise UnsupportedError(
        f"{what} must be a tlc.Table, a posetable.Table or a table url, got {type(value).__name__}"
    )


def _check_keypoints(table: pt.Table, what: str) -> None:
    if "keypoints" not in table.columns or table.schema.num_keypoints < 1:
        raise SchemaError(
            f"{what} table {table.ref} has no keypoints column (columns {table.columns}); "
            "YOLO-pose trains and collects on keypoint tables"
        )


def _yaml_kpt_count(path: Path) -> int | None:
    data = yaml.safe_load(path.read_text()) or {}
    shape = data.get("kpt_shape")
    return int(shape[0]) if isinstance(shape, (list, tuple)) and shape else None


def _fitting_lines(lines: list[int] | None, k: int | None) -> list[int] | None:
    """``lines`` without the pairs naming a keypoint index >= K, each one warned about."""
    if lines is None or k is None:
        return lines
    flat = [int(v) for v in lines]
    kept: list[int] = []
    for a, b in zip(flat[0::2], flat[1::2], strict=False):
        if 0 <= a < k and 0 <= b < k:
            kept += [a, b]
        else:
            warnings.warn(
                f"Settings.lines: the line ({a}, {b}) names a keypoint index outside the "
                f"data's K={k} keypoints (0..{k - 1}); it is dropped from the skeleton",
                PosetableWarning,
                stacklevel=4,
            )
    return kept


def _tables_from_yaml(
    data: str | os.PathLike[str], splits: Iterable[str], settings: Settings
) -> dict[str, pt.Table]:
    """3LC's tables of a data YAML's splits, made with the Settings' keypoint fields."""
    import posetable.tlc as tlc

    path = Path(data)
    if not path.is_file():
        raise pt.errors.NotFoundError(f"data YAML {str(data)!r} does not exist")
    stem = path.stem
    lines = _fitting_lines(settings.lines, _yaml_kpt_count(path))
    out: dict[str, pt.Table] = {}
    for split in splits:
        table = tlc.Table.from_yolo(
            dataset_yaml_file=str(path),
            split=split,
            task="pose",
            project_name=settings.project_name or stem,
            dataset_name=f"{stem}-{split}",
            table_name="initial",
            if_exists="reuse",
            add_weight_column=True,
            description="Created with 3LC YOLO integration (posetable)",
            points=settings.points,
            lines=lines,
            triangles=settings.triangles,
            point_attributes=settings.point_attributes,
            line_attributes=settings.line_attributes,
            triangle_attributes=settings.triangle_attributes,
            oks_sigmas=settings.oks_sigmas,
            flip_indices=settings.flip_indices,
        )
        out[split] = table.native
    return out


def _project_of(table: pt.Table) -> str:
    parts = table.name.split("/")
    return parts[0] if len(parts) == 3 else "default-project"


class YOLO(ultralytics.YOLO):
    """Ultralytics' ``YOLO`` with 3LC's table training and per-sample collection.

    A ``.pt`` name that is not on disk and cannot be downloaded is our ``NotFoundError``
    (offline, give the matching ``.yaml`` to train from scratch).

    Example:
        ``model = YOLO("yolo11n-pose.yaml")`` then
        ``model.train(tables={"train": t, "val": v}, settings=Settings(collect_loss=True),
        epochs=1, imgsz=64)``.
    """

    def __init__(self, model: str | os.PathLike[str] = "yolo11n-pose.pt", **kwargs: Any) -> None:
        path = str(model)
        if path.endswith(".pt") and not Path(path).is_file() and not native._online():
            raise pt.errors.NotFoundError(
                f"weights {path!r} do not exist and Ultralytics finds no network to download "
                f"them; give a local .pt file or {Path(path).stem + '.yaml'!r} to train from "
                "scratch"
            )
        super().__init__(model, **kwargs)

    # -- training ------------------------------------------------------------------------------
    def train(
        self,
        trainer: Any = None,
        *,
        tables: Mapping[str, Any] | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> Any:
        """Train on tables (or a data YAML) and collect per-sample results into a 3LC run.

        Args:
            trainer: Ultralytics' own argument (posetable's trainer passes it; then this is
                Ultralytics' ``train``).
            tables: ``{"train": table, "val": table}`` (``tlc.Table``, ``posetable.Table``
                or a url); ``"test"`` stands in for a missing ``"val"``.
            settings: the 3LC :class:`Settings` (default ``Settings()``).
            **kwargs: Ultralytics' train arguments; ``data=`` a YOLO data YAML instead of
                ``tables`` (its tables are made with the Settings' keypoint fields).

        Returns:
            Ultralytics' final metrics (``self.metrics``).
        """
        if trainer is not None:
            return super().train(trainer=trainer, **kwargs)
        import posetable.tlc as tlc

        settings = settings or Settings()
        settings.verify(training=True)
        data = kwargs.pop("data", None)
        if (tables is None) == (data is None):
            raise UnsupportedError("give tables={'train': ..., 'val': ...} or data='...yaml'")
        if tables is not None:
            resolved = {
                key: _native_table(value, f"tables[{key!r}]") for key, value in tables.items()
            }
        else:
            resolved = _tables_from_yaml(data, ("train", "val"), settings)
        if "train" not in resolved or not ({"val", "test"} & set(resolved)):
            raise UnsupportedError(
                f"tables need a 'train' and a 'val' (or 'test') table, got {sorted(resolved)}"
            )
        train_table = resolved["train"]
        val_table = resolved["val"] if "val" in resolved else resolved["test"]
        for what, table in (("train", train_table), ("val", val_table)):
            _check_keypoints(table, what)
        weights_wanted = settings.sampling_weights or (
            settings.exclude_zero_weight_training and "weight" in train_table.columns
        )
        if weights_wanted:
            native.sample_weights(
                train_table,
                setting="sampling_weights"
                if settings.sampling_weights
                else "exclude_zero_weight_training",
            )
        epochs = int(kwargs.get("epochs", 100))
        collection_epochs = settings.get_metrics_collection_epochs(epochs)
        run = tlc.init(
            project_name=settings.project_name or _project_of(train_table),
            run_name=settings.run_name,
            description=settings.run_description or DEFAULT_TRAIN_RUN_DESCRIPTION,
            parameters={
                **{k: _plain(v) for k, v in kwargs.items()},
                "3LC/train_url": train_table.ref,
                "3LC/val_url": val_table.ref,
                **{f"3LC/{k}": _plain(v) for k, v in settings.to_dict().items()},
            },
            root_url=str(train_table.store.root),
        )
        collect = None
        if not settings.collection_disable:
            collect = native.Collection(
                run_prefix=run.native_name,
                epochs=collection_epochs,
                train_stream=not settings.collection_val_only,
                final=True,
                collect_loss=settings.collect_loss,
                image_embeddings_dim=settings.image_embeddings_dim,
                image_embeddings_reducer=settings.image_embeddings_reducer,
                image_embeddings_reducer_args=dict(settings.image_embeddings_reducer_args),
                model_info={"tlc_run": run.native_name},
                on_run=run.add_collection,
                store=run.store,
            )
        kwargs.setdefault("project", str(run.path / "ultralytics"))
        kwargs.setdefault("name", "train")
        run.set_status_running()
        native.train(
            self,
            train_table,
            val_table,
            loss_sigmas=settings.oks_sigmas,
            collect=collect,
            sampling_weights=bool(weights_wanted and settings.sampling_weights),
            exclude_zero_weight=bool(weights_wanted and settings.exclude_zero_weight_training),
            **kwargs,
        )
        trainer_metrics = getattr(self.trainer, "metrics", None) or {}
        run.add_output_value(
            {"epoch": epochs, **{k: _plain(v) for k, v in trainer_metrics.items()}}
        )
        run.set_status_completed()
        self._tlc_run = run
        return self.metrics

    # -- validation / collection -------------------------------------------------------------------
    def val(
        self,
        validator: Any = None,
        *,
        table: Any = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> Any:
        """Validate on a table (or a data YAML split) and collect it into a 3LC run.

        Returns what 3LC's ``val`` returns: Ultralytics' metrics object of the pass
        (``results_dict``, ``pose.map``...), with ``run_url`` (the 3LC run's url, as 3LC sets
        it) and ``posetable_run``: the native :class:`posetable.Run` of the pass
        (``run.metrics`` posetable's OKS metrics with the table's sigmas, per-sample losses
        and embeddings as columns). The 3LC run is the active run when its project matches,
        else a new one (``settings.run_name``).
        """
        if validator is not None:
            return super().val(validator=validator, **kwargs)
        settings = settings or Settings()
        settings.verify(training=False)
        return self._collect_one(table, settings, kwargs, run=None)

    def collect(
        self,
        data: str | None = None,
        splits: Iterable[str] | None = None,
        tables: Mapping[str, Any] | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``val`` on several splits or tables, all under one 3LC run (3LC's ``collect``).

        Returns ``{split: Ultralytics metrics}`` as 3LC does, each with ``run_url`` and
        ``posetable_run`` (see :meth:`val`).
        """
        if not ((data and splits) or tables):
            raise UnsupportedError("collect needs data= and splits=, or tables=")
        settings = settings or Settings()
        settings.verify(training=False)
        if not settings.run_description:
            settings.run_description = DEFAULT_COLLECT_RUN_DESCRIPTION
        if tables:
            items = {k: _native_table(v, f"tables[{k!r}]") for k, v in tables.items()}
        else:
            items = _tables_from_yaml(str(data), list(splits or ()), settings)
        run = None
        out: dict[str, Any] = {}
        # one reducer for every split (3LC's rule): the first split fits it
        reducer = (
            native.EmbeddingReducer(
                settings.image_embeddings_dim,
                settings.image_embeddings_reducer,
                settings.image_embeddings_reducer_args,
            )
            if settings.image_embeddings_dim
            else None
        )
        for split, table in items.items():
            kwargs_split = dict(kwargs)
            out[split] = self._collect_one(
                table, settings, kwargs_split, run=run, stream=split, reducer=reducer
            )
            run = self._tlc_run
        if run is not None:
            run.set_status_completed()
        return out

    def _collect_one(
        self,
        table: Any,
        settings: Settings,
        kwargs: dict[str, Any],
        *,
        run: Any,
        stream: str | None = None,
        reducer: native.EmbeddingReducer | None = None,
    ) -> Any:
        import posetable.tlc as tlc

        data = kwargs.pop("data", None)
        split = kwargs.pop("split", "val")
        if table is None and data is None:
            raise UnsupportedError("val needs table= or data= (a data YAML) with split=")
        native_table = (
            _native_table(table, "table")
            if table is not None
            else _tables_from_yaml(data, [split], settings)[split]
        )
        _check_keypoints(native_table, "val")
        stream = stream or (split if table is None else native_table.name.split("/")[-1])
        if run is None:
            project = settings.project_name or _project_of(native_table)
            active = tlc.active_run()
            if active is not None and active.project_name == project and not settings.run_name:
                run = active
            else:
                run = tlc.init(
                    project_name=project,
                    run_name=settings.run_name,
                    description=settings.run_description or DEFAULT_COLLECT_RUN_DESCRIPTION,
                    root_url=str(native_table.store.root),
                )
        self._tlc_run = run
        kwargs.setdefault("conf", settings.conf_thres)
        kwargs.setdefault("max_det", settings.max_det)
        run.set_status_collecting()
        native_run, metrics = native.validate_with_metrics(
            self,
            native_table,
            run_name=run.unique_collection_name(stream, None),
            model_info={"tlc_run": run.native_name, "stream": stream, "epoch": None},
            store=run.store,
            collect_loss=settings.collect_loss,
            image_embeddings_dim=settings.image_embeddings_dim,
            image_embeddings_reducer=settings.image_embeddings_reducer,
            image_embeddings_reducer_args=settings.image_embeddings_reducer_args,
            loss_sigmas=settings.oks_sigmas,
            embeddings_reducer=reducer,
            **kwargs,
        )
        run.add_collection(native_run)
        metrics.run_url = run.url
        metrics.posetable_run = native_run
        return metrics


class TLCYOLO(YOLO):
    """Deprecated 3LC name of :class:`YOLO`."""


def _plain(value: Any) -> Any:
    """A JSON-friendly value for run parameters."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return str(value)
