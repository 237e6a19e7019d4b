"""Runs: predictions bound to a table revision, metrics with the table's sigmas."""

from __future__ import annotations

import shutil

import numpy as np
import orjson
import pyarrow as pa
import pytest

import posetable as pt
from posetable.errors import NotFoundError, PosetableWarning, RunError
from posetable.eval.result import STAT_NAMES
from tests._predictions import noisy_predictions

STATS = STAT_NAMES


def test_run_metrics_equal_evaluate_on_the_same_data(coco_table):
    predictions = noisy_predictions(coco_table, seed=1)
    run = pt.Run.from_predictions(
        coco_table, predictions, name="noisy", model_info={"model": "gt+noise"}
    )
    expected = pt.evaluate(coco_table, predictions)
    assert run.metrics == {m: float(getattr(expected, m)) for m in STATS}
    assert run.table_ref == coco_table.ref
    np.testing.assert_array_equal(run.sigmas, coco_table.schema.sigmas)


def _assert_predictions_of_rows(run, predictions) -> None:
    """``run.predictions(row)`` of every row is ``predictions[row]`` (None where None)."""
    for row, expected in enumerate(predictions):
        got = run.predictions(row)
        assert (got is None) == (expected is None)
        if expected is not None:
            np.testing.assert_array_equal(got.keypoints, expected.keypoints)
            np.testing.assert_array_equal(got.keypoint_confidences, expected.keypoint_confidences)
            np.testing.assert_array_equal(got.instance_confidences, expected.instance_confidences)


def test_run_round_trips_through_the_store(coco_table, store):
    predictions = noisy_predictions(coco_table, seed=2)
    made = pt.Run.from_predictions(coco_table, predictions, name="r1")
    opened = pt.Run.open("r1", store=store)
    assert opened.metrics == made.metrics
    assert opened.table().ref == coco_table.ref
    assert opened.model_info == {}
    _assert_predictions_of_rows(opened, predictions)
    per_sample = opened.per_sample
    assert sorted(per_sample.column("row").to_pylist()) == list(range(len(coco_table)))
    manifest = orjson.loads((store / "runs" / "r1" / "manifest.json").read_bytes())
    assert manifest["table"] == {
        "name": "coco",
        "revision": coco_table.revision,
        "rows": len(coco_table),
    }


def test_add_predictions_one_row_at_a_time(coco_table):
    predictions = noisy_predictions(coco_table, seed=3)
    run = pt.Run.create(coco_table, name="incremental", model_info={"epochs": 3})
    for row, instances in enumerate(predictions):
        if instances is not None:
            run.add_predictions(row, instances)
    finished = run.finish()
    assert (
        finished.metrics
        == pt.Run.from_predictions(coco_table, predictions, name="all-at-once").metrics
    )
    assert finished.model_info == {"epochs": 3}


def test_metrics_use_the_tables_sigmas(coco_table):
    predictions = noisy_predictions(coco_table, seed=4)
    loose = pt.KeypointHelper.edit_oks_sigmas(coco_table, [0.2] * 17)
    strict_run = pt.Run.from_predictions(coco_table, predictions, name="strict")
    loose_run = pt.Run.from_predictions(loose, predictions, name="loose")
    assert loose_run.sigmas.tolist() == [0.2] * 17
    assert loose_run.metrics["ap"] >= strict_run.metrics["ap"]
    assert loose_run.metrics == {
        m: float(getattr(pt.evaluate(loose, predictions), m)) for m in STATS
    }
    with pytest.warns(PosetableWarning, match="not comparable"):
        compared = pt.compare_runs([strict_run, loose_run])
    assert compared.column("run").to_pylist() == ["strict", "loose"]
    assert compared.column("ap").to_pylist() == [strict_run.metrics["ap"], loose_run.metrics["ap"]]


def test_list_runs_filters_by_table(coco_table, store):
    pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="a")
    other = pt.Table.from_rows(
        [{"image": "x.jpg", "width": 10, "height": 10}],
        name="other",
        schema=pt.Keypoints2DSchema(3),
        store=store,
    )
    pt.Run.from_predictions(other, [None], name="b")
    assert pt.list_runs(store=store) == ["a", "b"]
    assert pt.list_runs(coco_table) == ["a"]
    assert pt.list_runs("other", store=store) == ["b"]


