"""CVAT for images 1.1 XML with skeletons: reading, writing back, bad input."""

from __future__ import annotations

import shutil
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path

DATUMARO = data_path("cvat") / "datumaro" / "train.xml"
DOCS = data_path("cvat") / "cvat_docs" / "annotations.xml"
VIDEO = data_path("cvat") / "datumaro" / "for_video.xml"


def _quiet(call: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return call()


def _skeleton_points(path: Path) -> list[list[tuple[str, str, str, str]]]:
    """Each skeleton's points as (label, points, occluded, outside), read with ElementTree."""
    root = ET.parse(path).getroot()
    return [
        [(p.get("label"), p.get("points"), p.get("occluded"), p.get("outside")) for p in s]
        for image in root.iter("image")
        for s in image.iter("skeleton")
    ]


def test_skeleton_points_edges_and_visibility_come_from_meta_and_flags(store: Path) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match=r"other shapes are kept for export"):
        table = pt.Table.from_cvat(DATUMARO, name="c", store=store)
    assert table.schema.keypoint_names == ("1", "2", "3", "4")
    # <line data-node-from="3" data-node-to="2">, <line data-node-from="1" data-node-to="4">
    assert table.schema.lines == ((2, 1), (0, 3))
    assert table.schema.classes == ("skeleton",)
    first, second = table[0], table[1]
    assert (first["width"], first["height"]) == (8, 8)
    assert first["image"].endswith("img0.jpg")
    # img0: point 1 is outside="1" -> v=0, its x, y kept as written
    assert first["keypoints"].keypoint_visibilities.tolist() == [[0, 2, 2, 2]]
    assert first["keypoints"].keypoints[0].tolist() == [[1, 1], [2, 2], [3, 3], [4, 4]]
    assert second["keypoints"].keypoint_visibilities.tolist() == [[2, 2, 0, 2]]
    # no box in CVAT skeletons: derived from the labeled points
    assert first["keypoints"].instance_bbs.tolist() == [[2, 2, 4, 4]]


def test_the_documented_example_reads_its_skeleton(store: Path) -> None:
    table = _quiet(lambda: pt.Table.from_cvat(DOCS, name="c", store=store))
    row = table[0]
    assert (row["width"], row["height"]) == (1600, 1200)
    assert row["keypoints"].keypoints[0].tolist() == [
        [54.47, 94.81],
        [68.02, 162.34],
        [125.87, 62.85],
    ]
    assert table.schema.lines == ((1, 2), (0, 1))


def test_an_occluded_point_is_visibility_one_and_back(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "occluded.xml"
    text = DATUMARO.read_text()
    point = 'source="manual" outside="0" points="2,2"'
    path.write_text(text.replace(f'occluded="0" {point}', f'occluded="1" {point}'))
    table = _quiet(lambda: pt.Table.from_cvat(path, name="c", store=store))
    assert table[0]["keypoints"].keypoint_visibilities.tolist() == [[0, 1, 2, 2]]
    out = table.export_cvat(tmp_path / "out.xml")
    assert out.read_bytes() == path.read_bytes()


def test_an_edited_row_is_rebuilt_with_its_other_shapes_and_the_rest_kept_byte_for_byte(
    store: Path, tmp_path: Path
) -> None:
    table = _quiet(lambda: pt.Table.from_cvat(DATUMARO, name="c", store=store))
    row = table[1]["keypoints"]
    kp, vis = row.keypoints.copy(), row.keypoint_visibilities.copy()
    kp[0, 0] = [3.25, 3.5]
    vis[0, 1] = 1
    vis[0, 3] = 0
    edited = table.with_rows({1: {"keypoints": pt.Keypoints2DInstances(
        keypoints=kp, keypoint_visibilities=vis, instance_bbs=row.instance_bbs,
        instance_labels=row.instance_labels)}})  # fmt: skip
    out = _quiet(lambda: edited.export_cvat(tmp_path / "out.xml"))
    original, written = DATUMARO.read_text(), out.read_text()
    head = original[: original.index('<image height="10"')]
    assert written.startswith(head)  # meta and the untouched first image: byte for byte
    points = _skeleton_points(out)[1]
    assert points[0] == ("1", "3.25,3.50", "0", "0")
    assert points[1][2:] == ("1", "0") and points[2][2:] == ("0", "1")
    assert points[3] == ("4", "6,6", "0", "1")  # v=0 now: outside, the file's coordinates kept
    image = ET.parse(out).getroot().findall("image")[1]
    assert [c.tag for c in image] == ["polygon", "points", "skeleton"]  # other shapes kept
    assert image.find("skeleton").get("z_order") == "0"
    again = _quiet(lambda: pt.Table.from_cvat(out, name="again", store=store))
    np.testing.assert_array_equal(again[1]["keypoints"].keypoints, kp)
    np.testing.assert_array_equal(again[1]["keypoints"].keypoint_visibilities, vis)


def test_plain_points_shapes_are_read_when_their_label_is_named(store: Path) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match=r"plain points shapes of label 'label2'"):
        table = pt.Table.from_cvat(DATUMARO, name="c", store=store, label="label2")
    assert table.schema.num_keypoints == 3
    assert [len(r["keypoints"].keypoints) for r in table] == [0, 1]
    assert table[1]["keypoints"].keypoints[0].tolist() == [[1, 2], [3, 4], [5, 6]]


