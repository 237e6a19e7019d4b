"""The dashboard in a real Chromium (Debian's, driven by Playwright) against a real server.

Each test starts ``posetable serve --sample --port 0`` in a fresh store as a subprocess (the
real command line, uvicorn on 127.0.0.1), reads the URL it prints, and drives the pages.
Canvas checks read pixels and the state each page exposes on ``window.posetable``.
Screenshots of every page go to ``test-output/dashboard/`` (gitignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-output" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABLE = "coco-sample"
RUN = "coco-sample-perturbed"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Server:
    """``posetable serve`` running in a subprocess; ``url`` is what it printed."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.log = store.parent / "serve.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [
            sys.executable,
            "-m",
            "posetable",
            "serve",
            "--store",
            str(store),
            "--port",
            "0",
            "--sample",
        ]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.url = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            found = re.search(r"(http://127\.0\.0\.1:\d+/\S*)", self.log.read_text())
            if found:
                self.url = found.group(1)
                break
            time.sleep(0.1)
        if not self.url:
            self.stop()
            pytest.fail("posetable serve printed no URL:\n" + self.log.read_text())
        self.base = self.url.split("#")[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def server(store: Path) -> Iterator[Server]:
    running = Server(store)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: the page's CSP (script-src 'self') forbids eval, which Playwright's string
    # predicates (wait_for_function, evaluate) use; the app's own scripts run as served
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, device_scale_factor=1, bypass_csp=True
    )
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors
    yield opened
    context.close()
    assert not errors, errors


def _open(page: Any, url: str) -> None:
    page.goto(url)
    _settled(page)


def _settled(page: Any, condition: str = "true") -> None:
    page.wait_for_function(
        f"window.posetable && window.posetable.ready === true && ({condition})", timeout=30000
    )
    page.wait_for_timeout(300)  # thumbnails load and cells redraw


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _message(page: Any) -> str:
    return str(page.evaluate("document.getElementById('message').textContent"))


