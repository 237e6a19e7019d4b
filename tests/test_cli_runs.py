"""The run commands through the real CLI entry point."""

from __future__ import annotations

import orjson
import pytest

import posetable as pt
from posetable.cli import main
from tests._predictions import noisy_predictions


@pytest.fixture
def table(coco_table):
    return coco_table


@pytest.fixture
def results_json(table, tmp_path):
    """The noisy predictions written as a COCO keypoint results file."""
    image_ids = table.to_arrow(columns=["image_id"]).column("image_id").to_pylist()
    results = []
    for row, predictions in enumerate(noisy_predictions(table, seed=3)):
        if predictions is None:
            continue
        for i in range(len(predictions)):
            flat = []
            for (x, y), c in zip(
                predictions.keypoints[i], predictions.keypoint_confidences[i], strict=True
            ):
                flat += [float(x), float(y), float(c)]
            results.append(
                {
                    "image_id": image_ids[row],
                    "category_id": 1,
                    "keypoints": flat,
                    "score": float(predictions.instance_confidences[i]),
                }
            )
    path = tmp_path / "results.json"
    path.write_bytes(orjson.dumps(results))
    return path


def test_run_import_show_compare_errors_accept(table, results_json, store, capsys):
    assert (
        main(["run", "import", "coco", str(results_json), "--name", "m1", "--store", str(store)])
        == 0
    )
    assert "run 'm1' on coco@1: AP" in capsys.readouterr().out
    run = pt.Run.open("m1", store=store)
    expected = pt.evaluate(table, results_json)
    assert run.metrics["ap"] == expected.ap
    assert main(["run", "show", "m1", "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "coco@1" in shown and f"{run.metrics['ap']:.4f}" in shown

    assert main(["runs", "compare", "m1", "--store", str(store)]) == 0
    assert "m1" in capsys.readouterr().out

    out = results_json.with_name("exported.json")
    assert main(["run", "export", "m1", str(out), "--store", str(store)]) == 0
    assert f"{run.manifest['counts']['predictions']} predictions of run 'm1'" in (
        capsys.readouterr().out
    )
    assert pt.evaluate(table, out).stats.tolist() == expected.stats.tolist()

    assert main(["errors", "coco", "m1", "--top", "5", "--store", str(store)]) == 0
    capsys.readouterr()

    assert (
        main(
            [
                "accept",
                "coco",
                "m1",
                "--threshold",
                "0.5",
                "--rows",
                "0-1",
                "--dry-run",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    plan = capsys.readouterr().out
    assert "keypoints_visible" in plan
    assert len(pt.Table.open("coco", store=store).revisions()) == 1

    assert (
        main(["accept", "coco", "m1", "--threshold", "0.5", "--rows", "0", "--store", str(store)])
        == 0
    )
    assert "coco@1 -> coco@2" in capsys.readouterr().out
    assert pt.Table.open("coco", store=store).operation == "accept_predictions"


def test_cli_reports_typed_errors_with_exit_code_2(table, results_json, store, capsys):
    main(["run", "import", "coco", str(results_json), "--name", "m1", "--store", str(store)])
    capsys.readouterr()
    code = main(["accept", "coco", "m1", "--threshold", "1.5", "--store", str(store)])
    assert code == 2
    assert "keypoint_confidence_threshold must be in [0, 1], got 1.5" in capsys.readouterr().err
