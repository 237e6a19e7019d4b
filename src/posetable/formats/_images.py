"""Image files: which exist, and their sizes read from the header (no pixel decoding).

Sizes follow Ultralytics' rule, so normalised YOLO labels map to the same pixels as in
training: a JPEG whose EXIF orientation is 6 or 8 (rotated by 90 degrees) reports its
width and height swapped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError

# The image suffixes Ultralytics accepts (lower case, without the dot).
IMAGE_SUFFIXES = frozenset(
    {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
)
_EXIF_ORIENTATION = 0x0112


def is_image_name(name: str) -> bool:
    """Whether a file name has an image suffix Ultralytics reads.

    Example:
        >>> is_image_name("a/b.JPG"), is_image_name("labels.txt")
        (True, False)
    """
    return name.rsplit(".", 1)[-1].lower() in IMAGE_SUFFIXES if "." in name else False


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image from its header, EXIF rotation applied.

    Raises:
        MissingFileError: the file does not exist.
        FormatError: the file is not an image Pillow can read.

    Example:
        >>> from posetable.sample import sample_images
        >>> image_size(sample_images() / "000000000785.jpg")
        (640, 425)
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.format in ("JPEG", "MPO") and "exif" in image.info:
                try:
                    orientation = image.getexif().get(_EXIF_ORIENTATION)
                except Exception:
                    orientation = None
                if orientation in (6, 8):
                    width, height = height, width
    except FileNotFoundError as exc:
        raise MissingFileError(f"image file {path} does not exist") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"cannot read the image size from the header: {exc}", path=path) from exc
    return int(width), int(height)


def image_sizes(
    paths: Sequence[str], *, progress: bool = False, description: str = "image sizes"
) -> tuple[np.ndarray, np.ndarray]:
    """Widths and heights of many images (headers only), as two int64 arrays."""
    widths = np.zeros(len(paths), dtype=np.int64)
    heights = np.zeros(len(paths), dtype=np.int64)
    for i, path in enumerate(tqdm(paths, desc=description, disable=not progress, leave=False)):
        widths[i], heights[i] = image_size(path)
    return widths, heights


def missing_files(paths: Sequence[str]) -> np.ndarray:
    """Indices of the paths that are not existing files.

    Lists each folder once (one ``scandir`` per folder) instead of one ``stat`` per path.

    Example:
        >>> from posetable.sample import sample_images
        >>> folder = str(sample_images())
        >>> missing_files([folder + "/000000000785.jpg", folder + "/nope.jpg"]).tolist()
        [1]
    """
    listings: dict[str, set[str] | None] = {}
    missing = []
    for i, path in enumerate(paths):
        folder, _, name = path.rpartition(os.sep)
        folder = folder or "."
        if folder not in listings:
            try:
                listings[folder] = {e.name for e in os.scandir(folder) if not e.is_dir()}
            except OSError:
                listings[folder] = None
        names = listings[folder]
        if names is None or name not in names:
            missing.append(i)
    return np.asarray(missing, dtype=np.int64)


def resolve_image(folder: Path | None, file_name: str) -> str:
    """The image column value: an absolute path under ``folder``, or ``file_name`` as is."""
    if folder is None:
        return file_name
    return os.path.normpath(os.path.join(folder, file_name))
