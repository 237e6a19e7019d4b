"""Integrations without their extras: importing costs nothing, using them names the pip line.

These tests run in the core suite (no extras installed); where an extra happens to be
installed, the check that needs its absence is skipped.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import posetable as pt
from posetable.errors import MissingDependencyError


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture
def tiny_table(store):
    kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
    kp.add_instance([[10, 10, 2], [20, 30, 2]])
    schema = pt.Keypoints2DSchema(keypoint_names=["left_eye", "right_eye"], flip_indices=[1, 0])
    return pt.Table.from_rows(
        [{"image": "/nowhere/a.jpg", "width": 64, "height": 48, "keypoints": kp}],
        name="tiny",
        schema=schema,
        store=store,
    )


def test_importing_the_integrations_imports_no_framework():
    code = (
        "import sys; import posetable.integrations.torch, posetable.integrations.ultralytics, "
        "posetable.integrations.supergradients, posetable.cli._train; "
        "print(sorted(m for m in ('torch', 'ultralytics', 'super_gradients') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_module_names_the_extra_to_install():
    from posetable.integrations._common import require

    with pytest.raises(MissingDependencyError, match=r'pip install "posetable\[ultralytics\]"'):
        require("posetable_no_such_framework", extra="ultralytics")


@pytest.mark.skipif(_installed("torch"), reason="torch is installed here")
def test_torch_dataset_without_torch_names_the_pip_line(tiny_table):
    from posetable.integrations.torch import KeypointsDataset

    with pytest.raises(MissingDependencyError, match=r'pip install "posetable\[torch\]"'):
        KeypointsDataset(tiny_table)


@pytest.mark.skipif(_installed("ultralytics"), reason="ultralytics is installed here")
def test_ultralytics_without_ultralytics_names_the_pip_line(tiny_table):
    from posetable.integrations.ultralytics import train, validate

    with pytest.raises(MissingDependencyError, match=r'pip install "posetable\[ultralytics\]"'):
        train("yolo11n-pose.yaml", tiny_table, tiny_table, epochs=1)
    with pytest.raises(MissingDependencyError, match=r'pip install "posetable\[ultralytics\]"'):
        validate("best.pt", tiny_table, run_name="never")


@pytest.mark.skipif(_installed("super_gradients"), reason="super-gradients is installed here")
def test_supergradients_without_it_names_the_pip_line(tiny_table):
    from posetable.integrations.supergradients import pose_estimation_dataset

    with pytest.raises(MissingDependencyError, match=r'pip install "posetable\[supergradients\]"'):
        pose_estimation_dataset(tiny_table)


def test_table_labels_and_the_ultralytics_data_dict_need_no_framework(tiny_table):
    from posetable.integrations._common import TableLabels
    from posetable.integrations.ultralytics import data_config

    labels = TableLabels.from_table(tiny_table, check_images=False)
    assert labels.images == ["/nowhere/a.jpg"] and labels.trainable().tolist() == [True]
    config = data_config(tiny_table)
    assert config["kpt_shape"] == [2, 3] and config["flip_idx"] == [1, 0]
    assert config["kpt_names"] == {0: ["left_eye", "right_eye"]}
    np.testing.assert_allclose(config["kpt_oks_sigmas"], tiny_table.schema.sigmas)


def test_flip_horizontal_swaps_left_and_right():
    from posetable.integrations.torch import flip_horizontal

    keypoints = np.array([[[10.0, 5.0], [30.0, 6.0], [0.0, 0.0]]])
    visibility = np.array([[2, 1, 0]])
    boxes = np.array([[10.0, 5.0, 30.0, 6.0]])
    kp, vis, box = flip_horizontal(keypoints, visibility, boxes, width=100, flip_indices=[1, 0, 2])
    assert kp.tolist() == [[[70.0, 6.0], [90.0, 5.0], [0.0, 0.0]]]  # v=0 point kept as given
    assert vis.tolist() == [[1, 2, 0]]
    assert box.tolist() == [[70.0, 5.0, 90.0, 6.0]]


@pytest.mark.parametrize(
    "name",
    [
        "posetable.integrations",
        "posetable.integrations._common",
        "posetable.integrations.torch",
        "posetable.integrations.ultralytics",
    ],
)
def test_docstring_examples_run_without_extras(name, tmp_path, monkeypatch):
    """The modules' examples run here (the suite's paths do not reach ``src``)."""
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0 and result.attempted > 0


def test_an_empty_table_is_refused(store):
    from posetable.errors import RowError
    from posetable.integrations._common import TableLabels

    empty = pt.Table.from_rows([], name="empty", schema=pt.Keypoints2DSchema(3), store=store)
    with pytest.raises(RowError, match="empty@1 has no rows"):
        TableLabels.from_table(empty)


def test_train_cli_rejects_bad_options_before_any_work(capsys):
    from posetable.cli import main

    code = main(
        ["train", "ultralytics", "--model", "m.yaml", "--train", "a", "--val", "b", "--set", "lr0"]
    )
    assert code == 2
    assert "--set takes KEY=VALUE, got 'lr0'" in capsys.readouterr().err
    code = main(
        [
            "train",
            "ultralytics",
            "--model",
            "m.yaml",
            "--train",
            "a",
            "--val",
            "b",
            "--loss-sigmas",
            "0.1,x",
        ]
    )
    assert code == 2
    assert "--loss-sigmas takes comma-separated numbers" in capsys.readouterr().err
