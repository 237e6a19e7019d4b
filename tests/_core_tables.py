"""Core-test helper: rows and tables from the real COCO-format files in tests/data.

It reads the annotations with orjson and builds rows for ``Table.from_rows`` with the
public ``Keypoints2DInstances`` API, so the core tests do not depend on the COCO importer
of ``posetable.formats``. Only what the core needs is read: the first category's keypoint
names and skeleton (1-based in the files; lines past K, as in CrowdPose's copied COCO
skeleton, are dropped), every category as a class, per-annotation ``bbox`` (xywh ->
xyxy), keypoints (x, y, v; Horse-10 writes v as floats) and the scalar fields ``area``,
``iscrowd``, ``id``, ``num_keypoints`` where every annotation of the file has them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

import posetable as pt

COCO_FOLDERS = ("coco_kpts", "coco_wholebody", "crowdpose", "aic", "onehand10k", "horse10", "ap10k")
SCALAR_FIELDS = ("area", "iscrowd", "id", "num_keypoints")


def read_coco(folder: Path) -> dict[str, Any]:
    """The parsed ``annotations.json`` of a dataset folder."""
    return dict(orjson.loads((folder / "annotations.json").read_bytes()))


def coco_schema(data: dict[str, Any]) -> pt.Keypoints2DSchema:
    """The schema of a COCO file: names and skeleton of its first category."""
    categories = data["categories"]
    names = categories[0]["keypoints"]
    skeleton = categories[0].get("skeleton") or []
    zero_based = any(0 in pair for pair in skeleton)
    lines = [(a, b) if zero_based else (a - 1, b - 1) for a, b in skeleton]
    lines = [pair for pair in lines if max(pair) < len(names) and min(pair) >= 0]
    return pt.Keypoints2DSchema(
        keypoint_names=names, lines=lines, classes=[c["name"] for c in categories]
    )


def coco_rows(folder: Path) -> tuple[pt.Keypoints2DSchema, list[dict[str, Any]]]:
    """(schema, rows) of a COCO-format dataset folder, one row per image in file order."""
    data = read_coco(folder)
    schema = coco_schema(data)
    label_of = {c["id"]: i for i, c in enumerate(data["categories"])}
    annotations = data["annotations"]
    fields = [f for f in SCALAR_FIELDS if all(f in a for a in annotations)]
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for annotation in annotations:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    rows = []
    for image in data["images"]:
        instances = pt.Keypoints2DInstances.create_empty(
            image_width=image["width"],
            image_height=image["height"],
            num_keypoints=schema.num_keypoints,
        )
        for annotation in by_image.get(image["id"], []):
            x, y, w, h = annotation["bbox"]
            instances.add_instance(
                np.asarray(annotation["keypoints"], dtype=np.float64).reshape(-1, 3),
                bbox=[x, y, x + w, y + h],
                label=label_of[annotation["category_id"]],
                instance_extras={f: annotation[f] for f in fields},
            )
        rows.append(
            {
                "image": image["file_name"],
                "width": image["width"],
                "height": image["height"],
                "keypoints": instances,
            }
        )
    return schema, rows


def coco_table(folder: Path, *, name: str, store: Path) -> pt.Table:
    """A table of a COCO-format dataset folder, made with ``Table.from_rows``."""
    schema, rows = coco_rows(folder)
    return pt.Table.from_rows(rows, name=name, schema=schema, store=store)


def files_under(path: Path) -> dict[str, int]:
    """Relative path -> size of every file under ``path`` (to compare store states)."""
    return {
        str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()
    }


def versions(table_dir: Path) -> list[str]:
    """The committed Lance manifests of a table dataset."""
    folder = table_dir / "_versions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
