"""Eight concurrent clients against the dashboard on a 100,000-image table: no 500s.

The table and run are the ones ``bench_dashboard.py`` builds (cached under bench/_data/).
The real server (uvicorn, 127.0.0.1, a subprocess) is hammered by ``--clients`` threads
(``tests/_dashboard_load.py``): each round a grid page, a row, a save of the client's own
row, every third round a save of one row every client edits (racing saves: 200 or 409),
every fifth round an undo of its own last save. It prints status codes per request kind,
latency percentiles, the revisions written against the saves that succeeded, and whether
every recorded parent is the revision before (the lineage is true).

Reference in the same run: one client doing the same requests alone (the ratio shows what
concurrency costs per request, on this machine's cores).

Run: ``python bench/bench_dashboard_concurrency.py [--images 100000] [--clients 8]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from tests._dashboard_load import LoadReport, hammer  # noqa: E402

from bench_dashboard import DATA, _build, _rss_mb, start_server  # noqa: E402  (bench helpers)


def _print(title: str, report: LoadReport) -> None:
    print(f"\n{title}")
    print(f"  {'request':18} {'status':>6} {'count':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for (kind, status), count in sorted(report.statuses.items()):
        ms = np.array(report.latencies_ms[kind])
        print(
            f"  {kind:18} {status:>6} {count:>6} {np.percentile(ms, 50):>8.1f} "
            f"{np.percentile(ms, 95):>8.1f}"
        )
    print(f"  5xx: {report.server_errors}, failures: {len(report.failures)}")
    for failure in report.failures[:5]:
        print(f"    {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    import posetable as pt

    store = DATA / f"dashboard-{args.images}"
    if not (store / "runs" / "model-a" / "manifest.json").is_file():
        started = time.perf_counter()
        _build(store, args.images)
        print(f"built {args.images} images in {time.perf_counter() - started:.1f} s")
    table = pt.Table.open("big", store=store)
    counts = table.sql("SELECT row, len(keypoints.instances) AS n FROM t WHERE row < 2000")
    labeled = [r for r, n in zip(*(c.to_pylist() for c in counts.columns), strict=True) if n]
    rows = labeled[1 : args.clients + 1]
    first = table.revision
    print(f"table big@{first}: {len(table)} images; clients own rows {rows}")
    server, base = start_server(store)
    try:
        alone = hammer(base, "big", rows[:1], clients=1, rounds=args.rounds, shared_row=labeled[0])
        mid = pt.Table.open("big", store=store).revision
        together = hammer(
            base, "big", rows, clients=args.clients, rounds=args.rounds, shared_row=labeled[0]
        )
        rss = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _print("one client alone (reference)", alone)
    _print(f"{args.clients} clients at once", together)
    latest = pt.Table.open("big", store=store)
    won = sum(
        n
        for (kind, status), n in together.statuses.items()
        if status == 200 and (kind.startswith("save") or kind == "undo")
    )
    parents_true = all(
        info.parent == info.revision - 1 for info in latest.revisions() if info.revision > first
    )
    print(
        f"\nrevisions written by the {args.clients} clients: {latest.revision - mid}; "
        f"saves/undos answered 200: {won}; recorded parents all true: {parents_true}"
    )
    for kind in ("grid page", "row"):
        one = np.percentile(alone.latencies_ms[kind], 50)
        many = np.percentile(together.latencies_ms[kind], 50)
        print(f"ratio p50 {kind}, {args.clients} clients / 1 client: {many / one:.2f}x")
    print(f"server RSS at the end: {rss:.0f} MB")


if __name__ == "__main__":
    main()
