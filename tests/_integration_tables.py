"""Helpers of the integration tests: coco8-pose splits as tables, importing optional extras."""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import posetable as pt
from posetable.errors import PosetableWarning


def yolo_table(folder: Path, split: str, *, name: str, store: Path) -> pt.Table:
    """A split of a YOLO-pose folder (``coco8-pose.yaml``) as a table."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return pt.Table.from_yolo(folder / "coco8-pose.yaml", split=split, name=name, store=store)


def installed_or_skip(module: str) -> ModuleType:
    """Import an extra's framework; skip when it is not installed, fail when it is broken
    (``pytest.importorskip`` would also skip a framework that fails to import)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (an optional extra)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # frameworks warn about their own dependencies at import
        return importlib.import_module(module)
