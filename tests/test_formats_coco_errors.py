"""Bad COCO input: each case a typed error naming the file, line and record; nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import posetable as pt
from posetable.errors import FormatError, NotFoundError, PosetableWarning
from posetable.formats._errors import MissingFileError
from tests._formats_support import edited_copy, line_of


def first_annotation(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["annotations"][3]


def shorten_keypoints(doc: dict[str, Any]) -> None:
    first_annotation(doc)["keypoints"] = first_annotation(doc)["keypoints"][:-1]


def bad_visibility(doc: dict[str, Any]) -> None:
    first_annotation(doc)["keypoints"][5] = 3


def unknown_image(doc: dict[str, Any]) -> None:
    first_annotation(doc)["image_id"] = 424242


def unknown_category(doc: dict[str, Any]) -> None:
    first_annotation(doc)["category_id"] = 77


def duplicate_annotation_id(doc: dict[str, Any]) -> None:
    first_annotation(doc)["id"] = doc["annotations"][0]["id"]


def duplicate_image_id(doc: dict[str, Any]) -> None:
    doc["images"][2]["id"] = doc["images"][0]["id"]


def text_keypoint(doc: dict[str, Any]) -> None:
    first_annotation(doc)["keypoints"][4] = "12"


def short_bbox(doc: dict[str, Any]) -> None:
    first_annotation(doc)["bbox"] = [1, 2, 3]


def fractional_id(doc: dict[str, Any]) -> None:
    first_annotation(doc)["id"] = 5.5


def no_image_id(doc: dict[str, Any]) -> None:
    del first_annotation(doc)["image_id"]


def no_file_name(doc: dict[str, Any]) -> None:
    del doc["images"][1]["file_name"]


# (edit, words the message must hold, the annotation whose line the error names)
CASES: dict[str, tuple[Callable[[dict[str, Any]], None], list[str]]] = {
    "keypoints not 3K": (shorten_keypoints, ["annotation id 1202706", "3K = 51", "found 50"]),
    "visibility 3": (bad_visibility, ["annotation id 1202706", "0, 1 or 2", "found 3", "left_eye"]),
    "unknown image_id": (unknown_image, ["annotation id 1202706", "image_id 424242"]),
    "unknown category_id": (unknown_category, ["annotation id 1202706", "category_id 77"]),
    "duplicate annotation id": (
        duplicate_annotation_id,
        ["duplicate annotation id 442619", "annotations[0]", "annotations[3]"],
    ),
    "duplicate image id": (
        duplicate_image_id,
        ["duplicate image id 785", "images[0]", "images[2]"],
    ),
    "text in keypoints": (text_keypoint, ["annotation id 1202706", "keypoints"]),
    "bbox of 3 values": (short_bbox, ["annotation id 1202706", "[x, y, width, height]", "found 3"]),
    "fractional id": (fractional_id, ["annotations[3]", "must be an integer", "5.5"]),
    "no image_id": (no_image_id, ["annotation id 1202706", "has no 'image_id'"]),
    "no file_name": (no_file_name, ["image id 40083", "file_name"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_annotation_names_file_line_and_record(
    real_data, store: Path, tmp_path: Path, case: str
) -> None:
    edit, words = CASES[case]
    path = edited_copy(real_data("coco_kpts") / "annotations.json", tmp_path / "bad.json", edit)
    with pytest.raises(FormatError) as caught:
        pt.Table.from_coco(path, name="bad", store=store)
    error = caught.value
    assert error.path == path
    for word in words:
        assert word in str(error), str(error)
    assert str(path) in str(error)
    if case in ("duplicate image id", "no file_name"):
        assert error.line is not None and error.line < line_of(path, '"annotations"')
    else:
        record = "1202706" if "duplicate" not in case else "442619"
        assert error.line is not None and error.line >= line_of(path, '"annotations"')
        assert record in str(error) or "annotations[3]" in str(error)
    assert pt.list_tables(store=store) == []  # nothing written


def test_the_line_is_the_line_of_the_record(real_data, store: Path, tmp_path: Path) -> None:
    path = edited_copy(
        real_data("coco_kpts") / "annotations.json", tmp_path / "bad.json", bad_visibility
    )
    with pytest.raises(FormatError) as caught:
        pt.Table.from_coco(path, name="bad", store=store)
    lines = path.read_text().splitlines()
    start = caught.value.line
    assert start is not None
    record = "\n".join(lines[start - 1 : start + 400]).split("\n  },")[0]
    assert '"id": 1202706' in record


def test_annotation_id_0_is_accepted_with_a_warning(real_data, store: Path, tmp_path: Path) -> None:
    def zero(doc: dict[str, Any]) -> None:
        first_annotation(doc)["id"] = 0

    path = edited_copy(real_data("coco_kpts") / "annotations.json", tmp_path / "zero.json", zero)
    with pytest.warns(PosetableWarning, match="annotation id 0"):
        table = pt.Table.from_coco(path, name="zero", store=store)
    ids = [int(i) for row in table for i in row["keypoints"].instance_extras["id"]]
    assert 0 in ids


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            b'{"images": [{"id": 1, "file_name": "a.jpg"',
            ["not valid JSON", "line 1", "ends too early"],
        ),
        (b'{"images": [],\n "annotations": [1,, 2]}', ["not valid JSON", "line 2 column"]),
        (b"", ["empty"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ["not valid JSON"]),
        (b"[1, 2, 3]", ["JSON object at the top level", "array"]),
        (b'{"images": []}', ["'categories'"]),
    ],
    ids=["truncated", "syntax", "empty", "binary", "array", "no categories"],
)
def test_unreadable_json_gives_the_position(
    store: Path, tmp_path: Path, content: bytes, words: list[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(FormatError) as caught:
        pt.Table.from_coco(path, name="broken", store=store)
    for word in words:
        assert word in str(caught.value)
    assert caught.value.path == path
    assert pt.list_tables(store=store) == []


def test_a_missing_file_is_a_not_found_error(store: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist") as caught:
        pt.Table.from_coco(tmp_path / "nope.json", name="x", store=store)
    assert isinstance(caught.value, FileNotFoundError)


def test_missing_images_error_by_default_listing_the_first_few(
    real_data, store: Path, tmp_path: Path
) -> None:
    def rename(doc: dict[str, Any]) -> None:
        for i, image in enumerate(doc["images"][:3]):
            image["file_name"] = f"missing-{i}.jpg"

    folder = real_data("coco_kpts")
    path = edited_copy(folder / "annotations.json", tmp_path / "m.json", rename)
    with pytest.raises(MissingFileError) as caught:
        pt.Table.from_coco(path, folder / "images", name="m", store=store)
    text = str(caught.value)
    assert "3 of 4 image files" in text and "missing-0.jpg, missing-1.jpg" in text
    assert "missing_images='warn'" in text
    assert pt.list_tables(store=store) == []
    with pytest.warns(PosetableWarning, match="imported anyway"):
        warned = pt.Table.from_coco(
            path, folder / "images", name="w", store=store, missing_images="warn"
        )
    assert len(warned) == 4
    with pytest.warns(PosetableWarning, match="left out"):
        skipped = pt.Table.from_coco(
            path, folder / "images", name="s", store=store, missing_images="skip"
        )
    assert len(skipped) == 1
    assert sum(len(r["keypoints"]) for r in skipped) == 5  # the annotations of 000000197388.jpg


def test_bad_missing_images_option(real_data, store: Path) -> None:
    folder = real_data("coco_kpts")
    with pytest.raises(FormatError, match="missing_images must be one of"):
        pt.Table.from_coco(
            folder / "annotations.json", name="x", store=store, missing_images="ignore"
        )
