"""Evaluation at scale: time and peak memory, each tool in its own process, one run each.

The val2017-sized synthetic pair of ``_eval_data.py`` (5,000 images, ~11,400 persons,
~19,500 predictions; fixed seed) at 1x and 10x (100x with ``--sizes 100``: 500,000 images,
~1.1M persons, ~2M predictions; run it only on a machine with the memory to spare). For
each size, every tool goes from the two JSON files (or the store) to the 10 stats in a
fresh Python process:

- hotcoco 1.3 and ultrafast-pycocotools 0.1.14 (``pip install hotcoco ultrafast-pycocotools``;
  a peer that is not installed is left out with a note);
- posetable from the two files (``pt.evaluate_coco``), from a table + run in the store
  (``pt.evaluate(table, run)``) and on local Ray (``engine="ray"``; Ray's start-up is
  timed apart and not counted).

Time is the tool's own work (after imports: posetable imports its modules on first use,
so the child imports what the tool will use before the clock starts and prints that time
apart), peak RSS the process's maximum since its exec (``VmHWM``: ``ru_maxrss`` would count
the parent's memory at fork time too); ``--repeat N`` runs each tool N times (a fresh
process each) and keeps the best time and the largest peak. For
Ray, whose work runs in worker processes, the sum of the resident memory of the driver and
all its descendant processes, sampled every 20 ms, is printed beside it, and the time of a
second evaluation on the workers already started. Every row prints its ratios against
hotcoco and ultrafast-pycocotools measured in the same run, and the largest difference of
its stats from posetable's result from the files (0 means the same bits). Then the goals of
issue 21 for posetable from the files and from a table: peak RSS at most hotcoco's, time at
most 0.8x hotcoco's, memory growing linearly with the input (the peak's growth per MB of
input between sizes); and the COCO import: ``Table.from_coco``'s peak RSS, in its own
process, as a multiple of the file's size.

    python bench/bench_scale.py                  # 1x and 10x
    python bench/bench_scale.py --sizes 1 10 100
    python bench/bench_scale.py --tools hotcoco "posetable files" --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import itertools
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TOOLS = (
    "hotcoco",
    "ultrafast-pycocotools",
    "posetable files",
    "posetable table+run",
    "posetable ray",
)
PEERS = ("hotcoco", "ultrafast-pycocotools")
GOAL_TOOLS = ("posetable files", "posetable table+run")
TIME_GOAL = 0.8  # issue 21: at or below 0.8x hotcoco's time


# -- the child: one tool, one evaluation -------------------------------------------------------
def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class TreeSampler:
    """The largest total RSS of this process tree, sampled in a thread."""

    def __init__(self, every: float = 0.02) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(os.getpid()))
            time.sleep(every)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss(os.getpid()))


def run_tool(tool: str, gt: Path, res: Path, store: Path) -> dict[str, Any]:
    """Evaluate with ``tool`` in this process; the stats and the seconds of the work."""
    out: dict[str, Any] = {}
    if tool == "hotcoco":
        import hotcoco

        t0 = time.perf_counter()
        with _quiet():
            coco = hotcoco.COCO(str(gt))
            evaluator = hotcoco.COCOeval(coco, coco.load_res(str(res)), "keypoints")
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        stats = list(evaluator.stats)[:10]
    elif tool == "ultrafast-pycocotools":
        from ultrafast_pycocotools import COCO, COCOeval

        t0 = time.perf_counter()
        with _quiet():
            coco = COCO(str(gt))
            evaluator = COCOeval(coco, coco.loadRes(str(res)), "keypoints")
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        stats = list(evaluator.stats)[:10]
    else:
        t_import = time.perf_counter()
        import posetable as pt

        if tool == "posetable files":  # the C scanner's path: neither DuckDB nor pyarrow
            evaluate_coco = pt.evaluate_coco  # imports posetable.eval
            # the scanner and the C engine: what evaluate_coco imports on its first call
            import posetable.eval._coco_scan
            import posetable.eval._native

            out["import_s"] = time.perf_counter() - t_import
            t0 = time.perf_counter()
            stats = evaluate_coco(gt, res).stats.tolist()
        elif tool == "posetable table+run":
            evaluate, table_type, run_type = pt.evaluate, pt.Table, pt.Run
            out["import_s"] = time.perf_counter() - t_import
            t0 = time.perf_counter()
            table = table_type.open("bench", store=store)
            stats = evaluate(table, run_type.open("bench-run", store=store)).stats.tolist()
        elif tool == "posetable ray":
            import ray

            logging.getLogger("ray").setLevel(logging.ERROR)
            t_init = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR")
            out["ray_init_s"] = time.perf_counter() - t_init
            with TreeSampler() as sampler:
                t0 = time.perf_counter()
                table = pt.Table.open("bench", store=store)
                run = pt.Run.open("bench-run", store=store)
                stats = pt.evaluate(table, run, engine="ray").stats.tolist()
                out["seconds"] = time.perf_counter() - t0
                t1 = time.perf_counter()  # again, on the workers already started
                pt.evaluate(table, run, engine="ray")
                out["warm_s"] = time.perf_counter() - t1
            out["tree_rss"] = sampler.peak
            out["rss"] = _own_peak()
            ray.shutdown()
            out["stats"] = stats
            return out
        else:
            raise SystemExit(f"unknown tool {tool!r}")
    out["seconds"] = time.perf_counter() - t0
    out["stats"] = [float(v) for v in stats]
    out["rss"] = _own_peak()
    return out


def _own_peak() -> int:
    """This process's peak RSS since its exec (``VmHWM``; ``ru_maxrss`` would count the
    parent's memory at fork time too)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def import_coco(gt: Path, store: Path) -> dict[str, Any]:
    """``Table.from_coco`` of ``gt`` in this process: seconds and the RSS around it."""
    import lance  # noqa: F401  (the modules it writes with: imported before the clock)
    import pyarrow.parquet  # noqa: F401

    import posetable as pt
    import posetable.formats.coco

    table_type = pt.Table
    before = _own_peak()
    t0 = time.perf_counter()
    table_type.from_coco(gt, name="import-bench", store=store, missing_images="warn")
    return {"seconds": time.perf_counter() - t0, "before": before, "rss": _own_peak()}


