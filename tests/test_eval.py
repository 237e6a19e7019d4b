"""Evaluation equals pycocotools on every real dataset, from files and from tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import posetable as pt
from posetable.eval import COCOeval, read_coco_results
from tests._coco_reference import (
    fill_for_pycocotools,
    perturbed_results,
    pycocotools_eval,
    rows_from_coco,
    write_json,
)

DATASETS = ["coco_kpts", "coco_wholebody", "crowdpose", "aic", "onehand10k", "horse10", "ap10k"]


def _doc(real_data, name: str) -> dict:
    return json.loads((real_data(name) / "annotations.json").read_text())


def _default_sigmas(k: int) -> np.ndarray:
    return np.asarray(pt.COCO_OKS_SIGMAS) if k == 17 else np.full(k, 1.0 / k)


def _k(doc: dict) -> int:
    return len(doc["annotations"][0]["keypoints"]) // 3


def assert_same(result: pt.EvaluationResult, reference) -> None:
    """The 10 stats (and the precision / recall arrays) equal pycocotools' to the last bit."""
    assert np.abs(result.stats - reference.stats).max() <= 1e-12
    np.testing.assert_array_equal(result.stats, reference.stats)
    np.testing.assert_array_equal(result.precision, reference.eval["precision"])
    np.testing.assert_array_equal(result.recall, reference.eval["recall"])


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_coco_equals_pycocotools_on_real_ground_truth(
    real_data, tmp_path, name, seed, eval_engine
):
    doc = _doc(real_data, name)
    results = perturbed_results(doc, seed=seed, with_bbox=seed == 2)
    results_path = write_json(tmp_path / "results.json", results)
    reference = pycocotools_eval(doc, results, _default_sigmas(_k(doc)), tmp_path)
    result = pt.evaluate_coco(real_data(name) / "annotations.json", results_path)
    assert_same(result, reference)


@pytest.mark.parametrize("name", ["coco_kpts", "crowdpose", "horse10"])
def test_custom_sigmas_equal_pycocotools_kpt_oks_sigmas(real_data, tmp_path, name, eval_engine):
    doc = _doc(real_data, name)
    k = _k(doc)
    sigmas = np.linspace(0.02, 0.11, k)
    results = perturbed_results(doc, seed=5)
    reference = pycocotools_eval(doc, results, sigmas, tmp_path)
    result = pt.evaluate_coco(
        real_data(name) / "annotations.json",
        write_json(tmp_path / "r.json", results),
        sigmas=sigmas,
    )
    assert_same(result, reference)
    np.testing.assert_array_equal(result.sigmas, sigmas)


def test_perfect_predictions_score_one(real_data, tmp_path):
    doc = _doc(real_data, "coco_kpts")
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 0.5}
        for a in doc["annotations"]
        if a["num_keypoints"] > 0
    ]
    result = pt.evaluate_coco(
        real_data("coco_kpts") / "annotations.json", write_json(tmp_path / "r.json", results)
    )
    assert result.ap == pytest.approx(1.0, abs=1e-12)
    assert result.ar == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", DATASETS)
def test_table_from_rows_equals_pycocotools_on_the_file(real_data, store, tmp_path, name):
    doc = _doc(real_data, name)
    filled = fill_for_pycocotools(doc)
    rows, schema, metadata = rows_from_coco(filled)
    schema = schema.replace(oks_sigmas=_default_sigmas(schema.num_keypoints))
    table = pt.Table.from_rows(rows, name="gt", schema=schema, store=store, metadata=metadata)
    results = perturbed_results(doc, seed=3)
    reference = pycocotools_eval(doc, results, table.schema.sigmas, tmp_path)
    result = pt.evaluate(table, write_json(tmp_path / "r.json", results))
    assert_same(result, reference)
    # the same predictions as per-row instances give the same numbers
    predictions = read_coco_results(tmp_path / "r.json", table)
    assert_same(pt.evaluate(table, predictions), reference)
    as_map = {row: item for row, item in enumerate(predictions) if item is not None}
    assert_same(pt.evaluate(table, as_map), reference)