def test_instance_scores_above_one_work(coco_table):
    predictions = noisy_predictions(coco_table, seed=5, scores_above_one=True)
    run = pt.Run.from_predictions(coco_table, predictions, name="big-scores")
    assert 0.0 <= run.metrics["ap"] <= 1.0


def test_predictions_of_a_row_are_that_rows_in_all_predictions(coco_table):
    """Rows with predictions give theirs, rows without give None (found by a binary search
    of the run's sorted rows, not a dict of every row)."""
    predictions = noisy_predictions(coco_table, seed=6)
    predictions[1] = None  # a row the run has no entry for
    run = pt.Run.from_predictions(coco_table, dict(enumerate(predictions)), name="some-rows")
    every = run.all_predictions()
    assert every[1] is None and run.predictions(1) is None
    _assert_predictions_of_rows(run, every)


def test_predictions_for_a_row_that_does_not_exist(coco_table):
    run = pt.Run.create(coco_table, name="bad")
    with pytest.raises(
        pt.errors.RowIndexError, match=r"row_index must be a row number in \[0, 3\] \(table coco@1"
    ):
        run.add_predictions(99, noisy_predictions(coco_table)[0])


def test_predictions_with_another_k(coco_table):
    run = pt.Run.create(coco_table, name="bad-k")
    wrong = pt.Keypoints2DInstances(
        np.zeros((1, 5, 2)), keypoint_confidences=np.ones((1, 5)), instance_confidences=[0.9]
    )
    with pytest.raises(RunError, match="K=17"):
        run.add_predictions(0, wrong)


def test_a_run_whose_table_revision_is_gone(coco_table, store):
    evaluated = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="orphan")
    ap = evaluated.materialize().metrics["ap"]  # evaluated once: kept in the run's folder
    never = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="never")
    shutil.rmtree(store / "tables" / "coco.lance")
    run = pt.Run.open("orphan", store=store)
    assert run.metrics["ap"] == ap > 0  # the kept metrics stay readable
    assert run.per_sample.num_rows == len(coco_table)
    with pytest.raises(RunError, match="coco@1, which no longer exists"):
        run.table()
    lost = pt.Run.open("never", store=store)
    assert "not evaluated yet" in repr(lost)  # a repr never evaluates
    with pytest.raises(RunError, match=r"'never' was never evaluated.*coco@1, which no longer"):
        _ = lost.metrics
    assert lost.predictions(0) == never.predictions(0)  # its predictions are still whole


def test_unknown_run_lists_the_known_ones(coco_table, store):
    pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="known")
    with pytest.raises(NotFoundError, match="known runs: known"):
        pt.Run.open("nope", store=store)


def test_run_names_are_not_overwritten(coco_table):
    pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="once")
    with pytest.raises(RunError, match="already exists"):
        pt.Run.create(coco_table, name="once")


def test_confidence_filtered_metrics_view(coco_table):
    run = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=6), name="view")
    unfiltered = run.evaluate()
    assert unfiltered.ap == run.metrics["ap"]
    nothing = run.evaluate(instance_confidence_threshold=10.0)
    assert nothing.ap == 0.0
    with pytest.raises(
        RunError, match=r"keypoint_confidence_threshold must be in \[0, 1\], got 1.5"
    ):
        run.evaluate(keypoint_confidence_threshold=1.5)


def test_pr_curves_have_one_curve_per_oks_threshold(coco_table):
    run = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="pr")
    curves = run.pr_curves()
    assert curves["precision"].shape == (10, 101)
    assert curves["oks_thresholds"][0] == 0.5


