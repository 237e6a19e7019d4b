"""COCO keypoint evaluation: posetable against pycocotools, faster-coco-eval, hotcoco, vernier.

Generates a val2017-sized ground truth / results pair (5,000 images, ~11,300 persons,
~19,200 predictions with bbox; fixed seed) and a 10x one, then times in ONE process, min of
``--repeat`` runs, the load and eval phases separately:

- pycocotools, faster-coco-eval, hotcoco, vernier (native API, ``parity_mode="strict"``);
- posetable (a) from the two JSON files, (b) the eval phase alone from columns already
  loaded, (c) end to end from a table and a run in the store; and (a) again with the numpy
  engine (the fallback where the C kernel was not built).

It prints each tool's largest absolute difference of the 10 stats from pycocotools, the
ratios to posetable, and the parse floor (orjson, msgspec when installed). Peers that are
not installed are skipped with a note (``pip install faster-coco-eval hotcoco vernier``).

    python bench/bench_eval.py                 # 1x and 10x
    python bench/bench_eval.py --scales 1 --repeat 3
"""

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import posetable as pt
from _eval_data import write
from posetable.eval import _engine, api

SIGMAS = np.asarray(pt.COCO_OKS_SIGMAS)
Timing = tuple[float, float, np.ndarray]  # load, eval, stats


def best(fn: Callable[[], Timing], repeat: int) -> Timing:
    """Min of ``repeat`` runs, per phase."""
    loads, evals, stats = [], [], None
    for _ in range(repeat):
        load, ev, stats = fn()
        loads.append(load)
        evals.append(ev)
    assert stats is not None
    return min(loads), min(evals), np.asarray(stats, dtype=float)


def quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def run_pycocotools(gt: Path, res: Path) -> Timing:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with quiet():
        t0 = time.perf_counter()
        coco = COCO(str(gt))
        dets = coco.loadRes(str(res))
        t1 = time.perf_counter()
        evaluator = COCOeval(coco, dets, "keypoints")
        evaluator.params.kpt_oks_sigmas = SIGMAS
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, evaluator.stats


def run_faster_coco_eval(gt: Path, res: Path) -> Timing:
    from faster_coco_eval import COCO, COCOeval_faster

    with quiet():
        t0 = time.perf_counter()
        coco = COCO(str(gt))
        dets = coco.loadRes(str(res))
        t1 = time.perf_counter()
        evaluator = COCOeval_faster(coco, dets, "keypoints", print_function=lambda *a: None)
        evaluator.params.kpt_oks_sigmas = SIGMAS
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, np.asarray(evaluator.stats[:10])


def run_hotcoco(gt: Path, res: Path) -> Timing:
    import hotcoco

    with quiet():
        t0 = time.perf_counter()
        coco = hotcoco.COCO(str(gt))
        dets = coco.load_res(str(res))
        t1 = time.perf_counter()
        evaluator = hotcoco.COCOeval(coco, dets, "keypoints")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, np.asarray(evaluator.stats[:10])


def run_vernier(gt: Path, res: Path) -> Timing:
    import vernier.instance as vi

    t0 = time.perf_counter()
    gt_bytes = gt.read_bytes()
    res_bytes = res.read_bytes()
    t1 = time.perf_counter()
    summary = vi.evaluate_keypoints_summary(
        gt_bytes,
        res_bytes,
        parity_mode="strict",
        max_dets=[20],
        use_cats=True,
        sigmas={1: SIGMAS.tolist()},
    )
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, np.asarray(summary.stats[:10])


def run_posetable_files(gt: Path, res: Path) -> Timing:
    t0 = time.perf_counter()
    inputs = api._prepare_files(gt, res, sigmas=None)
    t1 = time.perf_counter()
    result = api.run(inputs)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, result.stats


def run_posetable_numpy_engine(gt: Path, res: Path) -> Timing:
    """(a) with the numpy engine (what an install without a C compiler runs)."""
    previous = os.environ.get(_engine.ENGINE_VARIABLE)
    os.environ[_engine.ENGINE_VARIABLE] = "numpy"
    try:
        return run_posetable_files(gt, res)
    finally:
        if previous is None:
            del os.environ[_engine.ENGINE_VARIABLE]
        else:
            os.environ[_engine.ENGINE_VARIABLE] = previous


def make_store_run(gt: Path, res: Path, store: Path) -> None:
    """Untimed setup of (c): the GT imported as a table, the results stored as a run."""
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pt.Table.from_coco(
            gt, name="bench", store=store, missing_images="warn", oks_sigmas=SIGMAS.tolist()
        )
        pt.Run.from_coco_results(table, res, name="bench-run", store=store)
    logging.disable(logging.NOTSET)


def run_posetable_store(store: Path) -> Timing:
    t0 = time.perf_counter()
    table = pt.Table.open("bench", store=store)
    run = pt.Run.open("bench-run", store=store)
    inputs = api.prepare(table, run)  # the run's flat evaluation columns, memory-mapped
    t1 = time.perf_counter()
    result = api.run(inputs)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, result.stats