def test_row_order_does_not_matter(real_data, store, tmp_path, eval_engine):
    doc = _doc(real_data, "coco_kpts")
    rows, _, metadata = rows_from_coco(doc)
    results = perturbed_results(doc, seed=7, extra=2.0)
    path = write_json(tmp_path / "r.json", results)
    table = pt.Table.from_rows(
        rows, name="a", schema=pt.Keypoints2DSchema.coco_person(), store=store, metadata=metadata
    )
    shuffled = pt.Table.from_rows(
        rows[::-1],
        name="b",
        schema=pt.Keypoints2DSchema.coco_person(),
        store=store,
        metadata=metadata,
    )
    first, second = pt.evaluate(table, path), pt.evaluate(shuffled, path)
    np.testing.assert_array_equal(first.stats, second.stats)
    np.testing.assert_array_equal(first.precision, second.precision)
    a = first.per_sample.sort_by("image_id").drop_columns(["row"])
    b = second.per_sample.sort_by("image_id").drop_columns(["row"])
    assert a.equals(b)


def test_table_without_coco_fields_uses_the_documented_defaults(store, tmp_path):
    """From-scratch tables: area = box w*h*0.53, iscrowd 0, num_keypoints = count(v>0), id 1..N."""
    gt = pt.Keypoints2DInstances.create_empty(num_keypoints=3)
    gt.add_instance([[10, 10, 2], [40, 60, 2], [70, 110, 1]])
    gt.add_instance([[0, 0, 0], [0, 0, 0], [0, 0, 0]], bbox=[100, 100, 150, 180])
    table = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 320, "height": 240, "keypoints": gt}],
        name="scratch",
        schema=pt.Keypoints2DSchema(3),
        store=store,
    )
    rng = np.random.default_rng(0)
    preds = pt.Keypoints2DInstances(
        np.stack([gt.keypoints[0] + rng.normal(0, 2, (3, 2)), np.full((3, 2), 120.0)]),
        keypoint_confidences=np.ones((2, 3)),
        instance_confidences=[0.9, 0.8],
    )
    result = pt.evaluate(table, [preds])
    box = gt.instance_bbs
    doc = {
        "images": [{"id": 0, "width": 320, "height": 240}],
        "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b", "c"]}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 0,
                "category_id": 1,
                "keypoints": gt.keypoints_with_visibility[i].ravel().tolist(),
                "bbox": [
                    float(v)
                    for v in (box[i, 0], box[i, 1], box[i, 2] - box[i, 0], box[i, 3] - box[i, 1])
                ],
            }
            for i in range(2)
        ],
    }
    results = [
        {"image_id": 0, "category_id": 1,
         "keypoints": np.concatenate([preds.keypoints[i], np.ones((3, 1))], 1).ravel().tolist(),
         "score": float(preds.instance_confidences[i])}
        for i in range(2)
    ]  # fmt: skip
    reference = pycocotools_eval(doc, results, table.schema.sigmas, tmp_path)
    assert_same(result, reference)
    gt_rows = result.per_instance.filter(
        pa.compute.equal(result.per_instance["kind"], "gt")
    ).to_pylist()
    assert [r["ignored"] for r in gt_rows] == [False, True]  # num_keypoints 0 -> ignored


def test_shim_is_a_drop_in_for_pycocotools(real_data, tmp_path, capsys):
    doc = _doc(real_data, "crowdpose")
    results = perturbed_results(doc, seed=11)
    sigmas = np.full(14, 0.079)
    reference = pycocotools_eval(doc, results, sigmas, tmp_path)
    filled = write_json(tmp_path / "filled.json", fill_for_pycocotools(doc))
    evaluator = COCOeval(str(filled), write_json(tmp_path / "r.json", results), "keypoints")
    evaluator.params.kpt_oks_sigmas = sigmas
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    np.testing.assert_array_equal(evaluator.stats, reference.stats)
    np.testing.assert_array_equal(evaluator.eval["precision"], reference.eval["precision"])
    np.testing.assert_array_equal(evaluator.eval["scores"], reference.eval["scores"])
    assert (
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]"
        in capsys.readouterr().out
    )


