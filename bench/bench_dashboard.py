"""Dashboard speed on a large table: 100,000 images (~250,000 persons) with a run.

Builds (once, cached under bench/_data/) a seeded COCO-like table of 100,000 images with about
250,000 person instances (K=17) and a run of noisy predictions with confidences, starts the
real server (uvicorn, 127.0.0.1) in a subprocess and measures over HTTP:

- the first grid page (48 rows with GT, predictions and metrics),
- a sort by a run metric (mean OKS), a filter (metric and derived count), an image view,
- a thumbnail (made with Pillow, cached on disk) cold and warm,
- every filter-widget interaction: the facets counts and the grid under a range, class,
  keypoint-visibility and check-rule filter, a histogram chart, the two-run comparison by
  image (a second run, ``model-b``, of other seeded noise), the revision diff of an edit,
- the first sort by label-error suspects (``find_label_errors`` over the whole run, < 2 s),
- the diagnosis and per-keypoint charts of a run (``pt.diagnose``, ``keypoint_metrics``:
  computed once per run and revision, then cached),
- with ``--review``, on a store of its own whose ``big`` has ``weight``, ``video`` and
  ``frame_index`` columns: a row's video frames, a new instance in a drawn box, review marks
  and the next unreviewed row of a queue (each < 300 ms), and the writes: a mark, a
  one-click fix, weights set on 48, 1,000 and 10,000 rows (each a new revision),

each as the server's own time (``Server-Timing``) and the client's wall time, cold (first
call after start) and warm (median of 5). The server's resident memory is read from /proc.

Reference, measured in the same run: what a dashboard that loads the table into memory
does for the same sort and filter -- the table's scalar columns and run metrics read into
pandas, the rows' instances decoded, then sorted / filtered (``naive``). Ratios are printed.

The first grid page with the run is also timed alone, right after the server starts (the
run's open), and the page is then polled until the background work it started is done: the
revision's ``pt.check`` and the run's label-error suspects (which a run keeps once made by
``Run.materialize``, as the CLI makes one; runs built without them get them first, timed).
A large revision's check runs in a child process (``posetable.dashboard._check_process``):
its peak RSS and time are printed beside the server's, and the server restarted reads the
findings it kept under the store's ``.cache/checks``.
``--scale`` prints issue 21's budgets for the size built (first page < 300 ms, a per-sample
metric sort or filter < 1 s, suspects < 5 s after the run is opened, server RSS < 1.5 GB),
e.g. at ``--images 1000000``.

The data is made BUILD_BATCH images at a time (each batch of its own seeded generator), so
only the runs' predictions (one object per row, as ``Run.from_predictions`` takes them) grow
with the size; the suspects each run keeps are found 10k rows at a time by the library
(``posetable._run_suspects.CHUNK_ROWS``: at once they would need ~20 GB at a million images).
Measured here (2 cores shared, load 4-6): 1,000,000 images build in 367 s (``model-a``) +
504 s (``model-b``), peak ~17 GB RSS in ``Run.from_predictions``; 8.4 GB on disk.
``--build-only`` builds (or keeps) the data and stops; ``--scale-only`` times only what
``--scale`` reports (the grid cases and the suspect sort: no widgets, chart pages, edit or
in-memory reference, which at a million images take minutes and many GB).

Run: ``.venv/bin/python bench/bench_dashboard.py [--images 100000] [--rebuild] [--scale]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests._dashboard_load import instances_of

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "_data"
K = 17
GOAL_MS = 300.0
GOAL_SUSPECT_SORT_MS = 2000.0
GOAL_RSS_MB = 1024.0


#: images generated (and written) per batch: the build's memory does not grow with the table
BUILD_BATCH = 10_000
#: rows whose label-error suspects are found at once when a run of the bench is written


def _batch(rng: np.random.Generator, n: int, sigmas: np.ndarray) -> dict[str, Any]:
    """``n`` images' ground truth and the noisy predictions of ``model-a`` (flat arrays)."""
    w, h = 640.0, 480.0
    counts = rng.poisson(2.5, n)
    total = int(counts.sum())
    bw = np.exp(rng.normal(4.3, 0.6, total)).clip(20, 600)
    bh = (bw * rng.uniform(1.2, 2.5, total)).clip(20, 470)
    x0 = rng.uniform(0, w - bw)
    y0 = rng.uniform(0, h - bh)
    kp = np.stack(
        [
            x0[:, None] + rng.random((total, K)) * bw[:, None],
            y0[:, None] + rng.random((total, K)) * bh[:, None],
        ],
        axis=2,
    )
    vis = rng.choice([0, 1, 2], size=(total, K), p=[0.2, 0.15, 0.65]).astype(np.int32)
    boxes = np.stack([x0, y0, x0 + bw, y0 + bh], axis=1)
    area = bw * bh * rng.uniform(0.4, 0.7, total)
    noise = (
        rng.normal(size=(total, K, 2))
        * (np.sqrt(area)[:, None] * sigmas[None, :] * rng.uniform(0.2, 2.0, (total, 1)))[..., None]
    )
    err = np.linalg.norm(noise, axis=2) / (2 * np.sqrt(area)[:, None] * sigmas[None, :])
    conf = np.clip(np.exp(-0.5 * err**2) * rng.uniform(0.8, 1.0, (total, K)), 0.01, 0.99)
    score = np.clip(conf.mean(axis=1) + rng.normal(0, 0.05, total), 0.01, 0.99)
    found = rng.random(total) < 0.92  # the model misses 8%
    return {
        "counts": counts,
        "kp": kp,
        "vis": vis,
        "boxes": boxes,
        "area": area,
        "pred_kp": kp + noise,
        "conf": conf.astype(np.float32),
        "score": score,
        "found": found,
        "split": rng.choice(["train", "val", "test"], n),
    }