def test_run_from_yolo_predictions_equals_evaluating_the_files(coco_table, tmp_path):
    """Ultralytics-style predicted label files (normalised, x y conf per point, box conf)."""
    folder = tmp_path / "predict" / "labels"
    folder.mkdir(parents=True)
    predictions = noisy_predictions(coco_table, seed=9)
    for row, (record, predicted) in enumerate(zip(coco_table, predictions, strict=True)):
        w, h = record["width"], record["height"]
        lines = []
        for i in range(len(predicted)):
            x0, y0, x1, y1 = predicted.instance_bbs[i]
            values = [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
            for (x, y), c in zip(
                predicted.keypoints[i], predicted.keypoint_confidences[i], strict=True
            ):
                values += [x / w, y / h, float(c)]
            values.append(float(predicted.instance_confidences[i]))
            lines.append("0 " + " ".join(f"{v:.6f}" for v in values))
        stem = record["image"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if row != 3:  # an image the model wrote no file for
            (folder / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    run = pt.Run.from_yolo_predictions(coco_table, tmp_path / "predict", name="yolo")
    read = pt.read_yolo_predictions(tmp_path / "predict", coco_table)
    assert read[3] is None and run.predictions(3) is None
    expected = pt.evaluate(coco_table, read)
    assert run.metrics == {m: float(getattr(expected, m)) for m in STATS}
    assert run.model_info["source"] == str(tmp_path / "predict")
    np.testing.assert_allclose(run.predictions(0).keypoints, predictions[0].keypoints, atol=1e-3)


def _same_result(a: pt.EvaluationResult, b: pt.EvaluationResult) -> None:
    np.testing.assert_array_equal(a.stats, b.stats)
    np.testing.assert_array_equal(a.precision, b.precision)
    assert a.per_sample.equals(b.per_sample)
    assert a.per_instance.equals(b.per_instance)


def test_evaluating_a_run_reads_its_flat_columns_and_equals_evaluating_its_predictions(
    coco_table, store
):
    predictions = noisy_predictions(coco_table, seed=11)
    pt.Run.from_predictions(coco_table, predictions, name="flat")
    run = pt.Run.open("flat", store=store)
    assert (run.path / "predictions_eval" / "keypoints.npy").is_file()
    arrays = run.prediction_arrays()
    assert isinstance(arrays.keypoints, np.memmap) and not arrays.keypoints.flags.writeable
    columns = run.prediction_columns()
    assert columns.num_rows == sum(len(p) for p in predictions if p is not None)
    assert columns.column_names == [
        "row", "sample_id", "index", "label", "score", "area", "keypoints"
    ]  # fmt: skip
    expected = pt.evaluate(coco_table, predictions)
    _same_result(pt.evaluate(coco_table, run), expected)
    _same_result(run.evaluate(), expected)


def test_a_run_written_without_flat_columns_still_evaluates(coco_table, store):
    predictions = noisy_predictions(coco_table, seed=12)
    pt.Run.from_predictions(coco_table, predictions, name="old")
    shutil.rmtree(store / "runs" / "old" / "predictions_eval")
    run = pt.Run.open("old", store=store)
    _same_result(pt.evaluate(coco_table, run), pt.evaluate(coco_table, predictions))


def test_a_run_written_with_the_arrow_flat_columns_file_still_evaluates(coco_table, store):
    """Runs written before ``predictions_eval/`` kept the same columns in one Arrow IPC
    file, ``predictions_eval.arrow``; they are read as they are."""
    predictions = noisy_predictions(coco_table, seed=14)
    made = pt.Run.from_predictions(coco_table, predictions, name="arrow-era")
    columns = made.prediction_columns()
    shutil.rmtree(made.path / "predictions_eval")
    path = made.path / "predictions_eval.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, columns.schema) as writer:
        writer.write_table(columns)
    run = pt.Run.open("arrow-era", store=store)
    assert run.prediction_columns().equals(columns)
    _same_result(pt.evaluate(coco_table, run), pt.evaluate(coco_table, predictions))


def test_a_run_evaluates_on_a_descendant_revision_by_sample(coco_table):
    predictions = noisy_predictions(coco_table, seed=13)
    run = pt.Run.from_predictions(coco_table, predictions, name="before-edit")
    tuned = coco_table.with_schema(coco_table.schema.replace(oks_sigmas=[0.06] * 17))
    _same_result(pt.evaluate(tuned, run), pt.evaluate(tuned, predictions))
    fewer = tuned.delete_rows([0])
    assert fewer.revision > tuned.revision
    _same_result(pt.evaluate(fewer, run), pt.evaluate(fewer, predictions[1:]))


def test_a_run_evaluates_on_a_table_derived_from_its_own_with_edited_sigmas(coco_table):
    predictions = noisy_predictions(coco_table, seed=15)
    run = pt.Run.from_predictions(coco_table, predictions, name="r")
    tuned = pt.KeypointHelper.edit_oks_sigmas(coco_table, [0.06] * 17)  # a NEW table
    assert tuned.source == coco_table.ref and tuned.name != coco_table.name
    _same_result(pt.evaluate(tuned, run), pt.evaluate(tuned, predictions))
    assert pt.evaluate(tuned, run).ap != pt.evaluate(coco_table, run).ap


def test_a_run_is_refused_by_another_table_or_a_json_file(coco_table, real_data, store):
    run = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=14), name="r")
    other = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 8, "height": 8}],
        name="other",
        schema=pt.Keypoints2DSchema(17),
        store=store,
    )
    with pytest.raises(RunError, match=r"made on coco@1, which is not an ancestor of other@1"):
        pt.evaluate(other, run)
    with pytest.raises(TypeError, match="a Run is evaluated against a table"):
        pt.evaluate(real_data("coco_kpts") / "annotations.json", run)