def test_shim_accepts_pycocotools_objects_and_image_subsets(real_data, tmp_path):
    import contextlib
    import io

    from pycocotools.coco import COCO

    doc = _doc(real_data, "coco_kpts")
    results = perturbed_results(doc, seed=4)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(real_data("coco_kpts") / "annotations.json"))
        dets = coco.loadRes(write_json(tmp_path / "r.json", results).as_posix())
    subset = sorted(img["id"] for img in doc["images"])[:2]
    evaluator = COCOeval(coco, dets, "keypoints")
    evaluator.params.imgIds = subset
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    from pycocotools.cocoeval import COCOeval as Reference

    with contextlib.redirect_stdout(io.StringIO()):
        reference = Reference(coco, coco.loadRes(results), "keypoints")
        reference.params.imgIds = subset
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    np.testing.assert_array_equal(evaluator.stats, reference.stats)


def test_summary_text_and_to_dict(real_data, tmp_path):
    doc = _doc(real_data, "coco_kpts")
    path = write_json(tmp_path / "r.json", perturbed_results(doc, seed=0))
    result = pt.evaluate_coco(real_data("coco_kpts") / "annotations.json", path)
    lines = str(result).splitlines()
    assert len(lines) == 10
    assert (
        lines[1]
        == " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ] = "
        + f"{result.ap50:0.3f}"
    )
    assert lines[9].startswith(
        " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ]"
    )
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert [data[k] for k in ("ap", "ap50", "ap75", "ap_medium", "ap_large")] == result.stats[
        :5
    ].tolist()
    assert data["sigmas"] == list(pt.COCO_OKS_SIGMAS)
    assert result.precision.shape == (10, 101, 1, 3, 1)
    assert result.recall.shape == (10, 1, 3, 1)
    with pytest.raises(AttributeError):
        result.stats = np.zeros(10)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        result.precision[0, 0, 0, 0, 0] = 0.5


@pytest.mark.integration
def test_plot_pr_draws_one_curve_per_threshold(real_data, tmp_path):
    pytest.importorskip("matplotlib")
    doc = _doc(real_data, "coco_kpts")
    result = pt.evaluate_coco(
        real_data("coco_kpts") / "annotations.json",
        write_json(tmp_path / "r.json", perturbed_results(doc, seed=1)),
    )
    figure = result.plot_pr()
    assert len(figure.axes[0].lines) == 10
    figure.savefig(tmp_path / "pr.png")
    assert (tmp_path / "pr.png").stat().st_size > 0


def test_json_ground_truth_with_per_row_predictions(real_data, tmp_path):
    """For a JSON GT, rows are the images in sorted id order."""
    gt_path = real_data("coco_kpts") / "annotations.json"
    doc = _doc(real_data, "coco_kpts")
    results = perturbed_results(doc, seed=9)
    expected = pt.evaluate_coco(gt_path, write_json(tmp_path / "r.json", results))
    image_ids = sorted(img["id"] for img in doc["images"])
    per_row: list[pt.Keypoints2DInstances | None] = [None] * len(image_ids)
    for row, image_id in enumerate(image_ids):
        mine = [r for r in results if r["image_id"] == image_id]
        if mine:
            kp = np.asarray([r["keypoints"] for r in mine]).reshape(len(mine), 17, 3)
            per_row[row] = pt.Keypoints2DInstances(
                kp[..., :2], keypoint_confidences=kp[..., 2],
                instance_confidences=[r["score"] for r in mine],
                instance_extras={"area": np.ptp(kp[..., 0], 1) * np.ptp(kp[..., 1], 1)},
            )  # fmt: skip
    got = pt.evaluate(gt_path, per_row)
    np.testing.assert_array_equal(got.stats, expected.stats)
    assert got.per_sample["image_id"].to_pylist() == image_ids


