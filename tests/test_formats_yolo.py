"""Ultralytics YOLO-pose import/export on the real YOLO folders, and COCO <-> YOLO."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import posetable as pt
from posetable.errors import PosetableWarning
from tests._formats_support import COCO_DATASETS, YOLO_DATASETS

LAYOUT = ("path", "train", "val", "test")


def read_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def label_values(path: Path) -> np.ndarray:
    text = path.read_text().split()
    return np.asarray(text, dtype=np.float64)


def copy_dataset(source: Path, target: Path) -> Path:
    """A writable copy: labels and YAML copied, images linked."""
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("images"))
    for image in (source / "images").rglob("*.*"):
        link = target / "images" / image.relative_to(source / "images")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(image, link)
    return target


@pytest.mark.parametrize(("dataset", "yaml_name", "split"), YOLO_DATASETS)
def test_export_gives_back_the_same_labels_and_yaml_metadata(
    real_data, store: Path, tmp_path: Path, dataset: str, yaml_name: str, split: str
) -> None:
    folder = real_data(dataset)
    table = pt.Table.from_yolo(folder / yaml_name, split=split, name="y", store=store)
    out = table.export_yolo(tmp_path / "out")
    assert out == tmp_path / "out" / "data.yaml"
    originals = sorted((folder / "labels" / split).glob("*.txt"))
    written = sorted((tmp_path / "out" / "labels" / split).glob("*.txt"))
    assert [p.name for p in written] == [p.name for p in originals]
    for a, b in zip(originals, written, strict=True):
        assert np.abs(label_values(a) - label_values(b)).max() <= 1e-6
    given, back = read_yaml(folder / yaml_name), read_yaml(out)
    assert {k: v for k, v in back.items() if k not in LAYOUT} == {
        k: v for k, v in given.items() if k not in LAYOUT
    }
    for image in (folder / "images" / split).iterdir():
        linked = tmp_path / "out" / "images" / split / image.name
        assert linked.is_symlink() and linked.resolve() == image.resolve()
    again = pt.Table.from_yolo(out, split=split, name="again", store=store)
    assert len(again) == len(table) and again.schema == table.schema


@pytest.mark.parametrize(("dataset", "yaml_name", "split"), YOLO_DATASETS)
def test_labels_become_pixel_instances(
    real_data, store: Path, dataset: str, yaml_name: str, split: str
) -> None:
    folder = real_data(dataset)
    table = pt.Table.from_yolo(folder / yaml_name, split=split, name="y", store=store)
    k, ndim = read_yaml(folder / yaml_name)["kpt_shape"]
    images = sorted((folder / "images" / split).iterdir())
    assert [row["image"] for row in table] == [str(p) for p in images]
    for row, image in zip(table, images, strict=True):
        with Image.open(image) as im:
            assert (row["width"], row["height"]) == im.size
        lines = np.loadtxt(folder / "labels" / split / (image.stem + ".txt"), ndmin=2)
        kpts = row["keypoints"]
        assert len(kpts) == len(lines)
        points = lines[:, 5:].reshape(len(lines), k, ndim)
        scale = np.array([row["width"], row["height"]], dtype=np.float64)
        assert np.allclose(kpts.keypoints, points[..., :2] * scale, rtol=0, atol=1e-9)
        if ndim == 3:
            assert kpts.keypoint_visibilities.tolist() == points[..., 2].astype(int).tolist()
        else:  # [K, 2]: a point at (0, 0) is unlabeled, any other visible
            at_origin = (points[..., 0] == 0) & (points[..., 1] == 0)
            assert kpts.keypoint_visibilities.tolist() == np.where(at_origin, 0, 2).tolist()
        centre = lines[:, 1:3] * scale
        size = lines[:, 3:5] * scale
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        assert np.allclose(kpts.instance_bbs, boxes, rtol=0, atol=1e-9)
        assert kpts.instance_labels.tolist() == lines[:, 0].astype(int).tolist()


def test_the_schema_comes_from_the_yaml(real_data, store: Path) -> None:
    folder = real_data("coco8_pose_yolo")
    given = read_yaml(folder / "coco8-pose.yaml")
    table = pt.Table.from_yolo(folder / "coco8-pose.yaml", split="val", name="y", store=store)
    schema = table.schema
    assert schema.classes == ("person",)
    assert schema.flip_indices == tuple(given["flip_idx"])
    assert schema.keypoint_names == tuple(given["kpt_names"][0])
    assert schema.oks_sigmas == pt.COCO_OKS_SIGMAS  # Ultralytics' sigmas for [17, 3] data
    meta = table.metadata
    assert meta["yolo"]["split"] == "val" and meta["yolo"]["kpt_shape"] == [17, 3]
    assert yaml.safe_load(meta["yolo"]["yaml_text"]) == given
    assert meta["yolo"]["flip_idx"] == given["flip_idx"] and meta["yolo"]["names"] == {
        "0": "person"
    }
    assert meta["image_roots"] == [str(folder.absolute())]
    k2 = pt.Table.from_yolo(
        real_data("crowdpose_yolo_k2") / "crowdpose-k2.yaml", name="k2", store=store
    )
    assert k2.schema.num_keypoints == 14 and k2.schema.oks_sigmas == (1 / 14,) * 14


def test_sigmas_names_and_skeleton_given_in_the_yaml(
    real_data, store: Path, tmp_path: Path
) -> None:
    data = copy_dataset(real_data("crowdpose_yolo_k2"), tmp_path / "d")
    spec = read_yaml(data / "crowdpose-k2.yaml")
    spec["kpt_oks_sigmas"] = [0.079] * 12 + [0.035, 0.035]
    spec["skeleton"] = [[12, 13], [0, 1]]
    spec["names"] = ["person"]
    (data / "crowdpose-k2.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    table = pt.Table.from_yolo(data / "crowdpose-k2.yaml", name="y", store=store)
    assert table.schema.oks_sigmas == tuple(spec["kpt_oks_sigmas"])
    assert table.schema.lines == ((12, 13), (0, 1))
    back = read_yaml(table.export_yolo(tmp_path / "out"))
    for key in ("kpt_oks_sigmas", "skeleton", "names", "flip_idx", "kpt_names", "kpt_shape"):
        assert back[key] == spec[key]


def test_paths_list_files_and_folders_of_a_yaml(real_data, store: Path, tmp_path: Path) -> None:
    data = copy_dataset(real_data("coco8_pose_yolo"), tmp_path / "data")
    images = sorted(str(p.relative_to(data)) for p in (data / "images").rglob("*.jpg"))
    (data / "all.txt").write_text("".join(f"./{p}\n" for p in images))
    spec = read_yaml(data / "coco8-pose.yaml")
    elsewhere = tmp_path / "yamls"
    elsewhere.mkdir()
    cases = {
        "absolute path": {"path": str(data), "train": "all.txt"},
        "relative path": {
            "path": os.path.relpath(data, elsewhere),
            "train": ["images/train", "images/val"],
        },
    }
    for label, layout in cases.items():
        (elsewhere / "data.yaml").write_text(yaml.safe_dump({**spec, **layout}, sort_keys=False))
        table = pt.Table.from_yolo(elsewhere, name=label.replace(" ", "-"), store=store)
        assert len(table) == 4, label
        assert sum(len(r["keypoints"]) for r in table) == 12  # 3 + 9 persons
        assert table.metadata["image_roots"] == [str(data.absolute())]


def test_copy_and_label_only_exports(real_data, store: Path, tmp_path: Path) -> None:
    folder = real_data("coco8_pose_yolo")
    table = pt.Table.from_yolo(folder / "coco8-pose.yaml", name="y", store=store)
    copied = table.export_yolo(tmp_path / "copy", image_mode="copy").parent
    for image in (copied / "images" / "train").iterdir():
        assert (
            not image.is_symlink()
            and image.read_bytes() == (folder / "images" / "train" / image.name).read_bytes()
        )
    bare = table.export_yolo(tmp_path / "bare", image_mode="none").parent
    assert not (bare / "images").exists() and len(list((bare / "labels" / "train").iterdir())) == 2


def test_exports_of_two_splits_share_one_yaml(real_data, store: Path, tmp_path: Path) -> None:
    folder = real_data("coco8_pose_yolo")
    for split in ("train", "val"):
        table = pt.Table.from_yolo(folder / "coco8-pose.yaml", split=split, name=split, store=store)
        out = table.export_yolo(tmp_path / "out")
    spec = read_yaml(out)
    assert spec["train"] == "images/train" and spec["val"] == "images/val"


@pytest.mark.parametrize("dataset", ["coco_kpts", "aic", "ap10k", "horse10"])
def test_coco_to_yolo_and_back_keeps_the_layout(
    real_data, store: Path, tmp_path: Path, dataset: str
) -> None:
    folder = real_data(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)  # checked in test_formats_coco
        coco = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="c", store=store
        )
    data_yaml = coco.export_yolo(tmp_path / "out")
    spec = read_yaml(data_yaml)
    assert spec["kpt_shape"] == [coco.schema.num_keypoints, 3]
    assert list(spec["names"].values()) == list(coco.schema.classes)
    yolo = pt.Table.from_yolo(data_yaml, name="y", store=store)
    assert yolo.schema.keypoint_names == coco.schema.keypoint_names
    assert yolo.schema.flip_indices == coco.schema.flip_indices
    assert yolo.schema.lines == coco.schema.lines
    assert yolo.schema.oks_sigmas == coco.schema.oks_sigmas
    by_name = {os.path.basename(r["image"]): r for r in yolo}
    for row in coco:
        kpts, back = row["keypoints"], by_name[os.path.basename(row["image"])]["keypoints"]
        kept = kpts.select(kpts.instance_extras["iscrowd"] == 0)
        assert len(back) == len(kept)
        labeled = kept.keypoint_visibilities > 0
        assert back.keypoint_visibilities.tolist() == kept.keypoint_visibilities.tolist()
        tolerance = 1e-6 * max(row["width"], row["height"])
        assert np.abs(back.keypoints[labeled] - kept.keypoints[labeled]).max(initial=0) <= tolerance
        assert back.instance_labels.tolist() == kept.instance_labels.tolist()


def test_every_coco_dataset_exports_to_yolo(real_data, store: Path, tmp_path: Path) -> None:
    for dataset in COCO_DATASETS:
        folder = real_data(dataset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PosetableWarning)
            coco = pt.Table.from_coco(folder / "annotations.json", name=dataset, store=store)
        out = coco.export_yolo(tmp_path / dataset, image_mode="none")
        lines = [
            ln
            for p in (out.parent / "labels" / "train").iterdir()
            for ln in p.read_text().splitlines()
        ]
        assert all(len(line.split()) == 5 + 3 * coco.schema.num_keypoints for line in lines)
