"""The label-error finder on a real table with known, injected errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import posetable as pt
from posetable.errors import PosetableWarning
from tests._predictions import noisy_predictions


@pytest.fixture
def clean(real_data, store):
    folder = real_data("coco_kpts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="coco", store=store
        )
    predictions = noisy_predictions(table, seed=11, noise=0.01, confidence_range=(0.8, 1.0))
    return table, pt.Run.from_predictions(table, predictions, name="clean-model")


def _labeled_instance(table, row):
    gt = table[row]["keypoints"]
    counts = (gt.keypoint_visibilities > 0).sum(axis=1)
    return gt, int(np.argmax(counts))


def test_clean_labels_give_no_strong_suspects(clean):
    table, run = clean
    suspects = pt.find_label_errors(table, run)
    assert all(s < 0.5 for s in suspects.column("score").to_pylist())


def test_left_right_swap_is_found(clean):
    table, run = clean
    gt, i = _labeled_instance(table, 0)
    flips = np.asarray(table.schema.flip_indices)
    swapped = gt.copy()
    swapped.keypoints[i] = gt.keypoints[i][flips]
    swapped.keypoint_visibilities[i] = gt.keypoint_visibilities[i][flips]
    edited = table.with_rows({0: {"keypoints": swapped}})
    top = pt.find_label_errors(edited, run, top=1).to_pylist()[0]
    assert (top["row"], top["instance"], top["kind"]) == (0, i, "swap")


def test_dropped_instance_is_a_missing_annotation(clean):
    table, run = clean
    gt, i = _labeled_instance(table, 1)
    keep = np.ones(len(gt), bool)
    keep[i] = False
    edited = table.with_rows({1: {"keypoints": gt.select(keep)}})
    top = pt.find_label_errors(edited, run, top=1).to_pylist()[0]
    assert (top["row"], top["kind"]) == (1, "missing_annotation")


def test_added_instance_is_spurious(clean):
    table, run = clean
    gt = table[2]["keypoints"]
    ghost = gt.select([0]).copy()
    ghost.keypoints = ghost.keypoints * 0 + [[5.0, 5.0]] + np.arange(17)[:, None]
    ghost.keypoint_visibilities[:] = 2
    ghost.instance_extras["num_keypoints"][:] = 17
    ghost.instance_extras["iscrowd"][:] = 0
    ghost.instance_extras["area"][:] = 17 * 17 * 0.53
    ghost.instance_bbs = np.array([[5.0, 5.0, 22.0, 22.0]])
    combined = gt.copy()
    combined._append(ghost)
    edited = table.with_rows({2: {"keypoints": combined}})
    kinds = {
        (s["row"], s["instance"], s["kind"]) for s in pt.find_label_errors(edited, run).to_pylist()
    }
    assert (2, len(gt), "spurious_annotation") in kinds


def test_moved_keypoint_is_misplaced(clean):
    table, run = clean
    gt, i = _labeled_instance(table, 3)
    moved = gt.copy()
    labeled = np.flatnonzero(gt.keypoint_visibilities[i] > 0)
    j = int(labeled[len(labeled) // 2])
    box = gt.instance_bbs[i]
    moved.keypoints[i, j] += [box[2] - box[0], 0.0]
    edited = table.with_rows({3: {"keypoints": moved}})
    found = [
        s
        for s in pt.find_label_errors(edited, run).to_pylist()
        if s["kind"] == "misplaced_keypoint" and s["row"] == 3
    ]
    assert found and found[0]["instance"] == i and found[0]["keypoint"] == j


def test_unlabeled_point_predicted_confidently_is_suspicious(clean):
    table, run = clean
    gt, i = _labeled_instance(table, 0)
    hidden = gt.copy()
    j = int(np.flatnonzero(gt.keypoint_visibilities[i] == 2)[0])
    hidden.keypoint_visibilities[i, j] = 0
    edited = table.with_rows({0: {"keypoints": hidden}})
    found = {
        (s["instance"], s["keypoint"])
        for s in pt.find_label_errors(edited, run).to_pylist()
        if s["kind"] == "suspicious_visibility"
    }
    assert (i, j) in found


def test_a_run_scoring_under_the_threshold_gives_no_suspects_not_an_error(clean):
    table, _ = clean
    predictions = noisy_predictions(table, seed=11, noise=0.01, confidence_range=(0.8, 1.0))
    for item in predictions:
        if item is not None:
            item.instance_confidences = np.full(len(item), 0.3)
    run = pt.Run.from_predictions(table, predictions, name="timid-model")
    found = pt.find_label_errors(table, run, instance_confidence_threshold=0.5)
    assert found.num_rows == 0
    assert found.column_names == [
        "row", "image", "instance", "prediction", "kind", "keypoint", "score", "detail"
    ]  # fmt: skip
    # with a threshold they pass, the same predictions are evidence again
    dropped = table.with_rows({1: {"keypoints": table[1]["keypoints"].select([0, 2])}})
    trusted = pt.find_label_errors(dropped, run, instance_confidence_threshold=0.3).to_pylist()
    assert ("missing_annotation", 1) in {(s["kind"], s["row"]) for s in trusted}
