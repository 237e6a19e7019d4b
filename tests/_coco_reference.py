"""pycocotools as the reference for evaluation tests, and predictions made from real GT."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson

import posetable as pt


def fill_for_pycocotools(doc: dict[str, Any]) -> dict[str, Any]:
    """The GT with the fields pycocotools needs filled as the formats issue says."""
    out = copy.deepcopy(doc)
    for ann in out["annotations"]:
        kps = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
        labeled = kps[:, 2] > 0
        if "bbox" not in ann:
            if labeled.any():
                x0, y0 = kps[labeled, 0].min(), kps[labeled, 1].min()
                x1, y1 = kps[labeled, 0].max(), kps[labeled, 1].max()
                ann["bbox"] = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
            else:
                ann["bbox"] = [0.0, 0.0, 0.0, 0.0]
        if "area" not in ann:
            ann["area"] = ann["bbox"][2] * ann["bbox"][3] * 0.53
        ann.setdefault("iscrowd", 0)
        ann.setdefault("num_keypoints", int(labeled.sum()))
    return out


def pycocotools_eval(
    doc: dict[str, Any], results: list[dict[str, Any]], sigmas: np.ndarray, tmp: Path
) -> Any:
    """pycocotools' COCOeval (keypoints) on the filled GT with ``kpt_oks_sigmas`` set."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_path = tmp / "reference_gt.json"
    gt_path.write_bytes(orjson.dumps(fill_for_pycocotools(doc)))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_path))
        dets = coco.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco, dets, "keypoints")
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=float)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def perturbed_results(
    doc: dict[str, Any],
    *,
    seed: int,
    noise: float = 0.08,
    extra: float = 0.5,
    with_bbox: bool = False,
) -> list[dict[str, Any]]:
    """Predictions from the GT: noisy copies (some dropped, some doubled) and false positives."""
    rng = np.random.default_rng(seed)
    results = []
    image_ids = [img["id"] for img in doc["images"]]
    sizes = {img["id"]: (img.get("width", 640), img.get("height", 480)) for img in doc["images"]}
    for ann in doc["annotations"]:
        kps = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
        k = kps.shape[0]
        w, h = (ann.get("bbox") or [0, 0, 100, 100])[2:]
        scale = max(np.sqrt(max(w * h, 1.0)), 4.0)
        for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
            xy = kps[:, :2] + rng.normal(0, 1, (k, 2)) * scale * noise * rng.uniform(0.2, 3.0)
            results.append(_result(ann["image_id"], ann["category_id"], xy, rng, with_bbox))
    for image_id in image_ids:
        wi, hi = sizes[image_id]
        k = len(doc["annotations"][0]["keypoints"]) // 3 if doc["annotations"] else 17
        for _ in range(int(rng.poisson(extra))):
            xy = rng.random((k, 2)) * [wi, hi]
            cat = doc["categories"][int(rng.integers(len(doc["categories"])))]["id"]
            results.append(_result(image_id, cat, xy, rng, with_bbox))
    return results


def _result(
    image_id: Any, category_id: Any, xy: np.ndarray, rng: Any, with_bbox: bool
) -> dict[str, Any]:
    k = xy.shape[0]
    kp = np.concatenate([np.round(xy, 2), np.round(rng.random((k, 1)), 3)], axis=1)
    out: dict[str, Any] = {
        "image_id": image_id,
        "category_id": category_id,
        "keypoints": kp.ravel().tolist(),
        "score": float(np.round(rng.uniform(0.05, 1.0), 4)),
    }
    if with_bbox:
        x0, y0 = xy.min(0)
        x1, y1 = xy.max(0)
        out["bbox"] = [float(x0), float(y0), float(x1 - x0 + 3), float(y1 - y0 + 2)]
    return out


def rows_from_coco(
    doc: dict[str, Any],
) -> tuple[list[dict[str, Any]], pt.Keypoints2DSchema, dict[str, Any]]:
    """Table rows (one per image, file order) carrying COCO's evaluation fields as extras."""
    cats = doc["categories"]
    label_of = {c["id"]: i for i, c in enumerate(cats)}
    k = (
        len(cats[0]["keypoints"])
        if cats[0].get("keypoints")
        else len(doc["annotations"][0]["keypoints"]) // 3
    )
    by_image: dict[Any, list[dict[str, Any]]] = {img["id"]: [] for img in doc["images"]}
    for ann in doc["annotations"]:
        by_image[ann["image_id"]].append(ann)
    rows = []
    for img in doc["images"]:
        kp = pt.Keypoints2DInstances.create_empty(num_keypoints=k)
        for ann in by_image[img["id"]]:
            extras = {
                name: ann[name]
                for name in ("area", "iscrowd", "id", "num_keypoints")
                if name in ann
            }
            bbox = ann.get("bbox")
            kp.add_instance(
                np.asarray(ann["keypoints"], dtype=float).reshape(k, 3),
                bbox=None
                if bbox is None
                else [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]],
                label=label_of[ann["category_id"]],
                instance_extras=extras,
            )
        rows.append(
            {
                "image": img.get("file_name", f"{img['id']}.jpg"),
                "width": int(img.get("width", 640)),
                "height": int(img.get("height", 480)),
                "keypoints": kp,
                "image_id": int(img["id"]),
            }
        )
    schema = pt.Keypoints2DSchema(k, classes=[c["name"] for c in cats])
    return rows, schema, {"coco": {"categories": cats}}


def write_json(path: Path, value: Any) -> Path:
    """Write ``value`` as JSON and return the path."""
    path.write_bytes(orjson.dumps(value))
    return path
