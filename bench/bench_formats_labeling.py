"""Time the Label Studio, CVAT and Ultralytics NDJSON readers against each tool's reader.

Each real fixture (``tests/data/label_studio``, ``cvat``, ``ndjson``) is repeated to a
larger file in a temporary folder (``--rows`` tasks / images / records, fixed layout, ids
made unique). In the same run, best of ``--repeat``:

* Label Studio: ``read_label_studio`` (parse, check, Arrow columns) and
  ``Table.from_label_studio`` (the same plus the store write) against sleap-io's
  ``sleap_io.io.labelstudio.read_labels``, the SLEAP team's reader (needs
  ``meta.video``, which the generated tasks carry).
* CVAT: ``read_cvat`` against ``xml.etree.ElementTree.parse`` plus a walk over the
  skeleton points (CVAT's own reader lives in its server; ElementTree is the floor of any
  Python reader).
* NDJSON: ``read_ndjson`` against the parse that Ultralytics' ``convert_ndjson_to_yolo``
  does first (``json.loads`` per line; the rest of it downloads images).

Peak memory (``tracemalloc``, Python and numpy allocations) is printed beside each time.

Run: ``python bench/bench_formats_labeling.py [--rows 20000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import tracemalloc
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_formats_new import _best  # noqa: E402
from tests._data import data_path  # noqa: E402

import posetable as pt  # noqa: E402
from posetable.formats.cvat import read_cvat  # noqa: E402
from posetable.formats.label_studio import read_label_studio  # noqa: E402
from posetable.formats.ndjson import read_ndjson  # noqa: E402


def _peak(call: Callable[[], Any]) -> float:
    """Peak traced memory of one call, in MB."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _report(
    what: str,
    rows: int,
    ours: dict[str, Callable[[], Any]],
    peer: tuple[str, Callable[[], Any]],
    repeat: int,
) -> None:
    peer_time = _best(peer[1], repeat)
    peer_peak = _peak(peer[1])
    for name, call in ours.items():
        mine = _best(call, repeat)
        print(
            f"{what:<12} {rows:>7} rows  {name} {mine:.3f}s ({_peak(call):.0f} MB)  "
            f"{peer[0]} {peer_time:.3f}s ({peer_peak:.0f} MB)  ratio {mine / peer_time:.2f}x"
        )


def _quiet(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()

    return run


def bench_label_studio(rows: int, repeat: int, folder: Path) -> None:
    source = json.loads(
        (data_path("label_studio") / "sleap_io" / "multi_animal_from_dlc.json").read_text()
    )
    tasks = []
    for i in range(rows):
        task = copy.deepcopy(source[i % len(source)])
        task["id"] = i
        task["meta"]["video"] = {"filename": task["data"]["image"], "frame_idx": 0, "shape": None}
        tasks.append(task)
    path = folder / "tasks.json"
    path.write_text(json.dumps(tasks))
    names = list(read_label_studio(path).schema.keypoint_names) if rows else []
    counter = [0]

    def table() -> None:
        counter[0] += 1
        pt.Table.from_label_studio(
            path, name=f"ls{counter[0]}", store=folder / "store", keypoint_names=names
        )

    try:
        from sleap_io.io.labelstudio import read_labels
    except ImportError:
        print("label-studio: sleap-io is not installed, no peer to time")
        return
    _report(
        "label-studio",
        rows,
        {"read_label_studio": _quiet(lambda: read_label_studio(path, keypoint_names=names)),
         "Table.from_label_studio": _quiet(table)},
        ("sleap_io read_labels", lambda: read_labels(str(path), list(names))),
        repeat,
    )  # fmt: skip


def bench_cvat(rows: int, repeat: int, folder: Path) -> None:
    text = (data_path("cvat") / "datumaro" / "train.xml").read_text()
    head, _, rest = text.partition("  <image ")
    images, _, tail = ("  <image " + rest).rpartition("</annotations>")
    blocks = images.split("  <image ")[1:]
    body = "".join(
        "  <image " + blocks[i % len(blocks)].replace(f'id="{i % len(blocks)}"', f'id="{i}"', 1)
        for i in range(rows)
    )
    path = folder / "annotations.xml"
    path.write_text(head + body + "</annotations>" + tail)

    def peer() -> None:
        root = ET.parse(path).getroot()
        points = [(p.get("label"), p.get("points")) for s in root.iter("skeleton") for p in s]
        assert points

    _report(
        "cvat",
        rows,
        {"read_cvat": _quiet(lambda: read_cvat(path))},
        ("ElementTree.parse", peer),
        repeat,
    )


def bench_ndjson(rows: int, repeat: int, folder: Path) -> None:
    lines = (data_path("ndjson") / "coco8-pose.ndjson").read_text().splitlines()
    dataset, records = json.loads(lines[0]), lines[1:]
    dataset.pop("path")
    out = [json.dumps(dataset)]
    for i in range(rows):
        record = json.loads(records[i % len(records)])
        record["file"] = f"{i}.jpg"
        out.append(json.dumps(record))
    path = folder / "dataset.ndjson"
    path.write_text("\n".join(out) + "\n")

    def peer() -> None:  # what convert_ndjson_to_yolo does before it downloads the images
        with path.open(encoding="utf-8") as file:
            [json.loads(line) for line in file if line.strip()]

    _report(
        "ndjson",
        rows,
        {"read_ndjson": _quiet(lambda: read_ndjson(path))},
        ("json.loads per line", peer),
        repeat,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_label_studio(args.rows, args.repeat, Path(tmp))
        bench_cvat(args.rows, args.repeat, Path(tmp))
        bench_ndjson(args.rows, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
