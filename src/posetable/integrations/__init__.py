"""Training integrations: tables feed Ultralytics, PyTorch and SuperGradients directly.

Each submodule imports its framework only when called, and raises
:class:`~posetable.errors.MissingDependencyError` naming the pip line when it is missing:

* :mod:`posetable.integrations.ultralytics` (``pip install "posetable[ultralytics]"``):
  ``train(model, train_table, val_table, **yolo_args)`` and ``validate(model, table)``,
  which writes the model's predictions as a run.
* :mod:`posetable.integrations.torch` (``pip install "posetable[torch]"``):
  ``KeypointsDataset``, ``collate_keypoints`` and ``predictions_from_outputs``.
* :mod:`posetable.integrations.supergradients` (``pip install "posetable[supergradients]"``,
  see the README for the working set): a YOLO-NAS-pose dataset built from a table and
  ``predictions_from_yolo_nas_pose``.

Importing this package imports no framework.

Example:
    >>> import posetable.integrations as integrations
    >>> sorted(integrations.SUBMODULES)
    ['supergradients', 'torch', 'ultralytics']
"""

from __future__ import annotations

SUBMODULES = ("ultralytics", "torch", "supergradients")

__all__ = ["SUBMODULES"]