# -- the parent: a fresh process per tool -----------------------------------------------------
def in_process(
    tool: str, gt: Path, res: Path, store: Path, repeat: int = 1
) -> dict[str, Any] | str:
    """Run one tool in ``repeat`` child processes: the best time and the largest peak RSS, or
    why it failed."""
    best: dict[str, Any] | str = "failed (not run)"
    for _ in range(repeat):
        row = _child(tool, gt, res, store)
        if isinstance(row, str):
            return row
        if isinstance(best, str):
            best = row
        else:
            rss = max(best["rss"], row["rss"])
            best = {**(row if row["seconds"] < best["seconds"] else best), "rss": rss}
    return best


def _child(tool: str, gt: Path, res: Path, store: Path) -> dict[str, Any] | str:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        target = Path(handle.name)
    cmd = [sys.executable, __file__, "--one", tool, str(gt), str(res), str(store), str(target)]
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: Ray's daemons inherit it
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        proc.wait()
        err.seek(0)
        text = err.read().decode(errors="replace")
    try:
        if proc.returncode != 0:
            lines = [line for line in text.strip().splitlines() if line.strip()]
            return f"failed ({lines[-1] if lines else proc.returncode})"
        result = json.loads(target.read_text())
    finally:
        target.unlink(missing_ok=True)
    return result


