"""``posetable import`` / ``posetable export`` through the command line's entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import posetable as pt
from posetable.cli import main
from tests._formats_support import json_difference


def test_import_and_export_coco(
    real_data, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = real_data("coco_kpts")
    code = main(
        ["import", "coco", str(folder / "annotations.json"), "--images", str(folder / "images"),
         "--name", "people", "--store", str(store)]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "4 images, 14 instances, K=17 -> people@1" in out
    assert (
        main(["export", "coco", "people", str(tmp_path / "out.json"), "--store", str(store)]) == 0
    )
    assert "wrote people@1 as COCO keypoints JSON" in capsys.readouterr().out
    given = json.loads((folder / "annotations.json").read_text())
    assert json_difference(given, json.loads((tmp_path / "out.json").read_text())) is None


def test_import_notes_go_to_stderr(
    real_data, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = real_data("crowdpose")
    args = ["import", "coco", str(folder / "annotations.json"), "--name", "crowd"]
    assert main([*args, "--store", str(store)]) == 0
    captured = capsys.readouterr()
    assert "posetable: note:" in captured.err and "had no 'area'" in captured.err
    assert "2 images, 5 instances, K=14" in captured.out


def test_importing_under_a_taken_name_stops_unless_asked_for_a_new_revision(
    real_data, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = real_data("crowdpose")
    args = ["import", "coco", str(folder / "annotations.json"), "--name", "crowd"]
    assert main([*args, "--store", str(store)]) == 0
    capsys.readouterr()
    yolo = real_data("coco8_pose_yolo") / "coco8-pose.yaml"
    assert main(["import", "yolo", str(yolo), "--name", "crowd", "--store", str(store)]) != 0
    err = capsys.readouterr().err
    assert "table 'crowd' already exists" in err and "K=14" in err and "coco8-pose.yaml" in err
    assert pt.Table.open("crowd", store=store).revision == 1
    again = [*args, "--store", str(store), "--if-exists", "new-revision"]
    assert main(again) == 0
    assert "-> crowd@2" in capsys.readouterr().out


def test_import_and_export_yolo(
    real_data, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = real_data("coco8_pose_yolo")
    code = main(
        ["import", "yolo", str(folder / "coco8-pose.yaml"), "--split", "val", "--name", "val",
         "--store", str(store), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    assert "2 images, 9 instances, K=17 -> val@1" in capsys.readouterr().out
    out = tmp_path / "yolo"
    assert (
        main(["export", "yolo", "val", str(out), "--store", str(store), "--image-mode", "copy"])
        == 0
    )
    assert "as a YOLO-pose dataset" in capsys.readouterr().out
    spec = yaml.safe_load((out / "data.yaml").read_text())
    assert spec["val"] == "images/val" and spec["kpt_shape"] == [17, 3]
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == sorted(
        p.name for p in (folder / "images" / "val").iterdir()
    )
    assert len(pt.Table.from_yolo(out / "data.yaml", split="val", name="again", store=store)) == 2


def test_a_bad_file_is_an_error_exit_with_the_message(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    assert main(["import", "coco", str(bad), "--name", "x", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "posetable: error:" in err and "bad.json:1" in err and "not valid JSON" in err
    assert pt.list_tables(store=store) == []


def test_list_and_export_reach_tables_named_project_dataset_table(
    real_data, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = real_data("crowdpose")
    name = "3LC Tutorials/Crowd Pose/initial"
    args = ["import", "coco", str(folder / "annotations.json"), "--name", name]
    assert main([*args, "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["list", "--store", str(store)]) == 0
    assert name in capsys.readouterr().out
    out = tmp_path / "out.json"
    assert main(["export", "coco", f"{name}@1", str(out), "--store", str(store)]) == 0
    assert json.loads(out.read_text())["images"]


def test_import_coco_merge_parts_reads_wholebody_as_one_k133_set(
    real_data, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = real_data("coco_wholebody") / "annotations.json"
    args = ["import", "coco", str(source), "--store", str(store)]
    assert main([*args, "--name", "body"]) == 0
    assert "K=17 -> body@1" in capsys.readouterr().out  # the parts stay extra fields
    assert main([*args, "--name", "whole", "--merge-parts"]) == 0
    captured = capsys.readouterr()
    given = json.loads(source.read_text())
    people = [a for a in given["annotations"] if a["category_id"] == 1]
    images = len(given["images"])
    assert f"{images} images, {len(people)} instances, K=133 -> whole@1" in captured.out
    assert "merge_parts=True" in captured.err  # the note says how the parts were read
    table = pt.Table.open("whole", store=store)
    assert table.info.arguments["merge_parts"] is True
    names = table.schema.keypoint_names
    assert names[17] == "left_big_toe" and names[-1] == "right_pinky_finger4"
    out = tmp_path / "out.json"
    assert main(["export", "coco", "whole", str(out), "--store", str(store)]) == 0
    assert json_difference(given, json.loads(out.read_text())) is None  # parts written back


def test_merge_parts_on_a_file_without_parts_is_an_error_exit(
    real_data, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = real_data("coco_kpts") / "annotations.json"
    args = ["import", "coco", str(source), "--name", "c", "--merge-parts", "--store", str(store)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "posetable: error:" in err and "no 'foot_kpts'" in err
    assert pt.list_tables(store=store) == []