def test_sample_columns_of_the_users_own_are_kept_beside_the_metrics(coco_table) -> None:
    predictions = noisy_predictions(coco_table, seed=16)
    n = len(coco_table)
    loss = np.linspace(0.5, 2.0, n)
    loss[1] = np.nan  # a row without a value
    embedding = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    run = pt.Run.from_predictions(
        coco_table,
        predictions,
        name="project/run/val-epoch-1",  # runs have path-like names, as tables do
        sample_columns={"loss_pose": loss, "embedding": embedding},
    )
    per_sample = run.per_sample
    assert {"loss_pose", "embedding_0", "embedding_1"} <= set(per_sample.column_names)
    by_row = dict(
        zip(
            per_sample.column("row").to_pylist(),
            per_sample.column("loss_pose").to_pylist(),
            strict=True,
        )
    )
    assert by_row[0] == loss[0] and by_row[1] is None
    assert pt.list_runs(store=coco_table.store) == ["project/run/val-epoch-1"]
    assert pt.Run.open("project/run/val-epoch-1", store=coco_table.store).metrics == run.metrics
    for bad, match in (
        ({"loss": np.ones(n + 1)}, "one value .* per table row"),
        ({"ap": np.ones(n)}, "would replace metrics"),
        ({"row": np.ones(n)}, "other than"),
        ({"loss": np.full(n, np.inf)}, "inf"),
        ({"loss": ["a"] * n}, "must hold numbers"),
    ):
        with pytest.raises(RunError, match=match):
            pt.Run.from_predictions(coco_table, predictions, name="bad", sample_columns=bad)
    assert not (coco_table.store.runs_dir / "bad").exists()


