"""Helpers of the format tests: strict JSON equality and edited copies of real files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# COCO-format folders in tests/data; the ones without image copies are imported without
# an image folder.
COCO_DATASETS = (
    "coco_kpts",
    "coco_wholebody",
    "crowdpose",
    "aic",
    "onehand10k",
    "horse10",
    "ap10k",
)
YOLO_DATASETS = (
    ("coco8_pose_yolo", "coco8-pose.yaml", "train"),
    ("coco8_pose_yolo", "coco8-pose.yaml", "val"),
    ("crowdpose_yolo_k2", "crowdpose-k2.yaml", "train"),
)


def json_difference(a: Any, b: Any, where: str = "$") -> str | None:
    """Where two JSON values differ, number types included (``2`` is not ``2.0``)."""
    if type(a) is not type(b):
        return f"{where}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, dict):
        if set(a) != set(b):
            return f"{where}: keys differ: {sorted(set(a) ^ set(b))}"
        for key in a:
            found = json_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = json_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def load(path: Path) -> Any:
    """A JSON file's value (Python's own parser, independent of posetable's)."""
    return json.loads(Path(path).read_text())


def edited_copy(
    source: Path, target: Path, edit: Callable[[dict[str, Any]], Any], *, indent: int | None = 1
) -> Path:
    """Write ``edit(document)`` of a real COCO file to ``target`` (several lines by default)."""
    document = copy.deepcopy(load(source))
    edit(document)
    target.write_text(json.dumps(document, indent=indent))
    return target


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first occurrence of ``text`` in a file."""
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")
