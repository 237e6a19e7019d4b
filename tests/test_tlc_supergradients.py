"""3LC's SuperGradients integration on posetable: the YOLO-NAS-pose AnimalPose notebook.

The notebook's code (``tests/tlc_examples/supergradients/``, the import rule applied) runs to
the end on CPU on a small AnimalPose table (tests/data/animalpose, its two images repeated),
made by 3LC's own create-custom-keypoints-table example; the run it writes holds a native
run per collected stream whose metrics equal ``pt.evaluate`` on the same predictions.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
import posetable.tlc as tlc
from posetable.errors import MissingDependencyError, RunError, UnsupportedError
from tests._integration_tables import installed_or_skip
from tests.test_tlc_examples import _kaggle_animal_pose

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

EXAMPLES = Path(__file__).parent / "tlc_examples"
COPIES = 10  # 2 images x 10: a stratified 80/10/10 split leaves 16 / 2 / 2 rows


@pytest.fixture(scope="module")
def sg(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("SUPER_GRADIENTS_LOG_DIR", str(tmp_path_factory.mktemp("sg_logs")))
    patch.setenv("CRASH_HANDLER", "FALSE")
    module = installed_or_skip("super_gradients")
    yield module
    patch.undo()


@pytest.fixture
def animalpose_table(sg, real_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """3LC's "3LC Tutorials - 2D Keypoints/AnimalPose/initial", made by its own example."""
    root = _kaggle_animal_pose(real_data("animalpose"), tmp_path / "animal-pose")
    kaggle = json.loads((root / "keypoints.json").read_text())
    images, annotations = dict(kaggle["images"]), list(kaggle["annotations"])
    for copy in range(1, COPIES):
        for ann in kaggle["annotations"]:
            new_id = ann["image_id"] + 100000 * copy
            name = f"copy{copy}_{kaggle['images'][str(ann['image_id'])]}"
            shutil.copy(root / "images" / "images" / kaggle["images"][str(ann["image_id"])],
                        root / "images" / "images" / name)  # fmt: skip
            images[str(new_id)] = name
            annotations.append({**ann, "image_id": new_id})
    (root / "keypoints.json").write_text(
        json.dumps({**kaggle, "images": images, "annotations": annotations})
    )
    monkeypatch.setenv("TLC_EXAMPLE_DATA", str(root))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = runpy.run_path(str(EXAMPLES / "create_custom_keypoints_table.py"))
    return done["table"]


def _close_session():
    tlc.close()


