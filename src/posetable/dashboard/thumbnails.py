"""Images for the dashboard: where they may come from, thumbnails cached on disk, placeholders.

Only files inside a table's image roots are served: ``table.metadata["image_roots"]`` when
the importer recorded them, else the folders of the table's own image paths. Paths are
checked twice: lexically after normalising ``..`` (so ``../../etc/passwd`` never leaves a
root), then by ``os.path.realpath`` against the roots' own real paths, so a symlink inside a
root that points outside it is refused too (403), and the real path is what gets opened.
Thumbnails are made with Pillow once per image file (keyed by path, size and mtime) and kept
under the store's ``.cache/thumbnails``. A missing or unreadable image gets a placeholder
drawn at the row's aspect ratio with what is wrong and the path as the row names it, so
overlays still line up and the reader sees which file is missing.

Example:
    >>> from posetable.dashboard.thumbnails import placeholder_png
    >>> placeholder_png(640, 480, max_side=64, text="missing")[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from posetable.errors import PosetableError

BROWSER_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}
THUMBNAIL_SIDE = 384


class ForbiddenPathError(PosetableError, PermissionError):
    """A requested file is outside the table's image roots."""


class ImageUnavailable(PosetableError, OSError):
    """An image cannot be read (missing, not an image, a URL); a placeholder is shown."""


def _is_url(text: str) -> bool:
    head = text.split("://", 1)[0]
    return "://" in text and head.isalpha() and len(head) > 1


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


class ImageSource:
    """The image roots of one table revision and safe resolution of paths under them."""

    def __init__(self, table: Any) -> None:
        self.table_ref: str = table.ref
        given = table.metadata.get("image_roots")
        if given:
            self.roots = [os.path.abspath(os.path.expanduser(str(r))) for r in given]
            self.roots_from_metadata = True
        else:
            images = table.dataset.to_table(columns=["image"]).column("image").unique().to_pylist()
            folders = {os.path.dirname(os.path.abspath(p)) for p in images if p and not _is_url(p)}
            self.roots = sorted(folders)
            self.roots_from_metadata = False
        self.real_roots = [os.path.realpath(root) for root in self.roots]

    def resolve(self, image: str) -> Path:
        """The file of an image path; raises ForbiddenPathError outside the roots.

        Relative paths are tried under each root (metadata roots), else against the working
        directory. The result is checked to lie inside a root after normalising ``..``, and
        its real path (symlinks followed) inside a root's real path; the real path is returned.
        """
        if not isinstance(image, str) or not image:
            raise ImageUnavailable(f"table {self.table_ref}: the image path is empty")
        if _is_url(image):
            raise ImageUnavailable(f"{image} is a URL; the dashboard serves local files only")
        if "\x00" in image:
            raise ForbiddenPathError(f"image path {image!r} contains a NUL byte")
        expanded = os.path.expanduser(image)
        if os.path.isabs(expanded):
            candidates = [os.path.abspath(expanded)]
        elif self.roots_from_metadata:
            candidates = [os.path.abspath(os.path.join(root, expanded)) for root in self.roots]
            candidates.append(os.path.abspath(expanded))
        else:
            candidates = [os.path.abspath(expanded)]
        allowed = [c for c in candidates if any(_inside(c, root) for root in self.roots)]
        if not allowed:
            raise ForbiddenPathError(
                f"{image!r} is outside the image roots of table {self.table_ref} "
                f"({', '.join(self.roots) if self.roots else 'none'}); it is not served"
            )
        real = [(c, os.path.realpath(c)) for c in allowed]
        inside = [(c, r) for c, r in real if any(_inside(r, root) for root in self.real_roots)]
        if not inside:
            target = real[0][1]
            raise ForbiddenPathError(
                f"{image!r} is outside the image roots of table {self.table_ref} "
                f"({', '.join(self.roots)}): it resolves to {target}, and a symbolic link out "
                "of a root is not followed; it is not served"
            )
        for _, target in inside:
            if os.path.isfile(target):
                return Path(target)
        return Path(inside[0][1])


class ThumbnailCache:
    """Pillow thumbnails cached on disk, one file per (image, size, modification time)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def _key(self, path: Path, max_side: int, what: str) -> Path:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ImageUnavailable(f"{path}: {exc.strerror or exc}") from exc
        digest = hashlib.sha256(
            f"{path}|{stat.st_mtime_ns}|{stat.st_size}|{max_side}|{what}".encode()
        ).hexdigest()
        return self.folder / digest[:2] / f"{digest}.jpg"

    def thumbnail(self, path: Path, *, max_side: int = THUMBNAIL_SIDE) -> bytes:
        """JPEG bytes of the image scaled to fit ``max_side`` (cached on disk)."""
        cached = self._key(path, max_side, "thumb")
        if cached.is_file():
            return cached.read_bytes()
        data = _encode(path, max_side)
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, cached)
        return data

    def full(self, path: Path) -> tuple[Path | bytes, str]:
        """The full image as a file the browser can show, or converted JPEG bytes."""
        try:
            with Image.open(path) as image:
                kind = image.format or ""
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise ImageUnavailable(f"{path}: not a readable image ({exc})") from exc
        if kind in BROWSER_FORMATS:
            return path, BROWSER_FORMATS[kind]
        return self.thumbnail(path, max_side=1 << 14), "image/jpeg"


def _encode(path: Path, max_side: int) -> bytes:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (max_side, max_side))
            rgb = image.convert("RGB")
            rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    except FileNotFoundError as exc:
        raise ImageUnavailable(f"{path}: no such file") from exc
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageUnavailable(f"{path}: not a readable image ({exc})") from exc
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85)
    return out.getvalue()


@lru_cache(maxsize=64)
def placeholder_png(
    width: int, height: int, *, max_side: int = THUMBNAIL_SIDE, text: str = "no image"
) -> bytes:
    """A grey PNG at the image's aspect ratio with a message (for missing images).

    ``text`` such as ``"image not found: images/000000000785.jpg"`` is written at the top:
    what is wrong on the first line, the path wrapped onto the next ones.
    """
    w, h = max(int(width), 1), max(int(height), 1)
    scale = min(1.0, max_side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.new("RGB", size, (58, 60, 66))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size[0] - 1, size[1] - 1], outline=(120, 124, 132))
    draw.line([0, 0, size[0] - 1, size[1] - 1], fill=(80, 84, 92))
    draw.line([0, size[1] - 1, size[0] - 1, 0], fill=(80, 84, 92))
    font_size = max(10, min(28, size[0] // 24))
    font = _font(font_size)
    head, _, rest = text.partition(": ")
    per_line = max(8, int((size[0] - 12) / (0.6 * font_size)))
    lines = [head, *[rest[i : i + per_line] for i in range(0, len(rest), per_line)][:6]]
    y = 6.0
    for n, line in enumerate(lines):
        box = draw.textbbox((6, y), line, font=font)
        draw.rectangle([box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2], fill=(30, 31, 35))
        color = (255, 214, 102) if n == 0 else (230, 230, 235)
        draw.text((6, y), line, fill=color, font=font)
        y = box[3] + 5
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _font(size: int) -> Any:
    """Pillow's default font at ``size`` (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()
