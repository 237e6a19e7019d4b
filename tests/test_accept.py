"""Accepting predictions as ground truth: the visibility rules, lineage, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import posetable as pt
from posetable.errors import RunError
from tests._predictions import noisy_predictions


@pytest.fixture
def run(coco_table):
    return pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=7), name="model")


def test_kept_keypoints_get_2_filtered_get_1_never_0(coco_table, run):
    threshold = 0.6
    new = pt.accept_predictions(
        coco_table, run, rows=[0, 2], keypoint_confidence_threshold=threshold
    )
    for row in (0, 2):
        predicted = run.predictions(row)
        accepted = new[row]["keypoints"]
        assert len(accepted) == len(predicted)
        np.testing.assert_array_equal(accepted.keypoints, predicted.keypoints)
        expected = np.where(predicted.keypoint_confidences >= threshold, 2, 1)
        np.testing.assert_array_equal(accepted.keypoint_visibilities, expected)
        assert (accepted.keypoint_visibilities != 0).all()
        assert (accepted.instance_extras["num_keypoints"] == 17).all()


def test_untouched_rows_are_identical_and_source_is_unchanged(coco_table, run):
    before = [row["keypoints"] for row in coco_table]
    new = pt.accept_predictions(coco_table, run, rows=[1], keypoint_confidence_threshold=0.5)
    for row in (0, 2, 3):
        assert new[row]["keypoints"] == before[row]
        assert new[row]["image"] == coco_table[row]["image"]
    again = pt.Table.open(coco_table.ref, store=coco_table.store)
    assert [row["keypoints"] for row in again] == before


def test_lineage_records_the_run(coco_table, run):
    new = pt.accept_predictions(coco_table, run, rows=[0], keypoint_confidence_threshold=0.5)
    assert new.parent == coco_table.revision
    assert new.operation == "accept_predictions"
    assert new.info.arguments["run"] == "model"
    assert new.info.arguments["run_table"] == coco_table.ref
    assert new.info.arguments["rows"] == [0]
    assert [h.revision for h in new.history()] == [new.revision, coco_table.revision]


def test_instance_threshold_drops_low_scores(coco_table, run):
    predicted = run.predictions(0)
    cut = float(np.median(predicted.instance_confidences))
    new = pt.accept_predictions(
        coco_table,
        run,
        rows=[0],
        keypoint_confidence_threshold=0.5,
        instance_confidence_threshold=cut,
    )
    assert len(new[0]["keypoints"]) == int((predicted.instance_confidences >= cut).sum())


def test_plan_matches_what_accepting_writes_and_writes_nothing(coco_table, run):
    revisions = len(coco_table.revisions())
    plan = pt.accept_predictions_plan(coco_table, run, keypoint_confidence_threshold=0.5)
    assert len(coco_table.revisions()) == revisions
    new = pt.accept_predictions(coco_table, run, keypoint_confidence_threshold=0.5)
    for record in plan.to_pylist():
        accepted = new[record["row"]]["keypoints"]
        assert len(accepted) == record["gt_after"]
        assert int((accepted.keypoint_visibilities == 2).sum()) == record["keypoints_visible"]
        assert int((accepted.keypoint_visibilities == 1).sum()) == record["keypoints_occluded"]


def test_add_unmatched_adds_only_missing_annotations(coco_table, store):
    predictions = noisy_predictions(coco_table, seed=8, noise=0.01)
    extra = predictions[0].select([0]).copy()
    extra.keypoints = extra.keypoints + 5000.0  # far from every person: a missing annotation
    combined = predictions[0].copy()
    combined._append(extra)
    predictions[0] = combined
    run = pt.Run.from_predictions(coco_table, predictions, name="with-extra")
    gt = coco_table[0]["keypoints"]
    new = pt.accept_predictions(
        coco_table, run, rows=[0], keypoint_confidence_threshold=0.5, mode="add_unmatched"
    )
    accepted = new[0]["keypoints"]
    assert len(accepted) == len(gt) + 1
    np.testing.assert_array_equal(accepted.keypoints[: len(gt)], gt.keypoints)
    np.testing.assert_array_equal(accepted.keypoints[-1], extra.keypoints[0])
    assert set(np.unique(accepted.keypoint_visibilities[-1])) <= {1, 2}
    assert accepted.instance_extras["id"][-1] > gt.instance_extras["id"].max()


def test_accepting_into_a_later_revision_maps_rows(coco_table, run):
    first = pt.accept_predictions(coco_table, run, rows=[0], keypoint_confidence_threshold=0.5)
    second = pt.accept_predictions(first, run, rows=[3], keypoint_confidence_threshold=0.5)
    np.testing.assert_array_equal(second[3]["keypoints"].keypoints, run.predictions(3).keypoints)
    assert second[0]["keypoints"] == first[0]["keypoints"]


def test_run_of_another_table_is_refused_naming_both(coco_table, run, store):
    other = pt.Table.from_rows(
        [{"image": "x.jpg", "width": 10, "height": 10}] * 4,
        name="other",
        schema=pt.Keypoints2DSchema.coco_person(),
        store=store,
    )
    with pytest.raises(RunError, match=r"coco@1.*other@1"):
        pt.accept_predictions(other, run)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan")])
def test_keypoint_threshold_outside_unit_interval(coco_table, run, threshold):
    with pytest.raises(RunError, match="keypoint_confidence_threshold must be in"):
        pt.accept_predictions(coco_table, run, keypoint_confidence_threshold=threshold)
    assert len(coco_table.revisions()) == 1


def test_rows_that_do_not_exist(coco_table, run):
    with pytest.raises(RunError, match="row 40 does not exist"):
        pt.accept_predictions(coco_table, run, rows=[40])
