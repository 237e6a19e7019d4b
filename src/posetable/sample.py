"""The tiny real sample that ships inside the package (4 COCO images, 14 persons).

Example:
    >>> from posetable.sample import sample_annotations
    >>> sample_annotations().name
    'annotations.json'
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table

SAMPLE_TABLE_NAME = "coco-sample"


def sample_dir() -> Path:
    """The folder of the bundled sample (``annotations.json``, ``images/``)."""
    return Path(str(files("posetable") / "_sample"))


def sample_annotations() -> Path:
    """The bundled COCO keypoints JSON."""
    return sample_dir() / "annotations.json"


def sample_images() -> Path:
    """The bundled images folder."""
    return sample_dir() / "images"


def sample_table(*, store: StoreLike = None, name: str = SAMPLE_TABLE_NAME) -> Table:
    """Import the bundled sample as a table (a new revision each call)."""
    from posetable.table import Table

    return Table.from_coco(sample_annotations(), sample_images(), name=name, store=store)
