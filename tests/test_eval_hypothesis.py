"""Generated COCO cases where pycocotools' rules bite: the stats must stay identical.

Crowd ground truth, ``num_keypoints`` 0 (the 3x-box path), more than 20 detections per
image, tied scores, areas on the range borders, images without ground truth or without
predictions, K != 17, annotation id 0 and duplicate ids, several categories.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posetable as pt
from tests._coco_reference import pycocotools_eval, rows_from_coco, write_json

BORDER_AREAS = [0.0, 1.0, 32.0**2, 32.0**2 + 0.5, 96.0**2, 96.0**2 - 0.25, 5000.0, 20000.0, 1e10]


@st.composite
def coco_case(draw: st.DrawFn) -> tuple[dict, list[dict], np.ndarray]:
    k = draw(st.sampled_from([1, 3, 5, 8, 14, 17, 21]))
    n_images = draw(st.integers(1, 5))
    image_ids = draw(
        st.lists(st.integers(0, 10_000), min_size=n_images, max_size=n_images, unique=True)
    )
    cat_ids = draw(st.sampled_from([[1], [1, 3], [7, 2]]))
    grid = st.sampled_from([0.0, 5.0, 10.0, 10.5, 20.0, 33.25, 50.0, 64.0])
    annotations = []
    next_id = draw(st.sampled_from([0, 1]))  # 0: the first annotation has id 0
    duplicate = draw(st.booleans()) and draw(st.booleans())
    for image_id in image_ids:
        for _ in range(draw(st.integers(0, 6))):
            vis = draw(st.lists(st.sampled_from([0, 0, 1, 2, 2]), min_size=k, max_size=k))
            xs = draw(st.lists(grid, min_size=k, max_size=k))
            ys = draw(st.lists(grid, min_size=k, max_size=k))
            x, y = draw(grid), draw(grid)
            w, h = (
                draw(st.sampled_from([0.0, 4.0, 16.0, 40.0, 80.0])),
                draw(st.sampled_from([2.0, 16.0, 64.0])),
            )
            crowd = draw(st.sampled_from([0, 0, 0, 1]))
            labeled = sum(v > 0 for v in vis)
            num_kpts = draw(st.sampled_from([labeled, labeled, 0]))
            annotations.append(
                {
                    "id": next_id,
                    "image_id": image_id,
                    "category_id": draw(st.sampled_from(cat_ids)),
                    "keypoints": [v for triple in zip(xs, ys, vis, strict=True) for v in triple],
                    "num_keypoints": num_kpts,
                    "iscrowd": crowd,
                    "area": draw(st.sampled_from(BORDER_AREAS)),
                    "bbox": [x, y, w, h],
                }
            )
            next_id += 1
    if duplicate and len(annotations) >= 2:
        annotations[-1]["id"] = annotations[0]["id"]
    doc = {
        "images": [{"id": i, "width": 100, "height": 100} for i in image_ids],
        "annotations": annotations,
        "categories": [
            {"id": c, "name": f"c{c}", "keypoints": [f"k{j}" for j in range(k)]} for c in cat_ids
        ],
    }
    with_bbox = draw(st.booleans())
    results = []
    for image_id in draw(st.lists(st.sampled_from(image_ids), max_size=4)):
        for _ in range(draw(st.integers(0, 24))):
            own = [a for a in annotations if a["image_id"] == image_id]
            if own and draw(st.booleans()):
                source = np.asarray(draw(st.sampled_from(own))["keypoints"], float).reshape(k, 3)[
                    :, :2
                ]
                xy = source + np.asarray(
                    draw(
                        st.lists(
                            st.sampled_from([0.0, 0.5, 1.0, -2.0, 6.0]),
                            min_size=2 * k,
                            max_size=2 * k,
                        )
                    )
                ).reshape(k, 2)
            else:
                xy = np.asarray(draw(st.lists(grid, min_size=2 * k, max_size=2 * k))).reshape(k, 2)
            result = {
                "image_id": image_id,
                "category_id": draw(st.sampled_from(cat_ids)),
                "keypoints": np.concatenate([xy, np.ones((k, 1))], 1).ravel().tolist(),
                "score": draw(st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0])),
            }
            if with_bbox:
                result["bbox"] = [
                    float(xy[:, 0].min()),
                    float(xy[:, 1].min()),
                    draw(st.sampled_from([0.0, 32.0, 96.0, 100.0])),
                    96.0,
                ]
            results.append(result)
    sigmas = draw(st.sampled_from([None, "uniform", "ramp"]))
    if sigmas is None:
        sig = np.asarray(pt.COCO_OKS_SIGMAS) if k == 17 else np.full(k, 1.0 / k)
    elif sigmas == "uniform":
        sig = np.full(k, 0.05)
    else:
        sig = np.linspace(0.02, 0.2, k)
    return doc, results, sig


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(case=coco_case())
def test_generated_cases_equal_pycocotools(case, tmp_path_factory, eval_engine):
    doc, results, sigmas = case
    tmp = Path(tmp_path_factory.mktemp("case"))
    result = pt.evaluate_coco(
        write_json(tmp / "gt.json", doc), write_json(tmp / "r.json", results), sigmas=sigmas
    )
    if not results:  # pycocotools cannot load an empty result list; ours gives 0 where GT exists
        assert np.all(result.stats <= 0)
        return
    reference = pycocotools_eval(doc, results, sigmas, tmp)
    np.testing.assert_array_equal(result.stats, reference.stats)
    np.testing.assert_array_equal(result.precision, reference.eval["precision"])
    np.testing.assert_array_equal(result.recall, reference.eval["recall"])
    np.testing.assert_array_equal(result.scores, reference.eval["scores"])


@SETTINGS
@given(case=coco_case())
def test_generated_cases_through_the_duckdb_reader_equal_pycocotools(case, tmp_path_factory):
    from posetable.eval import _gt_fast

    doc, results, sigmas = case
    if not results:
        return
    tmp = Path(tmp_path_factory.mktemp("fast"))
    saved = _gt_fast.MIN_BYTES
    _gt_fast.MIN_BYTES = 0
    try:
        gt_path = write_json(tmp / "gt.json", doc)
        if doc["annotations"]:  # an empty list is left to the plain reader
            assert _gt_fast.read_ground_truth_fast(gt_path) is not None
        result = pt.evaluate_coco(gt_path, write_json(tmp / "r.json", results), sigmas=sigmas)
    finally:
        _gt_fast.MIN_BYTES = saved
    reference = pycocotools_eval(doc, results, sigmas, tmp)
    np.testing.assert_array_equal(result.stats, reference.stats)
    np.testing.assert_array_equal(result.precision, reference.eval["precision"])


@SETTINGS
@given(case=coco_case())
def test_generated_tables_equal_pycocotools(case, tmp_path_factory):
    doc, results, sigmas = case
    ids = [a["id"] for a in doc["annotations"]]
    if not results or not doc["annotations"] or len(set(ids)) != len(ids):
        return  # duplicate ids are a file quirk; a table keeps every instance
    tmp = Path(tmp_path_factory.mktemp("table"))
    rows, schema, metadata = rows_from_coco(doc)
    table = pt.Table.from_rows(
        rows,
        name="t",
        schema=schema.replace(oks_sigmas=sigmas),
        store=tmp / "store",
        metadata=metadata,
    )
    result = pt.evaluate(table, write_json(tmp / "r.json", results))
    reference = pycocotools_eval(doc, results, sigmas, tmp)
    np.testing.assert_array_equal(result.stats, reference.stats)
    np.testing.assert_array_equal(result.precision, reference.eval["precision"])


@SETTINGS
@given(case=coco_case())
def test_per_image_ap_equals_pycocotools_on_that_image_alone(case, tmp_path_factory):
    doc, results, sigmas = case
    ids = [a["id"] for a in doc["annotations"]]
    if not results or len(set(ids)) != len(ids):
        return  # with duplicate ids pycocotools moves annotations between images
    tmp = Path(tmp_path_factory.mktemp("img"))
    result = pt.evaluate_coco(
        write_json(tmp / "gt.json", doc), write_json(tmp / "r.json", results), sigmas=sigmas
    )
    per_sample = result.per_sample.to_pylist()
    for row in per_sample[:3]:
        one = {**doc, "images": [img for img in doc["images"] if img["id"] == row["image_id"]]}
        one["annotations"] = [a for a in doc["annotations"] if a["image_id"] == row["image_id"]]
        mine = [r for r in results if r["image_id"] == row["image_id"]]
        if not mine:
            continue
        reference = pycocotools_eval(one, mine, sigmas, tmp)
        expected = reference.stats[0]
        if expected < 0:
            assert row["ap"] is None
        else:
            assert abs(row["ap"] - expected) <= 1e-12
