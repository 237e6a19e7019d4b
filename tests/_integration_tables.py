"""Tiny real tables for the integration tests (coco8_pose_yolo splits, the bundled sample)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

import posetable as pt
from posetable.errors import PosetableWarning


def _from_labels(folder: Path, split: str, name: str, store: Path) -> pt.Table:
    """Build a table from YOLO-pose label files with ``Table.from_rows`` (formats-free)."""
    config = yaml.safe_load((folder / "coco8-pose.yaml").read_text())
    k = int(config["kpt_shape"][0])
    names = config.get("kpt_names", {}).get(0)
    schema = pt.Keypoints2DSchema(
        k,
        keypoint_names=names,
        flip_indices=config.get("flip_idx"),
        classes=[config["names"][i] for i in sorted(config["names"])],
    )
    rows = []
    for image in sorted((folder / "images" / split).iterdir()):
        with Image.open(image) as opened:
            width, height = opened.size
        values = np.loadtxt(folder / "labels" / split / f"{image.stem}.txt", ndmin=2)
        instances = pt.Keypoints2DInstances.create_empty(image_width=width, image_height=height)
        for line in values:
            cx, cy, w, h = line[1:5] * [width, height, width, height]
            points = line[5:].reshape(k, 3) * [width, height, 1]
            instances.add_instance(
                points, label=int(line[0]), bbox=[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
            )
        rows.append({"image": str(image), "width": width, "height": height, "keypoints": instances})
    return pt.Table.from_rows(rows, name=name, schema=schema, store=store)


def yolo_table(folder: Path, split: str, *, name: str, store: Path) -> pt.Table:
    """A split of a YOLO-pose folder as a table (``Table.from_yolo`` once formats exist)."""
    try:
        import posetable.formats.yolo  # noqa: F401
    except ImportError:
        return _from_labels(folder, split, name, store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return pt.Table.from_yolo(folder / "coco8-pose.yaml", split=split, name=name, store=store)