def _run_of(table: Any, predictions: list[Any], name: str, seed: int) -> None:
    """``Run.from_predictions``, then ``materialize`` (its evaluation, index and the
    suspects it keeps, found 10k rows at a time), as the CLI makes a run."""
    import posetable as pt

    pt.Run.from_predictions(
        table, predictions, name=name, model_info={"model": "synthetic", "seed": seed}
    ).materialize()


def _build(store: Path, n_images: int, seed: int = 0) -> None:
    """``big`` (n_images seeded images, ~2.5 persons each) and the run ``model-a``, made
    BUILD_BATCH images at a time (each batch of its own seeded generator): only the
    predictions (one object per row, as ``Run.from_predictions`` takes them) grow with n."""
    import posetable as pt
    from posetable._arrow import instances_to_arrow
    from posetable.sample import sample_images

    schema = pt.Keypoints2DSchema.coco_person()
    sigmas = np.asarray(schema.sigmas)
    images = sorted(str(p) for p in sample_images().glob("*.jpg"))  # real files for thumbnails
    w, h = 640, 480
    predictions: list[Any] = []
    extras = {
        "area": pa.float64(),
        "iscrowd": pa.int64(),
        "id": pa.int64(),
        "num_keypoints": pa.int64(),
    }

    def batches() -> Any:
        next_id = 1
        for number, a in enumerate(range(0, n_images, BUILD_BATCH)):
            b = min(a + BUILD_BATCH, n_images)
            g = _batch(np.random.default_rng([seed, number]), b - a, sigmas)
            starts = np.concatenate([[0], np.cumsum(g["counts"])])
            items = []
            for r in range(b - a):
                s, e = int(starts[r]), int(starts[r + 1])
                items.append(
                    pt.Keypoints2DInstances(
                        g["kp"][s:e],
                        keypoint_visibilities=g["vis"][s:e],
                        instance_bbs=g["boxes"][s:e],
                        instance_extras={
                            "area": g["area"][s:e],
                            "iscrowd": np.zeros(e - s, np.int64),
                            "id": np.arange(next_id + s, next_id + e, dtype=np.int64),
                            "num_keypoints": (g["vis"][s:e] > 0).sum(axis=1).astype(np.int64),
                        },
                        num_keypoints=K,
                    )
                )
                keep = np.flatnonzero(g["found"][s:e]) + s
                predictions.append(
                    None
                    if len(keep) == 0
                    else pt.Keypoints2DInstances(
                        g["pred_kp"][keep],
                        keypoint_confidences=g["conf"][keep],
                        instance_confidences=g["score"][keep],
                        num_keypoints=K,
                    )
                )
            next_id += int(starts[-1])
            column = instances_to_arrow(
                items,
                num_keypoints=K,
                extras=extras,
                widths=np.full(b - a, float(w)),
                heights=np.full(b - a, float(h)),
            )
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array([images[i % len(images)] for i in range(a, b)]),
                    pa.array(np.full(b - a, w, np.int32)),
                    pa.array(np.full(b - a, h, np.int32)),
                    column,
                    pa.array(np.arange(a, b, dtype=np.int64)),
                    pa.array(g["split"]),
                ],
                names=["image", "width", "height", "keypoints", "image_id", "split"],
            )

    gen = batches()
    first = next(gen)
    reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], gen))
    table = pt.Table.from_arrow(
        reader,
        name="big",
        schema=schema,
        store=store,
        metadata={"image_roots": [str(sample_images())]},
    )
    _run_of(table, predictions, "model-a", seed)


