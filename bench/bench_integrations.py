"""Benchmark: feeding a table to Ultralytics directly vs through a YOLO label folder.

Ultralytics' trainer needs one label dict per image before the first batch. posetable builds
them from the table (``TableLabels.from_table`` + ``yolo_labels``: one column-wise decode,
an existence check per image file). The alternative, without posetable's dataset, is to
export a YOLO folder and let Ultralytics scan it (it opens every image and parses every
label file, then caches). This script times, in one run, on the same synthetic data
(``--images`` small JPEGs, ~2.5 persons each, K=17, fixed seed):

* posetable: labels straight from the table;
* Ultralytics' label scan of an existing folder (cache miss), the reference;
* the folder route: ``table.export_yolo`` + that scan;

and prints the ratios. Needs the ``[ultralytics]`` extra::

    python bench/bench_integrations.py --images 2000   # in an environment with the extra

Every figure is the best of ``--repeat`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml
from PIL import Image

import posetable as pt
from posetable._arrow import keypoints_column
from posetable.errors import PosetableWarning

K = 17


def make_table(folder: Path, images: int, seed: int, store: Path) -> pt.Table:
    """Tiny JPEG files and a table of random persons on them."""
    rng = np.random.default_rng(seed)
    width, height = 96, 64
    image_dir = folder / "images"
    image_dir.mkdir(parents=True)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    paths = []
    for i in range(images):
        path = image_dir / f"{i:07d}.jpg"
        Image.fromarray(np.roll(pixels, i, axis=1)).save(path, quality=70)
        paths.append(str(path))
    counts = rng.poisson(2.5, images)
    total = int(counts.sum())
    top_left = rng.uniform(0, 0.5, (total, 1, 2)) * [width, height]
    keypoints = top_left + rng.uniform(0, 0.5, (total, K, 2)) * [width, height]
    visibility = rng.choice([0, 1, 2], size=(total, K), p=[0.2, 0.1, 0.7]).astype(np.int32)
    keypoints[visibility == 0] = 0.0
    column = keypoints_column(
        counts,
        keypoints,
        widths=np.full(images, width),
        heights=np.full(images, height),
        visibilities=visibility,
    )
    data = pa.table(
        {
            "image": paths,
            "width": pa.array(np.full(images, width), pa.int32()),
            "height": pa.array(np.full(images, height), pa.int32()),
            "keypoints": column,
        }
    )
    schema = pt.Keypoints2DSchema.coco_person()
    return pt.Table.from_arrow(data, name="bench", schema=schema, store=store)


def best_of(
    repeat: int, work: Callable[[], Any], before: Callable[[], None] | None = None
) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import YOLODataset

    from posetable.integrations._common import TableLabels
    from posetable.integrations._ultralytics_data import yolo_labels
    from posetable.integrations.ultralytics import data_config

    work = Path(tempfile.mkdtemp(prefix="posetable-bench-integrations-"))
    try:
        table = make_table(work / "source", args.images, args.seed, work / "store")
        instances = int(
            table.sql("SELECT sum(len(keypoints.instances)) AS n FROM t")["n"][0].as_py()
        )
        print(f"{len(table)} images, {instances} persons, K={K}")
        data = {**data_config(table), "kpt_oks_sigmas": None}
        hyp = get_cfg(overrides={"task": "pose", "imgsz": 96})
        export = work / "yolo"

        def direct() -> None:
            yolo_labels(TableLabels.from_table(table))

        def export_folder() -> Path:
            if export.exists():
                shutil.rmtree(export)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PosetableWarning)
                return table.export_yolo(export, image_mode="symlink", progress=False)

        def scan() -> None:
            for cache in export.rglob("*.cache"):
                cache.unlink()
            YOLODataset(
                img_path=str(images), data=data, task="pose", imgsz=96, augment=False, hyp=hyp
            )

        t_direct = best_of(args.repeat, direct)
        data_yaml = export_folder()
        config = yaml.safe_load(data_yaml.read_text())
        images = (data_yaml.parent / config.get("path", ".") / config["train"]).resolve()
        t_scan = best_of(args.repeat, scan)
        t_export = best_of(args.repeat, export_folder)
        t_route = t_export + t_scan
        print(f"posetable, labels straight from the table: {t_direct:8.3f} s")
        print(f"Ultralytics' label scan of a folder:       {t_scan:8.3f} s  (reference)")
        print(f"table.export_yolo + that scan:              {t_route:8.3f} s")
        print(f"ratio direct / scan:           {t_direct / t_scan:6.3f}x")
        print(f"ratio direct / export + scan:  {t_direct / t_route:6.3f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
