"""``pt.check`` on files: a COCO keypoints JSON and a YOLO-pose data.yaml are read into a
temporary store (never the user's), and findings name the file and the line or the
annotation id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import posetable as pt
from posetable.errors import FormatError


def _coco_with_faults(real_data, tmp_path: Path) -> tuple[Path, dict]:
    document = json.loads((real_data("coco_kpts") / "annotations.json").read_text())
    labeled = [a for a in document["annotations"] if a["num_keypoints"] > 3]
    first, second = labeled[0], labeled[1]
    first["num_keypoints"] += 2  # a wrong count
    kp = second["keypoints"]
    unlabeled = next(j for j in range(17) if kp[3 * j + 2] == 0)
    kp[3 * unlabeled : 3 * unlabeled + 2] = [12, 34]  # v=0 with coordinates
    document["categories"][0]["skeleton"].append([3, 18])  # keypoint 18 of 17
    path = tmp_path / "faulty.json"
    path.write_text(json.dumps(document))
    return path, {"count": first["id"], "coords": (second["id"], unlabeled)}


def test_a_coco_file_gives_annotation_ids_and_the_file(real_data, tmp_path, store):
    path, where = _coco_with_faults(real_data, tmp_path)
    findings = pt.check(path, store=store)
    rows = findings.to_pylist()
    count = [f for f in rows if f["rule"] == "num_keypoints_mismatch"]
    assert [f["annotation_id"] for f in count] == [where["count"]]
    coords = [f for f in rows if f["rule"] == "unlabeled_with_coordinates"]
    assert [(f["annotation_id"], f["keypoint"]) for f in coords] == [where["coords"]]
    assert coords[0]["value"] == pytest.approx((12**2 + 34**2) ** 0.5)
    skeleton = [f for f in rows if f["rule"] == "skeleton_invalid"]
    assert len(skeleton) == 1 and "keypoints 2 and 17 (0-based)" in skeleton[0]["message"]
    assert {f["file"] for f in rows} == {str(path)}
    assert all(f["line"] is None for f in rows)
    assert list(store.iterdir()) == []  # the user's store is never written


def _yolo_copy(real_data, tmp_path: Path) -> Path:
    folder = tmp_path / "yolo"
    shutil.copytree(real_data("coco8_pose_yolo"), folder)
    return folder / "coco8-pose.yaml"


def test_a_yolo_dataset_gives_label_files_and_lines(real_data, tmp_path):
    yaml_path = _yolo_copy(real_data, tmp_path)
    label = yaml_path.parent / "labels" / "val" / "000000196141.txt"
    lines = label.read_text().splitlines()
    values = lines[0].split()
    values[5 + 2 * 3 : 5 + 2 * 3 + 2] = ["0.25", "0.25"]  # keypoint 2 has v=0 already
    assert values[5 + 2 * 3 + 2] == "0"
    # line 1 with coordinates on an unlabeled point; a blank line; line 3 repeats line 2
    label.write_text("\n".join([" ".join(values), "", lines[1], lines[1]]) + "\n")
    findings = pt.check(yaml_path, split="val").to_pylist()
    coords = [f for f in findings if f["rule"] == "unlabeled_with_coordinates"]
    assert [(f["file"], f["line"], f["keypoint"]) for f in coords] == [(str(label), 1, 2)]
    dup = [f for f in findings if f["rule"] == "duplicate_instance"]
    assert [(f["file"], f["line"], f["instance"]) for f in dup] == [(str(label), 4, 2)]
    assert {f["split"] for f in findings} == {"val"}


def test_every_split_of_a_data_yaml_is_checked(real_data):
    yaml_path = real_data("coco8_pose_yolo") / "coco8-pose.yaml"
    findings = pt.check(yaml_path)
    assert set(findings.column("split").to_pylist()) <= {"train", "val"}
    assert "val" in findings.column("split").to_pylist()


def test_invalid_flip_idx_is_a_finding_with_its_yaml_line(real_data, tmp_path):
    yaml_path = _yolo_copy(real_data, tmp_path)
    text = yaml_path.read_text().replace(
        "flip_idx: [0, 2, 1,", "flip_idx: [0, 2, 2,"
    )  # not a permutation any more
    yaml_path.write_text(text)
    with pytest.raises(FormatError):
        pt.Table.from_yolo(yaml_path, split="val", name="refused", store=tmp_path / "s")
    findings = pt.check(yaml_path, split="val").to_pylist()
    flips = [f for f in findings if f["rule"] == "flip_indices_invalid"]
    line = 1 + text.splitlines().index(next(t for t in text.splitlines() if t.startswith("flip")))
    assert [(f["file"], f["line"], f["severity"]) for f in flips] == [
        (str(yaml_path), line, "error")
    ]
    assert "its own inverse" in flips[0]["message"]
    swaps = [f for f in findings if f["rule"] == "left_right_swap"]
    assert swaps and swaps[0]["severity"] == "info"  # no flip indices left to judge by


def test_a_label_line_of_another_k_is_a_format_error(real_data, tmp_path):
    yaml_path = _yolo_copy(real_data, tmp_path)
    label = yaml_path.parent / "labels" / "val" / "000000196141.txt"
    first = label.read_text().splitlines()[0].split()
    label.write_text(" ".join(first[:-3]) + "\n")  # 16 keypoints instead of 17
    with pytest.raises(FormatError, match="expected 56 columns"):
        pt.check(yaml_path, split="val")


def test_a_file_that_is_not_there_is_not_a_table_name(tmp_path):
    with pytest.raises(FileNotFoundError):
        pt.check(tmp_path / "missing.json")
