"""SuperGradients YOLO-NAS-pose on tables: the dataset adapter, a training step, runs.

SuperGradients 3.7.1 is installed without its pins (README, "SuperGradients"); its import
warns about deprecated APIs, which these tests ignore.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.errors import RunError
from tests._integration_tables import installed_or_skip

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

REPO = Path(__file__).resolve().parents[1]
SIZE = 160


@pytest.fixture(scope="module")
def sg(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("SUPER_GRADIENTS_LOG_DIR", str(tmp_path_factory.mktemp("sg_logs")))
    patch.setenv("CRASH_HANDLER", "FALSE")
    module = installed_or_skip("super_gradients")
    yield module
    patch.undo()


def _model(k: int):
    from super_gradients.training import models

    return models.get("yolo_nas_pose_n", num_classes=k)  # no pretrained weights


def test_the_dataset_is_supergradients_pose_dataset_over_the_table(sg, coco_table):
    from super_gradients.training.datasets.pose_estimation_datasets import (
        AbstractPoseEstimationDataset,
    )

    from posetable.integrations.supergradients import pose_estimation_dataset

    dataset = pose_estimation_dataset(coco_table, image_size=SIZE)
    assert isinstance(dataset, AbstractPoseEstimationDataset)
    assert len(dataset) == len(coco_table) and dataset.num_joints == 17
    assert dataset.edge_links == list(coco_table.schema.lines)
    for index in range(len(dataset)):
        row = dataset.row_of(index)
        sample = dataset.load_sample(index)
        gt = coco_table[row]["keypoints"]
        keep = (gt.keypoint_visibilities > 0).any(axis=1) | (gt.instance_extras["iscrowd"] == 1)
        assert sample.image.shape == (coco_table[row]["height"], coco_table[row]["width"], 3)
        np.testing.assert_allclose(sample.joints[..., :2], gt.keypoints[keep], rtol=1e-6)
        np.testing.assert_array_equal(sample.joints[..., 2], gt.keypoint_visibilities[keep])
        np.testing.assert_array_equal(sample.is_crowd, gt.instance_extras["iscrowd"][keep] == 1)
        np.testing.assert_allclose(sample.areas, gt.instance_extras["area"][keep], rtol=1e-6)
        if sample.is_crowd.any():
            assert sample.mask.min() == 0.0  # crowd regions do not count in the loss
        transformed = dataset[index]
        assert transformed.image.shape == (SIZE, SIZE, 3) and transformed.image.max() <= 1.0


def test_training_flips_use_the_tables_flip_indices(sg, coco_table):
    from posetable.integrations.supergradients import pose_estimation_dataset

    dataset = pose_estimation_dataset(coco_table, image_size=SIZE, train=True, flip_probability=1.0)
    flips = [t for t in dataset.transforms.transforms if hasattr(t, "flip_index")]
    assert [list(t.flip_index) for t in flips] == [list(coco_table.schema.flip_indices)]

    def kept(row: dict) -> bool:
        gt = row["keypoints"]
        crowd = gt.instance_extras["iscrowd"] == 1
        return bool(((gt.keypoint_visibilities > 0).any(axis=1) | crowd).any())

    # training leaves out images without a labeled person or crowd region
    assert [dataset.row_of(i) for i in range(len(dataset))] == [
        i for i, row in enumerate(coco_table) if kept(row)
    ]


def test_a_yolo_nas_pose_training_step_runs_with_the_tables_sigmas(sg, coco_table):
    import torch
    from torch.utils.data import DataLoader

    from posetable.integrations.supergradients import (
        collate_fn,
        pose_estimation_dataset,
        yolo_nas_pose_loss,
    )

    torch.manual_seed(0)
    dataset = pose_estimation_dataset(coco_table, image_size=SIZE, train=True)
    images, targets, _ = next(iter(DataLoader(dataset, batch_size=2, collate_fn=collate_fn())))
    assert tuple(images.shape) == (2, 3, SIZE, SIZE)
    model = _model(17)
    loss_fn = yolo_nas_pose_loss(coco_table)
    np.testing.assert_allclose(loss_fn.oks_sigmas.numpy(), coco_table.schema.sigmas)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    loss = loss_fn(model(images), targets)[0]
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    other = yolo_nas_pose_loss(coco_table, loss_sigmas=np.full(17, 0.05))
    np.testing.assert_allclose(other.oks_sigmas.numpy(), 0.05)


def test_predictions_become_a_run_scored_with_the_tables_sigmas(sg, coco_table):
    from posetable.integrations.supergradients import validate

    run = validate(_model(17), coco_table, run_name="nas", image_size=SIZE, conf=0.001)
    assert run.table_ref == coco_table.ref
    np.testing.assert_array_equal(run.sigmas, coco_table.schema.sigmas)
    predictions = run.all_predictions()
    assert all(p is not None for p in predictions) and sum(len(p) for p in predictions) > 0
    for row, item in enumerate(predictions):
        assert item.keypoint_confidences.shape == (len(item), 17)
        assert item.image_width == coco_table[row]["width"]
    expected = pt.evaluate(coco_table, predictions, sigmas=coco_table.schema.sigmas)
    assert run.metrics["ap"] == pytest.approx(expected.ap)


def test_predictions_map_back_by_the_resize_factor(sg):
    from super_gradients.training.utils.predict import PoseEstimationPrediction

    from posetable.integrations.supergradients import predictions_from_yolo_nas_pose

    poses = np.array([[[40.0, 20.0, 0.9], [80.0, 60.0, 0.4]]])
    prediction = PoseEstimationPrediction(
        poses=poses,
        scores=np.array([0.7]),
        bboxes_xyxy=np.array([[40.0, 20.0, 80.0, 60.0]]),
        edge_links=np.zeros((0, 2)),
        edge_colors=np.zeros((0, 3)),
        keypoint_colors=np.zeros((2, 3)),
        image_shape=(160, 160),
    )
    item = predictions_from_yolo_nas_pose(prediction, width=640, height=480, scale=0.25)
    assert item.keypoints.tolist() == [[[160.0, 80.0], [320.0, 240.0]]]
    assert item.instance_bbs.tolist() == [[160.0, 80.0, 320.0, 240.0]]
    np.testing.assert_allclose(item.keypoint_confidences, [[0.9, 0.4]], rtol=1e-6)


def test_a_model_with_another_k_is_refused(sg, coco_table):
    from posetable.integrations.supergradients import validate

    with pytest.raises(RunError, match=r"K=14 keypoints, but table coco@1 has K=17"):
        validate(_model(14), coco_table, run_name="never", image_size=SIZE)


def test_supergradients_trainer_trains_on_the_table(sg, coco_table, tmp_path):
    from super_gradients import Trainer
    from super_gradients.training.metrics import PoseEstimationMetrics
    from super_gradients.training.models.pose_estimation_models.yolo_nas_pose import (
        YoloNASPosePostPredictionCallback,
    )
    from torch.utils.data import DataLoader

    from posetable.integrations.supergradients import (
        collate_fn,
        pose_estimation_dataset,
        yolo_nas_pose_loss,
    )

    train = DataLoader(
        pose_estimation_dataset(coco_table, image_size=SIZE, train=True),
        batch_size=2,
        collate_fn=collate_fn(),
    )
    val = DataLoader(
        pose_estimation_dataset(coco_table, image_size=SIZE), batch_size=2, collate_fn=collate_fn()
    )
    callback = YoloNASPosePostPredictionCallback(
        pose_confidence_threshold=0.01,
        nms_iou_threshold=0.7,
        pre_nms_max_predictions=300,
        post_nms_max_predictions=20,
    )
    sigmas = coco_table.schema.sigmas.tolist()
    params = {
        "max_epochs": 1,
        "lr_mode": "CosineLRScheduler",
        "cosine_final_lr_ratio": 0.1,
        "initial_lr": 1e-3,
        "optimizer": "AdamW",
        "loss": yolo_nas_pose_loss(coco_table),
        "mixed_precision": False,
        "average_best_models": False,
        "save_model": False,
        "valid_metrics_list": [
            PoseEstimationMetrics(
                post_prediction_callback=callback, num_joints=17, oks_sigmas=sigmas
            )
        ],
        "metric_to_watch": "AP",
        "greater_metric_to_watch_is_better": True,
    }
    trainer = Trainer(experiment_name="table", ckpt_root_dir=str(tmp_path))
    trainer.train(model=_model(17), training_params=params, train_loader=train, valid_loader=val)


def test_the_walkthrough_trains_validates_and_shows_the_run(sg, store, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["supergradients_walkthrough.py"])
    module = runpy.run_path(str(REPO / "examples" / "supergradients_walkthrough.py"))
    run = module["main"](
        ["--store", str(store), "--steps", "2", "--image-size", str(SIZE), "--run-name", "nas-walk"]
    )
    assert pt.Run.open("nas-walk", store=store).table_ref == run.table_ref


def test_table_predictions_agree_with_supergradients_own_predict(sg, coco_table):
    """``predict_table`` (posetable's resize/pad and scale back) against SuperGradients'
    ``model.predict`` with the dataset's preprocessing (its own resize and inverse mapping):
    the same poses up to interpolation differences of the resize."""
    from PIL import Image

    from posetable.integrations.supergradients import (
        pose_estimation_dataset,
        predict_table,
        predictions_from_yolo_nas_pose,
    )

    model = _model(17)
    dataset = pose_estimation_dataset(coco_table, image_size=SIZE)
    model.set_dataset_processing_params(**dataset.get_dataset_preprocessing_params())
    ours = predict_table(model, coco_table, image_size=SIZE, conf=0.01)
    for row, mine in enumerate(ours):
        with Image.open(coco_table[row]["image"]) as opened:
            rgb = np.asarray(opened.convert("RGB"))
        theirs = predictions_from_yolo_nas_pose(
            model.predict(rgb, conf=0.01),
            width=coco_table[row]["width"],
            height=coco_table[row]["height"],
        )
        assert len(mine) > 0 and len(theirs) >= len(mine)  # ours keeps the top 20
        gaps = np.abs(mine.keypoints[:, None] - theirs.keypoints[None]).mean(axis=(2, 3))
        nearest = gaps.min(axis=1)
        assert np.median(nearest) < 2.0, nearest  # pixels, in a 640-pixel image
