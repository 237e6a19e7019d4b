"""Filter widgets, suspect thresholds, the overlay legend and the keyboard review queue.

The widgets build the same text expression the filter box holds; their counts come from
``/api/tables/{name}/facets``. API tests in-process (``integration``); the pages in
Debian's Chromium (``browser``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests.test_dashboard_browser import Server, _open, _settled, _shot

browser = _browser_tests.browser
page = _browser_tests.page

TABLE = "coco-sample"
RUN = "coco-sample-perturbed"


@pytest.fixture
def sample_store(store: Path) -> Path:
    from posetable.dashboard._sample_run import prepare_sample

    prepare_sample(store)
    return store


@pytest.fixture
def client(sample_store: Path, tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    app = create_app(sample_store, thumbnail_dir=tmp_path / "thumbs")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _rows(client: Any, **params: Any) -> list[int]:
    body = _ok(client.get(f"/api/tables/{TABLE}/rows", params=params))
    return sorted(r["row"] for r in body["rows"])


@pytest.mark.integration
def test_facets_count_rows_under_the_filter(client: Any, sample_store: Path) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    every = _ok(client.get(f"/api/tables/{TABLE}/facets", params={"run": RUN}))
    assert every["rows"] == every["matching"] == len(table)
    kept = _ok(
        client.get(
            f"/api/tables/{TABLE}/facets", params={"run": RUN, "filter": "num_instances > 1"}
        )
    )
    counts = [len(r["keypoints"]) for r in table]
    assert kept["matching"] == sum(c > 1 for c in counts)
    by_name = {h["name"]: h for h in kept["histograms"]}
    instances = by_name["num_instances"]
    assert sum(instances["all"]) == len(table)
    assert sum(instances["matching"]) == kept["matching"]
    assert {"mean_oks", "suspect_score", "width"} <= set(by_name)
    assert kept["classes"] == [{"name": "person", "all": 4, "matching": kept["matching"]}]
    wrist = next(k for k in kept["keypoints"] if k["name"] == "right_wrist")
    visible_one = [
        row
        for row, r in enumerate(table)
        if (r["keypoints"].keypoint_visibilities[:, 10] == 1).any()
    ]
    assert wrist["visibility"]["1"]["all"] == len(visible_one)


@pytest.mark.integration
def test_every_widget_expression_is_accepted(client: Any, sample_store: Path) -> None:
    """What the widgets build (range per histogram, class, keypoint) runs on the server."""
    facets = _ok(client.get(f"/api/tables/{TABLE}/facets", params={"run": RUN}))
    for h in facets["histograms"]:
        if h["min"] is None:
            continue
        middle = (h["min"] + h["max"]) / 2
        text = f"{h['field']} >= {h['min']} and {h['field']} <= {middle}"
        _ok(client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN, "filter": text}))
    for c in facets["classes"]:
        text = f"{facets['classes_field']} has '{c['name']}'"
        assert len(_rows(client, run=RUN, filter=text)) == c["all"]
    table = pt.Table.open(TABLE, store=sample_store)
    for k, entry in enumerate(facets["keypoints"]):
        for v in ("0", "1", "2"):
            got = _rows(client, filter=f"{entry['field']} has {v}")
            expected = [
                row
                for row, r in enumerate(table)
                if (r["keypoints"].keypoint_visibilities[:, k] == int(v)).any()
            ]
            assert got == expected, (entry["name"], v)
            assert entry["visibility"][v]["all"] == len(expected)


@pytest.mark.integration
def test_planted_swap_is_found_with_the_default_thresholds(client: Any) -> None:
    body = _ok(
        client.get(
            f"/api/tables/{TABLE}/rows",
            params={"run": RUN, "sort": "suspect_score", "order": "desc"},
        )
    )
    assert body["suspect_thresholds"]["instance"] == 0.3
    first = body["rows"][0]
    assert first["row"] == 1 and "swap" in first["suspects"]["suspect_kinds"]
    detail = _ok(client.get(f"/api/tables/{TABLE}/rows/1", params={"run": RUN}))
    assert any(s["kind"] == "swap" for s in detail["suspect_list"])
    strict = {"run": RUN, "suspect_instance": 0.5, "suspect_keypoint": 0.5}
    assert _rows(client, **strict, filter="suspects > 0") == []
    assert _rows(client, run=RUN, filter="suspects > 0") == [1]
    refused = client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN, "suspect_instance": 1.5})
    assert refused.status_code == 400 and "suspect_instance" in refused.json()["error"]


# -- in Chromium ---------------------------------------------------------------------------
@pytest.mark.browser
def test_widgets_build_the_filter_box_expression(sample_store: Path, page: Any) -> None:
    server = Server(sample_store)
    try:
        _open(page, f"{server.base}#/t/{TABLE}?run={RUN}")
        page.click("#filters summary")
        page.wait_for_function("document.getElementById('filters').dataset.ready === 'true'")
        assert "4 of 4 rows" in page.inner_text("#widget-count")
        # the keypoint + visibility filter: rows where right_wrist is v=1
        page.select_option("#visibility-filter", "1")
        page.select_option("#keypoint-filter", "vis.right_wrist")
        _settled(page, "window.posetable.page === 'grid'")
        assert page.input_value("#filter") == "vis.right_wrist has 1"
        assert [r["row"] for r in page.evaluate("window.posetable.data.rows")] == [3]
        _shot(page, "widgets-keypoint-filter")
        # a range slider: moving it writes the expression and updates the count live
        _open(page, f"{server.base}#/t/{TABLE}?run={RUN}")
        page.click("#filters summary")
        page.wait_for_function("document.getElementById('filters').dataset.ready === 'true'")
        slider = page.locator(".range-row[data-column='num_instances'] input.range-min")
        slider.evaluate(
            "(s) => { s.value = String(Number(s.min) + 1); s.dispatchEvent(new Event('input')); }"
        )
        page.wait_for_function(
            "!document.getElementById('widget-count').textContent.includes('4 of 4')"
        )
        text = page.input_value("#filter")
        assert text.startswith("num_instances >= ")
        slider.evaluate("(s) => s.dispatchEvent(new Event('change'))")
        _settled(page, f"window.posetable.data.filter === {text!r}")
        assert page.inner_text("#message").strip() == ""
        assert f"filter={text.split(' ')[0]}" in page.url
        _shot(page, "widgets-range")
        # suspect thresholds are controls in the URL; the planted swap shows with the defaults
        _open(page, f"{server.base}#/t/{TABLE}?run={RUN}&sort=suspect_score&order=desc")
        assert page.evaluate("window.posetable.data.rows[0].suspects.suspect_kinds") == "swap"
        assert page.locator("#legend canvas").count() == 5
        page.fill("#suspect-instance", "0.5")
        page.dispatch_event("#suspect-instance", "change")
        _settled(page, "window.posetable.data.suspect_thresholds.instance === 0.5")
        assert "sinst=0.5" in page.url
        assert page.evaluate("window.posetable.data.rows.every((r) => r.suspects === null)")
        _shot(page, "widgets-suspect-thresholds")
    finally:
        server.stop()


@pytest.mark.browser
def test_keyboard_review_queue(sample_store: Path, page: Any) -> None:
    server = Server(sample_store)
    try:
        _open(page, f"{server.base}#/t/{TABLE}?run={RUN}&sort=mean_oks")
        order = page.evaluate("window.posetable.data.rows.map((r) => r.row)")
        page.click("#review")
        _settled(page, "window.posetable.page === 'viewer'")
        assert page.evaluate("window.posetable.data.row") == order[0]
        page.keyboard.press("ArrowRight")
        _settled(
            page, f"window.posetable.page === 'viewer' && window.posetable.data.row === {order[1]}"
        )
        page.keyboard.press("j")
        _settled(page, f"window.posetable.data.row === {order[2]}")
        page.keyboard.press("k")
        _settled(page, f"window.posetable.data.row === {order[1]}")
        # two edits, undo both with the keyboard, redo one
        before = page.evaluate("JSON.stringify(window.posetable.viewer.draft)")
        page.click(".kp-table tr[data-keypoint='0'] .vis button[data-v='1']")
        page.click(".kp-table tr[data-keypoint='1'] .vis button[data-v='0']")
        page.keyboard.press("Control+z")
        page.keyboard.press("z")
        assert page.evaluate("JSON.stringify(window.posetable.viewer.draft)") == before
        page.keyboard.press("y")
        assert page.evaluate("window.posetable.viewer.draft[0].visibility[0]") == 1
        assert page.evaluate("window.posetable.viewer.dirty") is True
        # unsaved work is guarded: refusing the question keeps the row and the draft
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        assert page.evaluate("window.posetable.data.row") == order[1]
        assert page.evaluate("window.posetable.viewer.draft[0].visibility[0]") == 1
        # the shortcut sheet
        page.keyboard.press("?")
        assert page.locator("#shortcuts kbd").count() >= 8
        _shot(page, "review-shortcuts")
        page.keyboard.press("Escape")
        assert page.locator("#shortcuts").count() == 0
        # save with the keyboard: a new revision
        page.keyboard.press("s")
        _settled(page, "window.posetable.data.revision === 2")
        assert page.evaluate("window.posetable.data.gt.visibility[0][0]") == 1
        assert page.evaluate("window.posetable.data.row") == order[1]
        _shot(page, "review-saved")
    finally:
        server.stop()