@functools.cache
def _code_stamp() -> str | None:
    """What wrote a store: the commit of this checkout; None when that does not say (not a
    checkout, or ``src/`` has changes). A store made by other code is made again: a run
    written by an older posetable keeps older files, and would be measured instead of
    today's."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=True
        )
        return done.stdout

    try:
        head, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.CalledProcessError):
        return None
    return None if dirty.strip() else head.strip()


_MADE_HERE: set[Path] = set()  # stores this process made (by the code it runs)


def make_store(gt: Path, res: Path, store: Path) -> None:
    """Untimed setup (in a child process): the GT as a table, the results as a run; made
    again unless this very code made it (see :func:`_code_stamp`)."""
    stamp = _code_stamp()
    stamp_file = store / "made-by.txt"
    if store in _MADE_HERE or (
        stamp is not None
        and stamp_file.is_file()
        and stamp_file.read_text() == stamp
        and (store / "runs" / "bench-run" / "manifest.json").exists()
    ):
        return
    shutil.rmtree(store, ignore_errors=True)
    code = (
        "import logging, warnings, sys\n"
        "logging.disable(logging.WARNING)\n"
        "warnings.simplefilter('ignore')\n"
        "import posetable as pt\n"
        "gt, res, store = sys.argv[1:4]\n"
        "t = pt.Table.from_coco(gt, name='bench', store=store, missing_images='warn',\n"
        "                       oks_sigmas=list(pt.COCO_OKS_SIGMAS))\n"
        "pt.Run.from_coco_results(t, res, name='bench-run', store=store)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(gt), str(res), str(store)], check=True)
    _MADE_HERE.add(store)
    if stamp is not None:
        stamp_file.write_text(stamp)


def machine_state() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    free = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = f"{int(line.split()[1]) / 1e6:.1f} GB"
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, memory available {free}, "
        f"Python {platform.python_version()}"
    )


def bench_size(
    scale: int, folder: Path, tools: tuple[str, ...] = TOOLS, repeat: int = 1
) -> dict[str, dict[str, Any] | str]:
    from _eval_data import write

    gt, res = write(folder, scale)
    store = folder / f"store_{scale}x"
    if "posetable table+run" in tools or "posetable ray" in tools:
        make_store(gt, res, store)
    print(
        f"\n=== {scale}x: {gt.stat().st_size / 1e6:.1f} MB ground truth, "
        f"{res.stat().st_size / 1e6:.1f} MB results; {machine_state()} ==="
    )
    rows: dict[str, dict[str, Any] | str] = {}
    for tool in tools:
        rows[tool] = in_process(tool, gt, res, store, repeat)
    reference = rows.get("posetable files")
    ref_stats = reference["stats"] if isinstance(reference, dict) else None
    print(
        f"{'tool':24} {'time s':>8} {'peak RSS MB':>12} {'t/hotcoco':>10} {'t/ultrafast':>12} "
        f"{'RSS/hotcoco':>12} {'RSS/ultrafast':>14} {'max|d stats|':>13}"
    )
    for tool, row in rows.items():
        if isinstance(row, str):
            print(f"{tool:24} {row}")
            continue
        ratios = []
        for key in ("seconds", "rss"):
            for peer in PEERS:
                other = rows.get(peer)
                ratios.append(f"{row[key] / other[key]:.2f}" if isinstance(other, dict) else "-")
        diff = (
            max(abs(a - b) for a, b in zip(row["stats"], ref_stats, strict=True))
            if ref_stats
            else float("nan")
        )
        print(
            f"{tool:24} {row['seconds']:8.3f} {row['rss'] / 1e6:12.0f} {ratios[0]:>10} "
            f"{ratios[1]:>12} {ratios[2]:>12} {ratios[3]:>14} {diff:13.1e}"
        )
        if "import_s" in row:
            print(f"{'':24} imports before the clock: {row['import_s']:.3f} s")
        if "tree_rss" in row:
            print(
                f"{'':24} Ray: {row['ray_init_s']:.2f} s start-up (not counted), "
                f"{row['warm_s']:.3f} s a second time on the started workers; driver and "
                f"workers together peaked at {row['tree_rss'] / 1e6:.0f} MB"
            )
    return rows


def print_goals(by_size: dict[int, dict[str, dict[str, Any] | str]], sizes: dict[int, int]) -> None:
    """Issue 21's goals for posetable against hotcoco, and how memory grows with the input
    (``sizes``: the bytes of the two files at each scale)."""
    print("\n=== issue 21 goals: peak RSS <= hotcoco's, time <= 0.8x hotcoco's, linear memory ===")
    for tool in GOAL_TOOLS:
        for scale, rows in by_size.items():
            row, peer = rows.get(tool), rows.get("hotcoco")
            if not isinstance(row, dict) or not isinstance(peer, dict):
                continue
            rss, t = row["rss"] / peer["rss"], row["seconds"] / peer["seconds"]
            print(
                f"{tool:24} {scale:>4}x  RSS/hotcoco {rss:5.2f} "
                f"({'met' if rss <= 1.0 else 'missed'})  time/hotcoco {t:5.2f} "
                f"({'met' if t <= TIME_GOAL else 'missed'} at {TIME_GOAL})"
            )
    for tool in ("hotcoco", *GOAL_TOOLS):
        points = [
            (sizes[scale], row["rss"])
            for scale, rows in by_size.items()
            if isinstance(row := rows.get(tool), dict)
        ]
        if len(points) < 2:
            continue
        slopes = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(points)]
        fixed = points[0][1] - slopes[0] * points[0][0]
        print(
            f"{tool:24} peak growth per MB of input between sizes: "
            f"{', '.join(f'{v:.2f}' for v in slopes)} MB (about constant: linear); "
            f"fixed part {fixed / 1e6:.0f} MB"
        )


# -- creating a run from a results file, against hotcoco's loadRes (issue 21, item 1) ------
CREATION_TOOLS = ("hotcoco loadRes", "posetable Run.from_coco_results")


def create_run(tool: str, gt: Path, res: Path, store: Path) -> dict[str, Any]:
    """Load ``res`` against the ground truth in this process: hotcoco's ``load_res`` on a
    loaded ``COCO(gt)``, or ``Run.from_coco_results`` on the store's table (which writes the
    run's predictions; its evaluation comes on first use, timed after as ``metrics_s``).
    The ground truth is loaded and the modules imported before the clock; ``before`` is the
    peak RSS then."""
    out: dict[str, Any] = {}
    if tool == "hotcoco loadRes":
        import hotcoco

        with _quiet():
            coco = hotcoco.COCO(str(gt))
        before = _own_peak()
        t0 = time.perf_counter()
        with _quiet():
            coco.load_res(str(res))
    else:
        import uuid

        t_import = time.perf_counter()
        import lance  # noqa: F401  (the run's index)

        import posetable as pt
        import posetable.eval._coco_scan  # the results scanner (hotcoco's is imported too)
        import posetable.eval.api  # read_coco_result_rows
        import posetable.label_errors  # the suspects kept with the run

        table = pt.Table.open("bench", store=store)
        out["import_s"] = time.perf_counter() - t_import
        name = f"creation-{uuid.uuid4().hex[:8]}"
        before = _own_peak()
        t0 = time.perf_counter()
        run = pt.Run.from_coco_results(table, res, name=name, store=store)
        out["seconds"] = time.perf_counter() - t0
        out["rss_created"] = _own_peak()
        t1 = time.perf_counter()
        _ = run.metrics  # the first evaluation (kept in the run's folder)
        out["metrics_s"] = time.perf_counter() - t1
        shutil.rmtree(run.path)  # the store stays as make_store left it
    out.setdefault("seconds", time.perf_counter() - t0)
    return {"rss": _own_peak(), **out, "before": before}


def bench_run_creation(scales: list[int], folder: Path, repeat: int = 1) -> None:
    """A run from each size's results file, each tool in ``repeat`` fresh processes (the
    best time; peak RSS above the loaded ground truth), and issue 21's goal: no more than
    hotcoco's ``loadRes`` of the same file."""
    print(
        "\n=== run from results: Run.from_coco_results against hotcoco's loadRes "
        f"(ground truth loaded and modules imported before the clock; best of {repeat}) ==="
    )
    for scale in scales:
        gt, res = folder / f"gt_{scale}x_seed0.json", folder / f"results_{scale}x_seed0.json"
        store = folder / f"store_{scale}x"
        make_store(gt, res, store)
        rows = {tool: in_process(tool, gt, res, store, repeat) for tool in CREATION_TOOLS}
        peer = rows["hotcoco loadRes"]
        for tool, row in rows.items():
            if isinstance(row, str):
                print(f"{scale:>4}x  {tool:32} {row}")
                continue
            above = row.get("rss_created", row["rss"]) - row["before"]
            ratios = (
                f"  t/loadRes {row['seconds'] / peer['seconds']:5.2f}  above/loadRes's "
                f"{above / max(peer['rss'] - peer['before'], 1):5.2f}"
                if isinstance(peer, dict) and tool != "hotcoco loadRes"
                else ""
            )
            print(
                f"{scale:>4}x  {tool:32} {row['seconds']:7.3f} s  peak RSS "
                f"{row['rss'] / 1e6:5.0f} MB, {above / 1e6:5.0f} MB above the loaded ground "
                f"truth ({above / res.stat().st_size:4.1f}x the results file){ratios}"
            )
        ours = rows["posetable Run.from_coco_results"]
        if isinstance(ours, dict):
            print(
                f"{'':6}then run.metrics (the first evaluation, kept): {ours['metrics_s']:.3f} s, "
                f"peak RSS {ours['rss'] / 1e6:.0f} MB"
            )
        if isinstance(ours, dict) and isinstance(peer, dict):
            t = ours["seconds"] / peer["seconds"]
            print(
                f"{'':6}goal: creating a run costs no more than loadRes: time/loadRes {t:.2f} "
                f"({'met' if t <= 1.0 else 'missed'})"
            )