def _second_run(store: Path, seed: int = 1) -> None:
    """``model-b``: the ground truth of ``big`` with other seeded noise (per keypoint
    ``sigma * sqrt(area)`` times a per-instance difficulty), confidences falling with the
    error, 5% of the persons missed."""
    import posetable as pt
    from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow

    table = pt.Table.open("big@1", store=store)
    rng = np.random.default_rng(seed)
    sigmas = np.asarray(table.schema.sigmas)
    predictions: list[Any] = []
    for batch in table.iter_batches(batch_rows=10_000, columns=[KEYPOINTS_COLUMN]):
        for gt in instances_from_arrow(batch.column(0)):
            n = len(gt)
            keep = rng.random(n) >= 0.05
            if not keep.any():
                predictions.append(None)
                continue
            area = np.asarray(gt.instance_extras["area"], np.float64)[keep]
            scale = np.sqrt(area)[:, None] * sigmas[None, :]
            difficulty = rng.uniform(0.1, 1.8, (int(keep.sum()), 1))
            noise = rng.normal(size=(int(keep.sum()), K, 2)) * (scale * difficulty)[..., None]
            err = np.linalg.norm(noise, axis=2) / (2 * scale)
            conf = np.clip(np.exp(-0.5 * err**2) * rng.uniform(0.8, 1.0, err.shape), 0.01, 0.99)
            score = np.clip(conf.mean(axis=1) + rng.normal(0, 0.05, len(conf)), 0.01, 0.99)
            predictions.append(
                pt.Keypoints2DInstances(
                    gt.keypoints[keep] + noise,
                    keypoint_confidences=conf.astype(np.float32),
                    instance_confidences=score,
                    num_keypoints=K,
                )
            )
    _run_of(table, predictions, "model-b", seed)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _server_ms(response: Any) -> float:
    found = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) if found else float("nan")


def _measure(client: Any, url: str, params: dict[str, Any], repeats: int = 5) -> dict[str, float]:
    timings = []
    for _ in range(1 + repeats):
        start = time.perf_counter()
        response = client.get(url, params=params)
        wall = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url} {params} -> {response.status_code}: {response.text[:300]}")
        timings.append((_server_ms(response), wall))
    warm = timings[1:] or timings
    return {
        "cold_server": timings[0][0],
        "cold_wall": timings[0][1],
        "warm_server": statistics.median(t[0] for t in warm),
        "warm_wall": statistics.median(t[1] for t in warm),
        "bytes": float(len(response.content)),
    }


def _naive(store: Path, sort_key: str, filter_fn: Any) -> tuple[float, float]:
    """Load-everything reference: scalars, metrics and decoded instances, then sort / filter."""
    import posetable as pt

    start = time.perf_counter()
    table = pt.Table.open("big", store=store)
    frame = table.to_arrow(columns=["image", "width", "height", "image_id", "split"]).to_pandas()
    frame["row"] = np.arange(len(frame))
    metrics = pt.Run.open("model-a", store=store).per_sample.to_pandas()
    frame = frame.merge(metrics.drop(columns=["image_id"]), on="row", how="left")
    decoded = [r["keypoints"] for r in table.iter_rows(batch_rows=8192)]
    frame["num_instances"] = [len(d) for d in decoded]
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    page = frame.sort_values([sort_key, "row"], na_position="last").head(48)
    filtered = frame[filter_fn(frame)].head(48)
    assert len(page) and len(filtered)
    return loaded * 1000, (time.perf_counter() - start) * 1000


