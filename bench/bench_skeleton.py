"""Benchmark of the skeleton operations: reorder, remove, add and map keypoints.

Builds bench_table's synthetic table (100,000 images / about 250,000 person instances, K=17,
fixed seed) and times each operation as one new revision, next to the yardstick measured in
the same run: ``Table.from_arrow`` of the same data already in memory (the plain Arrow write
of the whole table), and ``to_arrow`` followed by it (the plain read and write a skeleton
change does, less the transform)::

    .venv/bin/python bench/bench_skeleton.py                         # the full size
    .venv/bin/python bench/bench_skeleton.py --images 10000 --repeat 1   # a quick look

Each measurement runs in a fresh process (``spawn``) on its own copy of the table; its peak
memory is that process's resident memory, sampled every 2 ms while the operation runs,
above what it held before (Lance's and Arrow's native allocations included). Every time is
the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import posetable as pt
from bench_table import synthetic  # the same generated table bench_table times
from posetable import skeleton
from posetable._arrow import flat_from_arrow

CASES = {
    "from_arrow": "Table.from_arrow of the data (yardstick)",
    "rewrite": "to_arrow + Table.from_arrow (read and write)",
    "reorder": "reorder_keypoints (all 17 reversed)",
    "remove": "remove_keypoints (the two ears)",
    "add": "add_keypoints (two toes, sigmas, flips, lines)",
    "map": "map_keypoints coco17 -> mpii16 (revision)",
    "map_new": "map_keypoints coco17 -> halpe26 (new table)",
    "rename": "rename_keypoints (schema only)",
}


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def _run(case: str, store: str, name: str) -> tuple[float, float]:
    """Run one case on table ``name`` in this (fresh) process: (seconds, peak MB above start).

    The same case first runs once on a one-row copy, so lazy imports and Lance's first-call
    setup are not part of the figure.
    """
    warnings.simplefilter("ignore")
    skeleton.PROGRESS_ROWS = 1 << 62  # no progress bar in the figures
    table = pt.Table.open(name, store=store)
    tiny = table.derive(f"{name}-warm", rows=[0])
    _op(case, tiny, store)
    data = table.to_arrow() if case == "from_arrow" else None
    before = _rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # the resident memory every 2 ms while the operation runs
        while not done.wait(0.002):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    _op(case, table, store, data)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_mb())
    return seconds, peak[0] - before


def _op(case: str, table: pt.Table, store: str, data: Any = None) -> None:
    """The operation of ``case`` on ``table``."""
    name = table.name
    if data is None:
        data = table.to_arrow() if case == "from_arrow" else None
    if case == "from_arrow":
        pt.Table.from_arrow(data, name=f"{name}-copy", schema=table.schema, store=store)
    elif case == "rewrite":
        pt.Table.from_arrow(table.to_arrow(), name=f"{name}-copy", schema=table.schema, store=store)
    elif case == "reorder":
        table.reorder_keypoints(list(range(17))[::-1])
    elif case == "remove":
        table.remove_keypoints(["left_ear", "right_ear"])
    elif case == "add":
        table.add_keypoints(
            ["left_big_toe", "right_big_toe"],
            sigmas=[0.079, 0.079],
            flip_pairs=[("left_big_toe", "right_big_toe")],
            lines=[("left_ankle", "left_big_toe"), ("right_ankle", "right_big_toe")],
        )
    elif case == "map":
        pt.map_keypoints(table, "mpii16", "coco17->mpii16")
    elif case == "map_new":
        pt.map_keypoints(table, "halpe26", "coco17->halpe26", name=f"{name}-halpe")
    elif case == "rename":
        table.rename_keypoints({"nose": "snout"})


def _child(case: str, store: str, name: str, conn: Any) -> None:
    conn.send(_run(case, store, name))
    conn.close()


def measure(case: str, store: Path, name: str) -> tuple[float, float]:
    """``_run`` in a spawned process."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(case, str(store), name, there))
    process.start()
    result = here.recv()
    process.join()
    return result


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    repeat = max(1, args.repeat)
    data = synthetic(args.images, args.seed)
    work = Path(tempfile.mkdtemp(prefix="posetable-bench-skeleton-"))
    store = work / "store"
    try:
        source = pt.Table.from_arrow(
            data, name="source", schema=pt.Keypoints2DSchema.coco_person(), store=store
        )
        instances = int(flat_from_arrow(data["keypoints"]).counts.sum())
        print(
            f"posetable skeleton benchmark: {args.images:,} images, {instances:,} instances, "
            f"K=17, best of {repeat}, each run in a fresh process"
        )
        results: dict[str, tuple[float, float]] = {}
        for case in CASES:
            best: tuple[float, float] | None = None
            for attempt in range(repeat):
                name = f"{case}-{attempt}"
                source.derive(name)  # a copy of the table for this run (not timed)
                seconds, peak = measure(case, store, name)
                if best is None or seconds < best[0]:
                    best = (seconds, peak)
            assert best is not None
            results[case] = best
        reference = results["from_arrow"][0]
        rewrite = results["rewrite"][0]
        for case, (seconds, peak) in results.items():
            ratio = "" if case == "from_arrow" else f"{seconds / reference:5.2f}x from_arrow"
            if case not in ("from_arrow", "rewrite"):
                ratio += f"  {seconds / rewrite:5.2f}x read+write"
            print(f"  {CASES[case]:48} {seconds * 1000:9.1f} ms  peak +{peak:7.1f} MB  {ratio}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