def test_a_skeleton_point_missing_from_the_file_is_unlabeled_with_a_note(
    store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "missing.xml"
    lines = DATUMARO.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if 'label="3"' in line and "points=" in line)
    path.write_text("".join(lines[:at] + lines[at + 2 :]))  # drop <points label="3"> of img0
    with pytest.warns(pt.errors.PosetableWarning, match=r"1 skeleton point not written"):
        table = pt.Table.from_cvat(path, name="c", store=store)
    assert table[0]["keypoints"].keypoint_visibilities.tolist() == [[0, 2, 0, 2]]
    assert table[0]["keypoints"].keypoints[0, 2].tolist() == [0, 0]


POINT_2 = '<points label="2" occluded="0" source="manual" outside="0" points="2,2"'
IMAGE_0 = '<image height="8" id="0" name="img0.jpg" width="8">'
BAD_FILES = [
    pytest.param(
        POINT_2,
        POINT_2.replace('label="2"', 'label="9"'),
        r"train.xml:\d+: skeleton 'skeleton' has no point '9'",
        id="unknown-point",
    ),
    pytest.param(
        POINT_2,
        POINT_2.replace('label="2"', 'label="1"'),
        r":\d+: skeleton 'skeleton' holds point '1' twice",
        id="point-twice",
    ),
    pytest.param(
        'outside="0" points="2,2"',
        'outside="0" points="2;2"',
        r":\d+: points must be \"x,y\"",
        id="bad-points",
    ),
    pytest.param(
        'outside="0" points="2,2"',
        'outside="2" points="2,2"',
        r":\d+: outside must be 0 or 1",
        id="bad-flag",
    ),
    pytest.param(
        IMAGE_0,
        IMAGE_0.replace(' width="8"', ""),
        r":\d+: <image> needs a positive whole width",
        id="no-width",
    ),
    pytest.param(
        'points="1.0,2;3,4;5,6;7,8"/>',
        'points="1.0,2;3,4;5,6;7,8">',
        r":\d+: not well-formed XML",
        id="not-xml",
    ),
    pytest.param(
        "<name>skeleton</name>",
        "<name>body</name>",
        r":7: skeleton label 'body' has no points",
        id="skeleton-without-points",
    ),
]


