"""Ultralytics-style predicted label files read into per-row predicted instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.errors import FormatError
from posetable.formats.yolo import read_yolo_predictions

K = 17


@pytest.fixture
def val(real_data, store: Path) -> pt.Table:
    folder = real_data("coco8_pose_yolo")
    return pt.Table.from_yolo(folder / "coco8-pose.yaml", split="val", name="val", store=store)


def predicted_lines(truth: Path, *, keypoint_conf: bool, box_conf: bool) -> list[str]:
    """Lines in save_txt's layout made from ground-truth labels (conf = 0.5 + i / 100)."""
    out = []
    for i, row in enumerate(np.loadtxt(truth, ndmin=2)):
        points = row[5:].reshape(K, 3)
        values = [*row[:5].tolist()]
        for j, (x, y, _) in enumerate(points):
            values += [x, y] + ([0.5 + j / 100] if keypoint_conf else [])
        if box_conf:
            values.append(0.9 - i / 10)
        out.append(" ".join(f"{v:.6g}" for v in values))
    return out


@pytest.mark.parametrize(
    ("keypoint_conf", "box_conf"), [(True, True), (True, False), (False, True)]
)
def test_predictions_line_up_with_rows_in_pixels(
    real_data, val: pt.Table, tmp_path: Path, keypoint_conf: bool, box_conf: bool
) -> None:
    labels = real_data("coco8_pose_yolo") / "labels" / "val"
    folder = tmp_path / "predict" / "labels"  # where Ultralytics' predict saves them
    folder.mkdir(parents=True)
    first = sorted(labels.iterdir())[0]
    lines = predicted_lines(first, keypoint_conf=keypoint_conf, box_conf=box_conf)
    (folder / first.name).write_text("\n".join(lines) + "\n")
    predictions = read_yolo_predictions(tmp_path / "predict", val)
    assert len(predictions) == len(val)
    assert predictions[1] is None  # no file for the second image
    got = predictions[0]
    assert got is not None
    truth = val[0]["keypoints"]
    assert len(got) == len(truth) == len(lines)
    assert np.abs(got.keypoints - truth.keypoints).max() < 1e-3  # 6 significant digits
    assert got.keypoint_visibilities is None
    if keypoint_conf:
        assert got.keypoint_confidences.dtype == np.float32
        assert np.allclose(got.keypoint_confidences[0], 0.5 + np.arange(K) / 100)
    else:
        assert got.keypoint_confidences is None
    if box_conf:
        assert got.instance_confidences.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    else:
        assert got.instance_confidences is None
    assert np.abs(got.instance_bbs - truth.instance_bbs).max() < 1e-3
    assert got.instance_labels.tolist() == [0] * len(lines)


def test_an_empty_file_is_an_empty_prediction(val: pt.Table, tmp_path: Path) -> None:
    (tmp_path / "000000196141.txt").write_text("")
    predictions = read_yolo_predictions(tmp_path, val)
    assert predictions[0] is not None and len(predictions[0]) == 0
    assert predictions[1] is None


def test_a_line_that_fits_no_layout(val: pt.Table, tmp_path: Path) -> None:
    (tmp_path / "000000197388.txt").write_text("0 0.5 0.5 0.1 0.1 0.2 0.2 0.9\n")
    with pytest.raises(FormatError) as caught:
        read_yolo_predictions(tmp_path, val)
    text = str(caught.value)
    assert caught.value.line == 1 and "000000197388.txt" in text
    for count in ("57", "56", "40", "39", "found 8"):
        assert count in text


def test_a_class_outside_the_schema(val: pt.Table, tmp_path: Path) -> None:
    values = ["4"] + ["0.5"] * 4 + ["0.5", "0.5", "0.9"] * K + ["0.8"]
    (tmp_path / "000000197388.txt").write_text(" ".join(values) + "\n")
    with pytest.raises(FormatError, match=r"class id must be an integer in \[0, 0\], found 4"):
        read_yolo_predictions(tmp_path, val)


@pytest.mark.integration
def test_files_written_by_ultralytics_results(val: pt.Table, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    results = pytest.importorskip("ultralytics.engine.results")
    row = val[0]
    truth = row["keypoints"]
    boxes = np.concatenate(
        [truth.instance_bbs, np.full((len(truth), 1), 0.75), np.zeros((len(truth), 1))], axis=1
    )
    points = np.concatenate([truth.keypoints, np.full((len(truth), K, 1), 0.6)], axis=2)
    image = np.zeros((row["height"], row["width"], 3), np.uint8)
    result = results.Results(
        image,
        path=row["image"],
        names={0: "person"},
        boxes=torch.tensor(boxes, dtype=torch.float32),
        keypoints=torch.tensor(points, dtype=torch.float32),
    )
    result.save_txt(str(tmp_path / (Path(row["image"]).stem + ".txt")), save_conf=True)
    got = read_yolo_predictions(tmp_path, val)[0]
    assert got is not None and len(got) == len(truth)
    assert np.abs(got.keypoints - truth.keypoints).max() < 0.01
    assert np.allclose(got.keypoint_confidences, 0.6, atol=1e-5)
    assert np.allclose(got.instance_confidences, 0.75, atol=1e-5)