CASES = [
    ("first grid page", "/api/tables/big/rows", {"run": "model-a", "limit": 48}),
    (
        "sort by mean OKS",
        "/api/tables/big/rows",
        {"run": "model-a", "sort": "mean_oks", "order": "asc"},
    ),
    (
        "filter fn_50 > 0 and num_instances >= 4",
        "/api/tables/big/rows",
        {"run": "model-a", "filter": "fn_50 > 0 and num_instances >= 4", "sort": "mean_oks"},
    ),
    (
        "filter on user columns",
        "/api/tables/big/rows",
        {"run": "model-a", "filter": "split = 'val' and image_id > 50000"},
    ),
    (
        "image view (+ neighbours)",
        "/api/tables/big/rows/54321",
        {"run": "model-a", "position": 10, "sort": "mean_oks"},
    ),
    (
        "page 1000 of the sort",
        "/api/tables/big/rows",
        {"run": "model-a", "sort": "mean_oks", "offset": 48_000},
    ),
    ("thumbnail", "/api/tables/big/thumbnail/7", {}),
]
FACETS = "/api/tables/big/facets"
ROWS = "/api/tables/big/rows"
A_B = {"runs": "model-a,model-b"}
#: each filter widget's request while it moves (facets) and when it is let go (the grid)
WIDGET_CASES = [
    ("widgets: facets, no filter", FACETS, {"run": "model-a"}),
    (
        "widgets: facets, range mean_oks < 0.5",
        FACETS,
        {"run": "model-a", "filter": "mean_oks < 0.5"},
    ),
    (
        "widgets: facets, class + vis.left_wrist",
        FACETS,
        {"run": "model-a", "filter": "classes has 'person' and vis.left_wrist has 1"},
    ),
    (
        "widgets: facets, check rule",
        FACETS,
        {"run": "model-a", "filter": "check_rules has 'bone_length_outlier'"},
    ),
    (
        "widgets: grid, class + vis.left_wrist",
        ROWS,
        {"run": "model-a", "filter": "classes has 'person' and vis.left_wrist has 1"},
    ),
    (
        "widgets: grid, check rule, by mean_oks",
        ROWS,
        {"run": "model-a", "filter": "check_rules has 'bone_length_outlier'", "sort": "mean_oks"},
    ),
    (
        "chart: histogram of mean_oks, filtered",
        "/api/tables/big/charts/histogram",
        {"column": "mean_oks", "run": "model-a", "filter": "num_instances >= 2"},
    ),
    ("compare: images by delta OKS", "/api/compare/images", A_B),
    ("compare: images where B is worse", "/api/compare/images", {**A_B, "show": "worse"}),
    ("compare: one image, both runs", "/api/compare/images/4321", A_B),
]
SUSPECT_CASES = [
    (
        "first suspect sort",
        ROWS,
        {"run": "model-a", "sort": "suspect_score", "order": "desc"},
    ),
]
#: pages computed once per run and revision (then cached): no interaction budget
PAGE_CASES = [
    ("page: diagnosis charts (pt.diagnose)", "/api/runs/model-a/charts/diagnosis", {}),
    ("page: background FP, second page", "/api/runs/model-a/charts/background", {"offset": 100}),
    ("page: PR curves", "/api/runs/model-a/charts/pr", {}),
    ("page: per-keypoint charts", "/api/runs/model-a/charts/keypoints", {}),
    ("page: calibration", "/api/runs/model-a/charts/calibration", {}),
]
BUDGETS = {
    "open: first grid page with the run": GOAL_MS,
    **{name: GOAL_MS for name, _, _ in CASES + WIDGET_CASES},
    **{name: GOAL_SUSPECT_SORT_MS for name, _, _ in SUSPECT_CASES},
}
#: issue 21's budgets for a million-image dashboard (server time; RSS after the requests)
SCALE_GOALS = {
    "first grid page": 300.0,
    "sort or filter by a per-sample metric": 1000.0,
    "suspects available after the run is opened": 5000.0,
    "server RSS": 1536.0,
}