@pytest.mark.parametrize(("old", "new", "match"), BAD_FILES)
def test_bad_files_are_errors_naming_the_line(
    old: str, new: str, match: str, store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "train.xml"
    text = DATUMARO.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(pt.errors.FormatError, match=match):
        _quiet(lambda: pt.Table.from_cvat(path, name="c", store=store))
    assert pt.list_tables(store=store) == []


def test_several_skeleton_labels_need_a_choice(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "two.xml"
    meta = "<label>\n          <name>s1</name>\n          <type>skeleton</type>\n        </label>"
    text = DATUMARO.read_text().replace(
        "<label>\n          <name>label2</name>",
        meta + "\n        <label>\n          <name>label2</name>",
        1,
    )
    path.write_text(text)  # fmt: skip
    with pytest.raises(
        pt.errors.FormatError,
        match=r"two.xml:7: the file has 2 skeleton labels \(s1, skeleton\); pass label=",
    ):
        pt.Table.from_cvat(path, name="c", store=store)
    table = _quiet(lambda: pt.Table.from_cvat(path, name="c", store=store, label="skeleton"))
    assert table.schema.num_keypoints == 4


def test_cvat_for_video_tracks_are_refused_by_line(store: Path) -> None:
    with pytest.raises(
        pt.errors.UnsupportedError, match=r"for_video.xml:\d+: <track> .* CVAT for video"
    ):
        pt.Table.from_cvat(VIDEO, name="c", store=store)


@pytest.mark.filterwarnings("ignore::posetable.errors.PosetableWarning")
def test_coco_to_cvat_to_coco_gives_the_labels_back(
    coco_table: pt.Table, store: Path, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    shutil.copytree(data_path("coco_kpts") / "images", images)
    with pytest.warns(pt.errors.PosetableWarning, match=r"CVAT skeletons carry no box"):
        out = coco_table.export_cvat(tmp_path / "annotations.xml")
    back = pt.Table.from_cvat(out, name="back", store=store)
    assert back.schema.keypoint_names == coco_table.schema.keypoint_names
    assert back.schema.lines == coco_table.schema.lines
    assert back.schema.classes == ("person",)
    for a, b in zip(coco_table, back, strict=True):
        assert Path(b["image"]).name == Path(a["image"]).name
        assert (b["width"], b["height"]) == (a["width"], a["height"])
        ia, ib = a["keypoints"], b["keypoints"]
        np.testing.assert_array_equal(ib.keypoint_visibilities, ia.keypoint_visibilities)
        np.testing.assert_array_equal(ib.keypoints, ia.keypoints)  # v=0 points too: kept
    coco_again = back.export_coco(tmp_path / "again.json")
    again = pt.Table.from_coco(coco_again, name="again", store=store)
    assert sum(len(r["keypoints"].keypoints) for r in again) == sum(
        len(r["keypoints"].keypoints) for r in coco_table
    )


def test_instances_of_several_classes_are_refused(store: Path, tmp_path: Path) -> None:
    folder = data_path("ap10k")
    table = _quiet(lambda: pt.Table.from_coco(folder / "annotations.json", folder / "images",
                                              name="ap", store=store))  # fmt: skip
    if len({int(label) for r in table for label in r["keypoints"].instance_labels}) < 2:
        pytest.skip("the excerpt has one class")
    with pytest.raises(
        pt.errors.UnsupportedError, match=r"one skeleton label; the instances use 2"
    ):
        table.export_cvat(tmp_path / "out.xml")
    assert not (tmp_path / "out.xml").exists()


def test_cli_imports_and_exports_cvat(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "cvat", str(DATUMARO), "--name", "c", "--store", str(store)]) == 0
    captured = capsys.readouterr()
    assert "2 images, 2 instances, K=4 -> c@1" in captured.out
    assert "note: " in captured.err and "other shapes" in captured.err
    out = tmp_path / "out.xml"
    assert main(["export", "cvat", "c", str(out), "--store", str(store)]) == 0
    assert out.read_bytes() == DATUMARO.read_bytes()


def test_renamed_keypoints_rewrite_the_skeleton_label_and_keep_the_other_labels(
    store: Path, tmp_path: Path
) -> None:
    table = _quiet(lambda: pt.Table.from_cvat(DATUMARO, name="c", store=store))
    renamed = table.rename_keypoints({"1": "head", "2": "tail"})
    out = renamed.export_cvat(tmp_path / "renamed.xml")
    labels = [label.findtext("name") for label in ET.parse(out).getroot().iter("label")]
    assert labels[:3] == ["label1", "label2", "skeleton"] and "head" in labels and "1" not in labels
    renamed_points = [p for p in ET.parse(out).getroot().iter("points") if p.get("label") == "head"]
    assert len(renamed_points) == 2 and {p.get("z_order") for p in renamed_points} == {"0"}
    back = _quiet(lambda: pt.Table.from_cvat(out, name="back", store=store))
    assert back.schema.keypoint_names == ("head", "tail", "3", "4")
    assert back.schema.lines == table.schema.lines
    for a, b in zip(table, back, strict=True):
        np.testing.assert_array_equal(a["keypoints"].keypoints, b["keypoints"].keypoints)
        assert (
            a["keypoints"].keypoint_visibilities.tolist()
            == b["keypoints"].keypoint_visibilities.tolist()
        )
