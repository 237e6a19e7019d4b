"""DeepLabCut reader and writer: what it refuses, and what DeepLabCut cannot hold."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path

pytest.importorskip("pandas")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the multi-animal example project, to break on purpose."""
    copy = tmp_path / "multi_mouse"
    shutil.copytree(data_path("dlc") / "multi_mouse", copy)
    return copy


def _csv(project: Path) -> Path:
    return project / "labeled-data/m3v1mp4short/CollectedData_dlc_team.csv"


def test_bodyparts_that_disagree_with_the_config_are_an_error_naming_both(
    project: Path, store: Path
) -> None:
    config = project / "config.yaml"
    config.write_text(config.read_text().replace("- bodypart3\n", "- tail\n"))
    with pytest.raises(pt.errors.FormatError) as caught:
        pt.Table.from_dlc(project, name="mice", store=store)
    text = str(caught.value)
    assert "bodypart3" in text and "tail" in text and "config.yaml" in text
    assert "CollectedData_dlc_team.csv" in text
    assert pt.list_tables(store=store) == []  # nothing written


def test_a_header_that_is_not_deeplabcut_names_file_and_line(project: Path, store: Path) -> None:
    path = _csv(project)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("bodyparts", "parts", 1)
    path.write_text("".join(lines))
    with pytest.raises(pt.errors.FormatError, match=r"CollectedData_dlc_team.csv:3: .*'bodyparts'"):
        pt.Table.from_dlc(project, name="mice", store=store)


def test_missing_images_need_an_image_size(store: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"116 of 116 images do not exist.*image_size"):
        pt.Table.from_dlc(data_path("dlc") / "openfield", name="o", store=store)
    assert pt.list_tables(store=store) == []


def test_the_import_warns_once_about_the_sizes_it_was_given(store: Path) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match="116 of 116 images are not at hand"):
        table = pt.Table.from_dlc(data_path("dlc") / "openfield", name="o", store=store,
                                  image_size=(640, 480))  # fmt: skip
    assert len(table) == 116 and table.schema.keypoint_names[0] == "snout"


def test_export_refuses_visibility_one_by_name(store: Path, tmp_path: Path) -> None:
    table = pt.Table.from_dlc(data_path("dlc") / "multi_mouse", name="mice", store=store)
    instances = table[0]["keypoints"]
    vis = instances.keypoint_visibilities.copy()
    vis[0, 0] = 1
    edited = table.with_rows({0: {"keypoints": pt.Keypoints2DInstances(
        keypoints=instances.keypoints, keypoint_visibilities=vis,
        instance_bbs=instances.instance_bbs, instance_labels=instances.instance_labels,
        instance_extras=instances.instance_extras)}})  # fmt: skip
    with pytest.raises(pt.errors.UnsupportedError, match="1 points have visibility 1"):
        edited.export_dlc(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_two_instances_of_one_individual_are_refused(store: Path, tmp_path: Path) -> None:
    table = pt.Table.from_dlc(data_path("dlc") / "multi_mouse", name="mice", store=store)
    instances = table[0]["keypoints"]
    extras = dict(instances.instance_extras)
    names = np.array(extras["individual"], dtype=object)
    names[1] = names[0]
    extras["individual"] = names
    edited = table.with_rows({0: {"keypoints": pt.Keypoints2DInstances(
        keypoints=instances.keypoints, keypoint_visibilities=instances.keypoint_visibilities,
        instance_bbs=instances.instance_bbs, instance_labels=instances.instance_labels,
        instance_extras=extras)}})  # fmt: skip
    with pytest.raises(pt.errors.UnsupportedError, match="two instances of individual"):
        edited.export_dlc(tmp_path / "out")


def test_cli_imports_and_exports_deeplabcut(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = data_path("dlc") / "multi_mouse"
    assert main(["import", "dlc", str(folder), "--name", "mice", "--store", str(store)]) == 0
    assert "5 images, 16 instances, K=5 -> mice@1" in capsys.readouterr().out
    assert main(["export", "dlc", "mice", str(tmp_path / "out"), "--store", str(store)]) == 0
    written = tmp_path / "out/labeled-data/m3v1mp4short/CollectedData_dlc_team.csv"
    assert written.read_bytes() == _csv(folder).read_bytes()
