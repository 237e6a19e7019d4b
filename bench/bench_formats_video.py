"""Time the SLEAP, PoseTrack and MPII readers against each tool's own reader, in one run.

Each real fixture is repeated to a larger file in a temporary folder (fixed layout, ids made
unique), then, best of ``--repeat``, with peak memory (``tracemalloc``) beside each time:

* SLEAP: ``read_sleap`` (sleap-io's readers for the file's tables, then Arrow columns) and
  ``Table.from_sleap`` (plus the store write) against ``sleap_io.load_slp`` alone (its
  eager load, which makes an object per instance, and its ``lazy=True`` load). The file is
  ``predictions_1.2.7_provenance_and_tracking.slp`` (13 nodes, 2 tracks, predictions with
  scores) with its frames repeated to ``--frames`` frames by sleap-io itself.
* PoseTrack: ``read_posetrack`` against pycocotools' ``COCO(path)`` (the loader PoseTrack
  tools build on: ``json.load`` plus its index); ``test_posetrack18_val.json`` repeated to
  ``--images`` images.
* MPII: ``read_mpii`` of mmpose's JSON against ``json.load`` (what mmpose's MPII dataset
  does); ``test_mpii.json`` repeated to ``--people`` people.

Run: ``python bench/bench_formats_video.py [--frames 20000] [--images 20000] [--people 40000]``
(needs the ``sleap`` extra and pycocotools for the peers).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_formats_labeling import _quiet, _report  # noqa: E402
from tests._data import data_path  # noqa: E402

import posetable as pt  # noqa: E402
from posetable.formats.mpii import read_mpii  # noqa: E402
from posetable.formats.posetrack import read_posetrack  # noqa: E402
from posetable.formats.sleap import read_sleap  # noqa: E402


def _sleap_file(frames: int, folder: Path) -> Path:
    import sleap_io as sio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = sio.load_slp(
            str(data_path("sleap") / "predictions_1.2.7_provenance_and_tracking.slp"),
            open_videos=False,
        )
    base = source.labeled_frames
    made = []
    for i in range(frames):  # each frame a real one, numbered on
        frame = base[i % len(base)]
        instances = [copy.copy(inst) for inst in frame.instances]
        made.append(sio.LabeledFrame(video=frame.video, frame_idx=i, instances=instances))
    labels = sio.Labels(
        labeled_frames=made, videos=source.videos, skeletons=source.skeletons, tracks=source.tracks
    )
    path = folder / "predictions.slp"
    sio.save_slp(labels, str(path), embed=False, verbose=False)
    return path


def bench_sleap(frames: int, repeat: int, folder: Path) -> None:
    import sleap_io as sio

    path = _sleap_file(frames, folder)
    counter = [0]

    def table() -> None:
        counter[0] += 1
        pt.Table.from_sleap(
            path, name=f"s{counter[0]}", store=folder / "store", image_size=(1024, 1024)
        )

    ours = {
        "read_sleap": _quiet(lambda: read_sleap(path, image_size=(1024, 1024))),
        "Table.from_sleap": _quiet(table),
    }
    _report(
        "sleap",
        frames,
        ours,
        ("sleap_io.load_slp", _quiet(lambda: sio.load_slp(str(path)))),
        repeat,
    )
    lazy = ("load_slp(lazy=True)", _quiet(lambda: sio.load_slp(str(path), lazy=True)))
    _report("sleap", frames, {"read_sleap": ours["read_sleap"]}, lazy, repeat)


def _posetrack_file(images: int, folder: Path) -> Path:
    source = json.loads(
        (data_path("posetrack18") / "annotations/test_posetrack18_val.json").read_text()
    )
    out: dict = {"categories": source["categories"], "images": [], "annotations": []}
    by_image: dict[int, list[dict]] = {}
    for ann in source["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    ann_id = 1
    for i in range(images):
        image = dict(source["images"][i % len(source["images"])])
        people = by_image.get(image["id"], [])
        image["id"] = i + 1
        image["file_name"] = f"images/val/{image['vid_id']}/{i:06d}.jpg"
        out["images"].append(image)
        for ann in people:
            out["annotations"].append(dict(ann, id=ann_id, image_id=i + 1))
            ann_id += 1
    path = folder / "posetrack.json"
    path.write_text(json.dumps(out))
    return path


def bench_posetrack(images: int, repeat: int, folder: Path) -> None:
    from pycocotools.coco import COCO

    path = _posetrack_file(images, folder)

    def peer() -> None:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints its progress
            COCO(str(path))

    ours = {"read_posetrack": _quiet(lambda: read_posetrack(path))}
    _report("posetrack", images, ours, ("pycocotools.COCO", peer), repeat)


def bench_mpii(people: int, repeat: int, folder: Path) -> None:
    source = json.loads((data_path("mpii") / "test_mpii.json").read_text())
    records = [source[i % len(source)] for i in range(people)]
    path = folder / "mpii.json"
    path.write_text(json.dumps(records, indent=4) + "\n")
    images = data_path("mpii")
    ours = {"read_mpii": _quiet(lambda: read_mpii(path, image_folder=images))}
    _report("mpii", people, ours, ("json.load", lambda: json.loads(path.read_text())), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_sleap(args.frames, args.repeat, folder)
        bench_posetrack(args.images, args.repeat, folder)
        bench_mpii(args.people, args.repeat, folder)


if __name__ == "__main__":
    main()
