"""Ultralytics YOLO-pose trains on tables and validates into runs (CPU, one tiny epoch)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest

import posetable as pt
from posetable.errors import NotFoundError, PosetableWarning, RunError, SchemaError
from tests._integration_tables import installed_or_skip, yolo_table

pytestmark = pytest.mark.integration

TINY = {"epochs": 1, "imgsz": 160, "batch": 4, "workers": 0, "device": "cpu", "verbose": False}


@pytest.fixture(scope="module")
def module_store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def tables(ultralytics, module_store):
    """coco8-pose's train and val splits; the val table gets its own (non-COCO) sigmas."""
    from tests._data import data_path

    folder = data_path("coco8_pose_yolo")
    train = yolo_table(folder, "train", name="c8-train", store=module_store)
    val = yolo_table(folder, "val", name="c8-val", store=module_store)
    sigmas = np.linspace(0.03, 0.11, 17)
    train = train.with_schema(train.schema.replace(oks_sigmas=sigmas))
    val = val.with_schema(val.schema.replace(oks_sigmas=sigmas))
    return train, val


@pytest.fixture(scope="module")
def trained(ultralytics, tables, module_store):
    from posetable.integrations.ultralytics import train

    train_table, val_table = tables
    return train("yolo11n-pose.yaml", train_table, val_table, name="tiny", **TINY)


def test_training_uses_the_tables_keypoint_layout(trained, tables):
    train_table, _ = tables
    trainer = trained.trainer
    schema = train_table.schema
    assert trainer.data["kpt_shape"] == [17, 3]
    assert trainer.data["flip_idx"] == list(schema.flip_indices)
    assert trainer.data["kpt_names"][0] == list(schema.keypoint_names)
    np.testing.assert_allclose(trainer.data["kpt_oks_sigmas"], schema.sigmas)
    # the metric and the loss both use the table's sigmas (not COCO's, not 1/K)
    np.testing.assert_allclose(trainer.validator.sigma, schema.sigmas, rtol=1e-6)
    loss_sigmas = trainer.model.criterion.keypoint_loss.sigmas.cpu().numpy()
    np.testing.assert_allclose(loss_sigmas, schema.sigmas, rtol=1e-6)
    # augmentation flips with the table's flip indices
    flips = [
        t for t in trainer.train_loader.dataset.transforms.transforms if hasattr(t, "flip_idx")
    ]
    assert flips and all(list(t.flip_idx) == list(schema.flip_indices) for t in flips)
    # the images came from the table, not from a label folder
    assert trainer.train_loader.dataset.im_files == [row["image"] for row in train_table]


def test_loss_sigmas_change_only_the_loss_and_the_metric_uses_the_val_tables(
    ultralytics, tables, store
):
    from posetable.integrations.ultralytics import train

    train_table, val_table = tables
    rows = list(val_table)
    val_sigmas = np.full(17, 0.09)
    other_val = pt.Table.from_rows(
        rows, name="val-other", schema=val_table.schema.replace(oks_sigmas=val_sigmas), store=store
    )
    loss_sigmas = np.full(17, 0.07)
    model = train(
        "yolo11n-pose.yaml", train_table, other_val, loss_sigmas=loss_sigmas, name="sigmas", **TINY
    )
    used = model.trainer.model.criterion.keypoint_loss.sigmas.cpu().numpy()
    np.testing.assert_allclose(used, loss_sigmas, rtol=1e-6)
    np.testing.assert_allclose(model.trainer.validator.sigma, val_sigmas, rtol=1e-6)


def test_validation_writes_every_image_into_a_run_scored_with_the_tables_sigmas(trained, tables):
    from posetable.integrations.ultralytics import validate

    _, val_table = tables
    # sigmas so wide that even a one-epoch model's keypoints match: the metrics must move
    wide = val_table.with_schema(val_table.schema.replace(oks_sigmas=np.full(17, 10.0)))
    run = validate(trained, wide, run_name="tiny-wide", imgsz=160, batch=2, device="cpu")
    assert pt.Run.open("tiny-wide", store=wide.store).table_ref == wide.ref
    np.testing.assert_array_equal(run.sigmas, wide.schema.sigmas)
    predictions = run.all_predictions()
    assert len(predictions) == len(wide) and all(p is not None for p in predictions)
    assert sum(len(p) for p in predictions) > 0
    for item in predictions:
        assert item.keypoint_confidences is not None and item.instance_confidences is not None
        assert item.keypoint_confidences.shape == (len(item), 17)
    expected = pt.evaluate(wide, predictions, sigmas=wide.schema.sigmas)
    assert run.metrics["ap"] == pytest.approx(expected.ap) and run.metrics["ap"] > 0
    assert pt.evaluate(wide, predictions, sigmas=pt.COCO_OKS_SIGMAS).ap < run.metrics["ap"]
    ours = run.model_info["ultralytics_metrics"]
    assert ours["pose_map50"] > 0  # Ultralytics' own metric saw the table's sigmas too
    assert run.model_info["framework"] == "ultralytics"


