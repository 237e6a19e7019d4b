"""The PyTorch dataset over tables: images and targets, flips by flip indices, the way back."""

from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.errors import NotFoundError, PosetableWarning, RowError, SchemaError
from tests._integration_tables import installed_or_skip

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def torch():
    return installed_or_skip("torch")


def test_samples_are_image_tensors_with_the_tables_targets(torch, coco_table):
    from posetable.integrations.torch import KeypointsDataset

    dataset = KeypointsDataset(coco_table)
    assert len(dataset) == len(coco_table)
    for row in range(len(coco_table)):
        image, target = dataset[row]
        gt = coco_table[row]
        assert image.dtype == torch.float32 and tuple(image.shape) == (3, gt["height"], gt["width"])
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        kp = gt["keypoints"]
        np.testing.assert_allclose(target["keypoints"].numpy(), kp.keypoints, rtol=1e-6)
        np.testing.assert_array_equal(target["visibility"].numpy(), kp.keypoint_visibilities)
        np.testing.assert_allclose(target["boxes"].numpy(), kp.instance_bbs, rtol=1e-6)
        np.testing.assert_array_equal(target["labels"].numpy(), kp.instance_labels)
        np.testing.assert_array_equal(target["iscrowd"].numpy(), kp.instance_extras["iscrowd"] == 1)
        assert target["row"] == row and target["orig_size"] == (gt["height"], gt["width"])


def test_a_flipped_sample_has_its_keypoints_where_the_flip_indices_say(torch, coco_table):
    from posetable.integrations.torch import KeypointsDataset

    plain = KeypointsDataset(coco_table)
    flipped = KeypointsDataset(coco_table, flip_probability=1.0)
    flips = np.asarray(coco_table.schema.flip_indices)
    names = coco_table.schema.keypoint_names
    for row in range(len(coco_table)):
        image, target = plain[row]
        image_f, target_f = flipped[row]
        assert target_f["flipped"]
        width = target["orig_size"][1]
        torch.testing.assert_close(image_f, image.flip(-1))
        kp, vis = target["keypoints"].numpy(), target["visibility"].numpy()
        kp_f, vis_f = target_f["keypoints"].numpy(), target_f["visibility"].numpy()
        for j, name in enumerate(names):
            source = flips[j]  # e.g. left_wrist of the flipped image is the mirrored right_wrist
            if name.startswith("left_"):
                assert names[source] == name.replace("left_", "right_")
            np.testing.assert_array_equal(vis_f[:, j], vis[:, source])
            labeled = vis[:, source] > 0
            mirrored = width - kp[labeled, source, 0]
            np.testing.assert_allclose(kp_f[labeled, j, 0], mirrored, atol=1e-4)  # float32
            np.testing.assert_allclose(kp_f[labeled, j, 1], kp[labeled, source, 1], atol=1e-4)
        boxes, boxes_f = target["boxes"].numpy(), target_f["boxes"].numpy()
        np.testing.assert_allclose(boxes_f[:, 0], width - boxes[:, 2], atol=1e-4)
        np.testing.assert_allclose(boxes_f[:, 2], width - boxes[:, 0], atol=1e-4)


def test_a_labeled_pixel_moves_with_its_keypoint_under_a_flip(torch, coco_table):
    """The image and the keypoints flip together: the colour under a labeled point stays."""
    from posetable.integrations.torch import KeypointsDataset

    image, target = KeypointsDataset(coco_table)[0]
    image_f, target_f = KeypointsDataset(coco_table, flip_probability=1.0)[0]
    flips = np.asarray(coco_table.schema.flip_indices)
    vis = target["visibility"].numpy()
    n, j = np.argwhere(vis > 0)[0]
    x, y = target["keypoints"][n, j].numpy()
    x_f, y_f = target_f["keypoints"][n, int(np.flatnonzero(flips == j)[0])].numpy()
    # pixel column c covers [c, c+1): x maps to the column floor(x), W - x to floor(W - x)
    original = image[:, int(y), int(x)]
    mirrored = image_f[:, int(y_f), int(np.ceil(x_f)) - 1]
    torch.testing.assert_close(original, mirrored)


def test_flips_need_flip_indices(torch, real_data, store):
    from posetable.integrations.torch import KeypointsDataset

    folder = real_data("horse10")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="h", store=store
        )
    if table.schema.flip_indices is not None:
        table = table.with_schema(table.schema.replace(flip_indices=None))
    assert len(KeypointsDataset(table)) == len(table)  # no flips: fine
    with pytest.raises(SchemaError, match="no flip indices"):
        KeypointsDataset(table, flip_probability=0.5)