def test_ten_x_generated_file_equals_pycocotools(tmp_path, eval_engine):
    """A val2017-shaped file (generated, 300 images) with crowds, zero-keypoint persons, FPs."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from _eval_data import generate

    gt, results = generate(1, seed=3)
    keep = {img["id"] for img in gt["images"][:300]}
    gt["images"] = gt["images"][:300]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    results = [r for r in results if r["image_id"] in keep]
    reference = pycocotools_eval(gt, results, np.asarray(pt.COCO_OKS_SIGMAS), tmp_path)
    result = pt.evaluate_coco(
        write_json(tmp_path / "gt.json", gt), write_json(tmp_path / "r.json", results)
    )
    assert_same(result, reference)


@pytest.mark.parametrize("name", DATASETS)
def test_imported_table_equals_pycocotools_on_the_original_file(
    real_data, store, tmp_path, name, eval_engine
):
    """COCO -> Table.from_coco -> evaluate gives pycocotools' numbers on the original file."""
    import warnings

    folder = real_data(name)
    doc = _doc(real_data, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notes about derived fields / assumed sigmas
        table = pt.Table.from_coco(
            folder / "annotations.json",
            folder / "images" if (folder / "images").is_dir() else None,
            name="imported",
            store=store,
            missing_images="warn",
        )
    results = perturbed_results(doc, seed=12, with_bbox=name == "ap10k")
    path = write_json(tmp_path / "r.json", results)
    reference = pycocotools_eval(doc, results, table.schema.sigmas, tmp_path)
    assert_same(pt.evaluate(table, path), reference)
    run_like = read_coco_results(path, table)
    assert_same(pt.evaluate(table, run_like), reference)


@pytest.mark.parametrize("name", DATASETS)
def test_duckdb_ground_truth_reader_equals_the_plain_reader(real_data, tmp_path, monkeypatch, name):
    """The fast (DuckDB) ground-truth path reads every real file exactly as the plain one."""
    from posetable.eval import _gt_fast, _io

    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 0)
    path = real_data(name) / "annotations.json"
    fast = _gt_fast.read_ground_truth_fast(path)
    plain = _io._read_ground_truth(path)
    assert fast is not None
    for field in plain.__dataclass_fields__:
        a, b = getattr(fast, field), getattr(plain, field)
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    doc = _doc(real_data, name)
    results = perturbed_results(doc, seed=21)
    reference = pycocotools_eval(doc, results, _default_sigmas(_k(doc)), tmp_path)
    assert_same(pt.evaluate_coco(path, write_json(tmp_path / "r.json", results)), reference)


def test_duckdb_ground_truth_reader_falls_back_on_odd_files(tmp_path, monkeypatch):
    from posetable.eval import _gt_fast

    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 0)
    base = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "p", "keypoints": ["a", "b"]}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 2, 2, 3, 4, 1]}
        ],
    }
    # the key twice (once nested): ambiguous, plain reader
    odd = {**base, "info": {"annotations": "see the list"}}
    assert _gt_fast.read_ground_truth_fast(write_json(tmp_path / "a.json", odd)) is None
    # annotations as the last key, categories first: still found
    last = {
        "categories": base["categories"],
        "images": base["images"],
        "annotations": base["annotations"],
    }
    assert _gt_fast.read_ground_truth_fast(write_json(tmp_path / "b.json", last)) is not None
    # a string id: DuckDB cannot cast it, the plain reader handles it
    text_id = {**base, "annotations": [{**base["annotations"][0], "id": "x1"}]}
    assert _gt_fast.read_ground_truth_fast(write_json(tmp_path / "c.json", text_id)) is None
    # a bad visibility is named by the plain reader
    bad = {**base, "annotations": [{**base["annotations"][0], "keypoints": [1, 2, 3, 3, 4, 1]}]}
    path = write_json(tmp_path / "d.json", bad)
    assert _gt_fast.read_ground_truth_fast(path) is None
    with pytest.raises(
        pt.errors.FormatError, match=r"annotations\[0\] \(id 1\): visibility must be"
    ):
        pt.evaluate_coco(path, write_json(tmp_path / "r.json", []))


def test_plot_pr_without_matplotlib_names_the_extra(real_data, tmp_path, monkeypatch):
    import sys

    doc = _doc(real_data, "coco_kpts")
    result = pt.evaluate_coco(
        real_data("coco_kpts") / "annotations.json",
        write_json(tmp_path / "r.json", perturbed_results(doc, seed=1)),
    )
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(pt.errors.MissingDependencyError, match=r'pip install "posetable\[plot\]"'):
        result.plot_pr()