def start_server(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The real server (uvicorn, 127.0.0.1, a free port) in a subprocess, once it answers."""
    import httpx2 as httpx

    from posetable.dashboard.server import bind

    code = (
        "import sys, uvicorn; from posetable.dashboard.app import create_app; "
        "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
        "log_level='warning')"
    )
    probe = bind("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(store), str(port)], env={**os.environ}
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/static/index.html", timeout=5)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return server, base


#: what the background work of the first view reached, and when (seconds after the first
#: grid page with the run was asked): the check of the revision, the run's suspects
READY: dict[str, float] = {}
#: the check's child process, as the check state reports it (a large revision is checked in
#: a process of its own, ``posetable.dashboard._check_process``): its peak RSS, its time
CHECK_PROCESS: dict[str, float] = {}


def _until_ready(client: Any, started: float, timeout: float = 600.0) -> None:
    """Poll the first grid page until the revision's check is done (and the filter widgets'
    columns made after it), the run's suspects are at hand and its summary on this revision
    is computed; record when each got there (``READY``)."""
    while time.perf_counter() - started < timeout:
        page = client.get(ROWS, params={"run": "model-a", "limit": 48}).json()
        now = time.perf_counter() - started
        check = page.get("check_state", {})
        if check.get("state") in ("done", "failed") and check.get("filters_ready", True):
            READY.setdefault("check done", now)
            if check.get("process") and not CHECK_PROCESS:
                CHECK_PROCESS.update(check["process"])
        if page.get("suspects_state") == "ready":
            READY.setdefault("suspects ready", now)
        if page.get("run_metrics_state") != "re-evaluating":
            READY.setdefault("run summary ready", now)
        if {"check done", "suspects ready", "run summary ready"} <= set(READY):
            return
        time.sleep(0.25)


def _serve_and_measure(
    store: Path, *, scale_only: bool = False
) -> tuple[dict[str, dict[str, float]], tuple[float, float]]:
    """Start the server in a subprocess, run every case over HTTP, return timings and RSS.

    The first grid page with the run is timed alone first (the run's open); then the page
    is polled until the background work it started is done (``READY``), and every case is
    timed on the served state."""
    import httpx2 as httpx

    server, base = start_server(store)
    READY.clear()
    CHECK_PROCESS.clear()
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            rss_start = _rss_mb(server.pid)
            started = time.perf_counter()
            opened = _measure(client, ROWS, {"run": "model-a", "limit": 48}, repeats=0)
            _until_ready(client, started)
            READY["peak RSS while working"] = _peak_rss_mb(server.pid)
            results = {"open: first grid page with the run": opened}
            every = CASES + SUSPECT_CASES
            if not scale_only:
                every = CASES + WIDGET_CASES + SUSPECT_CASES + PAGE_CASES
            results.update({name: _measure(client, url, params) for name, url, params in every})
            if not scale_only:
                results.update(_edit_round_trip(client))
            rss_end = _rss_mb(server.pid)
            READY["peak RSS of the whole session"] = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)
    return results, (rss_start, rss_end)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _edit_round_trip(client: Any) -> dict[str, dict[str, float]]:
    """Save a moved keypoint (one new revision), then sort and filter that new revision."""
    out: dict[str, dict[str, float]] = {}
    detail = client.get("/api/tables/big/rows/777").json()
    instances = instances_of(detail)
    if not instances:
        return out
    instances[0]["keypoints"][0][0] += 3.0
    start = time.perf_counter()
    saved = client.post(
        "/api/tables/big/edit",
        json={"base_revision": detail["revision"], "rows": {"777": {"instances": instances}}},
    )
    wall = (time.perf_counter() - start) * 1000
    if saved.status_code != 200:
        raise SystemExit(f"edit failed: {saved.text[:300]}")
    one = {"cold_server": _server_ms(saved), "cold_wall": wall, "bytes": float(len(saved.content))}
    out["save an edit (new revision)"] = {
        **one,
        "warm_server": one["cold_server"],
        "warm_wall": wall,
    }
    out["new revision: sort + filter"] = _measure(
        client,
        "/api/tables/big/rows",
        {"run": "model-a", "sort": "mean_oks", "filter": "num_instances >= 4"},
    )
    revision = saved.json()["revision"]
    out["revision diff: the edit"] = _measure(
        client, "/api/tables/big/diff", {"from": revision - 1, "to": revision}
    )
    out["revision diff: from the first revision"] = _measure(
        client, "/api/tables/big/diff", {"from": 1, "to": revision}
    )
    out["revision diff: one sample"] = _measure(
        client, "/api/tables/big/diff/777", {"from": 1, "to": revision}
    )
    for name in out:
        if name.startswith("revision diff"):
            BUDGETS[name] = GOAL_MS
    return out


def _report(title: str, results: dict[str, dict[str, float]], rss: tuple[float, float]) -> None:
    print(f"\n{title}")
    print(
        f"{'request (48 rows a page)':42} {'cold server':>12} {'warm server':>12} "
        f"{'warm wall':>10} {'KB':>6}  budget"
    )
    for name, r in results.items():
        budget = BUDGETS.get(name)
        mark = "" if budget is None else f"  < {budget:.0f} ms"
        if budget is not None and max(r["cold_server"], r["warm_server"]) >= budget:
            mark += " MISSED"
        print(
            f"{name:42} {r['cold_server']:10.1f}ms {r['warm_server']:10.1f}ms "
            f"{r['warm_wall']:8.1f}ms {r['bytes'] / 1024:6.0f}{mark}"
        )
    for label, goal in (("widget interaction", GOAL_MS), ("suspect sort", GOAL_SUSPECT_SORT_MS)):
        timed = [
            max(r["cold_server"], r["warm_server"])
            for name, r in results.items()
            if BUDGETS.get(name) == goal
        ]
        if timed:
            worst = max(timed)
            verdict = "met" if worst < goal else "NOT met"
            print(f"slowest {label}: {worst:.1f} ms server time (goal < {goal:.0f} ms): {verdict}")
    memory = "met" if rss[1] < GOAL_RSS_MB else "NOT met"
    print(
        f"server RSS {rss[0]:.0f} MB after start, {rss[1]:.0f} MB after the requests "
        f"(goal < {GOAL_RSS_MB:.0f} MB): {memory}"
    )
    if READY:
        print(
            "background work of the first view: "
            + ", ".join(
                f"{k} {v:.0f} MB" if "RSS" in k else f"{k} after {v:.1f} s"
                for k, v in READY.items()
            )
        )


def _library_timings(store: Path) -> None:
    """The library calls behind the slow first views, in this process: ``pt.check`` (the
    grid's finding badges and the check filter), ``find_label_errors`` (suspects),
    ``pt.diagnose`` and ``keypoint_metrics`` (the chart pages)."""
    import warnings

    import posetable as pt
    from posetable.label_errors import find_label_errors

    table = pt.Table.open("big@1", store=store)
    run = pt.Run.open("model-a", store=store)
    print("\nlibrary calls on the 100k table (in process, each once)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in (
            ("pt.check (grid badges, check filter)", lambda: len(pt.check(table))),
            (
                "find_label_errors (suspects, 0.3/0.3)",
                lambda: len(
                    find_label_errors(
                        table,
                        run,
                        instance_confidence_threshold=0.3,
                        keypoint_confidence_threshold=0.3,
                    )
                ),
            ),
            ("pt.evaluate", lambda: pt.evaluate(table, run).ap),
            ("pt.diagnose", lambda: pt.diagnose(table, run).ap),
            (
                "keypoint_metrics",
                lambda: pt.evaluate(table, run).keypoint_metrics().keypoint_ece,
            ),
        ):
            start = time.perf_counter()
            value = call()
            print(f"{name:42} {time.perf_counter() - start:8.2f} s   ({value})")


#: the review store's videos: every VIDEO_FRAMES consecutive rows are one video's frames
VIDEO_FRAMES = 100


def _review_store(n_images: int, *, rebuild: bool) -> Path:
    """``big`` (the same seeded build) with the review columns: ``weight`` (float32 1.0, as
    3LC's add_weight_column), ``video`` and ``frame_index`` (videos of VIDEO_FRAMES frames,
    numbered backwards so frame order is not row order). A store of its own: the writes
    timed on it leave the main bench store as it was."""
    import posetable as pt

    store = DATA / f"dashboard-review-{n_images}"
    if rebuild or not (store / "runs" / "model-a" / "manifest.json").is_file():
        shutil.rmtree(store, ignore_errors=True)
        start = time.perf_counter()
        _build(store, n_images)
        table = pt.Table.open("big", store=store)
        rows = np.arange(len(table))
        table = table.add_column("weight", np.ones(len(table), np.float32))
        table = table.add_column("video", [f"video{v:05d}" for v in rows // VIDEO_FRAMES])
        table.add_column("frame_index", (VIDEO_FRAMES - 1 - rows % VIDEO_FRAMES).astype(np.int64))
        print(f"built the review store in {time.perf_counter() - start:.1f} s ({store})")
    return store


def _post(client: Any, url: str, body: dict[str, Any]) -> dict[str, float]:
    start = time.perf_counter()
    response = client.post(url, json=body)
    wall = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(
            f"{url} {str(body)[:200]} -> {response.status_code}: {response.text[:300]}"
        )
    server = _server_ms(response)
    return {
        "cold_server": server,
        "cold_wall": wall,
        "warm_server": server,
        "warm_wall": wall,
        "bytes": float(len(response.content)),
    }


def _review_measure(store: Path) -> tuple[dict[str, dict[str, float]], tuple[float, float]]:
    """The review endpoints over HTTP: reads (frames, marks, the next unreviewed row, a new
    instance in a box) cold and warm; writes (a mark, a one-click fix, weights on 48,
    1,000 and 10,000 rows: each a new revision) once each."""
    import httpx2 as httpx

    import posetable as pt

    base_revision = pt.Table.open("big", store=store).revision
    server, base = start_server(store)
    out: dict[str, dict[str, float]] = {}
    try:
        with httpx.Client(base_url=base, timeout=300) as client:
            rss_start = _rss_mb(server.pid)
            out["review: frames of a row (video)"] = _measure(
                client, "/api/tables/big/frames/54321", {}
            )
            box = {"x1": 100, "y1": 50, "x2": 260, "y2": 400}
            out["review: new instance in a drawn box"] = _measure(
                client, "/api/tables/big/new_instance/777", box
            )
            for row in range(0, 2000, 10):  # 200 rows reviewed
                out["review: mark a row (POST, no revision)"] = _post(
                    client,
                    "/api/tables/big/review",
                    {"base_revision": base_revision, "row": row, "status": "rejected"},
                )
            out["review: the marks of the table"] = _measure(client, "/api/tables/big/review", {})
            # the run was made on revision 1: its first view on this revision re-evaluates it
            # once (the grid pays the same); the queue is timed after that
            out["(once) the run's first view on this revision"] = _measure(
                client, "/api/tables/big/rows", {"run": "model-a", "sort": "mean_oks"}, repeats=1
            )
            out["review: next unreviewed (mean_oks queue)"] = _measure(
                client,
                "/api/tables/big/review/next",
                {"run": "model-a", "sort": "mean_oks", "position": 10},
            )
            row, matched = 777, None
            while matched is None:  # a row with a ground-truth person the run matched
                detail = client.get(f"/api/tables/big/rows/{row}", params={"run": "model-a"})
                gts = (detail.json().get("per_instance") or {}).get("gt", [])
                matched = next((g for g in gts if g["partner"] >= 0), None)
                row += 0 if matched else 1
            out["fix: snap a keypoint to the prediction"] = _post(
                client,
                "/api/tables/big/fix",
                {
                    "base_revision": base_revision,
                    "row": row,
                    "action": "snap_keypoint",
                    "instance": matched["index"],
                    "keypoint": 0,
                    "prediction": matched["partner"],
                    "run": "model-a",
                },
            )
            revision = base_revision + 1
            for label, body in (
                ("48 selected rows", {"rows": list(range(100, 148))}),
                ("1,000 filtered rows", {"filter": "image_id < 1000"}),
                ("10,000 filtered rows", {"filter": "image_id >= 20000 and image_id < 30000"}),
            ):
                answer = _post(
                    client,
                    "/api/tables/big/weights",
                    # a weight no earlier run of the bench set: every row changes
                    {"base_revision": revision, "weight": float(base_revision), **body},
                )
                out[f"weights: set on {label}"] = answer
                revision += 1
            out["review: frames on the new revision"] = _measure(
                client, "/api/tables/big/frames/54321", {}
            )
            rss_end = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)
    for name in out:
        if name.startswith("review:"):
            BUDGETS[name] = GOAL_MS
    return out, (rss_start, rss_end)


def _keep_suspects(store: Path) -> None:
    """Runs written before ``Run`` kept its label-error suspects get them now, as a run
    made by the CLI (``materialize``) has them (timed: what making the run costs more)."""
    import posetable as pt
    from posetable._run_suspects import SUSPECT_THRESHOLDS, suspects_path

    for name in ("model-a", "model-b"):
        run = pt.Run.open(name, store=store)
        if suspects_path(run.path, SUSPECT_THRESHOLDS).is_file():
            continue
        start = time.perf_counter()
        run.materialize()
        print(f"kept the suspects of {name} with the run in {time.perf_counter() - start:.1f} s")


def _scale_report(
    title: str, results: dict[str, dict[str, float]], rss: tuple[float, float]
) -> None:
    """Issue 21's budgets for the dashboard, from one server's measurements."""

    def worst(*names: str) -> float:
        return max(max(results[n]["cold_server"], results[n]["warm_server"]) for n in names)

    measured = {
        "first grid page": worst("open: first grid page with the run", "first grid page"),
        "sort or filter by a per-sample metric": worst(
            "sort by mean OKS", "filter fn_50 > 0 and num_instances >= 4", "page 1000 of the sort"
        ),
        "suspects available after the run is opened": 1000 * READY.get("suspects ready", np.inf),
        "server RSS": rss[1],
    }
    print(f"\nissue 21 budgets ({title})")
    for name, goal in SCALE_GOALS.items():
        unit = "MB" if "RSS" in name else "ms"
        verdict = "met" if measured[name] < goal else "NOT met"
        print(f"{name:45} {measured[name]:10.0f} {unit}  (goal < {goal:.0f} {unit}): {verdict}")
    if "peak RSS while working" in READY:
        print(
            f"{'(server peak RSS, background check included)':45} "
            f"{READY['peak RSS while working']:10.0f} MB; check done after "
            f"{READY.get('check done', float('nan')):.1f} s"
        )
    if "peak RSS of the whole session" in READY:
        print(
            f"{'(server peak RSS, start to the last request)':45} "
            f"{READY['peak RSS of the whole session']:10.0f} MB"
        )
    if CHECK_PROCESS.get("kept"):
        print(f"{'(check child process)':45} none: the findings kept on disk were read")
    elif CHECK_PROCESS:
        print(
            f"{'(check child process peak RSS, own process)':45} "
            f"{CHECK_PROCESS['peak_rss_mb']:10.0f} MB; ran {CHECK_PROCESS['seconds']:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--library", action="store_true", help="also time the library calls in process"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="print issue 21's dashboard budgets (first page, metric sort, suspects after "
        "open, RSS) for this size, e.g. with --images 1000000",
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="time only what --scale reports (the grid cases and the suspect sort, no "
        "widgets, chart pages, edit or in-memory reference): for the largest sizes",
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build (or keep) the data, measure nothing"
    )
    parser.add_argument(
        "--review",
        action="store_true",
        help="also time the review endpoints (frames, marks, one-click fixes, weights) on a "
        "store of their own with video, frame_index and weight columns",
    )
    args = parser.parse_args()
    store = DATA / f"dashboard-{args.images}"
    if args.rebuild or not (store / "runs" / "model-a" / "manifest.json").is_file():
        shutil.rmtree(store, ignore_errors=True)
        start = time.perf_counter()
        _build(store, args.images)
        took = time.perf_counter() - start
        print(f"built {args.images} images with a run in {took:.1f} s ({store})")
    if not (store / "runs" / "model-b" / "manifest.json").is_file():
        start = time.perf_counter()
        _second_run(store)
        print(f"made the second run model-b in {time.perf_counter() - start:.1f} s")
    _keep_suspects(store)
    if args.build_only:
        return
    import posetable as pt

    table = pt.Table.open("big", store=store)
    instances = int(
        pt.Run.open("model-a", store=store).per_sample.column("num_gt").to_numpy().sum()
    )
    print(f"table big@{table.revision}: {len(table)} images, {instances} non-ignored persons")

    shutil.rmtree(store / ".cache", ignore_errors=True)  # measure the very first views too
    fresh, rss_fresh = _serve_and_measure(store, scale_only=args.scale_only)
    _report(
        "fresh store: no caches yet (a run's first view converts its Parquet once)",
        fresh,
        rss_fresh,
    )
    fresh_ready, fresh_process = dict(READY), dict(CHECK_PROCESS)
    again, rss_again = _serve_and_measure(store, scale_only=args.scale_only)
    _report("server restarted: caches on disk", again, rss_again)
    results = again
    if args.scale or args.scale_only:
        again_ready, again_process = dict(READY), dict(CHECK_PROCESS)
        for title, measured, rss, ready, process in (
            ("fresh store", fresh, rss_fresh, fresh_ready, fresh_process),
            ("server restarted", again, rss_again, again_ready, again_process),
        ):
            READY.clear()
            READY.update(ready)
            CHECK_PROCESS.clear()
            CHECK_PROCESS.update(process)
            _scale_report(f"{title}, {args.images} images", measured, rss)
    if args.scale_only:
        return

    load_ms, query_ms = _naive(
        store, "mean_oks", lambda f: (f["fn_50"] > 0) & (f["num_instances"] >= 4)
    )
    sort_ms = results["sort by mean OKS"]["cold_server"]
    filter_ms = results["filter fn_50 > 0 and num_instances >= 4"]["cold_server"]
    print(
        f"\nreference (load everything into pandas + decode instances, then sort and filter): "
        f"load {load_ms:.0f} ms, sort+filter {query_ms:.1f} ms"
    )
    print(f"ratio naive first sort / dashboard cold sort: {(load_ms + query_ms) / sort_ms:.1f}x")
    print(
        f"ratio naive first filter / dashboard cold filter: {(load_ms + query_ms) / filter_ms:.1f}x"
    )
    if args.library:
        _library_timings(store)
    if args.review:
        review_store = _review_store(args.images, rebuild=args.rebuild)
        measured, rss = _review_measure(review_store)
        _report("review endpoints (video / weight columns)", measured, rss)


if __name__ == "__main__":
    main()