def test_collate_keeps_variable_instance_counts(torch, coco_table):
    from torch.utils.data import DataLoader

    from posetable.integrations.torch import KeypointsDataset, collate_keypoints

    sized = DataLoader(
        KeypointsDataset(coco_table, image_size=(96, 128)),
        batch_size=4,
        collate_fn=collate_keypoints,
    )
    images, targets = next(iter(sized))
    assert tuple(images.shape) == (4, 3, 96, 128)
    counts = [len(t["keypoints"]) for t in targets]
    assert counts == [len(row["keypoints"]) for row in coco_table] and len(set(counts)) > 1
    native = DataLoader(KeypointsDataset(coco_table), batch_size=4, collate_fn=collate_keypoints)
    images, targets = next(iter(native))
    assert isinstance(images, list) and len(images) == 4  # different sizes stay a list


def test_outputs_in_the_resized_frame_come_back_in_table_pixels(torch, coco_table):
    """Ground truth passed through the dataset (resized) as if a model predicted it maps back
    to the table exactly, and scores AP 1 in a run."""
    from torch.utils.data import DataLoader

    from posetable.integrations.torch import (
        KeypointsDataset,
        collate_keypoints,
        predictions_from_outputs,
    )

    dataset = KeypointsDataset(coco_table, image_size=200)
    predictions: dict[int, pt.Keypoints2DInstances] = {}
    for _, targets in DataLoader(dataset, batch_size=3, collate_fn=collate_keypoints):
        outputs = []
        for target in targets:
            keep = ~target["iscrowd"] & (target["visibility"] > 0).any(dim=1)
            outputs.append(
                {
                    "keypoints": target["keypoints"][keep],
                    "keypoint_scores": (target["visibility"][keep] > 0).float(),
                    "scores": torch.ones(int(keep.sum())),
                    "boxes": target["boxes"][keep],
                    "labels": target["labels"][keep],
                }
            )
        predictions_from_outputs(outputs, targets, into=predictions)
    assert sorted(predictions) == list(range(len(coco_table)))
    for row, item in predictions.items():
        gt = coco_table[row]["keypoints"]
        keep = (gt.instance_extras["iscrowd"] == 0) & (gt.keypoint_visibilities > 0).any(axis=1)
        labeled = gt.keypoint_visibilities[keep] > 0
        np.testing.assert_allclose(
            item.keypoints[labeled], gt.keypoints[keep][labeled], rtol=1e-5, atol=1e-3
        )
        assert item.image_width == coco_table[row]["width"]
    run = pt.Run.from_predictions(coco_table, predictions, name="oracle")
    assert run.metrics["ap"] == pytest.approx(1.0)


def test_flipped_outputs_are_refused(torch, coco_table):
    from posetable.errors import RunError
    from posetable.integrations.torch import KeypointsDataset, predictions_from_outputs

    _, target = KeypointsDataset(coco_table, flip_probability=1.0)[0]
    with pytest.raises(RunError, match="flipped"):
        predictions_from_outputs([{"keypoints": target["keypoints"], "scores": []}], [target])


def test_missing_images_and_wrong_sizes_are_named(torch, coco_table, store):
    from posetable.integrations.torch import KeypointsDataset

    rows = list(coco_table)
    rows[2]["image"] = "/no/such/image.jpg"
    missing = pt.Table.from_rows(rows, name="missing", schema=coco_table.schema, store=store)
    with pytest.raises(NotFoundError, match=r"row 2: /no/such/image.jpg"):
        KeypointsDataset(missing)
    rows = list(coco_table)
    rows[1]["width"] = rows[1]["width"] + 7
    resized = pt.Table.from_rows(rows, name="sizes", schema=coco_table.schema, store=store)
    dataset = KeypointsDataset(resized)
    with pytest.raises(RowError, match=r"row 1: .* but the table says"):
        dataset[1]


def test_the_custom_training_example_writes_a_run(torch, store, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["train_torch_keypoints.py"])
    module = runpy.run_path(str(REPO / "examples" / "train_torch_keypoints.py"))
    run = module["main"](
        ["--store", str(store), "--steps", "3", "--image-size", "128", "--run-name", "example"]
    )
    opened = pt.Run.open("example", store=store)
    assert opened.table_ref == run.table_ref and opened.model_info["framework"] == "torch"
    assert len(opened.all_predictions()) == len(opened.table())
    np.testing.assert_array_equal(opened.sigmas, opened.table().schema.sigmas)
