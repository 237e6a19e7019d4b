"""Per-keypoint metrics and calibration: each keypoint's OKS-AP is pycocotools' AP of that
point alone, PCK and similarity are counted over the evaluation's own matches, and the
10 stats of ``pt.evaluate`` stay exactly what they were."""

from __future__ import annotations

import numpy as np
import pytest

import posetable as pt
from posetable.errors import EvaluationError
from posetable.eval.keypoint_metrics import calibration
from tests._predictions import noisy_predictions


@pytest.fixture
def evaluated(coco_table):
    predictions = noisy_predictions(coco_table, seed=5, noise=0.04)
    return coco_table, predictions, pt.evaluate(coco_table, predictions)


def _single_keypoint_table(table: pt.Table, k: int, store, *, visibility: int | None = None):
    """The table with keypoint ``k`` alone (K=1, its own sigma); ground truth that does not
    label it (with visibility ``visibility`` when given) gets num_keypoints 0: ignored."""
    rows = []
    for row in table:
        gt = row["keypoints"]
        vis = gt.keypoint_visibilities[:, k : k + 1].copy()
        if visibility is not None:
            vis[vis != visibility] = 0
        one = pt.Keypoints2DInstances(
            gt.keypoints[:, k : k + 1],
            keypoint_visibilities=vis,
            instance_bbs=gt.instance_bbs,
            instance_labels=gt.instance_labels,
            instance_extras={
                "area": gt.instance_extras["area"],
                "iscrowd": gt.instance_extras["iscrowd"],
                "num_keypoints": (vis > 0).sum(axis=1),
            },
            image_width=row["width"],
            image_height=row["height"],
        )
        rows.append({"image": row["image"], "width": row["width"], "height": row["height"],
                     "keypoints": one})  # fmt: skip
    schema = pt.Keypoints2DSchema(1, oks_sigmas=[table.schema.sigmas[k]])
    return pt.Table.from_rows(rows, name=f"kp{k}-{visibility}", schema=schema, store=store)


def _single_keypoint_predictions(predictions, k):
    return [
        None
        if p is None
        else pt.Keypoints2DInstances(
            p.keypoints[:, k : k + 1], instance_confidences=p.instance_confidences
        )
        for p in predictions
    ]


@pytest.mark.parametrize("k", [0, 5, 9, 16])
def test_per_keypoint_ap_is_pycocotools_ap_of_that_point_alone(evaluated, store, k):
    table, predictions, result = evaluated
    metrics = result.keypoint_metrics()
    alone = pt.evaluate(_single_keypoint_table(table, k, store),
                        _single_keypoint_predictions(predictions, k))  # fmt: skip
    assert metrics.per_keypoint.column("ap")[k].as_py() == pytest.approx(alone.ap, abs=1e-12)


def test_per_keypoint_ap_split_by_visibility(evaluated, store):
    table, predictions, result = evaluated
    per = result.keypoint_metrics().per_keypoint
    vis = np.concatenate([r["keypoints"].keypoint_visibilities for r in table])
    k = int(np.argmax((vis == 1).sum(axis=0)))  # the keypoint most often labeled occluded
    for v in (1, 2):
        alone = pt.evaluate(_single_keypoint_table(table, k, store, visibility=v),
                            _single_keypoint_predictions(predictions, k))  # fmt: skip
        assert per.column(f"ap_v{v}")[k].as_py() == pytest.approx(alone.ap, abs=1e-12)


def test_the_ten_stats_do_not_change(evaluated):
    table, predictions, result = evaluated
    before = result.stats.copy()
    metrics = result.keypoint_metrics()
    assert result.keypoint_metrics() is metrics  # computed once
    np.testing.assert_array_equal(result.stats, before)
    np.testing.assert_array_equal(pt.evaluate(table, predictions).stats, before)


def test_points_are_the_matched_labeled_points_joinable_to_rows(evaluated):
    table, predictions, result = evaluated
    metrics = result.keypoint_metrics(pck_thresholds=[0.02, 0.5])
    points = metrics.points.to_pandas()
    per = result.per_instance.to_pandas()
    matched_gt = per[(per.kind == "gt") & per.partner.ge(0) & ~per.ignored]
    assert len(points.groupby(["row", "instance"])) == len(matched_gt)
    for row in points.itertuples():
        gt = table[row.row]["keypoints"]
        pred = predictions[row.row]
        d = np.hypot(*(pred.keypoints[row.prediction, row.keypoint]
                       - gt.keypoints[row.instance, row.keypoint]))  # fmt: skip
        assert row.distance == pytest.approx(d)
        assert row.visibility == gt.keypoint_visibilities[row.instance, row.keypoint] > 0
        assert row.confidence == pytest.approx(pred.keypoint_confidences[row.prediction,
                                                                        row.keypoint])  # fmt: skip
    per_kp = metrics.per_keypoint.to_pandas()
    for k, group in points.groupby("keypoint"):
        assert per_kp.loc[k, "matched"] == len(group)
        assert per_kp.loc[k, "pck_0.5"] == pytest.approx((group.normalized_distance <= 0.5).mean())
        assert per_kp.loc[k, "mean_similarity"] == pytest.approx(group.similarity.mean())
        v2 = group[group.visibility == 2]
        assert per_kp.loc[k, "matched_v2"] == len(v2)