def test_the_yolo_nas_pose_animalpose_notebook_runs_and_collects_into_a_run(
    animalpose_table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(animalpose_table) == 2 * COPIES
    monkeypatch.setenv("TLC_EXAMPLE_BATCH_SIZE", "2")
    monkeypatch.setenv("TLC_EXAMPLE_EPOCHS", "1")
    monkeypatch.setenv("TLC_EXAMPLE_IMAGE_SIZE", "64")
    monkeypatch.setenv("TLC_EXAMPLE_TMP", str(tmp_path / "transient"))
    try:
        done = runpy.run_path(
            str(EXAMPLES / "supergradients" / "supergradients_animalpose_yolonas_training.py")
        )
    finally:
        _close_session()
    callback = done["tlc_callback"]
    run = tlc.Run.from_names("fine-tune-yolo-nas-pose-animalpose", "3LC Tutorials - 2D Keypoints")
    assert run == callback.run and run.status == tlc.RUN_STATUS_COMPLETED
    assert run.parameters["max_epochs"] == 1 and run.parameters["initial_lr"] == 5e-4
    # SuperGradients' aggregate metrics of the epoch, per stream
    streams = {(o["stream"], o["epoch"]) for o in run.constants["outputs"]}
    assert streams == {("train", 0), ("val", 0)}
    # the collection when training ended: one native run per stream, named by epoch
    prefix = "3LC Tutorials - 2D Keypoints/fine-tune-yolo-nas-pose-animalpose"
    assert run.collections == [f"{prefix}/train-epoch-0000", f"{prefix}/val-epoch-0000"]
    assert set(run.collections) <= set(pt.list_runs())
    for name, table in zip(run.collections, (done["train_table"], done["val_table"]), strict=True):
        native = pt.Run.open(name)
        assert native.table_ref == table.native.ref
        assert native.model_info["tlc_run"] == prefix and native.model_info["image_size"] == 64
        assert native.per_sample.num_rows == len(table)
        predictions = native.all_predictions()
        assert len(predictions) == len(table)
        # an untrained model may detect nothing in an image (None); what it finds has K=20
        found = [p for p in predictions if p is not None and len(p)]
        assert all(p.num_keypoints == 20 for p in found)
        again = pt.evaluate(table.native, predictions)
        for key, value in native.metrics.items():
            assert value == pytest.approx(getattr(again, key), nan_ok=True)


def test_the_dataset_is_one_sample_per_row_with_the_tables_sigmas(animalpose_table) -> None:
    from super_gradients.training.datasets.pose_estimation_datasets import (
        AbstractPoseEstimationDataset,
    )

    from posetable.integrations.supergradients import default_transforms
    from posetable.tlc.integration.super_gradients import PoseEstimationDataset

    transforms = default_transforms(animalpose_table.native, image_size=64)
    dataset = PoseEstimationDataset(animalpose_table, transforms=transforms)
    assert isinstance(dataset, AbstractPoseEstimationDataset)
    assert len(dataset) == len(animalpose_table) and dataset.num_joints == 20
    assert dataset.oks_sigmas == tlc.KeypointHelper.get_oks_sigmas_from_table(animalpose_table)
    sample = dataset[0]
    assert sample.image.shape[-2:] == (64, 64) or sample.image.shape[:2] == (64, 64)
    assert sample.joints.shape[1:] == (20, 3)
    with pytest.raises(UnsupportedError, match="keypoints_column='kp'"):
        PoseEstimationDataset(animalpose_table, transforms=transforms, keypoints_column="kp")


def test_settings_that_cannot_be_honoured_fail_before_training(animalpose_table) -> None:
    from super_gradients.training import models

    from posetable.integrations.supergradients import default_transforms
    from posetable.tlc.integration.super_gradients import (
        PoseEstimationDataset,
        PoseEstimationMetricsCollectionCallback,
    )

    with pytest.raises(UnsupportedError, match=r"metrics_collection_epochs.*\[-1\]"):
        PoseEstimationMetricsCollectionCallback(metrics_collection_epochs=[-1])
    with pytest.raises(UnsupportedError, match=r"embeddings_method.*'tsne'"):
        PoseEstimationMetricsCollectionCallback(embeddings_method="tsne")
    with pytest.raises(UnsupportedError, match=r"pipeline_params\.conf must be in"):
        PoseEstimationMetricsCollectionCallback(pipeline_params={"conf": 2.0})
    if importlib.util.find_spec("pacmap") is None:
        with pytest.raises(MissingDependencyError, match=r"pacmap.*posetable\[tlc\]"):
            PoseEstimationMetricsCollectionCallback(
                collect_embeddings=True, embeddings_method="pacmap"
            )
    # a model with another K than the table: refused when training starts, nothing collected
    from super_gradients.training import Trainer
    from torch.utils.data import DataLoader

    from posetable.integrations.supergradients import collate_fn

    table = animalpose_table
    dataset = PoseEstimationDataset(
        table, transforms=default_transforms(table.native, image_size=64)
    )
    loader = DataLoader(dataset, batch_size=2, collate_fn=collate_fn(), drop_last=True)
    callback = PoseEstimationMetricsCollectionCallback(project_name="p", run_name="wrong-k")
    trainer = Trainer(experiment_name="wrong-k", ckpt_root_dir=os.fspath(Path.cwd() / "ckpt"))
    params = _one_epoch(table, callback)
    try:
        with pytest.raises(RunError, match="K=17 keypoints, but table"):
            trainer.train(
                model=models.get("yolo_nas_pose_n", num_classes=17),
                training_params=params,
                train_loader=loader,
                valid_loader=loader,
            )
    finally:
        _close_session()
    run = tlc.Run.from_names("wrong-k", "p")
    assert run.collections == []
    assert not np.any([n.startswith("p/wrong-k/") for n in pt.list_runs()])


def test_collected_embeddings_are_the_backbone_pooled_and_projected_by_one_reducer(
    animalpose_table,
) -> None:
    from super_gradients.training import Trainer, models
    from torch.utils.data import DataLoader

    from posetable.integrations.supergradients import (
        collate_fn,
        default_transforms,
        predict_table,
    )
    from posetable.tlc.integration.super_gradients import (
        PoseEstimationDataset,
        PoseEstimationMetricsCollectionCallback,
    )

    table = animalpose_table
    dataset = PoseEstimationDataset(
        table, transforms=default_transforms(table.native, image_size=64)
    )
    # one training step; the collection covers every row of the table
    loader = DataLoader(dataset, batch_size=2, sampler=[0, 1], collate_fn=collate_fn())
    project = table.native.name.split("/")[0]
    callback = PoseEstimationMetricsCollectionCallback(
        project_name=project,
        run_name="emb",
        metrics_collection_epochs=[0],
        collect_embeddings=True,
        embeddings_dim=3,
        batch_size=8,
    )
    model = models.get("yolo_nas_pose_n", num_classes=20)
    trainer = Trainer(experiment_name="emb", ckpt_root_dir=os.fspath(Path.cwd() / "ckpt"))
    params = _one_epoch(table, callback, ema=False, average_best_models=False)
    try:
        trainer.train(model=model, training_params=params, train_loader=loader,
                      valid_loader=loader)  # fmt: skip
    finally:
        _close_session()
    prefix = f"{project}/emb"
    run = tlc.Run.from_names("emb", project)
    assert run.collections == [f"{prefix}/train-epoch-0000", f"{prefix}/val-epoch-0000"]
    reducer = callback.embeddings_reducer
    assert reducer is not None and reducer.fitted_on == f"{prefix}/train-epoch-0000"
    assert reducer.components.shape == (3, 512)  # YOLO-NAS-pose-n's deepest stage
    raw: dict[int, np.ndarray] = {}
    predict_table(model, table.native, image_size=64, batch_size=8, embeddings=raw)
    vectors = np.stack([raw[r] for r in range(len(table))])
    expected = (vectors - reducer.mean) @ reducer.components.T
    for name in run.collections:
        native = pt.Run.open(name)
        samples = native.per_sample.to_pydict()
        points = np.stack([samples[f"embeddings_{j}"] for j in range(3)], axis=1)
        assert "embeddings_3" not in samples and points.shape == (len(table), 3)
        assert native.model_info["embeddings"]["fitted_on"] == f"{prefix}/train-epoch-0000"
        np.testing.assert_allclose(points, expected, rtol=1e-6, atol=1e-9)
        assert len(np.unique(np.round(points[:2], 6), axis=0)) == 2  # two different images


def _one_epoch(table: Any, callback: Any, **extra: Any) -> dict[str, Any]:
    """SuperGradients training params for one tiny CPU epoch with ``callback`` collecting."""
    from posetable.integrations.supergradients import yolo_nas_pose_loss

    return {
        "max_epochs": 1,
        "initial_lr": 1e-4,
        "loss": yolo_nas_pose_loss(table.native),
        "optimizer": "AdamW",
        "valid_metrics_list": [],
        "phase_callbacks": [callback],
        "metric_to_watch": "loss",
        "greater_metric_to_watch_is_better": False,
        "lr_mode": "cosine",
        "cosine_final_lr_ratio": 0.1,
        **extra,
    }
