"""Sample weights in Debian's Chromium against a real server: the image view edits the row's
weight with its other edits (undoable, saved as one revision), the grid sets a weight on the
selected rows and on every row its filter matches; bad weights are refused with the reason.
Real data: the COCO excerpt of tests/data/coco_kpts made into a table the 3LC way
(``tlc.Table.from_coco`` adds a float32 ``weight`` column of 1.0)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests.test_dashboard_browser import Server, _message, _open, _settled, _shot

browser = _browser_tests.browser
page = _browser_tests.page
server = _browser_tests.server
pytestmark = pytest.mark.browser

NAME = "review/coco/train"
HASH = quote(NAME, safe="")


@pytest.fixture
def weighted(server: Server) -> pt.Table:
    from posetable import tlc
    from tests._data import data_path

    folder = data_path("coco_kpts")
    tlc.Table.from_coco(
        folder / "annotations.json",
        folder / "images",
        task="pose",
        root_url=server.store,
        project_name="review",
        dataset_name="coco",
        table_name="train",
    )
    return pt.Table.open(NAME, store=server.store)


def _weights(server: Server) -> list[float]:
    table = pt.Table.open(NAME, store=server.store)
    return table.to_arrow(columns=["weight"]).column("weight").to_pylist()


def test_the_image_view_edits_the_rows_weight(server: Server, page: Any, weighted) -> None:
    _open(page, f"{server.base}#/t/{HASH}/row/1")
    field = page.locator("#weight")
    assert field.input_value() == "1"
    field.fill("-2")
    field.dispatch_event("change")
    assert "weight must be a finite number >= 0" in page.inner_text("#weight-note")
    assert page.evaluate("window.posetable.viewer.dirty") is False
    field.fill("0")
    field.dispatch_event("change")
    assert page.evaluate("window.posetable.viewer.weight") == 0
    assert page.inner_text("#status") == "unsaved changes"
    page.locator("#stage-canvas").click(position={"x": 5, "y": 5})  # focus off the field
    page.keyboard.press("z")
    assert page.evaluate("window.posetable.viewer.weight") == 1
    page.keyboard.press("y")
    assert page.evaluate("window.posetable.viewer.weight") == 0
    _shot(page, "weights-image-view")
    page.keyboard.press("s")
    _settled(page, "window.posetable.data.revision === 2")
    assert _weights(server) == [1.0, 0.0, 1.0, 1.0]
    saved = pt.Table.open(NAME, store=server.store)
    assert saved.operation == "edit_rows" and saved[1]["keypoints"] == weighted[1]["keypoints"]
    assert page.locator("#weight").input_value() == "0"


def test_the_grid_sets_the_weight_of_selected_and_filtered_rows(
    server: Server, page: Any, weighted
) -> None:
    _open(page, f"{server.base}#/t/{HASH}")
    for row in (0, 2):
        page.check(f'.cell[data-row="{row}"] input.pick')
    page.fill("#grid-weight", "2.5")
    page.click("#weight-selected")
    _settled(page, "window.posetable.data.revision === 2")
    assert _weights(server) == [2.5, 1.0, 2.5, 1.0]
    assert "set weight 2.5 on 2 of the chosen rows" in _message(page)
    assert page.inner_text('.cell[data-row="0"] .badge.weight') == "w 2.50"
    # a negative weight: the server's reason, nothing written
    page.check('.cell[data-row="1"] input.pick')
    page.fill("#grid-weight", "-1")
    page.click("#weight-selected")
    page.wait_for_function("document.getElementById('message').textContent.includes('RowError')")
    assert "weight must be a finite number >= 0" in _message(page)
    assert pt.Table.open(NAME, store=server.store).revision == 2
    # every row a filter matches
    counts = [len(weighted[r]["keypoints"]) for r in range(len(weighted))]
    crowded = [r for r, c in enumerate(counts) if c >= 2]
    page.fill("#filter", "num_instances >= 2")
    page.click("#apply-filter")
    _settled(page, "location.hash.includes('filter=')")
    assert sorted(page.evaluate("window.posetable.data.rows.map((r) => r.row)")) == crowded
    page.fill("#grid-weight", "0")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("#weight-filtered")
    _settled(page, "window.posetable.data.revision === 3")
    assert asked and f"Set weight 0 on {len(crowded)} row(s)" in asked[0]
    expected = [0.0 if r in crowded else w for r, w in enumerate([2.5, 1.0, 2.5, 1.0])]
    assert _weights(server) == expected
    info = pt.Table.open(NAME, store=server.store).info
    assert info.operation == "set_weights" and info.arguments["filter"] == "num_instances >= 2"
    _shot(page, "weights-grid")