@pytest.mark.parametrize("folder", ["coco_kpts", "crowdpose", "aic", "onehand10k", "ap10k"])
def test_a_run_exported_as_coco_results_comes_back_the_same(folder, real_data, store, tmp_path):
    """export_coco_results -> from_coco_results (read into flat columns, no object per row)
    gives the run back: the same predictions, per-sample and per-instance metrics, and the
    numbers of evaluating the file itself."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(
            real_data(folder) / "annotations.json",
            real_data(folder) / "images",
            name=folder,
            store=store,
        )
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=3), name="objects")
    path = run.export_coco_results(tmp_path / "results.json")
    entries = orjson.loads(path.read_bytes())
    assert len(entries) == run.manifest["counts"]["predictions"] > 0
    assert set(entries[0]) == {"image_id", "category_id", "keypoints", "score", "bbox"}
    back = pt.Run.from_coco_results(table, path, name="columns")
    assert back.metrics == run.metrics
    before, after = (
        [(r["row"], r["keypoints"]) for r in x.predictions_arrow().to_pylist()] for x in (run, back)
    )
    assert [r for r, _ in before] == [r for r, _ in after]
    for (_, a), (_, b) in zip(before, after, strict=True):
        assert a["instances_additional_data"] == b["instances_additional_data"]
        for i, j in zip(a["instances"], b["instances"], strict=True):
            assert i["vertices_2d"] == j["vertices_2d"]
            assert i["vertices_2d_additional_data"] == j["vertices_2d_additional_data"]
            # [x, y, w, h] -> xyxy: x + (x2 - x) may differ from x2 in the last bit
            np.testing.assert_allclose(i["bbs_2d"], j["bbs_2d"], rtol=1e-12)
    assert back.per_sample.equals(run.per_sample)
    assert back.per_instance.equals(run.per_instance)
    # the columnar reader and the per-row objects agree
    objects = pt.Run.from_predictions(
        table, pt.eval.read_coco_results(path, table), name="objects-again"
    )
    assert objects.predictions_arrow().equals(back.predictions_arrow())
    assert pt.evaluate(table, path).stats.tolist() == [back.metrics[m] for m in STAT_NAMES]


def test_a_run_is_refused_by_a_descendant_whose_skeleton_changed(coco_table):
    """Reordered (or renamed) keypoints would score the run's points in another layout."""
    run = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=5), name="r")
    # a descendant with the same keypoints (edited sigmas) still evaluates
    tuned = coco_table.with_schema(coco_table.schema.replace(oks_sigmas=[0.05] * 17))
    assert pt.evaluate(tuned, run).ap > 0
    names = list(coco_table.schema.keypoint_names)
    reordered = tuned.reorder_keypoints([names[1], names[0], *names[2:]])
    with pytest.raises(RunError, match=r"skeleton changed since.*make a new run"):
        pt.evaluate(reordered, run)
    renamed = reordered.rename_keypoints({"nose": "snout"})
    with pytest.raises(RunError, match="K=17: left_eye, snout, right_eye"):
        pt.evaluate(renamed, run)


def test_a_run_records_where_its_sigmas_came_from(coco_table):
    run = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="src")
    assert run.sigmas_source == coco_table.schema.oks_sigmas_source == "COCO"
    assert pt.Run.open("src", store=coco_table.store).manifest["sigmas_source"] == "COCO"
    tuned = coco_table.with_schema(coco_table.schema.replace(oks_sigmas=[0.05] * 17))
    assert pt.Run.from_predictions(tuned, noisy_predictions(tuned), name="u").sigmas_source == (
        "user"
    )


def test_a_run_of_format_1_reads_its_metrics_from_its_manifest(coco_table, store, monkeypatch):
    """Runs written before format 2 were evaluated when written: the metrics in the
    manifest, every metric file beside it. They are read as they are, never evaluated."""
    made = pt.Run.from_predictions(coco_table, noisy_predictions(coco_table), name="v1")
    metrics = made.materialize().metrics
    manifest = orjson.loads((made.path / "manifest.json").read_bytes())
    manifest.update(format_version=1, metrics=metrics)
    (made.path / "manifest.json").write_bytes(orjson.dumps(manifest))
    (made.path / "evaluation.json").unlink()
    from posetable import eval as pt_eval

    def no_evaluation(*args, **kwargs):
        raise AssertionError("a format-1 run is never evaluated again")

    monkeypatch.setattr(pt_eval, "evaluate", no_evaluation)
    run = pt.Run.open("v1", store=store)
    assert run.evaluated and run.metrics == metrics and f"ap={metrics['ap']:.4f}" in repr(run)
    assert run.per_sample.num_rows == len(coco_table)
    summary = orjson.loads(run.file("evaluation.json").read_bytes())
    assert summary["metrics"] == metrics
    with pytest.raises(RunError, match=r"has no file 'nope\.json'"):
        run.file("nope.json")


def test_the_names_sample_columns_may_not_take_are_every_per_sample_metric(coco_table):
    """A run checks its sample columns' names when it is made, against the per-sample
    metrics' names it builds later: every column of an evaluation's ``per_sample``."""
    from posetable.eval._details import PER_SAMPLE_COLUMNS

    result = pt.evaluate(coco_table, noisy_predictions(coco_table))
    assert set(result.per_sample.column_names) <= set(PER_SAMPLE_COLUMNS)