def test_calibration_on_values_known_by_hand():
    ece, table = calibration(np.array([0.95, 0.85, 0.15, 0.05]), np.array([1.0, 0.5, 0.0, 0.0]), 2)
    # bin [0, .5): mean conf .1, mean target 0; bin [.5, 1]: .9 vs .75
    assert ece == pytest.approx(0.5 * 0.1 + 0.5 * 0.15)
    assert table.column("count").to_pylist() == [2, 2]
    assert table.column("accuracy").to_pylist() == [0.0, 0.75]


def test_calibration_of_a_run_uses_its_stored_confidences(coco_table, store):
    predictions = noisy_predictions(coco_table, seed=6, noise=0.03)
    run = pt.Run.from_predictions(coco_table, predictions, name="calibrated", store=store)
    from_run = pt.evaluate(coco_table, run).keypoint_metrics()
    direct = pt.keypoint_metrics(coco_table, predictions)
    assert from_run.points.equals(direct.points)
    assert from_run.keypoint_ece == pytest.approx(direct.keypoint_ece)
    assert 0 <= direct.keypoint_ece <= 1 and 0 <= direct.instance_ece <= 1
    assert direct.instances.num_rows > 0
    assert set(direct.instances.column("row").to_pylist()) <= set(range(len(coco_table)))


def test_without_keypoint_confidences_the_keypoint_ece_is_nan(coco_table):
    predictions = [
        None
        if p is None
        else pt.Keypoints2DInstances(p.keypoints, instance_confidences=p.instance_confidences)
        for p in noisy_predictions(coco_table, seed=7)
    ]
    metrics = pt.keypoint_metrics(coco_table, predictions)
    assert np.isnan(metrics.keypoint_ece)
    assert metrics.points.column("confidence").null_count == metrics.points.num_rows


def test_a_coco_file_pair_gives_the_same_metrics(coco_table, real_data, tmp_path):
    import json

    predictions = noisy_predictions(coco_table, seed=8)
    ids = coco_table.to_arrow(columns=["image_id"]).column("image_id").to_pylist()
    results = [
        {"image_id": ids[r], "category_id": 1, "score": float(p.instance_confidences[i]),
         "keypoints": np.concatenate([p.keypoints[i], p.keypoint_confidences[i][:, None]],
                                     1).ravel().tolist()}
        for r, p in enumerate(predictions) if p is not None for i in range(len(p))
    ]  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    gt = real_data("coco_kpts") / "annotations.json"
    from_files = pt.evaluate_coco(gt, path).keypoint_metrics()
    from_table = pt.keypoint_metrics(coco_table, predictions)
    np.testing.assert_allclose(
        from_files.per_keypoint.column("ap").to_numpy(zero_copy_only=False),
        from_table.per_keypoint.column("ap").to_numpy(zero_copy_only=False),
    )
    np.testing.assert_allclose(
        from_files.points.column("confidence").to_numpy(zero_copy_only=False),
        from_table.points.column("confidence").to_numpy(zero_copy_only=False),
        rtol=1e-6,
    )


def test_bad_pck_thresholds_are_a_typed_error(evaluated):
    *_, result = evaluated
    with pytest.raises(EvaluationError, match="pck_thresholds"):
        result.keypoint_metrics(pck_thresholds=[0.1, 2.0])


def test_per_keypoint_ap_in_small_groups_of_copies_is_the_same(evaluated, monkeypatch):
    from posetable.eval import keypoint_metrics

    table, predictions, _ = evaluated
    at_once = pt.evaluate(table, predictions).keypoint_metrics().per_keypoint
    monkeypatch.setattr(keypoint_metrics, "COPY_BUDGET", 1)  # one (split, keypoint) a call
    one_by_one = pt.evaluate(table, predictions).keypoint_metrics().per_keypoint
    assert one_by_one.equals(at_once)
    assert at_once.column("ap").null_count < at_once.num_rows  # real values compared
