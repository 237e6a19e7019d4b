"""Benchmark of the format importers against their peers, measured in the same run.

Generates (fixed seed) a COCO val2017-sized person keypoints JSON (5,000 images, about
11,000 persons, with segmentation polygons like the real file) and a 10x one, and a
YOLO-pose folder of 5,000 label files for the same kind of data, then prints:

* ``Table.from_coco`` time as a ratio to ``json.load`` + ``pycocotools.coco.COCO`` index
  building on the same file (goal <= 0.5x), for both sizes, and ``export_coco`` time;
* the peak memory (RSS) of the 10x import, in a fresh process;
* ``Table.from_yolo`` in label files per second, next to Ultralytics' own label scan
  (``verify_image_label`` over a ``ThreadPool``, as ``YOLODataset.cache_labels`` runs it)
  on the same folder. Ultralytics needs torch, so it runs in a separate environment: the
  Python of ``$ULTRALYTICS_PYTHON`` (default ``/work/venv-full/bin/python``) when it has
  ultralytics; otherwise the same per-file work (open the label file, ``split``, a numpy
  array, open and verify the image with Pillow) is timed here and labelled as such.

Usage::

    .venv/bin/python bench/bench_formats.py              # the full run
    .venv/bin/python bench/bench_formats.py --quick      # 1,000 images, no 10x

Every time is the best of ``--repeat`` runs (the machine is shared; the best run is the
least disturbed one), peer and posetable interleaved.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

import posetable as pt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests._data import data_path  # the real test datasets (tests/data)

COCO_NAMES = list(pt.COCO_KEYPOINT_NAMES)
SKELETON = [[a + 1, b + 1] for a, b in pt.COCO_SKELETON]
ULTRALYTICS_PYTHON = os.environ.get("ULTRALYTICS_PYTHON", "/work/venv-full/bin/python")


def make_coco(images: int, seed: int) -> dict[str, Any]:
    """A COCO person keypoints document shaped like val2017 (2.2 persons per image)."""
    rng = np.random.default_rng(seed)
    sizes = np.array([[640, 480], [640, 427], [480, 640], [500, 375], [640, 426]])
    ids = rng.choice(10 * images + 600_000, images, replace=False) + 1
    document: dict[str, Any] = {
        "info": {"description": "posetable benchmark", "year": 2026},
        "licenses": [{"id": i, "name": f"license {i}", "url": ""} for i in range(1, 9)],
        "images": [],
        "annotations": [],
        "categories": [
            {"supercategory": "person", "id": 1, "name": "person", "keypoints": COCO_NAMES,
             "skeleton": SKELETON}
        ],
    }  # fmt: skip
    ann_id = 1
    for image_id in ids.tolist():
        w, h = sizes[rng.integers(len(sizes))].tolist()
        document["images"].append(
            {"license": int(rng.integers(1, 9)), "file_name": f"{image_id:012d}.jpg",
             "coco_url": f"http://images.cocodataset.org/val2017/{image_id:012d}.jpg",
             "height": h, "width": w, "date_captured": "2013-11-14 17:02:52",
             "flickr_url": f"http://farm4.staticflickr.com/3153/{image_id}_z.jpg", "id": image_id}
        )  # fmt: skip
        for _ in range(int(rng.poisson(2.2))):
            bw, bh = float(rng.uniform(10, w / 2)), float(rng.uniform(20, h / 1.2))
            x0, y0 = float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh))
            labeled = rng.random() < 0.6
            v = rng.choice([0, 1, 2], 17, p=[0.2, 0.1, 0.7]) if labeled else np.zeros(17, int)
            kx = np.where(v > 0, rng.integers(int(x0), int(x0 + bw) + 1, 17), 0)
            ky = np.where(v > 0, rng.integers(int(y0), int(y0 + bh) + 1, 17), 0)
            n = int(rng.integers(8, 40))
            polygon = np.stack([rng.uniform(x0, x0 + bw, n), rng.uniform(y0, y0 + bh, n)], 1)
            document["annotations"].append(
                {"segmentation": [np.round(polygon.ravel(), 2).tolist()],
                 "num_keypoints": int((v > 0).sum()), "area": round(bw * bh * 0.6, 5),
                 "iscrowd": 0, "keypoints": np.stack([kx, ky, v], 1).ravel().tolist(),
                 "image_id": image_id,
                 "bbox": [round(x0, 2), round(y0, 2), round(bw, 2), round(bh, 2)],
                 "category_id": 1, "id": ann_id}
            )  # fmt: skip
            ann_id += int(rng.integers(1, 1000))
    return document


def make_yolo(document: dict[str, Any], folder: Path) -> Path:
    """A YOLO-pose folder of the document's images: one label file each, linked images."""
    samples = sorted((data_path("coco_kpts") / "images").glob("*.jpg"))
    images, labels = folder / "images" / "train", folder / "labels" / "train"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in document["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    for i, image in enumerate(document["images"]):
        os.symlink(samples[i % len(samples)], images / image["file_name"])
        lines = []
        for ann in by_image.get(image["id"], []):
            kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
            x, y, bw, bh = ann["bbox"]
            box = [(x + bw / 2) / image["width"], (y + bh / 2) / image["height"],
                   bw / image["width"], bh / image["height"]]  # fmt: skip
            kp[:, 0] /= image["width"]
            kp[:, 1] /= image["height"]
            text = [f"{v:.6f}" for v in box]
            for px, py, pv in kp:
                text += [f"{min(px, 1):.6f}", f"{min(py, 1):.6f}", str(int(pv))]
            lines.append("0 " + " ".join(text))
        (labels / (image["file_name"].rsplit(".", 1)[0] + ".txt")).write_text("\n".join(lines))
    data_yaml = folder / "data.yaml"
    data_yaml.write_text(
        "train: images/train\nval: images/train\nkpt_shape: [17, 3]\n"
        "flip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]\n"
        "names:\n  0: person\n"
    )
    return data_yaml


def best(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def pycocotools_index(path: Path) -> None:
    """``json.load`` + pycocotools' index building, as ``COCO(path)`` does it."""
    from pycocotools.coco import COCO

    with open(path) as handle:
        dataset = json.load(handle)
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()


def bench_coco(path: Path, work: Path, repeat: int, label: str) -> None:
    counter = iter(range(1_000_000))

    def ours() -> pt.Table:
        store = work / f"store-{next(counter)}"
        return pt.Table.from_coco(path, name="bench", store=store, progress=False)

    reference, mine = [], []
    for _ in range(repeat):  # interleaved: both see the same machine load
        reference.append(best(lambda: pycocotools_index(path), 1))
        mine.append(best(ours, 1))
    ref, own = min(reference), min(mine)
    table = ours()
    export = best(lambda: table.export_coco(work / "export.json", progress=False), 1)
    dump = best(
        lambda: (work / "dump.json").write_text(json.dumps(json.loads(path.read_bytes()))), 1
    )
    size = path.stat().st_size / 2**20
    print(f"\n{label}: {path.stat().st_size:,} bytes ({size:.1f} MiB)")
    print(f"  json.load + pycocotools COCO index  {ref:8.3f} s")
    ratio = own / ref
    print(f"  posetable Table.from_coco           {own:8.3f} s   ratio {ratio:.2f}x (goal <= 0.5x)")
    print(f"  posetable export_coco               {export:8.3f} s   (json round trip {dump:.3f} s)")


_HWM = (
    "import sys\n"
    "def hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM'):\n"
    "            return int(line.split()[1]) / 1024\n"
)


def _peak(setup: str, work: str) -> tuple[float, float]:
    """(baseline, peak) resident MiB of a fresh process running ``setup`` then ``work``."""
    code = f"{_HWM}{setup}\nbase = hwm()\n{work}\nprint(base, hwm())\n"
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[-2]), float(out[-1])  # pycocotools prints too


def peak_memory(path: Path, work: Path) -> None:
    """Peak resident memory (VmHWM) of fresh processes: posetable's import and the peer's."""
    store = str(work / "peak")
    base, ours = _peak(
        "import posetable as pt",
        f"pt.Table.from_coco({str(path)!r}, name='peak', store={store!r}, progress=False)",
    )
    peer_base, peer = _peak(
        "import json\nfrom pycocotools.coco import COCO",
        f"c = COCO()\nc.dataset = json.load(open({str(path)!r}))\nc.createIndex()",
    )
    size = path.stat().st_size / 2**20
    print(
        f"  peak RSS, posetable import          {ours:8.0f} MiB (+{ours - base:.0f} over the "
        f"{base:.0f} MiB of python + posetable; the file is {size:.0f} MiB)"
    )
    print(
        f"  peak RSS, json.load + COCO index    {peer:8.0f} MiB (+{peer - peer_base:.0f})   "
        f"ratio {(ours - base) / (peer - peer_base):.2f}x"
    )


ULTRALYTICS_SCAN = r"""
import sys, time
from itertools import repeat
from multiprocessing.pool import ThreadPool
from ultralytics import __version__
from ultralytics.data.utils import img2label_paths, verify_image_label
from ultralytics.utils import NUM_THREADS
images = sorted(open(sys.argv[1]).read().split("\n"))
labels = img2label_paths(images)
best = None
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    with ThreadPool(NUM_THREADS) as pool:
        args = zip(images, labels, repeat(""), repeat(True), repeat(1), repeat(17), repeat(3),
                   repeat(False))
        results = list(pool.imap(verify_image_label, args))
    took = time.perf_counter() - started
    best = took if best is None else min(best, took)
bad = sum(r[8] for r in results)
print(__version__, NUM_THREADS, best, bad)
"""


def per_file_scan(images: list[str], labels: list[str]) -> None:
    """Ultralytics' per-file work without Ultralytics: read, split, array, verify image."""
    from PIL import Image

    for image, label in zip(images, labels, strict=True):
        with Image.open(image) as im:
            im.verify()
        with open(label, encoding="utf-8-sig") as handle:
            rows = [x.split() for x in handle.read().strip().splitlines() if x.strip()]
        np.array(rows, dtype=np.float32)


def bench_yolo(data_yaml: Path, work: Path, repeat: int) -> None:
    from posetable.formats._yolo_yaml import label_paths

    images = sorted(str(p) for p in (data_yaml.parent / "images" / "train").iterdir())
    labels = label_paths(images)
    count = len(labels)
    counter = iter(range(1_000_000))

    def ours() -> pt.Table:
        store = work / f"yolo-{next(counter)}"
        return pt.Table.from_yolo(data_yaml, name="bench", store=store, progress=False)

    own = best(ours, repeat)
    megabytes = sum(os.path.getsize(p) for p in labels) / 2**20
    print(f"\nYOLO-pose folder: {count:,} label files ({megabytes:.1f} MiB)")
    print(f"  posetable Table.from_yolo           {own:8.3f} s   {count / own:10,.0f} labels/s")
    listing = work / "images.txt"
    listing.write_text("\n".join(images))
    peer = None
    if Path(ULTRALYTICS_PYTHON).exists():
        run = subprocess.run(
            [ULTRALYTICS_PYTHON, "-c", ULTRALYTICS_SCAN, str(listing), str(repeat)],
            capture_output=True, text=True,
        )  # fmt: skip
        if run.returncode == 0:
            version, threads, took, bad = run.stdout.split()[-4:]
            peer = float(took)
            print(
                f"  Ultralytics {version} label scan       {peer:8.3f} s   {count / peer:10,.0f} "
                f"labels/s ({threads} threads, {bad} corrupt)   posetable is "
                f"{peer / own:.1f}x faster"
            )
    if peer is None:
        took = best(lambda: per_file_scan(images, labels), repeat)
        print(
            f"  Ultralytics not available: the same per-file work here {took:.3f} s "
            f"({count / took:,.0f} labels/s)   posetable is {took / own:.1f}x faster"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 images, no 10x file")
    args = parser.parse_args()
    images = 1000 if args.quick else args.images
    warnings.simplefilter("ignore", pt.errors.PosetableWarning)
    work = Path(tempfile.mkdtemp(prefix="posetable-bench-formats-"))
    try:
        document = make_coco(images, seed=0)
        small = work / "val.json"
        small.write_bytes(orjson.dumps(document))
        persons = len(document["annotations"])
        print(f"COCO person keypoints, {images:,} images, {persons:,} persons (seed 0)")
        bench_coco(small, work, args.repeat, "val2017-sized")
        if not args.quick:
            big = work / "val10x.json"
            big.write_bytes(orjson.dumps(make_coco(images * 10, seed=1)))
            bench_coco(big, work, max(1, args.repeat - 1), "10x")
            peak_memory(big, work)
        data_yaml = make_yolo(document, work / "yolo")
        bench_yolo(data_yaml, work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
