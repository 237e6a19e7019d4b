"""A run's diagnosis page and its per-keypoint charts, in Debian's Chromium, on real tables:
the COCO sample (with its synthetic run), OneHand10K (no flip indices: no inversions),
AP-10K (54 classes) and COCO-WholeBody (K=133: search and top-N keep the charts readable).

What each page drew is read back from ``window.posetable.charts`` and compared with the
library's own numbers; screenshots go to ``test-output/dashboard/``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests._predictions import noisy_predictions
from tests.test_dashboard_browser import Server, _open, _settled, _shot

browser = _browser_tests.browser
page = _browser_tests.page
server = _browser_tests.server
pytestmark = pytest.mark.browser

TABLE = "coco-sample"
RUN = "coco-sample-perturbed"


def _import(folder: Path, name: str, store: Path) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        images = folder / "images" if (folder / "images").is_dir() else None
        return pt.Table.from_coco(folder / "annotations.json", images, name=name, store=store)


FEET = (
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)
# COCO-WholeBody's sigmas after COCO's 17, as open-mmlab/mmpose's
# configs/_base_/datasets/coco_wholebody.py lists them: feet, face, one hand (twice)
WHOLEBODY_SIGMAS = (
    0.068, 0.066, 0.066, 0.092, 0.094, 0.094,
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037,
    0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013,
    0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009,
    0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008,
    0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008,
    0.008, 0.01, 0.008,
    *((0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022,
       0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031) * 2),
)  # fmt: skip


def _wholebody_133(real_data: Any, store: Path) -> pt.Table:
    """COCO-WholeBody's 133 points per person (body 17, feet 6, face 68, hands 2 x 21, in
    its own order) from the real annotation file, on the ``coco_kpts`` copies of its images."""
    from posetable._coco_constants import COCO_FLIP_INDICES

    data = json.loads((real_data("coco_wholebody") / "annotations.json").read_text())
    body = list(pt.Keypoints2DSchema.coco_person().keypoint_names)
    names = [*body, *FEET, *(f"face-{i}" for i in range(68))]
    names += [f"left_hand-{i}" for i in range(21)] + [f"right_hand-{i}" for i in range(21)]
    flips = [*COCO_FLIP_INDICES, 20, 21, 22, 17, 18, 19, *range(23, 91)]
    flips += [*range(112, 133), *range(91, 112)]
    sigmas = [*pt.KeypointHelper.COCO_OKS_SIGMAS, *WHOLEBODY_SIGMAS]
    schema = pt.Keypoints2DSchema(133, keypoint_names=names, flip_indices=flips, oks_sigmas=sigmas)
    folder = real_data("coco_kpts") / "images"
    rows = []
    for image in data["images"]:
        people = [a for a in data["annotations"] if a["image_id"] == image["id"]]
        parts = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
        points = np.array(
            [np.concatenate([a[p] for p in parts]).reshape(133, 3) for a in people]
        ).reshape(len(people), 133, 3)
        boxes = np.array([a["bbox"] for a in people], float).reshape(len(people), 4)
        boxes[:, 2:] += boxes[:, :2]
        rows.append(
            {
                "image": str(folder / image["file_name"]),
                "width": image["width"],
                "height": image["height"],
                "keypoints": pt.Keypoints2DInstances(
                    points[..., :2],
                    keypoint_visibilities=np.where(points[..., 2] > 0, 2, 0),
                    instance_bbs=boxes,
                    instance_extras={"area": np.array([a["area"] for a in people], float)},
                ),
            }
        )
    return pt.Table.from_rows(
        rows, name="wholebody", schema=schema, store=store, metadata={"image_roots": [str(folder)]}
    )


def test_diagnosis_page_shows_fixes_curves_breakdown_and_background(
    server: Server, page: Any
) -> None:
    table = pt.Table.open(TABLE, store=server.store)
    expected = pt.diagnose(table, pt.Run.open(RUN, store=server.store))
    _open(page, f"{server.base}#/")
    page.click(f'tr[data-run="{RUN}"] a.diagnosis-link')
    _settled(page, "window.posetable.page === 'diagnosis'")
    charts = page.evaluate("window.posetable.charts")
    assert charts["fixes"]["bars"] == 7 and charts["fixes"]["missing"] == 0
    assert charts["fixes"]["values"] == pytest.approx(
        [
            expected.ap_improvement[f]
            for f in (
                "jitter",
                "inversion",
                "swap",
                "miss",
                "score",
                "background_fp",
                "background_fn",
            )
        ]
    )
    assert charts["pr"]["lines"] == len(expected.curves)
    assert charts["breakdown"]["rows"] == table.schema.num_keypoints
    assert page.locator("#no-flip-note").count() == 0
    errors = expected.instance_errors.to_pylist()
    fp_rows = sorted(
        (e for e in errors if e["error"] == "background_fp"), key=lambda e: -e["score"]
    )
    listed = page.locator("#background-fp tr[data-row]")
    assert listed.count() == len(fp_rows)
    assert [int(listed.nth(i).get_attribute("data-row")) for i in range(listed.count())] == [
        e["row"] for e in fp_rows
    ]
    assert page.locator("#background-fn tr[data-row]").count() == sum(
        e["error"] == "background_fn" for e in errors
    )
    twin = page.get_attribute("#chart-fixes a.json-twin", "href")
    assert twin == f"/api/runs/{RUN}/charts/diagnosis"
    assert page.request.get(server.base.rstrip("/") + twin).json()["ap"] == pytest.approx(
        expected.ap
    )
    page.select_option("#diagnosis-oks", "0.75")
    page.wait_for_function("location.hash.includes('oks=0.75')")
    _shot(page, "diagnosis-sample")
    listed.first.locator("a.row-link").click()
    _settled(page, "window.posetable.page === 'viewer'")
    assert page.evaluate("window.posetable.data.row") == fp_rows[0]["row"]
    assert page.evaluate("window.posetable.data.run") == RUN


def test_diagnosis_of_a_table_without_flip_indices_says_there_is_no_inversion_analysis(
    server: Server, page: Any, real_data: Any
) -> None:
    hands = _import(real_data("onehand10k"), "hands", server.store)
    assert hands.schema.flip_indices is None
    pt.Run.from_predictions(hands, noisy_predictions(hands, seed=4, noise=0.05), name="hands-run")
    _open(page, f"{server.base}#/runs/hands-run/diagnosis")
    note = page.locator("#no-flip-note")
    assert note.count() == 1 and "no inversion analysis" in note.inner_text()
    bars = page.evaluate("window.posetable.charts.fixes")
    assert bars["missing"] == 1 and bars["values"][1] is None
    assert page.locator('#chart-fixes g.bar[data-label="inversion"] text.na').count() == 1
    assert page.evaluate("window.posetable.charts.breakdown.rows") == 21
    _shot(page, "diagnosis-no-flip-indices")


def test_run_charts_of_54_classes_show_per_keypoint_metrics_and_a_histogram(
    server: Server, page: Any, real_data: Any
) -> None:
    animals = _import(real_data("ap10k"), "animals", server.store)
    assert len(animals.schema.classes) == 54
    run = pt.Run.from_predictions(animals, noisy_predictions(animals, seed=1), name="animals-run")
    metrics = pt.evaluate(animals, run, sigmas=animals.schema.sigmas).keypoint_metrics()
    _open(page, f"{server.base}#/runs/animals-run/charts")
    charts = page.evaluate("window.posetable.charts")
    k = animals.schema.num_keypoints
    assert charts["ap"]["rows"] == k and charts["similarity"]["rows"] == k
    assert charts["pck"]["threshold"] == "0.1"
    ap = metrics.per_keypoint.column("ap").to_pylist()
    shown = page.evaluate(
        """() => [...document.querySelectorAll('#chart-keypoint-ap g.kp-row')].map(g => [
            g.dataset.keypoint, g.querySelectorAll('text.value')[0].textContent])"""
    )
    assert [name for name, _ in shown] == list(animals.schema.keypoint_names)
    assert [text for _, text in shown] == ["–" if v is None else f"{v:.3f}" for v in ap]
    assert charts["pr"]["lines"] == 10
    assert charts["calibration"]["instance"] == pytest.approx(metrics.instance_ece)
    assert charts["histogram"]["column"] == "mean_oks"
    page.select_option("#histogram-column", "num_instances")
    page.wait_for_function("window.posetable.charts.histogram.column === 'num_instances'")
    assert page.evaluate("window.posetable.charts.histogram.total") == len(animals)
    page.select_option("#pck-threshold", "0.2")
    page.wait_for_function("window.posetable.charts.pck.threshold === '0.2'")
    _shot(page, "run-charts-ap10k")


def test_charts_of_133_keypoints_stay_readable_with_search_and_top_n(
    server: Server, page: Any, real_data: Any
) -> None:
    body = _wholebody_133(real_data, server.store)
    k = body.schema.num_keypoints
    assert k == 133
    run = noisy_predictions(body, seed=2, noise=0.01)
    pt.Run.from_predictions(body, run, name="wholebody-run")
    _open(page, f"{server.base}#/runs/wholebody-run/charts")
    ap = page.locator("#chart-keypoint-ap")
    assert page.evaluate("window.posetable.charts.ap.rows") == 20  # top 20 by default at K > 40
    ap.locator("select.chart-top").select_option("0")
    assert page.evaluate("window.posetable.charts.ap.rows") == k
    ap.locator("input.chart-search").fill("left_hand")
    names = page.evaluate("window.posetable.charts.ap.names")
    expected = [n for n in body.schema.keypoint_names if "left_hand" in n.lower()]
    assert names == expected and 0 < len(names) < k
    ap.locator("input.chart-search").fill("")
    ap.locator("select.chart-sort").select_option("asc")
    values = page.evaluate(
        """() => [...document.querySelectorAll('#chart-keypoint-ap g.kp-row')].map(g =>
            g.querySelectorAll('text.value')[0].textContent)"""
    )
    numbers = [float(v) for v in values if v != "–"]
    assert numbers == sorted(numbers) and len(values) == k
    _settled(page)
    _shot(page, "run-charts-wholebody-133")
    _open(page, f"{server.base}#/runs/wholebody-run/diagnosis")
    assert page.evaluate("window.posetable.charts.breakdown.rows") == 20
    page.locator("#chart-breakdown input.chart-search").fill("hand")
    shown = page.evaluate("window.posetable.charts.breakdown.names")
    assert shown and all("hand" in n.lower() for n in shown)
    _shot(page, "diagnosis-wholebody-133")