def _hex(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


# -- the grid ------------------------------------------------------------------------------
def test_grid_renders_overlays_for_the_sample(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}?view=gt")
    table = pt.Table.open(TABLE, store=server.store)
    drawn = page.evaluate("window.posetable.grid.drawn")
    assert sorted(int(r) for r in drawn) == [0, 1, 2, 3]
    for row in range(4):
        vis = table[row]["keypoints"].keypoint_visibilities
        stats = drawn[str(row)]["gt"]
        assert stats["filled"] == int((vis == 2).sum())  # v=2 filled
        assert stats["hollow"] == int((vis == 1).sum())  # v=1 hollow
        assert stats["hidden"] == int((vis == 0).sum())  # v=0 not drawn
        assert stats["boxes"] >= 1 and stats["lines"] > 0
    # pixels: the centre of each filled keypoint of row 0 has its keypoint's colour
    points = [p for p in drawn["0"]["gt"]["points"] if p["v"] == 2]
    pixels = page.evaluate(
        """(points) => {
            const canvas = document.querySelector('.cell[data-row="0"] canvas');
            const ctx = canvas.getContext('2d');
            const at = (p) => ctx.getImageData(Math.round(p.x), Math.round(p.y), 1, 1).data;
            return points.map(p => Array.from(at(p)));
        }""",
        points,
    )
    matches = sum(
        1
        for p, px in zip(points, pixels, strict=True)
        if np.abs(np.array(px[:3]) - _hex(p["color"])).max() <= 40
    )
    assert matches >= len(points) * 0.7, (
        matches,
        len(points),
    )  # overlapping points may cover others
    # the thumbnail is drawn under the overlays (a photo, not a flat background)
    spread = page.evaluate(
        """() => {
            const canvas = document.querySelector('.cell[data-row="1"] canvas');
            const ctx = canvas.getContext('2d');
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length; i += 97 * 4) seen.add(data[i] >> 4);
            return seen.size;
        }"""
    )
    assert spread > 8
    _shot(page, "grid-ground-truth")
    _open(page, f"{server.base}#/t/{TABLE}?run={RUN}&view=side")
    cell = page.locator('.cell[data-row="2"] canvas')
    assert cell.count() == 2
    drawn = page.evaluate("window.posetable.grid.drawn")
    assert drawn["2"]["gt"]["filled"] > 0 and drawn["2"]["pred"]["filled"] > 0
    _shot(page, "grid-side-by-side")


def test_filtering_and_sorting_by_a_metric_change_the_rows(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}?run={RUN}")
    per_sample = pt.Run.open(RUN, store=server.store).per_sample.to_pylist()
    rows = lambda: page.evaluate("window.posetable.grid.data.rows.map(r => r.row)")  # noqa: E731
    assert rows() == [0, 1, 2, 3]
    threshold = sorted(r["mean_oks"] for r in per_sample)[1]
    page.fill("#filter", f"mean_oks > {threshold}")
    page.press("#filter", "Enter")
    _settled(page, "window.posetable.grid && window.posetable.grid.data.filter !== ''")
    expected = [
        r["row"] for r in per_sample if r["mean_oks"] is not None and r["mean_oks"] > threshold
    ]
    assert rows() == expected and 0 < len(expected) < 4
    assert page.locator(".cell").count() == len(expected)
    assert f"of {len(expected)}" in page.inner_text("#range")
    _shot(page, "grid-filtered")
    page.select_option("#sort", "mean_oks")
    _settled(page, "window.posetable.grid.data.sort === 'mean_oks'")
    page.click("#order")
    _settled(page, "window.posetable.grid.data.order === 'desc'")
    ordered = sorted((r for r in per_sample if r["row"] in expected), key=lambda r: -r["mean_oks"])
    assert rows() == [r["row"] for r in ordered]
    page.fill("#filter", "no_such_column > 1")
    page.press("#filter", "Enter")
    page.wait_for_function("document.getElementById('message').textContent.includes('QueryError')")
    assert "unknown column 'no_such_column'" in _message(page)


def test_confidence_slider_hides_predicted_keypoints(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}?run={RUN}&view=pred&thr=0")
    run = pt.Run.open(RUN, store=server.store)

    def counts() -> tuple[int, int]:
        drawn = page.evaluate("window.posetable.grid.drawn")
        return (
            sum(len(d["pred"]["points"]) for d in drawn.values()),
            sum(d["pred"]["hidden"] for d in drawn.values()),
        )

    confidences = np.concatenate(
        [
            run.predictions(r).keypoint_confidences.ravel()
            for r in range(4)
            if run.predictions(r) is not None
        ]
    )
    before_pixels = page.evaluate(
        "document.querySelector('.cell[data-row=\"2\"] canvas').toDataURL()"
    )
    assert counts() == (len(confidences), 0)
    for value in (0.5, 0.9):
        page.evaluate(
            """(v) => { const s = document.getElementById('threshold'); s.value = String(v);
                        s.dispatchEvent(new Event('input', { bubbles: true })); }""",
            value,
        )
        page.wait_for_timeout(100)
        kept = int((confidences >= np.float32(value)).sum())
        assert counts() == (kept, len(confidences) - kept)
        assert page.inner_text("#threshold-value") == f"{value:.2f}"
    assert (
        page.evaluate("document.querySelector('.cell[data-row=\"2\"] canvas').toDataURL()")
        != before_pixels
    )
    assert "thr=0.9" in page.url  # the view is remembered in the URL
    _shot(page, "grid-slider-0.9")


def _wait_held(page: Any, held: list[Any], count: int = 1) -> None:
    """Wait until ``count`` requests are held by a ``page.route`` handler."""
    deadline = time.monotonic() + 30
    while len(held) < count:
        assert time.monotonic() < deadline, f"{len(held)} of {count} requests were made"
        page.wait_for_timeout(50)


def _plan_rows(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.posetable.acceptPreview.plan")


def test_accept_shows_a_preview_and_writes_only_on_confirm(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}?run={RUN}&view=both&thr=0.6")
    table = pt.Table.open(TABLE, store=server.store)
    run = pt.Run.open(RUN, store=server.store)
    # the instance-score threshold: the spurious detection of row 2 scores 0.15
    page.fill("#instance-threshold", "0.2")
    page.press("#instance-threshold", "Tab")
    page.wait_for_function("window.posetable.grid.params.ithr === 0.2")
    assert "ithr=0.2" in page.url
    assert page.evaluate("window.posetable.grid.drawn['2'].pred.hiddenInstances") == 1
    for row in (1, 2):
        page.check(f'.cell[data-row="{row}"] input.pick')
    assert page.inner_text("#selection") == "2 selected"
    page.click("#accept-selected")
    page.wait_for_selector("#accept-preview")
    expected = pt.accept_predictions_plan(
        table,
        run,
        rows=[1, 2],
        keypoint_confidence_threshold=0.6,
        instance_confidence_threshold=0.2,
    ).to_pylist()
    assert _plan_rows(page) == expected
    assert page.locator("#accept-preview table.plan tbody tr").count() == 2
    by_row = {r["row"]: r for r in expected}
    assert by_row[2]["added"] == 0 and by_row[1]["kept"] == 1  # the box-only person stays
    kept_text = page.inner_text('#accept-preview tr[data-row="1"] td.kept')
    assert kept_text == "1"
    totals = page.inner_text("#accept-totals")
    assert f"{sum(r['replaced'] for r in expected)} replaced (ids kept)" in totals
    assert f"{sum(r['keypoints_visible'] for r in expected)} keypoints v=2" in totals
    _shot(page, "accept-preview")
    assert pt.Table.open(TABLE, store=server.store).revision == 1  # a preview writes nothing
    page.click("#accept-cancel")
    page.wait_for_selector("#accept-preview", state="detached")
    assert pt.Table.open(TABLE, store=server.store).revision == 1
    assert not page.locator("#accept-selected").is_disabled()
    # confirm: the button is disabled while the write is in flight
    held: list[Any] = []
    page.route("**/api/tables/*/accept", lambda route: held.append(route))
    page.click("#accept-selected")
    _wait_held(page, held)
    assert page.locator("#accept-selected").is_disabled()  # while the dry run is in flight
    held.pop().continue_()
    page.wait_for_selector("#accept-confirm")
    page.click("#accept-confirm")
    _wait_held(page, held)
    assert page.locator("#accept-confirm").is_disabled()
    assert page.inner_text("#accept-confirm") == "accepting…"
    page.evaluate("document.getElementById('accept-confirm').click()")  # a second click: ignored
    page.wait_for_timeout(200)
    assert len(held) == 1
    held.pop().continue_()
    _settled(page, "window.posetable.grid && window.posetable.grid.data.revision === 2")
    page.unroute("**/api/tables/*/accept")
    assert "revision @2" in _message(page)
    new = pt.Table.open(TABLE, store=server.store)
    assert (new.revision, new.parent) == (2, 1)
    assert new.info.arguments["instance_confidence_threshold"] == 0.2
    for record in expected:
        row = record["row"]
        before, after = table[row]["keypoints"], new[row]["keypoints"]
        assert len(after) == record["gt_after"]
        ids = after.instance_extras["id"].tolist()
        box_only = (before.keypoint_visibilities == 0).all(axis=1)
        for i in np.flatnonzero(box_only):  # kept as it was, id and box included
            j = ids.index(before.instance_extras["id"][i])
            assert (after.keypoint_visibilities[j] == 0).all()
            np.testing.assert_array_equal(after.instance_bbs[j], before.instance_bbs[i])
        pred = run.predictions(row)
        kept_ids = set(before.instance_extras["id"][box_only].tolist())
        for j in (j for j in range(len(after)) if ids[j] not in kept_ids):
            (source,) = [
                q for q in range(len(pred)) if np.array_equal(pred.keypoints[q], after.keypoints[j])
            ]
            assert pred.instance_confidences[source] >= 0.2
            np.testing.assert_array_equal(
                after.keypoint_visibilities[j],
                np.where(pred.keypoint_confidences[source] >= 0.6, 2, 1),
            )
    for row in (0, 3):
        assert new[row]["keypoints"] == table[row]["keypoints"]
    # the badges are the run's metrics against the new revision
    expected_metrics = {r["row"]: r for r in pt.evaluate(new, run).per_sample.to_pylist()}
    shown = page.evaluate("window.posetable.grid.data.rows.map(r => [r.row, r.metrics.mean_oks])")
    assert shown == [[r, expected_metrics[r]["mean_oks"]] for r, _ in shown]
    assert "re-evaluated" in page.inner_text("#metrics-note")
    _shot(page, "grid-after-accept")
    page.click("#undo")
    _settled(page, "window.posetable.grid && window.posetable.grid.data.revision === 3")
    restored = pt.Table.open(TABLE, store=server.store)
    assert [r["keypoints"] for r in restored] == [r["keypoints"] for r in table]


def test_accepting_in_the_image_view_previews_the_row_and_warns_of_unsaved_edits(
    server: Server, page: Any
) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/1?run={RUN}&view=both&thr=0.5")
    _drag(page, 0, 0, 30, 20)
    page.click("#accept-row")
    page.wait_for_selector("#accept-preview")
    assert "unsaved edits of this row will be discarded" in page.inner_text("#accept-warning")
    (record,) = _plan_rows(page)
    assert record["row"] == 1 and record["kept"] == 1
    _shot(page, "accept-preview-image-view")
    page.click("#accept-confirm")  # accepting is the decision: no second question
    _settled(page, "window.posetable.data && window.posetable.data.revision === 2")
    after = pt.Table.open(TABLE, store=server.store)[1]["keypoints"]
    assert len(after) == record["gt_after"]
    assert page.evaluate("window.posetable.viewer.dirty") is False


# -- the image view and editing ------------------------------------------------------------
def _drag(
    page: Any, instance: int, keypoint: int, dx: float, dy: float
) -> tuple[list[float], float]:
    """Drag one ground-truth keypoint by (dx, dy) screen pixels; returns its origin and scale."""
    origin = page.evaluate(f"window.posetable.viewer.draft[{instance}].keypoints[{keypoint}]")
    scale = page.evaluate("window.posetable.viewer.view.scale")
    sx, sy = page.evaluate(f"window.posetable.viewer.toScreen({origin[0]}, {origin[1]})")
    box = page.locator("#stage-canvas").bounding_box()
    x, y = box["x"] + sx, box["y"] + sy
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=3)
    page.mouse.move(x + dx, y + dy, steps=3)
    page.mouse.up()
    return origin, scale


def test_dragging_a_keypoint_and_saving_moves_it_by_the_dragged_amount(
    server: Server, page: Any
) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/0?view=gt")
    _shot(page, "image-view")
    origin, scale = _drag(page, 0, 0, 40, -25)
    assert page.inner_text("#status") == "unsaved changes"
    page.click("#save")
    _settled(page, "window.posetable.data && window.posetable.data.revision === 2")
    assert "revision @2" in _message(page)
    before = pt.Table.open(f"{TABLE}@1", store=server.store)[0]["keypoints"]
    after = pt.Table.open(TABLE, store=server.store)
    assert (after.revision, after.parent) == (2, 1)
    moved = after[0]["keypoints"].keypoints - before.keypoints
    assert moved[0, 0, 0] == pytest.approx(40 / scale, abs=1e-9)
    assert moved[0, 0, 1] == pytest.approx(-25 / scale, abs=1e-9)
    moved[0, 0] = 0
    assert not moved.any()  # nothing else moved
    assert origin == before.keypoints[0, 0].tolist()
    # the view followed the new revision
    assert "rev=2" in page.url and page.evaluate("window.posetable.data.latest_revision") == 2


def test_editing_visibility_adding_and_deleting_instances(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/1?view=gt")
    # keypoint 15 (left_ankle) of GT #0 -> not visible (v=1), via its button
    page.click('.instance.selected tr[data-keypoint="15"] .vis button[data-v="1"]')
    # delete GT #2 (the person without keypoints), then add one from the default pose
    page.click('.instance[data-instance="2"] .delete-instance')
    page.click("#add-instance")
    page.wait_for_function(
        "window.posetable.viewer.draft.length === 3 "
        "&& window.posetable.viewer.draft[2].source === null"
    )
    _shot(page, "image-view-editing")
    page.click("#save")
    _settled(page, "window.posetable.data && window.posetable.data.revision === 2")
    before = pt.Table.open(f"{TABLE}@1", store=server.store)[1]["keypoints"]
    after = pt.Table.open(TABLE, store=server.store)[1]["keypoints"]
    assert after.keypoint_visibilities[0, 15] == 1 and before.keypoint_visibilities[0, 15] == 2
    assert len(after) == 3
    assert after.instance_extras["id"][:2].tolist() == before.instance_extras["id"][:2].tolist()
    assert (after.keypoint_visibilities[2] == 2).all() and after.instance_extras["id"][
        2
    ] not in before.instance_extras["id"]
    width, height = 500, 333
    assert (after.keypoints[2, :, 0] <= width).all() and (after.keypoints[2, :, 1] <= height).all()


def test_a_stale_edit_is_refused_with_a_conflict_message(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/3?view=gt")
    # someone else saves the same row meanwhile
    table = pt.Table.open(TABLE, store=server.store)
    table.with_rows({3: {"width": table[3]["width"]}}, operation="edit_rows")
    _drag(page, 0, 5, 10, 10)
    page.click("#save")
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('ConflictError')"
    )
    message = _message(page)
    assert "based on revision 1" in message and "latest is 2" in message
    assert pt.Table.open(TABLE, store=server.store).revision == 2  # nothing else written
    assert page.inner_text("#status") == "unsaved changes"  # the edit is still on screen


def test_zoom_pan_and_hover_highlight(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/2?run={RUN}&view=both")
    scale = page.evaluate("window.posetable.viewer.view.scale")
    box = page.locator("#stage-canvas").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(100)
    zoomed = page.evaluate("window.posetable.viewer.view.scale")
    assert zoomed > scale * 1.5
    point = page.evaluate("window.posetable.viewer.stats.gt.points[0]")
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_timeout(100)
    hover = page.evaluate("window.posetable.viewer.hover")
    assert hover["kind"] == "gt" and hover["instance"] == point["instance"]
    assert page.locator("tr.hot").count() == 1
    _shot(page, "image-view-zoomed")
    # per-keypoint details name every keypoint of the selected instance
    names = page.locator(".instance.selected .kp-table tbody tr").count()
    assert names == 17


# -- tables and runs, compare --------------------------------------------------------------
def test_tables_runs_and_compare_pages(server: Server, page: Any) -> None:
    from posetable.dashboard._sample_run import sample_predictions

    table = pt.Table.open(TABLE, store=server.store)
    pt.Run.from_predictions(table, sample_predictions(table, seed=3), name="seed-3")
    _open(page, f"{server.base}#/")
    assert page.locator(".table-card").count() == 1
    assert page.locator(".runs tbody tr").count() == 2
    assert page.locator(".revisions tbody tr").count() == 1
    text = page.inner_text(".table-card")
    assert "4 images · 14 instances · K=17" in text
    ap = pt.Run.open(RUN, store=server.store).metrics["ap"]
    assert f"{ap:.3f}" in page.inner_text(f'tr[data-run="{RUN}"]')
    _shot(page, "tables-and-runs")
    for run in (RUN, "seed-3"):
        page.check(f'tr[data-run="{run}"] input')
    page.click("button.compare")
    _settled(page, "window.posetable.page === 'compare'")
    curves = page.evaluate("JSON.parse(document.getElementById('pr-plot').dataset.curves)")
    assert set(curves) == {RUN, "seed-3"} and all(v > 0 for v in curves.values())
    assert page.locator("table.compare tbody tr").count() == 2
    _shot(page, "compare-runs")


def test_save_is_disabled_while_in_flight_and_again_enabled_after_an_error(
    server: Server, page: Any
) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/0?run={RUN}&view=gt")
    _drag(page, 0, 0, 25, 15)
    held: list[Any] = []
    page.route("**/api/tables/*/edit", lambda route: held.append(route))
    page.click("#save")
    _wait_held(page, held)
    assert page.locator("#save").is_disabled() and page.inner_text("#save") == "saving…"
    assert page.locator("#accept-row").is_disabled()
    _drag(page, 0, 1, 10, 10)  # editing meanwhile does not re-enable it
    assert page.locator("#save").is_disabled()
    page.evaluate("document.getElementById('save').click()")
    page.wait_for_timeout(200)
    assert len(held) == 1  # one request, however often it is clicked
    held.pop().fulfill(
        status=409,
        content_type="application/json",
        body='{"type": "ConflictError", "error": "table changed since you opened it"}',
    )
    page.wait_for_function("!document.getElementById('save').disabled")
    assert "ConflictError" in _message(page)
    assert page.inner_text("#save") == "save" and page.inner_text("#status") == "unsaved changes"
    assert not page.locator("#accept-row").is_disabled()
    assert pt.Table.open(TABLE, store=server.store).revision == 1
    page.unroute("**/api/tables/*/edit")
    page.click("#save")
    _settled(page, "window.posetable.data && window.posetable.data.revision === 2")
    moved = pt.Table.open(TABLE, store=server.store)[0]["keypoints"].keypoints
    before = pt.Table.open(f"{TABLE}@1", store=server.store)[0]["keypoints"].keypoints
    assert (moved[0, :2] != before[0, :2]).all(axis=1).all()  # both drags were saved


def test_unsaved_edits_are_guarded_on_navigation(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/0?view=gt&pos=0")
    asked: list[tuple[str, str]] = []
    leave = {"answer": False}

    def on_dialog(dialog: Any) -> None:
        asked.append((dialog.type, dialog.message))
        if leave["answer"]:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.click("#next-row")  # no edits yet: no question
    _settled(page, "window.posetable.data && window.posetable.data.row === 1")
    assert asked == []
    _drag(page, 0, 0, 30, -20)
    draft = page.evaluate("window.posetable.viewer.draft[0].keypoints[0]")
    for target in ("#previous-row", "#crumbs a"):  # another row, the tables page
        page.click(target)
        page.wait_for_timeout(300)
        assert asked[-1][0] == "confirm" and "unsaved keypoint edits" in asked[-1][1]
        assert "/row/1" in page.url and page.evaluate("window.posetable.data.row") == 1
        assert page.evaluate("window.posetable.viewer.draft[0].keypoints[0]") == draft
    page.evaluate("history.back()")  # the browser's back button too
    page.wait_for_timeout(300)
    assert len(asked) == 3 and page.evaluate("window.posetable.data.row") == 1
    assert "/row/1" in page.url
    _shot(page, "image-view-unsaved-guard")
    leave["answer"] = True
    page.click("#next-row")
    _settled(page, "window.posetable.data && window.posetable.data.row === 2")
    assert len(asked) == 4
    assert pt.Table.open(TABLE, store=server.store).revision == 1  # nothing was saved
    # closing the tab with unsaved edits asks the browser's question
    _drag(page, 0, 0, 15, 15)
    leave["answer"] = False
    with page.expect_event("dialog", timeout=10000) as shown:
        page.close(run_before_unload=True)
    assert shown.value.type == "beforeunload"
    page.wait_for_timeout(300)
    assert not page.is_closed()  # dismissed: the tab stays, edits and all
    # answering "leave" closes it; the tab is closed here, not left for the context's close
    # (Chromium has crashed closing a context whose page had a dismissed beforeunload)
    leave["answer"] = True
    with page.expect_event("close", timeout=10000):
        page.close(run_before_unload=True)
    assert len(asked) == 6 and page.is_closed()
