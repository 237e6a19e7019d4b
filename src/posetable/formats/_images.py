"""Image files: which exist, their sizes read from the header (no pixel decoding), and
unique names to write them under.

Sizes follow Ultralytics' rule, so normalised YOLO labels map to the same pixels as in
training: a JPEG whose EXIF orientation is 6 or 8 (rotated by 90 degrees) reports its
width and height swapped. JPEG and PNG headers are parsed here (about ten times faster
than Pillow's ``open``, which walks every marker in Python); other formats go to Pillow.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from tqdm.auto import tqdm

from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from posetable.formats._notes import Notes, first_few

# The image suffixes Ultralytics accepts (lower case, without the dot).
IMAGE_SUFFIXES = frozenset(
    {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
)
_EXIF_ORIENTATION = 0x0112
_FIRST = 1 << 13  # bytes read first for a header; enough for most JPEG and every PNG
_HEAD = 1 << 18  # at most this much is read before asking Pillow


def open_file(path: str | os.PathLike[str], what: str = "file") -> BinaryIO:
    """Open a regular file for reading; a FIFO, device or socket is a FormatError.

    The file is opened without blocking, so a FIFO (or a link to one) among the images or
    labels cannot hang the import, and a device such as ``/dev/zero`` is never read.

    Raises:
        FileNotFoundError: the file does not exist.
        FormatError: it is not a regular file, or cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device or FIFO)"
            raise FormatError(f"the {what} is {kind}; expected a regular file", path=path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_image_name(name: str) -> bool:
    """Whether a file name has an image suffix Ultralytics reads.

    Example:
        >>> is_image_name("a/b.JPG"), is_image_name("labels.txt")
        (True, False)
    """
    return name.rsplit(".", 1)[-1].lower() in IMAGE_SUFFIXES if "." in name else False


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image from its header, EXIF rotation applied.

    JPEG and PNG headers are read directly (a few hundred bytes, no decoding); any other
    file, or a header this reader does not follow, is opened with Pillow (lazily: the size
    comes from the header there too).

    Raises:
        MissingFileError: the file does not exist.
        FormatError: the file is not an image Pillow can read.

    Example:
        >>> from posetable.sample import sample_images
        >>> image_size(sample_images() / "000000000785.jpg")
        (640, 425)
    """
    try:
        with open_file(path, "image file") as handle:
            head = handle.read(_FIRST)
            size = header_size(head)
            if size is None and len(head) == _FIRST:  # a large EXIF block or thumbnail first
                size = header_size(head + handle.read(_HEAD - _FIRST))
    except FileNotFoundError as exc:
        raise MissingFileError(f"image file {path} does not exist") from exc
    except OSError as exc:
        raise FormatError(f"cannot read the image file: {exc}", path=path) from exc
    return size if size is not None else pillow_size(path)


def pillow_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` through Pillow, with Ultralytics' EXIF rule."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.format == "JPEG" and "exif" in image.info:
                try:
                    orientation = image.getexif().get(_EXIF_ORIENTATION)
                except Exception:  # a broken EXIF block keeps the raw size
                    orientation = None
                if orientation in (6, 8):
                    width, height = height, width
    except FileNotFoundError as exc:
        raise MissingFileError(f"image file {path} does not exist") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"cannot read the image size from the header: {exc}", path=path) from exc
    return int(width), int(height)


def header_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the first bytes of a PNG or JPEG, or None to ask Pillow.

    Example:
        >>> png = b"\\x89PNG\\r\\n\\x1a\\n" + bytes([0, 0, 0, 13]) + b"IHDR"
        >>> header_size(png + bytes([0, 0, 2, 128, 0, 0, 1, 224]))
        (640, 480)
    """
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return (width, height) if width and height else None
    if head[:2] != b"\xff\xd8":
        return None
    return _jpeg_size(head)


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i, orientation, multi = 2, None, False
    end = len(head)
    while i + 4 <= end:
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        segment = head[i + 4 : i + 2 + length]
        if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
            if len(segment) < length - 2:  # the EXIF block goes on past what was read
                return None
            orientation = _exif_orientation(segment[6:])
        elif marker == 0xE2 and segment[:4] == b"MPF\x00":
            multi = True  # Pillow calls it MPO; Ultralytics rotates JPEG only
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if len(segment) < 5:
                return None
            height, width = struct.unpack(">HH", segment[1:5])
            if not width or not height:
                return None
            if orientation in (6, 8) and not multi:
                width, height = height, width
            return width, height
        i += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int | None:
    """The orientation tag of a TIFF/EXIF block's first IFD (None when absent or odd)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    (offset,) = struct.unpack(order + "I", tiff[4:8])
    if offset + 2 > len(tiff):
        return None
    (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
    for n in range(count):
        at = offset + 2 + 12 * n
        if at + 12 > len(tiff):
            return None
        tag, kind = struct.unpack(order + "HH", tiff[at : at + 4])
        if tag == _EXIF_ORIENTATION:
            if kind != 3:  # SHORT
                return None
            return int(struct.unpack(order + "H", tiff[at + 8 : at + 10])[0])
    return None


def image_sizes(
    paths: Sequence[str], *, progress: bool = False, description: str = "image sizes"
) -> tuple[np.ndarray, np.ndarray]:
    """Widths and heights of many images (headers only), as two int64 arrays."""
    widths = np.zeros(len(paths), dtype=np.int64)
    heights = np.zeros(len(paths), dtype=np.int64)
    for i, path in enumerate(tqdm(paths, desc=description, disable=not progress, leave=False)):
        widths[i], heights[i] = image_size(path)
    return widths, heights


def image_sizes_or_given(
    images: Sequence[str], image_size: tuple[int, int] | None, notes: Notes, *, hint: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each image's width and height from its header, else the ``image_size`` given.

    Each distinct file's header is read once (video frames are often listed again). Images
    that are not at hand take ``image_size`` and a note says how many did; without one they
    are a :class:`MissingFileError` naming the first few and ending with ``hint`` (how the
    caller's reader is given their size).

    Example:
        >>> from posetable.sample import sample_images
        >>> image = str(sample_images() / "000000000785.jpg")
        >>> notes = Notes("frames.csv")
        >>> w, h = image_sizes_or_given([image, image, "gone.jpg"], (64, 48), notes, hint="")
        >>> w.tolist(), h.tolist()
        ([640, 640, 64], [425, 425, 48])
        >>> notes.items
        ['1 of 3 images are not at hand: their size is the image_size given, 64x48']
    """
    missing = missing_files(images)
    widths = np.zeros(len(images), np.int64)
    heights = np.zeros(len(images), np.int64)
    if missing.size and image_size is None:
        raise MissingFileError(
            f"{missing.size} of {len(images)} images do not exist: "
            f"{first_few(images[i] for i in missing.tolist())}; {hint}"
        )
    here = np.setdiff1d(np.arange(len(images)), missing)
    if here.size:
        unique, inverse = np.unique(np.array(images, dtype=object)[here], return_inverse=True)
        w, h = image_sizes(unique.tolist())
        widths[here], heights[here] = w[inverse], h[inverse]
    if missing.size and image_size is not None:
        widths[missing], heights[missing] = int(image_size[0]), int(image_size[1])
        notes.add(
            f"{missing.size} of {len(images)} images are not at hand: their size is the "
            f"image_size given, {int(image_size[0])}x{int(image_size[1])}"
        )
    return widths, heights


def unique_names(names: Sequence[str]) -> list[str]:
    """The names with a row number added to any that repeats (``a.jpg``, ``a_3.jpg``).

    Example:
        >>> unique_names(["a.jpg", "b.jpg", "a.jpg"])
        ['a.jpg', 'b.jpg', 'a_2.jpg']
    """
    seen: set[str] = set()
    out = []
    for row, name in enumerate(names):
        if name in seen:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}_{row}.{suffix}" if dot else f"{name}_{row}"
        seen.add(name)
        out.append(name)
    return out


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
                listings[folder] = {
                    e.name for e in os.scandir(folder) if not e.is_dir(follow_symlinks=False)
                }  # a link is not followed here: a broken one fails when the image is read
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
