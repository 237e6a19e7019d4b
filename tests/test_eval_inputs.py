"""Evaluation inputs: predictions in every accepted form, per-sample / per-instance tables,
bad input (typed errors or defined results), and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import posetable as pt
from posetable._arrow import instances_to_arrow
from posetable.cli import main
from posetable.errors import FormatError, InstancesError, PosetableError, SchemaError
from posetable.eval import read_coco_results
from tests._coco_reference import perturbed_results, pycocotools_eval, rows_from_coco, write_json


@pytest.fixture
def coco(real_data):
    return json.loads((real_data("coco_kpts") / "annotations.json").read_text())


@pytest.fixture
def gt_path(real_data):
    return real_data("coco_kpts") / "annotations.json"


@pytest.fixture
def table(coco, store):
    rows, _, metadata = rows_from_coco(coco)
    return pt.Table.from_rows(
        rows, name="gt", schema=pt.Keypoints2DSchema.coco_person(), store=store, metadata=metadata
    )


def _results(tmp_path, coco, **kw):
    return write_json(
        tmp_path / "results.json", perturbed_results(coco, seed=kw.pop("seed", 0), **kw)
    )


# -- predictions in every form ----------------------------------------------------------
def test_arrow_predictions_table_gives_the_same_numbers(table, coco, tmp_path):
    path = _results(tmp_path, coco)
    expected = pt.evaluate(table, path)
    per_row = read_coco_results(path, table)
    rows = [r for r, item in enumerate(per_row) if item is not None]
    items = [per_row[r] for r in rows]
    column = instances_to_arrow(
        items,
        num_keypoints=17,
        extras={"area": pa.float64()},
        widths=[1.0] * len(items),
        heights=[1.0] * len(items),
    )
    arrow = pa.table({"row": pa.array(rows, pa.int64()), "keypoints": column})
    got = pt.evaluate(table, arrow)
    np.testing.assert_array_equal(got.stats, expected.stats)


def test_table_sigmas_are_the_default(coco, store, tmp_path):
    rows, _, metadata = rows_from_coco(coco)
    sigmas = np.linspace(0.03, 0.1, 17)
    table = pt.Table.from_rows(
        rows,
        name="s",
        schema=pt.Keypoints2DSchema(17, oks_sigmas=sigmas),
        store=store,
        metadata=metadata,
    )
    path = _results(tmp_path, coco, seed=2)
    result = pt.evaluate(table, path)
    np.testing.assert_array_equal(result.sigmas, sigmas)
    np.testing.assert_array_equal(
        result.stats, pycocotools_eval(coco, json.loads(path.read_text()), sigmas, tmp_path).stats
    )
    uniform = pt.Table.from_rows(
        rows, name="u", schema=pt.Keypoints2DSchema(17), store=store, metadata=metadata
    )
    np.testing.assert_array_equal(pt.evaluate(uniform, path).sigmas, np.full(17, 1 / 17))


def test_read_coco_results_aligns_with_rows(table, coco, tmp_path):
    results = perturbed_results(coco, seed=1, with_bbox=True)
    items = read_coco_results(write_json(tmp_path / "r.json", results), table)
    assert len(items) == len(table)
    image_ids = table.to_arrow(columns=["image_id"]).column("image_id").to_pylist()
    for row, item in enumerate(items):
        mine = [r for r in results if r["image_id"] == image_ids[row]]
        if not mine:
            assert item is None
            continue
        assert len(item) == len(mine)
        np.testing.assert_array_equal(item.instance_confidences, [r["score"] for r in mine])
        np.testing.assert_array_equal(
            item.keypoints[0].ravel(),
            np.asarray(mine[0]["keypoints"]).reshape(17, 3)[:, :2].ravel(),
        )
        np.testing.assert_allclose(
            item.instance_bbs_xywh[:, 2:], [r["bbox"][2:] for r in mine], rtol=1e-12
        )
        assert item.keypoint_confidences is not None


# -- per-sample and per-instance tables ---------------------------------------------------
def test_per_sample_counts_agree_with_the_matches(gt_path, coco, tmp_path):
    result = pt.evaluate_coco(gt_path, _results(tmp_path, coco, seed=3, extra=1.5))
    ps = result.per_sample
    assert ps.column_names == [
        "row", "image_id", "num_gt", "num_gt_ignored", "num_pred", "tp_50", "fp_50",
        "fn_50", "tp_75", "fp_75", "fn_75", "mean_oks", "ap",
    ]  # fmt: skip
    assert ps["row"].to_pylist() == list(range(len(coco["images"])))
    assert ps["image_id"].to_pylist() == sorted(img["id"] for img in coco["images"])
    n_valid = sum(1 for a in coco["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"])
    assert pc.sum(ps["num_gt"]).as_py() == n_valid
    assert pc.sum(ps["num_gt"]).as_py() + pc.sum(ps["num_gt_ignored"]).as_py() == len(
        coco["annotations"]
    )
    # recall at .50 over all images is AR50 (one category, no image over 20 predictions)
    assert pc.sum(ps["tp_50"]).as_py() / n_valid == pytest.approx(result.ar50, abs=1e-12)
    for row in ps.to_pylist():
        assert row["tp_50"] + row["fn_50"] == row["num_gt"]
        assert row["tp_75"] <= row["tp_50"]
        if row["tp_50"]:
            assert 0.5 <= row["mean_oks"] <= 1
        else:
            assert row["mean_oks"] is None


def test_per_instance_partners_and_keypoint_errors(gt_path, coco, tmp_path):
    results = perturbed_results(coco, seed=4)
    result = pt.evaluate_coco(gt_path, write_json(tmp_path / "r.json", results))
    pi = result.per_instance
    assert pi.column_names == [
        "row",
        "kind",
        "index",
        "category",
        "score",
        "partner",
        "oks",
        "ignored",
        "tp",
        "keypoint_errors",
    ]
    gts = pi.filter(pc.equal(pi["kind"], "gt")).to_pylist()
    preds = pi.filter(pc.equal(pi["kind"], "pred")).to_pylist()
    assert len(gts) == len(coco["annotations"]) and len(preds) == len(results)
    by_key = {(r["row"], r["kind"], r["index"]): r for r in gts + preds}
    for p in preds:
        assert len(p["tp"]) == 10 and p["score"] is not None
        if p["partner"] >= 0:
            g = by_key[(p["row"], "gt", p["partner"])]
            assert g["partner"] == p["index"]
            assert g["oks"] == p["oks"] >= 0.5
            assert p["tp"][0] == (not g["ignored"])
            errors = np.array([np.nan if e is None else e for e in p["keypoint_errors"]])
            assert len(errors) == 17
            # OKS recomputed from the normalised errors
            sigmas = np.asarray(pt.COCO_OKS_SIGMAS)
            labeled = ~np.isnan(errors)
            if labeled.any() and not g["ignored"]:
                e = errors[labeled] ** 2 / (2 * sigmas[labeled]) ** 2 / 2
                assert np.exp(-e).mean() == pytest.approx(p["oks"], rel=1e-9)
        else:
            assert p["keypoint_errors"] is None and not any(p["tp"])
    # row / index point back at the file: GT index = position among its image's annotations
    image_ids = sorted(img["id"] for img in coco["images"])
    for g in gts:
        ann = [a for a in coco["annotations"] if a["image_id"] == image_ids[g["row"]]][g["index"]]
        assert g["ignored"] == (ann["num_keypoints"] == 0 or bool(ann["iscrowd"]))
        assert g["score"] is None
    assert isinstance(result.per_instance_df().shape, tuple)
    assert result.per_sample_df().shape[0] == len(coco["images"])


def test_predictions_past_the_top_twenty_are_listed_but_not_evaluated(gt_path, coco, tmp_path):
    image = coco["annotations"][0]["image_id"]
    base = np.asarray(coco["annotations"][0]["keypoints"], float)
    results = [
        {"image_id": image, "category_id": 1, "keypoints": base.tolist(), "score": 0.01 * (i + 1)}
        for i in range(25)
    ]
    result = pt.evaluate_coco(gt_path, write_json(tmp_path / "r.json", results))
    preds = result.per_instance.filter(pc.equal(result.per_instance["kind"], "pred")).to_pylist()
    low = [p for p in preds if p["score"] < 0.055]  # the 5 lowest scores
    assert len(low) == 5 and all(p["ignored"] and p["partner"] == -1 for p in low)
    reference = pycocotools_eval(coco, results, np.asarray(pt.COCO_OKS_SIGMAS), tmp_path)
    np.testing.assert_array_equal(result.stats, reference.stats)


# -- bad input ------------------------------------------------------------------------------
def test_empty_prediction_set_gives_zero_not_a_crash(gt_path, table, tmp_path):
    result = pt.evaluate_coco(gt_path, write_json(tmp_path / "r.json", []))
    assert result.ap == 0.0 and result.ar == 0.0
    assert pt.evaluate(table, [None] * len(table)).ap == 0.0
    assert pt.evaluate(table, {}).ar50 == 0.0
    assert pc.sum(result.per_sample["fn_50"]).as_py() == pc.sum(result.per_sample["num_gt"]).as_py()


def test_unknown_image_is_a_format_error(gt_path, table, coco, tmp_path):
    bad = perturbed_results(coco, seed=0)
    bad.append({**bad[0], "image_id": 123456789})
    path = write_json(tmp_path / "r.json", bad)
    for call in (
        lambda: pt.evaluate_coco(gt_path, path),
        lambda: pt.evaluate(table, path),
        lambda: read_coco_results(path, table),
    ):
        with pytest.raises(
            FormatError, match=r"results\[\d+\]: image_id 123456789 is not an image"
        ):
            call()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("score"), r"results\[3\].*missing 'score'"),
        (
            lambda r: r.update(score=None),
            r"results\[3\].*'score' must be a finite number, got None",
        ),
        (
            lambda r: r.update(keypoints=r["keypoints"][:-3]),
            r"results\[3\].*must hold 3K=51 values .*got 48",
        ),
        (
            lambda r: r.update(keypoints=[None, *r["keypoints"][1:]]),
            r"results\[3\].*finite numbers, got None",
        ),
        (lambda r: r.pop("image_id"), r"results\[3\].*missing 'image_id'"),
    ],
)
def test_malformed_results_name_the_result(gt_path, coco, tmp_path, change, message):
    results = perturbed_results(coco, seed=0)
    change(results[3])
    with pytest.raises(FormatError, match=message):
        pt.evaluate_coco(gt_path, write_json(tmp_path / "r.json", results))


def test_nan_in_results_is_named(gt_path, coco, tmp_path):
    results = perturbed_results(coco, seed=0)
    results[2]["score"] = float("nan")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))  # Python's json writes NaN literals
    with pytest.raises(
        FormatError, match=r"results\[2\].*'score' must be a finite number, got nan"
    ):
        pt.evaluate_coco(gt_path, path)
    results[2]["score"] = 0.5
    results[5]["keypoints"][4] = float("nan")
    path.write_text(json.dumps(results))
    with pytest.raises(FormatError, match=r"results\[5\].*finite numbers, got nan"):
        pt.evaluate_coco(gt_path, path)


def test_invalid_json_names_line(gt_path, tmp_path):
    path = tmp_path / "r.json"
    path.write_text('[\n{"image_id": 1,\n "score": }\n]')
    with pytest.raises(FormatError, match=r"r.json:3: invalid JSON at line 3"):
        pt.evaluate_coco(gt_path, path)
    with pytest.raises(FormatError, match="must be a JSON list"):
        pt.evaluate_coco(gt_path, write_json(tmp_path / "o.json", {"image_id": 1}))


def test_bbox_on_first_result_only_is_an_error(gt_path, coco, tmp_path):
    results = perturbed_results(coco, seed=0, with_bbox=True)
    del results[4]["bbox"]
    with pytest.raises(
        FormatError, match=r"results\[4\]: no 'bbox' while the first result has one"
    ):
        pt.evaluate_coco(gt_path, write_json(tmp_path / "r.json", results))


@pytest.mark.parametrize(
    ("sigmas", "message"),
    [
        ([0.1] * 16, "length K=17, got 16"),
        ([0.1] * 16 + [0.0], "> 0, got 0.0 at index 16"),
        ([0.1] * 16 + [-1], "> 0"),
    ],
)
def test_bad_sigmas_are_schema_errors(gt_path, table, coco, tmp_path, sigmas, message):
    path = _results(tmp_path, coco)
    with pytest.raises(SchemaError, match=message):
        pt.evaluate_coco(gt_path, path, sigmas=sigmas)
    with pytest.raises(SchemaError, match=message):
        pt.evaluate(table, path, sigmas=sigmas)


def test_bad_per_row_predictions_are_typed_errors(table):
    n = len(table)
    wrong_k = pt.Keypoints2DInstances(
        np.zeros((1, 16, 2)), keypoint_confidences=np.ones((1, 16)), instance_confidences=[0.5]
    )
    with pytest.raises(InstancesError, match="row 0: predictions must have K=17 keypoints, got 16"):
        pt.evaluate(table, [wrong_k] + [None] * (n - 1))
    no_score = pt.Keypoints2DInstances(np.zeros((1, 17, 2)), keypoint_confidences=np.ones((1, 17)))
    with pytest.raises(InstancesError, match="row 1: predictions need a score"):
        pt.evaluate(table, {1: no_score})
    nan = pt.Keypoints2DInstances(
        np.zeros((1, 17, 2)), keypoint_confidences=np.ones((1, 17)), instance_confidences=[0.5]
    )
    nan.keypoints[0, 3, 0] = np.nan  # mutated after validation
    with pytest.raises(InstancesError, match="row 2, prediction 0: keypoints must be finite"):
        pt.evaluate(table, {2: nan})
    with pytest.raises(InstancesError, match=f"predictions for row {n + 5}"):
        pt.evaluate(table, {n + 5: nan})
    with pytest.raises(InstancesError, match=f"aligned with the {n} ground-truth rows"):
        pt.evaluate(table, [None])
    with pytest.raises(TypeError, match="predictions must be"):
        pt.evaluate(table, 42)  # type: ignore[arg-type]


def test_errors_are_posetable_errors_and_value_errors(gt_path, tmp_path):
    with pytest.raises(PosetableError):
        pt.evaluate_coco(gt_path, tmp_path / "missing.json")
    with pytest.raises(ValueError):
        pt.evaluate_coco(gt_path, tmp_path / "missing.json")


def test_ground_truth_missing_fields_are_filled(real_data, tmp_path):
    """AI Challenger has no area / iscrowd; OneHand10K no num_keypoints: filled, then exact."""
    for name in ("aic", "onehand10k"):
        doc = json.loads((real_data(name) / "annotations.json").read_text())
        k = len(doc["annotations"][0]["keypoints"]) // 3
        results = perturbed_results(doc, seed=6)
        result = pt.evaluate_coco(
            real_data(name) / "annotations.json", write_json(tmp_path / "r.json", results)
        )
        reference = pycocotools_eval(doc, results, np.full(k, 1 / k), tmp_path)
        np.testing.assert_array_equal(result.stats, reference.stats)


def test_annotation_id_zero_reproduces_pycocotools_and_is_logged(coco, tmp_path, caplog):
    doc = json.loads(json.dumps(coco))
    doc["annotations"][0]["id"] = 0
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 0.9}
        for a in doc["annotations"]
    ]
    result = pt.evaluate_coco(
        write_json(tmp_path / "gt.json", doc), write_json(tmp_path / "r.json", results)
    )
    reference = pycocotools_eval(doc, results, np.asarray(pt.COCO_OKS_SIGMAS), tmp_path)
    np.testing.assert_array_equal(result.stats, reference.stats)
    assert result.ap < 1.0  # the perfect match on id 0 counted as a false positive
    assert "annotation with id 0" in caplog.text


# -- CLI --------------------------------------------------------------------------------------
def test_cli_prints_the_summary_and_writes_json(gt_path, coco, tmp_path, capsys):
    path = _results(tmp_path, coco)
    out = tmp_path / "stats.json"
    assert main(["eval", str(gt_path), str(path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = pt.evaluate_coco(gt_path, path)
    assert printed.strip() == expected.summary().strip()
    assert printed.strip().splitlines()[-1] == " OKS sigmas: COCO (K=17)"
    assert json.loads(out.read_text())["ap"] == expected.ap


def test_cli_evaluates_a_table_with_sigmas(table, coco, store, tmp_path, capsys):
    path = _results(tmp_path, coco, seed=8)
    sigmas = ",".join(["0.05"] * 17)
    assert main(["eval", table.ref, str(path), "--sigmas", sigmas, "--store", str(store)]) == 0
    expected = pt.evaluate(table, path, sigmas=[0.05] * 17)
    assert capsys.readouterr().out.strip() == expected.summary().strip()
    assert expected.sigmas_source == "user"
    assert main(["eval", table.ref, str(path), "--sigmas", "0.1,0.2", "--store", str(store)]) == 2
    assert "length K=17, got 2" in capsys.readouterr().err
