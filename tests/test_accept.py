"""Accepting predictions as ground truth: the visibility rules, lineage, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.errors import RunError
from tests._predictions import noisy_predictions


@pytest.fixture
def run(coco_table):
    return pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=7), name="model")


def _labeled(gt: pt.Keypoints2DInstances) -> np.ndarray:
    return (gt.keypoint_visibilities > 0).any(axis=1)


def test_kept_keypoints_get_2_filtered_get_1_never_0(coco_table):
    # one prediction per labeled instance, close enough to match it (OKS >= 0.5)
    run = pt.Run.from_predictions(
        coco_table, noisy_predictions(coco_table, seed=7, noise=0.01), name="close"
    )
    threshold = 0.6
    new = pt.accept_predictions(
        coco_table, run, rows=[0, 2], keypoint_confidence_threshold=threshold
    )
    for row in (0, 2):
        predicted = run.predictions(row)
        before = coco_table[row]["keypoints"]
        accepted = new[row]["keypoints"]
        labeled = np.flatnonzero(_labeled(before))
        assert len(accepted) == len(before) and len(labeled) == len(predicted)
        np.testing.assert_array_equal(accepted.keypoints[labeled], predicted.keypoints)
        expected = np.where(predicted.keypoint_confidences >= threshold, 2, 1)
        np.testing.assert_array_equal(accepted.keypoint_visibilities[labeled], expected)
        assert (accepted.keypoint_visibilities[labeled] != 0).all()
        assert (accepted.instance_extras["num_keypoints"][labeled] == 17).all()


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


def test_instance_threshold_keeps_scores_at_or_above_it(coco_table):
    run = pt.Run.from_predictions(
        coco_table, noisy_predictions(coco_table, seed=7, noise=0.01), name="close"
    )
    predicted = run.predictions(3)
    scores = predicted.instance_confidences
    cut = float(np.median(scores))  # one of the five scores: >= keeps it
    options = {"rows": [3], "keypoint_confidence_threshold": 0.5}
    plan = pt.accept_predictions_plan(
        coco_table, run, instance_confidence_threshold=cut, **options
    ).to_pylist()
    new = pt.accept_predictions(coco_table, run, instance_confidence_threshold=cut, **options)
    kept = np.flatnonzero(scores >= cut)
    assert len(kept) == 3
    before = coco_table[3]["keypoints"]
    after = new[3]["keypoints"]
    ids = before.instance_extras["id"]
    assert after.instance_extras["id"].tolist() == ids[kept].tolist()
    np.testing.assert_array_equal(after.keypoints, predicted.keypoints[kept])
    (record,) = plan
    assert (record["replaced"], record["removed"], record["added"], record["kept"]) == (3, 2, 0, 0)
    assert record["removed_ids"] == ids[scores < cut].tolist()
    assert new.info.arguments["instance_confidence_threshold"] == cut


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
    with pytest.raises(
        pt.errors.RowIndexError, match=r"rows\[0\] must be a row number in \[0, 3\]"
    ):
        pt.accept_predictions(coco_table, run, rows=[40])


# -- box-only ground truth and COCO ids ----------------------------------------------------
def _close_run(table: pt.Table, name: str = "close", **changes) -> pt.Run:
    predictions = noisy_predictions(table, seed=3, noise=0.01)
    for row, value in changes.items():
        predictions[int(row.removeprefix("row"))] = value
    return pt.Run.from_predictions(table, predictions, name=name)


def _box_only(gt: pt.Keypoints2DInstances) -> np.ndarray:
    return np.flatnonzero(~_labeled(gt))


def test_box_only_ground_truth_is_kept_with_its_fields(coco_table):
    # rows 1 and 2 of the real excerpt each have one annotation with num_keypoints 0
    run = _close_run(coco_table)
    plan = {r["row"]: r for r in pt.accept_predictions_plan(coco_table, run).to_pylist()}
    new = pt.accept_predictions(coco_table, run)
    for row in (1, 2):
        before, after = coco_table[row]["keypoints"], new[row]["keypoints"]
        (i,) = _box_only(before)
        assert before.instance_extras["num_keypoints"][i] == 0
        assert after.instance_extras["id"].tolist() == before.instance_extras["id"].tolist()
        np.testing.assert_array_equal(after.instance_bbs[i], before.instance_bbs[i])
        np.testing.assert_array_equal(after.keypoint_visibilities[i], 0)
        for name in ("area", "iscrowd", "num_keypoints", "coco_fields", "coco_order"):
            assert after.instance_extras[name][i] == before.instance_extras[name][i], name
        assert (plan[row]["kept"], plan[row]["replaced"]) == (1, len(before) - 1)
        assert plan[row]["removed"] == plan[row]["added"] == 0


def test_replaced_instances_keep_their_coco_ids_and_fields(coco_table):
    run = _close_run(coco_table)
    new = pt.accept_predictions(coco_table, run, keypoint_confidence_threshold=0.7)
    for row in range(len(coco_table)):
        before, after = coco_table[row]["keypoints"], new[row]["keypoints"]
        labeled = np.flatnonzero(_labeled(before))
        np.testing.assert_array_equal(after.keypoints[labeled], run.predictions(row).keypoints)
        for name in ("id", "area", "iscrowd", "coco_fields", "coco_order"):
            assert after.instance_extras[name].tolist() == before.instance_extras[name].tolist()
        assert set(np.unique(after.keypoint_visibilities[labeled])) <= {1, 2}


def test_a_prediction_over_a_box_only_instance_replaces_it_and_the_plan_says_so(coco_table):
    gt = coco_table[1]["keypoints"]
    (i,) = _box_only(gt)
    x1, y1, x2, y2 = gt.instance_bbs[i]
    grid = np.stack(np.meshgrid(np.linspace(x1, x2, 17), [y1, y2]), -1).reshape(-1, 2)[:17]
    filled = pt.Keypoints2DInstances(
        grid[None],
        keypoint_confidences=np.full((1, 17), 0.9, np.float32),
        instance_confidences=[0.8],
        instance_bbs=[[x1, y1, x2, y2]],
        image_width=500,
        image_height=333,
    )
    predictions = noisy_predictions(coco_table, seed=3, noise=0.01)
    predictions[1] = predictions[1].copy()
    predictions[1]._append(filled)
    run = pt.Run.from_predictions(coco_table, predictions, name="fills")
    (record,) = pt.accept_predictions_plan(coco_table, run, rows=[1]).to_pylist()
    box_id = int(gt.instance_extras["id"][i])
    assert box_id in record["replaced_ids"] and record["kept"] == 0 and record["added"] == 0
    after = pt.accept_predictions(coco_table, run, rows=[1])[1]["keypoints"]
    assert after.instance_extras["id"].tolist() == gt.instance_extras["id"].tolist()
    np.testing.assert_array_equal(after.keypoints[i], grid)
    assert after.instance_extras["num_keypoints"][i] == 17
    assert (after.keypoint_visibilities[i] == 2).all()
    # adding only never touches an instance: the prediction over the box is not a new person
    (record,) = pt.accept_predictions_plan(
        coco_table, run, rows=[1], mode="add_unmatched"
    ).to_pylist()
    assert (record["action"], record["added"], record["kept"]) == ("none", 0, len(gt))


def test_new_instances_get_ids_after_the_largest_and_export_round_trips(coco_table, tmp_path):
    import json

    far = noisy_predictions(coco_table, seed=3, noise=0.01)
    extra = far[3].select([0]).copy()
    extra.keypoints = extra.keypoints * 0.2 + 1.0  # a person nobody labeled, top left
    extra.instance_bbs = np.array([[1.0, 1.0, 90.0, 80.0]])
    combined = far[3].copy()
    combined._append(extra)
    far[3] = combined
    run = pt.Run.from_predictions(coco_table, far, name="with-extra")
    plan = {r["row"]: r for r in pt.accept_predictions_plan(coco_table, run).to_pylist()}
    assert plan[3]["added"] == 1 and plan[3]["replaced"] == 5
    new = pt.accept_predictions(coco_table, run)
    every_id = [
        int(v) for row in coco_table for v in row["keypoints"].instance_extras["id"].tolist()
    ]
    added = new[3]["keypoints"]
    assert added.instance_extras["id"][-1] == max(every_id) + 1
    assert added.instance_extras["coco_order"][-1] == -1  # not from the file: written last
    out = new.export_coco(tmp_path / "accepted.json")
    written = json.loads(out.read_text())
    ids = [a["id"] for a in written["annotations"]]
    assert len(ids) == len(set(ids)) == len(every_id) + 1
    original = json.loads((Path(coco_table.metadata["coco"]["source"])).read_text())
    assert ids[:-1] == [a["id"] for a in original["annotations"]]  # file order, ids kept
    assert written["annotations"][-1]["num_keypoints"] == 17
    for before, after in zip(original["annotations"], written["annotations"], strict=False):
        assert (after["area"], after["iscrowd"]) == (before["area"], before["iscrowd"])
        assert after.get("segmentation") == before.get("segmentation")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        again = pt.Table.from_coco(out, name="again", store=coco_table.store)
    assert json.loads(again.export_coco(tmp_path / "again.json").read_text()) == written


def test_plan_counts_add_up_for_every_row(coco_table, run):
    for mode in ("replace", "add_unmatched"):
        for record in pt.accept_predictions_plan(coco_table, run, mode=mode).to_pylist():
            assert record["gt_before"] == record["kept"] + record["replaced"] + record["removed"]
            assert record["gt_after"] == record["kept"] + record["replaced"] + record["added"]
            assert record["accepted"] == record["replaced"] + record["added"]
            assert record["accepted"] <= record["predictions"]
            assert record["keypoints_visible"] + record["keypoints_occluded"] == (
                17 * record["accepted"]
            )
