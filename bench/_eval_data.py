"""COCO val2017-sized keypoint ground truth and results, generated with a fixed seed.

Shapes follow person_keypoints_val2017: 5,000 images (about 54% with persons), about 11,400
person annotations of which ~42% carry no labeled keypoint (``num_keypoints`` 0), ~1% crowd
regions, areas log-normal around medium/large, and about 19,500 predictions (noisy copies of
the labeled persons, duplicates and false positives, scores in (0, 1], each with a bbox).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

K = 17


def _box(kp: np.ndarray) -> list[float]:
    """The results' bbox (x, y, w, h): the extent of the predicted points, as detectors write."""
    x0, y0 = kp[:, :2].min(0)
    x1, y1 = kp[:, :2].max(0)
    return [float(x0), float(y0), float(np.round(x1 - x0, 3)), float(np.round(y1 - y0, 3))]


def generate(scale: int = 1, *, seed: int = 0) -> tuple[dict, list[dict]]:
    """(ground truth document, results list) at ``scale`` x val2017 size."""
    rng = np.random.default_rng(seed)
    n_images = 5000 * scale
    images = [
        {"id": int(i), "file_name": f"{i:012d}.jpg", "width": 640, "height": 480}
        for i in rng.choice(10_000_000, size=n_images, replace=False)
    ]
    has_people = rng.random(n_images) < 0.54
    counts = np.where(has_people, 1 + rng.poisson(3.2, n_images), 0)
    sigmas = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
                       1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0  # fmt: skip
    annotations: list[dict] = []
    results: list[dict] = []
    next_id = 1
    for image, count in zip(images, counts.tolist(), strict=True):
        for _ in range(count):
            w = float(np.round(np.exp(rng.normal(4.3, 0.8)), 2))
            h = float(np.round(min(w * rng.uniform(1.2, 3.0), 470.0), 2))
            w = min(w, 630.0)
            x = float(np.round(rng.uniform(0, 640 - w), 2))
            y = float(np.round(rng.uniform(0, 480 - h), 2))
            crowd = rng.random() < 0.01
            labeled = not crowd and rng.random() < 0.58
            vis = np.zeros(K, dtype=np.int64)
            if labeled:
                vis = rng.choice([0, 1, 2], size=K, p=[0.25, 0.15, 0.60])
                if not vis.any():
                    vis[0] = 2
            px = np.round(x + rng.random(K) * w).astype(np.int64)
            py = np.round(y + rng.random(K) * h).astype(np.int64)
            px[vis == 0] = 0
            py[vis == 0] = 0
            area = float(np.round(w * h * rng.uniform(0.4, 0.7), 4))
            kps = np.stack([px, py, vis], axis=1).ravel().tolist()
            annotations.append(
                {
                    "id": next_id,
                    "image_id": image["id"],
                    "category_id": 1,
                    "iscrowd": int(crowd),
                    "area": area,
                    "bbox": [x, y, w, h],
                    "num_keypoints": int((vis > 0).sum()),
                    "keypoints": kps,
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                }
            )
            next_id += 1
            if crowd:
                continue
            copies = 1 + int(rng.poisson(0.95)) if labeled else int(rng.random() < 0.6)
            for _ in range(copies):
                noise = (
                    rng.normal(0, 1, (K, 2))
                    * np.sqrt(area)
                    * sigmas[:, None]
                    * rng.uniform(0.3, 3.0)
                )
                dx = (
                    np.where(
                        vis[:, None] > 0,
                        np.stack([px, py], 1),
                        np.stack([x + rng.random(K) * w, y + rng.random(K) * h], 1),
                    )
                    + noise
                )
                kp = np.concatenate([np.round(dx, 3), np.round(rng.random((K, 1)), 3)], 1)
                results.append(
                    {
                        "image_id": image["id"],
                        "category_id": 1,
                        "keypoints": kp.ravel().tolist(),
                        "score": float(np.round(rng.uniform(0.05, 1.0), 8)),
                        "bbox": _box(kp),
                    }
                )
        for _ in range(int(rng.poisson(0.75))):
            kp = np.concatenate([rng.random((K, 1)) * 600, rng.random((K, 1)) * 450,
                                 np.round(rng.random((K, 1)), 3)], 1)  # fmt: skip
            results.append(
                {
                    "image_id": image["id"],
                    "category_id": 1,
                    "keypoints": np.round(kp, 3).ravel().tolist(),
                    "score": float(np.round(rng.uniform(0.01, 0.6), 8)),
                    "bbox": _box(np.round(kp, 3)),
                }
            )
    categories = [
        {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": [f"kp{i}" for i in range(K)],
            "skeleton": [[1, 2], [2, 3]],
        }
    ]
    gt = {"info": {}, "licenses": [], "images": images, "annotations": annotations,
          "categories": categories}  # fmt: skip
    return gt, results


def write(folder: Path, scale: int = 1, *, seed: int = 0) -> tuple[Path, Path]:
    """Write ``gt_<scale>x.json`` and ``results_<scale>x.json`` (cached) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    gt_path = folder / f"gt_{scale}x_seed{seed}.json"
    res_path = folder / f"results_{scale}x_seed{seed}.json"
    if not (gt_path.exists() and res_path.exists()):
        gt, results = generate(scale, seed=seed)
        gt_path.write_bytes(orjson.dumps(gt))
        res_path.write_bytes(orjson.dumps(results))
    return gt_path, res_path
