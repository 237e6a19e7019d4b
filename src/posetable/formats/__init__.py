"""Formats at the edge: COCO keypoints JSON and Ultralytics YOLO-pose folders <-> tables.

Importers read a whole file into columns in a few vectorised passes, check everything
before anything is written, and report what they assumed or filled in one
:class:`~posetable.errors.PosetableWarning`. The entry points are ``Table.from_coco``,
``Table.from_yolo``, ``table.export_coco``, ``table.export_yolo`` and
:func:`~posetable.formats.yolo.read_yolo_predictions`.
"""

from posetable.formats._errors import MissingFileError
from posetable.formats.coco import export_coco, table_from_coco
from posetable.formats.yolo import export_yolo, read_yolo_predictions, table_from_yolo

__all__ = [
    "MissingFileError",
    "export_coco",
    "export_yolo",
    "read_yolo_predictions",
    "table_from_coco",
    "table_from_yolo",
]
