"""Two runs image by image and a revision diff, in Debian's Chromium, on real tables.

The COCO sample with its run and a second run of other seeded noise; AP-10K (54 classes) for
the comparison of two runs on animals; a diff of revisions made by the dashboard's own edit
endpoint (with a note) and by the library. Canvas pixels are read back; screenshots go to
``test-output/dashboard/``.
"""

from __future__ import annotations

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


def _delta_oks(store: Path, a: str, b: str) -> np.ndarray:
    """Per-row mean OKS of run b minus run a (0 where a run matched none of an image's GT)."""
    out = []
    for name in (a, b):
        per = pt.Run.open(name, store=store).per_sample
        values = np.asarray(per.column("mean_oks").to_numpy(zero_copy_only=False), float)
        values = np.where(np.isnan(values) & (per.column("num_gt").to_numpy() > 0), 0.0, values)
        column = np.full(len(values), np.nan)
        column[per.column("row").to_numpy()] = values
        out.append(column)
    return out[1] - out[0]


def _pixel(page: Any, selector: str, x: float, y: float) -> list[int]:
    return page.evaluate(
        """([selector, x, y]) => Array.from(document.querySelector(selector).getContext('2d')
            .getImageData(Math.round(x), Math.round(y), 1, 1).data)""",
        [selector, x, y],
    )


def test_two_runs_image_by_image_sorted_by_delta_oks(server: Server, page: Any) -> None:
    from posetable.dashboard._sample_run import sample_predictions

    table = pt.Table.open(TABLE, store=server.store)
    pt.Run.from_predictions(table, sample_predictions(table, seed=11), name="seed-11")
    delta = _delta_oks(server.store, RUN, "seed-11")
    _open(page, f"{server.base}#/")
    page.locator(f'tr[data-run="{RUN}"] input[type=checkbox]').check()
    page.locator('tr[data-run="seed-11"] input[type=checkbox]').check()
    page.locator("button.compare").first.click()
    _settled(page, "window.posetable.page === 'compare' && !!window.posetable.compareDrawn")
    listed = page.locator("#compare-images tbody tr")
    rows = [int(listed.nth(i).get_attribute("data-row")) for i in range(listed.count())]
    assert rows == [int(r) for r in np.argsort(delta, kind="stable")]  # regressions first
    first = int(np.argsort(delta, kind="stable")[0])
    drawn = page.evaluate("window.posetable.compareDrawn")
    sample = page.evaluate("window.posetable.sample")
    assert sample["row"] == first
    for name in (RUN, "seed-11"):
        predicted = pt.Run.open(name, store=server.store).predictions(first)
        assert drawn["runs"][name]["instances"] == len(predicted)
        assert drawn["runs"][name]["points"] > 0
    # run B's keypoints are drawn in its colour: the centre of one of its squares is red
    scale = page.evaluate("document.getElementById('compare-canvas').width") / sample["width"]
    pred = sample["predictions"]["seed-11"]
    k = int(np.argmax(np.asarray(pred["confidence"][0])))
    x, y = (np.asarray(pred["keypoints"][0][k]) * scale).tolist()
    red = _pixel(page, "#compare-canvas", x, y)
    assert red[0] > 200 and red[1] < 140 and red[2] < 140, red
    _shot(page, "compare-by-image")
    page.click('#compare-show button[data-show="better"]')
    _settled(page, "location.hash.includes('show=better') && !!window.posetable.compareDrawn")
    better = page.locator("#compare-images tbody tr")
    expected = [int(r) for r in np.argsort(-delta, kind="stable") if delta[r] > 0]
    assert [int(better.nth(i).get_attribute("data-row")) for i in range(better.count())] == expected
    last = better.nth(better.count() - 1)
    last.click()
    page.wait_for_function(
        f"window.posetable.sample && window.posetable.sample.row === {expected[-1]}"
    )
    assert f"sel={expected[-1]}" in page.evaluate("location.hash")
    page.uncheck("#compare-gt")
    assert page.evaluate("window.posetable.compareDrawn.gt") is None
    _shot(page, "compare-by-image-better")


