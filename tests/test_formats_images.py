"""Image sizes from headers: the same as Pillow (with Ultralytics' EXIF rule) on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import header_size, image_size, missing_files, pillow_size
from tests._formats_support import COCO_DATASETS


def test_every_real_image_has_the_size_pillow_reads(real_data) -> None:
    images = [p for d in (*COCO_DATASETS, "coco8_pose_yolo") for p in real_data(d).rglob("*.*")]
    images = [p for p in images if p.suffix.lower() in (".jpg", ".png")]
    assert len(images) >= 20
    for path in images:
        assert header_size(path.read_bytes()[: 1 << 16]) is not None, path
        assert image_size(path) == pillow_size(path), path


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_rotation_swaps_width_and_height_like_ultralytics(
    tmp_path: Path, orientation: int
) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.new("RGB", (64, 48), "red").save(path, exif=exif.tobytes())
    expected = (48, 64) if orientation in (6, 8) else (64, 48)
    assert image_size(path) == pillow_size(path) == expected


@pytest.mark.parametrize(
    ("suffix", "options"),
    [(".png", {}), (".jpg", {"progressive": True}), (".jpg", {"quality": 5}), (".webp", {}),
     (".bmp", {}), (".tif", {})],
)  # fmt: skip
def test_other_encodings_and_formats(tmp_path: Path, suffix: str, options: dict) -> None:
    path = tmp_path / f"image{suffix}"
    Image.new("RGB", (33, 21), "blue").save(path, **options)
    assert image_size(path) == (33, 21)


def test_broken_and_missing_files(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"not an image at all")
    with pytest.raises(FormatError, match="cannot read the image size") as caught:
        image_size(fake)
    assert caught.value.path == fake
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    with pytest.raises(FormatError):
        image_size(truncated)
    with pytest.raises(MissingFileError):
        image_size(tmp_path / "nope.jpg")
    assert missing_files([str(fake), str(tmp_path / "nope.jpg")]).tolist() == [1]


def test_a_frame_header_after_a_large_comment(tmp_path: Path) -> None:
    path = tmp_path / "commented.jpg"
    Image.new("RGB", (40, 30), "green").save(path, comment=b"x" * 30_000)
    assert header_size(path.read_bytes()[:8192]) is None  # not in the first read
    assert image_size(path) == (40, 30)
