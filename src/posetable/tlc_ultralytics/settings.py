"""3LC's ``tlc_ultralytics.Settings``: the same fields, defaults and environment variables.

Settings posetable cannot honour raise our typed errors in :meth:`Settings.verify`, which
``YOLO.train`` / ``val`` / ``collect`` call before any model work.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from posetable.errors import RunError, UnsupportedError

DEFAULT_TRAIN_RUN_DESCRIPTION = "Created with 3LC Ultralytics integration (posetable)"
DEFAULT_COLLECT_RUN_DESCRIPTION = "Metrics collected with 3LC Ultralytics integration (posetable)"


@dataclass
class Settings:
    """Settings of the 3LC integration (3lc-ultralytics' field names and defaults).

    Pose fields (``point_attributes``, also spelled ``kpt_names``, ``lines``,
    ``oks_sigmas``, ``flip_indices``, ``points``...) are applied to the tables made from a
    data YAML; ``oks_sigmas`` also becomes the sigmas of the training loss (every metric
    uses the table's). ``image_embeddings_reducer`` is ``"pacmap"`` (3LC's default),
    ``"umap"`` (both need ``posetable[tlc]``) or ``"pca"`` (always available).

    Example:
        >>> Settings(project_name="p", collect_loss=True).collect_loss
        True
        >>> Settings(kpt_names=["a", "b"]).point_attributes
        ['a', 'b']
    """

    conf_thres: float = 0.1
    max_det: int = 300
    project_name: str | None = None
    run_name: str | None = None
    run_description: str | None = None
    collect_loss: bool = False
    image_embeddings_dim: int = 0
    image_embeddings_reducer: str = "pacmap"
    image_embeddings_reducer_args: dict[str, Any] = field(default_factory=dict)
    instance_embeddings_dim: int = 0
    instance_embeddings_layer: int | None = None
    instance_embeddings_reducer: str = "pacmap"
    instance_embeddings_reducer_kwargs: dict[str, Any] = field(default_factory=dict)
    ground_truth_instance_embeddings: bool = False
    sampling_weights: bool = False
    exclude_zero_weight_training: bool = False
    exclude_zero_weight_collection: bool = False
    collection_val_only: bool = False
    collection_disable: bool = False
    collection_epoch_start: int | None = None
    collection_epoch_interval: int = 1
    metrics_collection_function: Callable[[Any, Any], dict[str, Any]] | None = None
    metrics_schemas: dict[str, Any] | None = None
    image_column_name: str = "image"
    label_column_name: str | None = None
    points: list[float] | None = None
    lines: list[int] | None = None
    triangles: list[int] | None = None
    point_attributes: list[Any] | None = None
    line_attributes: list[Any] | None = None
    triangle_attributes: list[Any] | None = None
    oks_sigmas: list[float] | None = None
    flip_indices: list[int] | None = None
    kpt_names: list[str] | None = None

    def __post_init__(self) -> None:
        if self.oks_sigmas is not None:
            self.oks_sigmas = [float(v) for v in self.oks_sigmas]
        if self.kpt_names is not None:
            if self.point_attributes is not None and list(self.point_attributes) != list(
                self.kpt_names
            ):
                raise UnsupportedError(
                    "kpt_names and point_attributes name the same keypoints; give one, got "
                    f"kpt_names={self.kpt_names!r} and point_attributes={self.point_attributes!r}"
                )
            self.point_attributes = list(self.kpt_names)

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from ``TLC_<FIELD>`` environment variables (3LC's ``from_env``).

        Example:
            >>> import os
            >>> os.environ["TLC_COLLECT_LOSS"] = "yes"
            >>> Settings.from_env().collect_loss
            True
            >>> del os.environ["TLC_COLLECT_LOSS"]
        """
        kwargs: dict[str, Any] = {}
        for item in fields(cls):
            value = os.environ.get(f"TLC_{item.name.upper()}")
            if value is None:
                continue
            kind = str(item.type)
            if kind.startswith("bool"):
                if value.lower() not in ("y", "yes", "1", "true", "n", "no", "0", "false"):
                    raise UnsupportedError(
                        f"TLC_{item.name.upper()}={value!r} is not a boolean (yes/no, 1/0)"
                    )
                kwargs[item.name] = value.lower() in ("y", "yes", "1", "true")
            elif kind.startswith("int"):
                kwargs[item.name] = int(value)
            elif kind.startswith("float"):
                kwargs[item.name] = float(value)
            elif kind.startswith("list"):
                kwargs[item.name] = value.split(",")
            else:
                kwargs[item.name] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a dict (without the callable and schemas)."""
        skip = ("metrics_collection_function", "metrics_schemas")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    def get_metrics_collection_epochs(self, epochs: int) -> list[int]:
        """The 1-based epochs after which to collect during training (3LC's rule)."""
        if self.collection_disable or self.collection_epoch_start is None:
            return []
        if self.collection_epoch_start > epochs:
            return []
        if self.collection_epoch_start < 1:
            raise RunError(
                f"collection_epoch_start must be >= 1 (1 is after the first epoch), got "
                f"{self.collection_epoch_start}"
            )
        if self.collection_epoch_interval <= 0:
            raise RunError(
                f"collection_epoch_interval must be >= 1, got {self.collection_epoch_interval}"
            )
        return list(range(self.collection_epoch_start, epochs + 1, self.collection_epoch_interval))

    def verify(self, training: bool = True) -> None:
        """Raise our typed error for a setting posetable cannot honour (before any work)."""
        from posetable.integrations.ultralytics import check_embeddings

        if not (
            isinstance(self.conf_thres, (int, float))
            and math.isfinite(self.conf_thres)
            and 0.0 <= self.conf_thres <= 1.0
        ):
            raise RunError(f"conf_thres must be in [0, 1], got {self.conf_thres!r}")
        if not isinstance(self.max_det, int) or self.max_det <= 0:
            raise RunError(f"max_det must be a positive int, got {self.max_det!r}")
        if self.image_embeddings_dim:
            check_embeddings(self.image_embeddings_dim, self.image_embeddings_reducer)
        unsupported = {
            "instance_embeddings_dim": (self.instance_embeddings_dim, 0),
            "ground_truth_instance_embeddings": (self.ground_truth_instance_embeddings, False),
            "exclude_zero_weight_collection": (self.exclude_zero_weight_collection, False),
            "metrics_collection_function": (self.metrics_collection_function, None),
            "metrics_schemas": (self.metrics_schemas, None),
        }
        for name, (value, default) in unsupported.items():
            if value != default and value is not default:
                raise UnsupportedError(
                    f"{name}={value!r} is not supported by posetable's 3LC integration; "
                    f"leave it at {default!r}"
                )
        if self.label_column_name not in (None, "keypoints", "keypoints_2d"):
            raise UnsupportedError(
                f"label_column_name={self.label_column_name!r}: posetable tables have one "
                "keypoints column; leave it None"
            )
        if not training:
            return
        clashes = [
            (self.collection_val_only, "collection_val_only"),
            (self.image_embeddings_dim > 0, "image_embeddings_dim"),
            (self.collection_epoch_start is not None, "collection_epoch_start"),
        ]
        for given, name in clashes:
            if self.collection_disable and given:
                raise RunError(
                    f"collection_disable=True and {name}={getattr(self, name)!r} contradict each "
                    "other; drop one"
                )
        start = self.collection_epoch_start
        if start is not None and (isinstance(start, bool) or not isinstance(start, int)):
            raise RunError(f"collection_epoch_start must be an int or None, got {start!r}")
        if start is not None and start < 1:
            raise RunError(f"collection_epoch_start must be >= 1, got {start}")
        if self.collection_epoch_interval <= 0:
            raise RunError(
                f"collection_epoch_interval must be >= 1, got {self.collection_epoch_interval}"
            )
