"""``posetable check`` (exit codes as a CI gate) and ``posetable diagnose``, through
``posetable.cli.main``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import posetable as pt
from posetable.cli import main
from posetable.errors import PosetableWarning
from tests._predictions import noisy_predictions


def test_check_of_a_file_with_errors_exits_1_and_names_each_finding(
    real_data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = real_data("crowdpose") / "annotations.json"
    out_json = tmp_path / "findings.json"
    assert main(["check", str(path), "--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    assert "num_keypoints_mismatch" in out and "skeleton_invalid" in out
    assert f"{path}: 7 errors, 1 warnings, 0 notes" in out
    assert "id 123803" in out  # the annotation id of a finding
    document = json.loads(out_json.read_text())
    assert document["counts"] == {"error": 7, "warning": 1, "info": 0}
    assert {f["rule"] for f in document["findings"]} == {
        "num_keypoints_mismatch",
        "skeleton_invalid",
        "sigmas_missing",
    }


def test_fail_on_decides_the_exit_code(coco_table, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(coco_table.store.root)
    assert main(["check", "coco", "--store", store, "--quiet"]) == 0  # warnings only
    assert main(["check", "coco@1", "--store", store, "--fail-on", "warning", "--quiet"]) == 1
    assert capsys.readouterr().out.count("coco") == 2  # the summary lines only


def test_check_of_a_yolo_dataset_names_label_files_and_lines(
    real_data, capsys: pytest.CaptureFixture[str]
) -> None:
    yaml_path = real_data("coco8_pose_yolo") / "coco8-pose.yaml"
    assert main(["check", str(yaml_path), "--split", "val", "--rules", "left_right_swap"]) == 0
    out = capsys.readouterr().out
    assert "labels/val/000000196141.txt:2, row 0, instance 1, keypoint 9" in out


def test_an_unknown_rule_exits_2(coco_table, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(coco_table.store.root)
    assert main(["check", "coco", "--store", store, "--rules", "outside_image,nope"]) == 2
    assert "unknown check rule 'nope'" in capsys.readouterr().err


def test_diagnose_prints_the_ap_after_each_fix(
    coco_table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = coco_table.store.root
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=4), name="noisy")
    out_json = tmp_path / "diagnosis.json"
    assert main(["diagnose", "coco", "noisy", "--store", str(store), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    for name in ("jitter", "inversion", "swap", "miss", "score", "background_fp"):
        assert f"fix {name}" in out
    document = json.loads(out_json.read_text())
    assert set(document["ap_improvement"]) == {
        "jitter", "inversion", "swap", "miss", "score", "background_fp", "background_fn",
    }  # fmt: skip
    assert document["ap"] == pytest.approx(pt.Run.open("noisy", store=store).metrics["ap"])
