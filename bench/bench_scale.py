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

Time is the tool's own work (after imports), peak RSS the process's maximum since its
exec (``VmHWM``: ``ru_maxrss`` would count the parent's memory at fork time too); for
Ray, whose work runs in worker processes, the sum of the resident memory of the driver and
all its descendant processes, sampled every 20 ms, is printed beside it, and the time of a
second evaluation on the workers already started. Every row prints its ratios against
hotcoco and ultrafast-pycocotools measured in the same run, and the largest difference of
its stats from posetable's result from the files (0 means the same bits).

    python bench/bench_scale.py                  # 1x and 10x
    python bench/bench_scale.py --sizes 1 10 100
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
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
        import posetable as pt

        if tool == "posetable files":
            t0 = time.perf_counter()
            stats = pt.evaluate_coco(gt, res).stats.tolist()
        elif tool == "posetable table+run":
            t0 = time.perf_counter()
            table = pt.Table.open("bench", store=store)
            stats = pt.evaluate(table, pt.Run.open("bench-run", store=store)).stats.tolist()
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


# -- the parent: a fresh process per tool -----------------------------------------------------
def in_process(tool: str, gt: Path, res: Path, store: Path) -> dict[str, Any] | str:
    """Run one tool in a child process: its result and its peak RSS, or why it failed."""
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


def make_store(gt: Path, res: Path, store: Path) -> None:
    """Untimed setup (in a child process): the GT as a table, the results as a run."""
    if (store / "runs" / "bench-run" / "manifest.json").exists():
        return
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


def bench_size(scale: int, folder: Path) -> dict[str, dict[str, Any] | str]:
    from _eval_data import write

    gt, res = write(folder, scale)
    store = folder / f"store_{scale}x"
    make_store(gt, res, store)
    print(
        f"\n=== {scale}x: {gt.stat().st_size / 1e6:.1f} MB ground truth, "
        f"{res.stat().st_size / 1e6:.1f} MB results; {machine_state()} ==="
    )
    rows: dict[str, dict[str, Any] | str] = {}
    for tool in TOOLS:
        rows[tool] = in_process(tool, gt, res, store)
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
        if "tree_rss" in row:
            print(
                f"{'':24} Ray: {row['ray_init_s']:.2f} s start-up (not counted), "
                f"{row['warm_s']:.3f} s a second time on the started workers; driver and "
                f"workers together peaked at {row['tree_rss'] / 1e6:.0f} MB"
            )
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        tool, gt, res, store, target = sys.argv[2:7]
        logging.disable(logging.WARNING)
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
    args = parser.parse_args()
    print("time: the tool's work after imports; peak RSS: the process's maximum (VmHWM)")
    for scale in args.sizes:
        bench_size(scale, args.data)


if __name__ == "__main__":
    main()
