"""``pt.check`` and ``pt.diagnose`` at val2017 size and 10x, against one pycocotools evaluation.

Generates the val2017-sized ground truth / results pair of ``bench_eval.py`` (5,000 images,
~11,300 persons, ~19,200 predictions; fixed seed) and a 10x one, and times in ONE process
(min of ``--repeat`` runs):

- the yardstick: one pycocotools keypoint evaluation (COCOeval evaluate + accumulate +
  summarize; loading the two files is timed apart);
- ``pt.check`` on the table in a store (every rule), and on the COCO JSON itself (the
  import into a temporary store included);
- ``pt.diagnose`` on the table and a run in the store (jitter, inversion, swap, miss,
  score and background fixes: seven re-evaluations, the OKS 0.1 matching, the soft-NMS).

It prints each time, the ratio of pycocotools' evaluation to it (above 1: faster than one
pycocotools evaluation) and the peak traced memory of each (``tracemalloc``, in a
separate, untimed run: numpy reports its buffers to it).

    python bench/bench_diagnose.py                 # 1x and 10x
    python bench/bench_diagnose.py --scales 1 --repeat 3
"""

import argparse
import logging
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import posetable as pt
from _eval_data import write
from bench_eval import run_pycocotools  # the same pycocotools run bench_eval times
from posetable.eval import _engine

SIGMAS = np.asarray(pt.COCO_OKS_SIGMAS)


def pycocotools_eval(gt: Path, res: Path) -> tuple[float, float]:
    """(load seconds, evaluation seconds) of one pycocotools keypoint evaluation."""
    load, evaluation, _ = run_pycocotools(gt, res)
    return load, evaluation


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak traced memory (MB) while ``fn`` runs (numpy buffers included)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def setup(gt: Path, res: Path, store: Path) -> tuple[pt.Table, pt.Run]:
    """Untimed: the ground truth as a table, the results as a run."""
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pt.Table.from_coco(
            gt,
            name="bench",
            store=store,
            missing_images="warn",
            oks_sigmas=SIGMAS.tolist(),
            flip_indices=list(pt.COCO_FLIP_INDICES),
        )
        run = pt.Run.from_coco_results(table, res, name="bench-run", store=store)
    logging.disable(logging.NOTSET)
    return table, run


def check_file(gt: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.check(gt)


def bench_scale(scale: int, folder: Path, repeat: int, slow_repeat: int) -> dict[str, Any]:
    gt, res = write(folder, scale)
    print(
        f"\n=== {scale}x: {gt.stat().st_size / 1e6:.1f} MB GT, "
        f"{res.stat().st_size / 1e6:.1f} MB results; engine {_engine.backend()} ==="
    )
    reps = slow_repeat if scale > 1 else repeat
    loads, evals = zip(*(pycocotools_eval(gt, res) for _ in range(reps)), strict=True)
    coco_load, coco_eval = min(loads), min(evals)
    store = Path(tempfile.mkdtemp(prefix=f"bench-diagnose-{scale}x-"))
    table, run = setup(gt, res, store)
    logging.disable(logging.WARNING)  # diagnose's note about flip indices, etc.
    findings = pt.check(table)
    diagnosis = pt.diagnose(table, run)
    rows: dict[str, tuple[float, float]] = {}
    rows["check (table in the store)"] = (
        timed(lambda: pt.check(table), repeat),
        peak_mb(lambda: pt.check(table)),
    )
    rows["check (COCO JSON, import included)"] = (
        timed(lambda: check_file(gt), max(1, reps)),
        peak_mb(lambda: check_file(gt)),
    )
    rows["diagnose (table + run)"] = (
        timed(lambda: pt.diagnose(table, run), repeat),
        peak_mb(lambda: pt.diagnose(table, run)),
    )
    rows["pt.evaluate (table + run), for reference"] = (
        timed(lambda: pt.evaluate(table, run), repeat),
        peak_mb(lambda: pt.evaluate(table, run)),
    )
    logging.disable(logging.NOTSET)
    coco_peak = peak_mb(lambda: pycocotools_eval(gt, res))
    print(
        f"pycocotools: load {coco_load:.3f} s, evaluation {coco_eval:.3f} s "
        f"(peak {coco_peak:.0f} MB, load included)"
    )
    print(f"{'':44} {'seconds':>9} {'pycocotools eval / it':>22} {'peak MB':>9}")
    for name, (seconds, peak) in rows.items():
        print(f"{name:44} {seconds:9.3f} {coco_eval / seconds:21.1f}x {peak:9.0f}")
    counts = {
        s: sum(1 for v in findings.column("severity").to_pylist() if v == s)
        for s in ("error", "warning", "info")
    }
    print(f"findings on the generated data (random points, not poses): {counts}")
    print(
        "diagnosis:",
        {k: round(v, 3) for k, v in diagnosis.ap_improvement.items()},
        f"baseline AP {diagnosis.ap:.3f}",
    )
    return {"coco_eval": coco_eval, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slow-repeat", type=int, default=1, help="repeats of slow runs at 10x")
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "posetable-bench"
    )
    args = parser.parse_args()
    for scale in args.scales:
        bench_scale(scale, args.data, args.repeat, args.slow_repeat)


if __name__ == "__main__":
    main()