def parse_floor(gt: Path, res: Path, repeat: int) -> dict[str, float]:
    out = {}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        orjson.loads(gt.read_bytes())
        orjson.loads(res.read_bytes())
        times.append(time.perf_counter() - t0)
    out["orjson (both files)"] = min(times)
    import gc

    times = []
    for _ in range(repeat):
        gc.disable()
        t0 = time.perf_counter()
        orjson.loads(gt.read_bytes())
        orjson.loads(res.read_bytes())
        times.append(time.perf_counter() - t0)
        gc.enable()
    out["orjson, GC paused (both files)"] = min(times)
    try:
        import msgspec
    except ImportError:
        return out

    class Ann(msgspec.Struct):
        id: int
        image_id: int
        category_id: int
        keypoints: list[float]
        area: float
        iscrowd: int
        num_keypoints: int
        bbox: list[float]

    class Image(msgspec.Struct):
        id: int

    class Doc(msgspec.Struct):
        images: list[Image]
        annotations: list[Ann]

    class Res(msgspec.Struct):
        image_id: int
        category_id: int
        keypoints: list[float]
        score: float

    gt_decoder = msgspec.json.Decoder(Doc)
    res_decoder = msgspec.json.Decoder(list[Res])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        gt_decoder.decode(gt.read_bytes())
        res_decoder.decode(res.read_bytes())
        times.append(time.perf_counter() - t0)
    out["msgspec typed structs (both files)"] = min(times)
    return out


PEERS: dict[str, Callable[[Path, Path], Timing]] = {
    "pycocotools": run_pycocotools,
    "faster-coco-eval": run_faster_coco_eval,
    "hotcoco": run_hotcoco,
    "vernier (strict)": run_vernier,
}


def bench_scale(scale: int, folder: Path, repeat: int, slow_repeat: int) -> dict[str, Timing]:
    gt, res = write(folder, scale)
    print(f"posetable's evaluation engine: {_engine.backend()} (POSETABLE_EVAL_ENGINE)")
    print(
        f"\n=== {scale}x: {gt.stat().st_size / 1e6:.1f} MB GT, "
        f"{res.stat().st_size / 1e6:.1f} MB results ==="
    )
    timings: dict[str, Timing] = {}
    for name, fn in PEERS.items():
        reps = (
            slow_repeat if (scale > 1 and name in ("pycocotools", "faster-coco-eval")) else repeat
        )
        try:
            timings[name] = best(lambda fn=fn: fn(gt, res), reps)
        except ImportError as exc:
            print(f"note: {name} skipped ({exc}); pip install it to compare")
    timings["posetable (a) files"] = best(lambda: run_posetable_files(gt, res), repeat)
    timings["posetable (a), numpy engine"] = best(
        lambda: run_posetable_numpy_engine(gt, res), repeat
    )
    store = Path(tempfile.mkdtemp(prefix="bench-eval-store-"))
    try:
        make_store_run(gt, res, store)
        timings["posetable (c) table+run"] = best(lambda: run_posetable_store(store), repeat)
    except Exception as exc:  # the table / run layers are optional for this bench
        print(f"note: posetable (c) skipped: {type(exc).__name__}: {exc}")
    reference = timings.get("pycocotools", (0.0, 0.0, timings["posetable (a) files"][2]))[2]
    ours_a = timings["posetable (a) files"]
    print(f"{'tool':28} {'load s':>8} {'eval s':>8} {'total s':>8} {'max|d| vs pycocotools':>22} "
          f"{'eval x':>7} {'total x':>8}")  # fmt: skip
    for name, (load, ev, stats) in timings.items():
        diff = float(np.abs(stats - reference).max())
        print(
            f"{name:28} {load:8.4f} {ev:8.4f} {load + ev:8.4f} {diff:22.1e} "
            f"{ev / ours_a[1]:7.1f} {(load + ev) / (ours_a[0] + ours_a[1]):8.2f}"
        )
    print(
        f"{'posetable (b) eval phase':28} {'':8} {ours_a[1]:8.4f}  "
        "(eval of (a), columns already loaded)"
    )
    for label, seconds in parse_floor(gt, res, repeat).items():
        print(
            f"parse floor, {label}: {seconds:.4f} s "
            f"(posetable (a) total: {ours_a[0] + ours_a[1]:.4f} s)"
        )
    print(
        "ratios: 'eval x' / 'total x' = the tool's time / posetable (a)'s time "
        "(>1: posetable is faster)"
    )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--slow-repeat", type=int, default=1, help="runs of pycocotools / faster-coco-eval at >1x"
    )
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "posetable-bench-eval"
    )
    args = parser.parse_args()
    results = {
        scale: bench_scale(scale, args.data, args.repeat, args.slow_repeat) for scale in args.scales
    }
    if len(results) > 1:
        lo, hi = min(results), max(results)
        print(f"\n=== growth {lo}x -> {hi}x (time ratio; linear = {hi // lo}) ===")
        for name in results[lo]:
            if name in results[hi]:
                a, b = results[lo][name], results[hi][name]
                print(
                    f"{name:28} eval {b[1] / a[1]:6.1f}   "
                    f"total {(b[0] + b[1]) / (a[0] + a[1]):6.1f}"
                )


if __name__ == "__main__":
    main()