def bench_import(scales: list[int], folder: Path) -> None:
    """``Table.from_coco`` of each size's ground truth, each in a fresh process."""
    print("\n=== COCO import: Table.from_coco's peak RSS over the file's size ===")
    for scale in scales:
        gt = folder / f"gt_{scale}x_seed0.json"
        with tempfile.TemporaryDirectory() as store:
            row = in_process("import", gt, gt, Path(store))
        if isinstance(row, str):
            print(f"{scale:>4}x  {row}")
            continue
        size = gt.stat().st_size
        print(
            f"{scale:>4}x  {size / 1e6:6.1f} MB file  {row['seconds']:6.2f} s  peak RSS "
            f"{row['rss'] / 1e6:5.0f} MB = {row['rss'] / size:4.1f}x the file; above the "
            f"imports {(row['rss'] - row['before']) / 1e6:5.0f} MB = "
            f"{(row['rss'] - row['before']) / size:4.1f}x"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        tool, gt, res, store, target = sys.argv[2:7]
        logging.disable(logging.WARNING)
        if tool == "import":
            result = import_coco(Path(gt), Path(store))
        elif tool in CREATION_TOOLS:
            result = create_run(tool, Path(gt), Path(res), Path(store))
        else:
            result = run_tool(tool, Path(gt), Path(res), Path(store))
        Path(target).write_text(json.dumps(result))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "posetable-bench-eval"
    )
    parser.add_argument(
        "--tools", nargs="+", choices=TOOLS, default=list(TOOLS), help="the tools to run"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool: best time")
    parser.add_argument(
        "--no-import", action="store_true", help="leave out the COCO import measurement"
    )
    args = parser.parse_args()
    print("time: the tool's work after imports; peak RSS: the process's maximum (VmHWM)")
    by_size = {}
    sizes = {}
    for scale in args.sizes:
        by_size[scale] = bench_size(scale, args.data, tuple(args.tools), args.repeat)
        sizes[scale] = sum(
            (args.data / f"{kind}_{scale}x_seed0.json").stat().st_size for kind in ("gt", "results")
        )
    print_goals(by_size, sizes)
    if not args.no_import:
        bench_import(args.sizes, args.data)
        bench_run_creation(args.sizes, args.data, args.repeat)


if __name__ == "__main__":
    main()