def test_captured_predictions_equal_ultralytics_own_export(trained, tables, module_store):
    """With batch=2 and rect batches (rows reordered), each row gets its own image's output."""
    from posetable.integrations.ultralytics import validate

    _, val_table = tables
    run = validate(trained, val_table, run_name="tiny-json", imgsz=160, batch=2, save_json=True)
    exported = orjson.loads(
        (module_store / "ultralytics" / "val-tiny-json" / "predictions.json").read_bytes()
    )
    for row, image in enumerate(r["image"] for r in val_table):
        mine = run.predictions(row)
        stem = Path(image).stem
        image_id = int(stem) if stem.isnumeric() else stem  # Ultralytics' own rule
        theirs = [d for d in exported if d["image_id"] == image_id]
        assert len(mine) == len(theirs) > 0
        kp_theirs = np.array([d["keypoints"] for d in theirs]).reshape(len(theirs), 17, 3)
        kp_mine = np.concatenate([mine.keypoints, mine.keypoint_confidences[..., None]], axis=2)

        def order(kp: np.ndarray) -> np.ndarray:
            return np.lexsort(kp.reshape(len(kp), -1).T[::-1])

        np.testing.assert_allclose(kp_mine[order(kp_mine)], kp_theirs[order(kp_theirs)], atol=1e-3)
        boxes = np.array([d["bbox"] for d in theirs])
        mine_xywh = mine.instance_bbs_xywh
        np.testing.assert_allclose(mine_xywh[order(kp_mine)], boxes[order(kp_theirs)], atol=2e-3)


def test_labels_fed_to_ultralytics_match_its_own_coco_conversion(real_data, store):
    """The table -> Ultralytics label conversion equals Ultralytics-style label files made
    independently from the same COCO annotations (crowd and unlabeled persons left out)."""
    installed_or_skip("ultralytics")
    from posetable.integrations._common import TableLabels
    from posetable.integrations._ultralytics_data import yolo_labels

    coco = real_data("coco_kpts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(
            coco / "annotations.json", coco / "images", name="coco", store=store
        )
    labels = {Path(lb["im_file"]).stem: lb for lb in yolo_labels(TableLabels.from_table(table))}
    folder = real_data("coco8_pose_yolo") / "labels"
    files = sorted(folder.glob("*/*.txt"))
    assert len(files) == len(labels)
    for file in files:
        expected = np.loadtxt(file, ndmin=2)
        label = labels[file.stem]
        got = np.concatenate(
            [label["cls"], label["bboxes"], label["keypoints"].reshape(len(label["cls"]), -1)],
            axis=1,
        )
        order = np.lexsort(expected[:, 1:3].T[::-1]), np.lexsort(got[:, 1:3].T[::-1])
        np.testing.assert_allclose(got[order[1]], expected[order[0]], atol=1.5e-6)


def test_a_model_with_another_k_is_refused(trained, real_data, store):
    from posetable.integrations.ultralytics import validate

    folder = real_data("crowdpose")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        crowdpose = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="cp", store=store
        )
    with pytest.raises(RunError, match=r"K=17 keypoints, but table cp@1 has K=14"):
        validate(trained, crowdpose, run_name="never")
    assert pt.list_runs(store=store) == []


def test_train_and_val_tables_must_share_k(ultralytics, tables, real_data, store):
    from posetable.integrations.ultralytics import train

    folder = real_data("crowdpose")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        crowdpose = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="cp", store=store
        )
    with pytest.raises(SchemaError, match=r"K=17 .* K=14"):
        train("yolo11n-pose.yaml", tables[0], crowdpose, **TINY)


def test_a_table_without_its_images_on_disk_is_refused_before_training(ultralytics, tables):
    from posetable.integrations.ultralytics import train

    train_table, val_table = tables
    rows = list(train_table)
    rows[1]["image"] = "/no/such/folder/000000040083.jpg"
    broken = pt.Table.from_rows(
        rows, name="broken", schema=train_table.schema, store=train_table.store
    )
    with pytest.raises(
        NotFoundError, match=r"1 of 2 images are missing on disk: row 1: /no/such/folder"
    ):
        train("yolo11n-pose.yaml", broken, val_table, **TINY)


def test_absent_weights_offline_are_an_error_not_a_download(ultralytics, tables):
    from posetable.integrations.ultralytics import validate

    with pytest.raises(NotFoundError, match="no network"):
        validate("definitely-not-here-pose.pt", tables[1], run_name="never")


def test_cli_trains_and_validates_into_a_run(ultralytics, tables, module_store, capsys):
    from posetable.cli import main

    train_table, val_table = tables
    code = main(
        [
            "train",
            "ultralytics",
            "--model",
            "yolo11n-pose.yaml",
            "--train",
            train_table.ref,
            "--val",
            val_table.ref,
            "--epochs",
            "1",
            "--imgsz",
            "160",
            "--batch",
            "4",
            "--device",
            "cpu",
            "--run-name",
            "cli-run",
            "--store",
            str(module_store),
            "--set",
            "workers=0",
            "--set",
            "name=cli",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    run = pt.Run.open("cli-run", store=module_store)
    assert run.table_ref == val_table.ref
    assert "cli-run" in out and "ap" in out


def test_the_walkthrough_trains_validates_and_the_dashboard_shows_the_run(ultralytics, store):
    import runpy

    module = runpy.run_path(
        str(Path(__file__).resolve().parents[1] / "examples" / "ultralytics_walkthrough.py")
    )
    run = module["main"](
        ["--store", str(store), "--epochs", "1", "--imgsz", "160", "--run-name", "walk"]
    )
    assert pt.Run.open("walk", store=store).table_ref == run.table_ref
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from posetable.dashboard.app import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
        from fastapi.testclient import TestClient

        client = TestClient(create_app(store), base_url="http://127.0.0.1")
    shown = client.get("/api/runs/walk")
    assert shown.status_code == 200
    body = shown.json()
    assert body["table_ref"] == run.table_ref and body["metrics"] == run.metrics
    assert body["model_info"]["framework"] == "ultralytics"
    assert [entry["name"] for entry in client.get("/api/runs").json()["runs"]] == ["walk"]
