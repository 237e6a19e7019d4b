"""``pt.diagnose`` agrees with coco-analyze's definitions: on real COCO persons with errors
made on purpose (jitter, inversions, swaps onto another person, misses, a duplicate, a
background false positive, a missed person) every keypoint's class, every fix and every
AP after a fix equal a loop-by-loop reading of coco-analyze on top of pycocotools; and on
cases built so the answer is known by hand."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import posetable as pt
from posetable.errors import InstancesError, PosetableWarning
from tests import _coco_analyze_reference as ref

SIGMAS = np.asarray(pt.COCO_OKS_SIGMAS)
FLIPS = list(pt.COCO_FLIP_INDICES)


def _faulty_predictions(table: pt.Table, seed: int) -> list[pt.Keypoints2DInstances | None]:
    """Per row: a noisy copy of each labeled person, with some pairs mirrored, some points
    put on another person's, one point far off, a low-scoring duplicate and a background
    false positive; the first labeled person of the last row is left out (a miss)."""
    rng = np.random.default_rng(seed)
    out: list[pt.Keypoints2DInstances | None] = []
    flips = np.asarray(FLIPS)
    for r, row in enumerate(table):
        gt = row["keypoints"]
        vis = gt.keypoint_visibilities
        keep = ((vis > 0).sum(axis=1) >= 3) & (np.asarray(gt.instance_extras["iscrowd"]) == 0)
        idx = np.flatnonzero(keep)
        if r == len(table) - 1 and idx.size > 1:
            idx = idx[1:]
        if idx.size == 0:
            out.append(None)
            continue
        points, scores = [], []
        for n, i in enumerate(idx.tolist()):
            scale = math.sqrt(float(gt.instance_extras["area"][i]))
            p = gt.keypoints[i] + rng.normal(0, 1, (17, 2)) * scale * SIGMAS[:, None] * 0.8
            if n % 2 == 0:  # mirror the wrists and knees: inversions
                p[[9, 10, 13, 14]] = p[flips[[9, 10, 13, 14]]]
            if n % 3 == 1 and idx.size > 1:  # an elbow on another person's elbow: a swap
                other = idx[(n + 1) % idx.size]
                p[7] = gt.keypoints[other, 7] + 0.3
            p[3] += 3 * scale  # an ear far off: a miss
            points.append(p)
            scores.append(rng.uniform(0.5, 1.0))
        dup = points[0] + rng.normal(0, 2.0, (17, 2))
        points.append(dup)
        scores.append(0.3)
        w, h = row["width"], row["height"]
        points.append(np.stack([rng.uniform(0, w / 8, 17), rng.uniform(0, h / 8, 17)], 1))
        scores.append(rng.uniform(0.2, 0.9))
        kp = np.stack(points)
        out.append(
            pt.Keypoints2DInstances(
                kp,
                keypoint_confidences=rng.uniform(0, 1, kp.shape[:2]).astype(np.float32),
                instance_confidences=np.asarray(scores),
                image_width=w,
                image_height=h,
            )
        )
    return out


def _results(table: pt.Table, predictions) -> list[dict]:
    ids = table.to_arrow(columns=["image_id"]).column("image_id").to_pylist()
    results = []
    for r, item in enumerate(predictions):
        if item is None:
            continue
        for i in range(len(item)):
            kp = np.concatenate([item.keypoints[i], np.ones((17, 1))], axis=1)
            results.append(
                {
                    "image_id": ids[r],
                    "category_id": 1,
                    "keypoints": kp.ravel().tolist(),
                    "score": float(item.instance_confidences[i]),
                }
            )
    return results


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from tests._data import data_path

    folder = data_path("coco_kpts")
    store = tmp_path_factory.mktemp("diagnose")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(folder / "annotations.json", name="coco", store=store)
    predictions = _faulty_predictions(table, seed=3)
    gt_doc = json.loads((folder / "annotations.json").read_text())
    return table, predictions, gt_doc, _results(table, predictions), pt.diagnose(table, predictions)


def test_the_baseline_is_pycocotools_ap(case):
    table, predictions, gt_doc, results, diagnosis = case
    assert diagnosis.ap == pt.evaluate(table, predictions).ap
    assert diagnosis.ap == pytest.approx(ref.ap_of(gt_doc, results, SIGMAS), abs=1e-12)


def test_every_keypoint_class_agrees_with_coco_analyze(case):
    table, _, gt_doc, results, diagnosis = case
    classes = ref.classify(gt_doc, results, SIGMAS, FLIPS)
    ids = table.to_arrow(columns=["image_id"]).column("image_id").to_pylist()
    first_of_image: dict[int, int] = {}
    for n, r in enumerate(results):
        first_of_image.setdefault(r["image_id"], n)
    expected = {}
    for index, info in classes.items():
        image = results[index]["image_id"]
        row, prediction = ids.index(image), index - first_of_image[image]
        for k, name in info["errors"].items():
            expected[(row, prediction, k)] = name
    got = {
        (e["row"], e["prediction"], e["keypoint"]): e["error"]
        for e in diagnosis.keypoint_errors.to_pylist()
    }
    assert got == expected
    kinds = set(expected.values())
    assert kinds == {"good", "jitter", "inversion", "swap", "miss"}  # every class occurs


@pytest.mark.parametrize("error", ["jitter", "inversion", "swap", "miss"])
def test_each_keypoint_fix_gives_coco_analyzes_ap(case, error):
    _, _, gt_doc, results, diagnosis = case
    classes = ref.classify(gt_doc, results, SIGMAS, FLIPS)
    fixed = ref.fixed_results(results, classes, error)
    expected = ref.ap_of(gt_doc, fixed, SIGMAS)
    assert diagnosis.ap_improvement[error] == pytest.approx(expected, abs=1e-12)
    assert diagnosis.ap_improvement[error] > diagnosis.ap


def test_the_score_fix_is_coco_analyzes_soft_nms_rescoring(case):
    _, _, gt_doc, results, diagnosis = case
    expected = ref.ap_of(gt_doc, ref.rescored(gt_doc, results, SIGMAS), SIGMAS)
    assert diagnosis.ap_improvement["score"] == pytest.approx(expected, abs=1e-12)


def test_background_fixes_are_coco_analyzes(case):
    table, _, gt_doc, results, diagnosis = case
    fp, fn = ref.background_aps(gt_doc, results, SIGMAS)
    assert diagnosis.ap_improvement["background_fp"] == pytest.approx(fp, abs=1e-12)
    assert diagnosis.ap_improvement["background_fn"] == pytest.approx(fn, abs=1e-12)
    errors = diagnosis.instance_errors.to_pylist()
    assert {e["error"] for e in errors} == {"background_fp", "background_fn"}
    assert [e["row"] for e in errors if e["error"] == "background_fn"] == [len(table) - 1]


def _one_person(store, name="one", flips=FLIPS):
    rng = np.random.default_rng(0)
    points = np.stack([rng.uniform(100, 300, 17), rng.uniform(100, 400, 17)], 1).round()
    gt = pt.Keypoints2DInstances.create_empty(num_keypoints=17)
    gt.add_instance(np.concatenate([points, np.full((17, 1), 2)], 1),
                    instance_extras={"area": 40000.0})  # fmt: skip
    schema = pt.Keypoints2DSchema(
        keypoint_names=pt.COCO_KEYPOINT_NAMES, oks_sigmas=SIGMAS, flip_indices=flips
    )
    rows = [{"image": "a.jpg", "width": 640, "height": 480, "keypoints": gt}]
    return pt.Table.from_rows(rows, name=name, schema=schema, store=store), points


def _prediction(points: np.ndarray, score: float = 0.9) -> pt.Keypoints2DInstances:
    return pt.Keypoints2DInstances(points[None], instance_confidences=[score])


def test_a_jittered_point_is_fixed_where_coco_analyze_puts_it(store):
    table, points = _one_person(store)
    pred = points.copy()
    # term exp(-d^2 / (2s)^2 / area / 2) = 0.7 for the left wrist (9)
    d = math.sqrt(-math.log(0.7) * 2 * 40000.0 * (2 * SIGMAS[9]) ** 2)
    pred[9, 0] += d
    diagnosis = pt.diagnose(table, [_prediction(pred)])
    errors = diagnosis.keypoint_errors.to_pylist()
    assert [e["error"] for e in errors if e["keypoint"] == 9] == ["jitter"]
    assert {e["error"] for e in errors if e["keypoint"] != 9} == {"good"}
    assert errors[9]["oks"] == pytest.approx(0.7)
    fixed = points.copy()
    fixed[9, 0] += math.sqrt(-math.log(0.85) * 2 * 40000.0 * SIGMAS[9] ** 2)
    expected = pt.evaluate(table, [_prediction(fixed)]).ap
    assert diagnosis.ap_improvement["jitter"] == expected
    assert diagnosis.ap_improvement["inversion"] == diagnosis.ap  # nothing to fix


def test_without_flip_indices_there_are_no_inversions_and_it_says_so(store, caplog):
    table, points = _one_person(store, flips=None)
    pred = points.copy()
    pred[[9, 10]] = pred[[10, 9]]  # mirrored wrists: inversions with flip indices
    diagnosis = pt.diagnose(table, [_prediction(pred)])
    assert math.isnan(diagnosis.ap_improvement["inversion"])
    assert any("no flip indices" in n for n in diagnosis.notes)
    assert "inversion" not in diagnosis.keypoint_errors.column("error").to_pylist()
    assert "n/a" in str(diagnosis)
    with_flips = pt.diagnose(table, [_prediction(pred)], flip_indices=FLIPS)
    wrists = [
        e["error"] for e in with_flips.keypoint_errors.to_pylist() if e["keypoint"] in (9, 10)
    ]
    assert wrists == ["inversion", "inversion"]


def test_background_errors_on_a_case_known_by_hand(store):
    table, points = _one_person(store)
    far = points + 1000.0
    both = pt.Keypoints2DInstances(
        np.stack([far, points]), instance_confidences=[0.9, 0.8]
    )  # a false positive scored above the true positive
    diagnosis = pt.diagnose(table, [both])
    # baseline: precision 1/2 at recall 1 at every threshold
    assert diagnosis.ap == pytest.approx(0.5)
    assert diagnosis.ap_improvement["background_fp"] == pytest.approx(1.0)
    assert diagnosis.ap_improvement["score"] == pytest.approx(1.0)  # the FP is rescored to 0
    (fp,) = diagnosis.instance_errors.to_pylist()
    assert (fp["kind"], fp["index"], fp["error"], fp["score"]) == ("pred", 0, "background_fp", 0.9)


def test_a_missed_person_is_a_background_false_negative(store):
    table, points = _one_person(store)
    two = pt.Keypoints2DInstances.create_empty(num_keypoints=17)
    for shift in (0.0, 250.0):
        two.add_instance(np.concatenate([points + shift, np.full((17, 1), 2)], 1),
                         instance_extras={"area": 40000.0})  # fmt: skip
    edited = table.with_rows({0: {"keypoints": two}})
    diagnosis = pt.diagnose(edited, [_prediction(points)])
    assert diagnosis.ap == pytest.approx(51 / 101)  # recall 1/2: 51 of 101 recall points
    assert diagnosis.ap_improvement["background_fp"] == pytest.approx(51 / 101)
    assert diagnosis.ap_improvement["background_fn"] == pytest.approx(1.0)
    (fn,) = diagnosis.instance_errors.to_pylist()
    assert (fn["kind"], fn["index"], fn["error"], fn["score"]) == ("gt", 1, "background_fn", None)


def test_predictions_of_another_k_are_a_typed_error(store):
    table, points = _one_person(store)
    with pytest.raises(InstancesError, match="K=17"):
        pt.diagnose(table, [_prediction(points[:16])])


def test_a_run_is_diagnosed_like_its_predictions(case, store):
    table, predictions, *_, diagnosis = case
    run = pt.Run.from_predictions(table, predictions, name="faulty", store=store)
    from_run = pt.diagnose(table, run)
    assert from_run.ap_improvement == diagnosis.ap_improvement
    assert from_run.keypoint_errors.equals(diagnosis.keypoint_errors)
    summary = from_run.to_dict()
    assert summary["keypoint_error_counts"]["swap"] > 0
    assert json.loads(json.dumps(summary))["ap"] == pytest.approx(diagnosis.ap)


def test_the_breakdown_counts_every_class_per_keypoint(case):
    *_, diagnosis = case
    table = diagnosis.breakdown.to_pandas()
    errors = diagnosis.keypoint_errors.to_pandas()
    for name in ("good", "jitter", "inversion", "swap", "miss"):
        counts = (errors["error"] == name).groupby(errors["keypoint"]).sum()
        assert table[name].tolist() == counts.reindex(range(17), fill_value=0).tolist()
    assert table["name"].tolist() == list(pt.COCO_KEYPOINT_NAMES)
