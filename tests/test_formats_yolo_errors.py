"""Bad YOLO-pose input: each a typed error naming file and line, expected vs found."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import posetable as pt
from posetable.errors import FormatError
from posetable.formats._errors import MissingFileError
from tests.test_formats_yolo import copy_dataset

LABEL = Path("labels/train/000000040083.txt")  # two persons, K=17 x 3


def edit_line(data: Path, number: int, change: Callable[[list[str]], list[str]]) -> None:
    path = data / LABEL
    lines = path.read_text().splitlines()
    lines[number - 1] = " ".join(change(lines[number - 1].split()))
    path.write_text("\n".join(lines) + "\n")


def edit_yaml(data: Path, **changes: object) -> Path:
    path = data / "coco8-pose.yaml"
    spec = yaml.safe_load(path.read_text())
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def data(real_data, tmp_path: Path) -> Path:
    return copy_dataset(real_data("coco8_pose_yolo"), tmp_path / "coco8")


LINE_CASES = {
    "one column short": (
        lambda t: t[:-1],
        ["expected 56 columns", "kpt_shape [17, 3]", "found 55"],
    ),
    "kpt_shape [K, 2] lines": (
        lambda t: t[:5] + [v for i, v in enumerate(t[5:]) if i % 3 != 2],
        ["expected 56 columns", "found 39", "looks like kpt_shape [17, 2]"],
    ),
    "detection label": (lambda t: t[:5], ["found 5", "without keypoints"]),
    "x beyond 1": (lambda t: [*t[:5], "1.5", *t[6:]], ["column 6", "keypoint 0 x", "found 1.5"]),
    "negative box": (lambda t: [*t[:1], "-0.2", *t[2:]], ["column 2", "box cx", "found -0.2"]),
    "class outside names": (lambda t: ["3", *t[1:]], ["class id", "[0, 0]", "found 3"]),
    "fractional class": (lambda t: ["0.5", *t[1:]], ["class id", "found 0.5"]),
    "visibility 3": (lambda t: [*t[:7], "3", *t[8:]], ["column 8", "visibility", "found 3"]),
    "not a number": (
        lambda t: [*t[:9], "abc", *t[10:]],
        ["column 10", "expected a number", "'abc'"],
    ),
}


@pytest.mark.parametrize("case", LINE_CASES)
def test_bad_label_line_names_file_and_line(data: Path, store: Path, case: str) -> None:
    change, words = LINE_CASES[case]
    edit_line(data, 2, change)
    with pytest.raises(FormatError) as caught:
        pt.Table.from_yolo(data / "coco8-pose.yaml", name="bad", store=store)
    error = caught.value
    assert Path(str(error.path)) == data / LABEL and error.line == 2
    for word in words:
        assert word in str(error), str(error)
    assert pt.list_tables(store=store) == []


def test_small_overshoot_is_within_tolerance(data: Path, store: Path) -> None:
    edit_line(data, 1, lambda t: [*t[:5], "1.004", *t[6:]])
    table = pt.Table.from_yolo(data / "coco8-pose.yaml", name="ok", store=store)
    assert table[1]["keypoints"].keypoints[0, 0, 0] == pytest.approx(1.004 * table[1]["width"])
    with pytest.raises(FormatError, match=r"tolerance 0\.001"):
        pt.Table.from_yolo(data / "coco8-pose.yaml", name="strict", store=store, tolerance=0.001)


YAML_CASES = {
    "flip_idx too short": ({"flip_idx": list(range(16))}, ["'flip_idx'", "length K=17", "got 16"]),
    "flip_idx not an involution": (
        {"flip_idx": [1, 2, 0, *list(range(3, 17))]},
        ["'flip_idx'", "its own inverse", "flip[0]=1 but flip[1]=2"],
    ),
    "sigmas too short": ({"kpt_oks_sigmas": [0.1] * 3}, ["'kpt_oks_sigmas'", "K=17", "got 3"]),
    "bad kpt_shape": ({"kpt_shape": [17, 4]}, ["'kpt_shape' must be [K, 2] or [K, 3]", "[17, 4]"]),
    "kpt_names too short": ({"kpt_names": {0: ["nose"]}}, ["'kpt_names'", "K=17", "found 1"]),
}


@pytest.mark.parametrize("case", YAML_CASES)
def test_bad_yaml_metadata_names_the_key_and_its_line(data: Path, store: Path, case: str) -> None:
    changes, words = YAML_CASES[case]
    path = edit_yaml(data, **changes)
    with pytest.raises(FormatError) as caught:
        pt.Table.from_yolo(path, name="bad", store=store)
    error = caught.value
    assert Path(str(error.path)) == path
    key = next(iter(changes))
    assert error.line == next(
        n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(key)
    )
    for word in words:
        assert word in str(error), str(error)
    assert pt.list_tables(store=store) == []


def test_yaml_syntax_error_gives_the_line(data: Path, store: Path) -> None:
    path = data / "coco8-pose.yaml"
    path.write_text(path.read_text() + "broken: [1, 2\n")
    with pytest.raises(FormatError, match="not valid YAML") as caught:
        pt.Table.from_yolo(path, name="bad", store=store)
    assert caught.value.line is not None and caught.value.line > 20


def test_missing_split_folder_and_file(data: Path, store: Path, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"no 'test' split; it has \['train', 'val'\]"):
        pt.Table.from_yolo(data / "coco8-pose.yaml", split="test", name="x", store=store)
    path = edit_yaml(data, train="images/nowhere")
    with pytest.raises(MissingFileError, match="images/nowhere"):
        pt.Table.from_yolo(path, name="x", store=store)
    with pytest.raises(MissingFileError, match="does not exist"):
        pt.Table.from_yolo(tmp_path / "nope.yaml", name="x", store=store)
    assert pt.list_tables(store=store) == []


def test_images_without_label_files_have_no_instances(data: Path, store: Path) -> None:
    (data / LABEL).unlink()
    table = pt.Table.from_yolo(data / "coco8-pose.yaml", name="y", store=store)
    assert [len(r["keypoints"]) for r in table] == [1, 0]


def test_missing_images_of_a_list_file(data: Path, store: Path) -> None:
    listed = ["./images/train/000000000785.jpg", "./images/train/gone.jpg"]
    (data / "train.txt").write_text("\n".join(listed) + "\n")
    path = edit_yaml(data, train="train.txt")
    with pytest.raises(MissingFileError, match=r"1 of 2 images .*gone\.jpg") as caught:
        pt.Table.from_yolo(path, name="x", store=store)
    assert isinstance(caught.value, FileNotFoundError)
    assert pt.list_tables(store=store) == []
    with pytest.warns(pt.errors.PosetableWarning, match="left out"):
        table = pt.Table.from_yolo(path, name="x", store=store, missing_images="skip")
    assert len(table) == 1
