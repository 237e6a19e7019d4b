"""3LC's ``tlc_ultralytics`` on posetable: ``YOLO`` and ``Settings`` with 3LC's names.

``from posetable.tlc_ultralytics import YOLO, Settings`` replaces
``from tlc_ultralytics import YOLO, Settings``; nothing else in 3LC code changes.
``YOLO(model).train(tables={"train": t, "val": v}, settings=Settings(...), epochs=...)``
trains with Ultralytics' trainer (:func:`posetable.integrations.ultralytics.train`) and
collects per-sample predictions, OKS metrics, pose losses and image embeddings into a
3LC run (:func:`posetable.tlc.init`), one native run per collected (stream, epoch).

Example:
    >>> from posetable.tlc_ultralytics import Settings
    >>> settings = Settings(collection_epoch_start=1, collection_epoch_interval=2)
    >>> settings.get_metrics_collection_epochs(5)
    [1, 3, 5]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from posetable.tlc_ultralytics.settings import Settings

if TYPE_CHECKING:
    from posetable.tlc_ultralytics.model import YOLO

__all__ = ["YOLO", "Settings"]


def __getattr__(name: str) -> Any:
    if name in ("YOLO", "TLCYOLO"):
        from posetable.integrations._common import require

        require("ultralytics", extra="ultralytics")
        from posetable.tlc_ultralytics import model

        return getattr(model, name)
    raise AttributeError(f"module 'posetable.tlc_ultralytics' has no attribute {name!r}")