def test_two_runs_on_54_classes_compare_image_by_image(
    server: Server, page: Any, real_data: Any
) -> None:
    folder = real_data("ap10k")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        animals = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="animals", store=server.store
        )
    pt.Run.from_predictions(animals, noisy_predictions(animals, seed=1, noise=0.02), name="near")
    pt.Run.from_predictions(animals, noisy_predictions(animals, seed=2, noise=0.08), name="far")
    delta = _delta_oks(server.store, "near", "far")
    _open(page, f"{server.base}#/compare?runs=near,far&show=worse")
    listed = page.locator("#compare-images tbody tr")
    expected = [int(r) for r in np.argsort(delta, kind="stable") if delta[r] < 0]
    assert [int(listed.nth(i).get_attribute("data-row")) for i in range(listed.count())] == expected
    shown = page.locator("#compare-images tbody tr").first.locator("td").nth(4).inner_text()
    assert float(shown) == pytest.approx(delta[expected[0]], abs=1e-3)
    assert page.locator("a.diagnosis-link").count() == 2
    _shot(page, "compare-by-image-ap10k")


def test_revision_diff_shows_changed_rows_the_edit_and_the_notes(server: Server, page: Any) -> None:
    table = pt.Table.open(TABLE, store=server.store)
    detail = page.request.get(f"{server.base.rstrip('/')}/api/tables/{TABLE}/rows/2").json()
    gt = detail["gt"]
    instances = [
        {
            "source": i,
            "keypoints": gt["keypoints"][i],
            "visibility": gt["visibility"][i],
            "box": gt["boxes"][i],
            "label": gt["labels"][i],
        }
        for i in range(gt["count"])
    ]
    k = next(j for j, v in enumerate(instances[0]["visibility"]) if v == 2)
    instances[0]["keypoints"][k] = [
        instances[0]["keypoints"][k][0] + 6.0,
        instances[0]["keypoints"][k][1] + 8.0,
    ]
    instances[0]["visibility"][k] = 1
    saved = page.request.post(
        f"{server.base.rstrip('/')}/api/tables/{TABLE}/edit",
        data={
            "base_revision": 1,
            "rows": {"2": {"instances": instances}},
            "note": "moved a keypoint",
        },
        headers={"Content-Type": "application/json", "Origin": server.base.rstrip("/")},
    )
    assert saved.status == 200, saved.text()
    edited = pt.Table.open(TABLE, store=server.store)
    latest = edited.delete_rows([0])
    ids = table.sample_ids()
    _open(page, f"{server.base}#/")
    page.click(f'.table-card tr[data-revision="{latest.revision}"] a.diff-link')
    _settled(page, "window.posetable.page === 'diff'")
    page.select_option("#diff-from", "1")
    _settled(page, "location.hash.includes('from=1') && !!window.posetable.diffDrawn")
    listed = page.locator("#diff-rows tbody tr")
    kinds = {
        int(listed.nth(i).get_attribute("data-sample")): listed.nth(i).get_attribute("data-kind")
        for i in range(listed.count())
    }
    assert kinds == {int(ids[0]): "deleted", int(ids[2]): "edited"}
    notes = page.locator("#diff-history td.note").all_inner_texts()
    assert "moved a keypoint" in notes
    operations = page.locator("#diff-history tbody tr td:nth-child(3)").all_inner_texts()
    assert operations == ["delete_rows", edited.operation]
    page.click(f'#diff-rows tr[data-sample="{int(ids[2])}"]')
    page.wait_for_function(
        f"window.posetable.diffSample && window.posetable.diffSample.sample_id === {int(ids[2])}"
        " && window.posetable.diffDrawn.to && window.posetable.diffDrawn.from"
    )
    drawn = page.evaluate("window.posetable.diffDrawn")
    assert drawn["from"]["rings"] == drawn["to"]["rings"] == 1
    before = table[2]["keypoints"].keypoint_visibilities
    assert drawn["to"]["filled"] == int((before == 2).sum()) - 1
    assert drawn["to"]["hollow"] == int((before == 1).sum()) + 1
    point = page.locator("#diff-points tbody tr")
    assert point.count() == 1 and point.locator("td").nth(4).inner_text() == "10.0"
    assert point.locator("td").nth(5).inner_text() == "2 → 1"
    assert "1 point moved (max 10.0 px)" in page.inner_text("#diff-summary")
    _shot(page, "revision-diff")
    page.click(f'#diff-rows tr[data-sample="{int(ids[0])}"]')
    page.wait_for_function(
        f"window.posetable.diffSample && window.posetable.diffSample.sample_id === {int(ids[0])}"
    )
    assert "deleted" in page.inner_text("#diff-stage h3")
    _shot(page, "revision-diff-deleted-row")
