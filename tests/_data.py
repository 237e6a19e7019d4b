"""The one place that finds the real test datasets.

They live in the repository under ``tests/data/`` (provenance and licences in
``tests/data/SOURCES.md``); ``POSETABLE_TEST_DATA`` may point at another folder with the same
layout. The test suite, the benches and the examples all find them through this module.

>>> data_path("coco_kpts").name
'coco_kpts'
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The datasets every suite reads; conftest refuses to start when one is missing.
DATASETS = (
    "aic",
    "animalpose",
    "ap10k",
    "coco8_pose_yolo",
    "coco_kpts",
    "coco_wholebody",
    "crowdpose",
    "crowdpose_yolo_k2",
    "horse10",
    "onehand10k",
)


def data_root() -> Path:
    """The folder holding the test datasets: ``$POSETABLE_TEST_DATA`` or ``tests/data``."""
    configured = os.environ.get("POSETABLE_TEST_DATA")
    return Path(configured).expanduser().resolve() if configured else REPO / "tests" / "data"


def missing_datasets() -> list[str]:
    """The dataset folders of ``DATASETS`` that are not in ``data_root()`` (empty when all are)."""
    root = data_root()
    return [name for name in DATASETS if not (root / name).is_dir()]


def missing_message() -> str:
    """One message naming the folder and what is missing from it."""
    root = data_root()
    missing = missing_datasets()
    where = "POSETABLE_TEST_DATA" if os.environ.get("POSETABLE_TEST_DATA") else "the repository"
    return (
        f"the real test data folder {root} (from {where}) lacks {', '.join(missing)}: "
        "restore tests/data from git (`git checkout -- tests/data`) or point "
        "POSETABLE_TEST_DATA at a folder holding these datasets (see tests/data/SOURCES.md)"
    )


def data_path(name: str) -> Path:
    """The folder of one real dataset, e.g. ``data_path("coco_kpts")``.

    Raises:
        FileNotFoundError: naming the folder, when it is not there.
    """
    path = data_root() / name
    if not path.is_dir():
        raise FileNotFoundError(f"real test dataset {path} is missing; {missing_message()}")
    return path
