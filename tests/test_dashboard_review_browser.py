"""The image view as a review queue, in Debian's Chromium against a real server, keyboard
only: instances and keypoints selected with Tab and ] / [, visibility set with 0/1/2, a
prediction accepted (a) and a point snapped (p) as one-click fixes, reject (x) / skip (n)
marks that move the queue on, the next unreviewed image (u), the `?` sheet, the conflict
message on a stale revision with the draft kept; the suspects' one-click fixes; and a
DeepLabCut video stepped frame by frame (, / .) with its tracks shown.

Real data: the bundled COCO sample and the dashboard's run of it (the planted left/right
swap of row 1), DeepLabCut's multi-animal test project (tests/data/dlc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests.test_dashboard_browser import Server, _message, _open, _settled, _shot

browser = _browser_tests.browser
page = _browser_tests.page
server = _browser_tests.server
pytestmark = pytest.mark.browser

TABLE = "coco-sample"
RUN = "coco-sample-perturbed"


def _viewer(page: Any, expression: str) -> Any:
    return page.evaluate(f"window.posetable.viewer.{expression}")


def _marks(server: Server) -> dict[int, str]:
    from posetable.dashboard._review import ReviewLog

    table = pt.Table.open(TABLE, store=server.store)
    return {r: m["status"] for r, m in ReviewLog(table.store).marks(table).items()}


def test_a_keyboard_only_review_pass(server: Server, page: Any) -> None:
    table = pt.Table.open(TABLE, store=server.store)
    run = pt.Run.open(RUN, store=server.store)
    _open(page, f"{server.base}#/t/{TABLE}?run={RUN}")
    page.click("#review")  # the queue: the grid's rows in its order (row order here)
    _settled(page, "window.posetable.page === 'viewer' && window.posetable.data.row === 0")
    # Tab walks the instances, ] / [ the keypoints, 1 sets the selected point to v=1
    page.keyboard.press("Tab")
    assert _viewer(page, "selected") == 0  # one instance: Tab wraps to it
    page.keyboard.press("]")
    page.keyboard.press("]")
    assert _viewer(page, "point") == {"instance": 0, "keypoint": 1}
    page.keyboard.press("[")
    assert _viewer(page, "point") == {"instance": 0, "keypoint": 0}
    page.keyboard.press("1")
    assert _viewer(page, "draft[0].visibility[0]") == 1 and _viewer(page, "dirty") is True
    assert page.locator("tr.focus[data-keypoint='0']").count() == 1
    _shot(page, "review-keyboard-point-selected")
    # a one-click fix with unsaved edits is refused, the draft kept
    page.keyboard.press("a")
    assert "Save or discard your edits first" in _message(page)
    assert _viewer(page, "draft[0].visibility[0]") == 1
    page.keyboard.press("z")
    assert _viewer(page, "dirty") is False
    # p: snap left_wrist (keypoint 9) to the matched prediction: a revision with a note
    for _ in range(9):
        page.keyboard.press("]")
    assert _viewer(page, "point") == {"instance": 0, "keypoint": 9}
    page.keyboard.press("p")
    _settled(page, "window.posetable.data.revision === 2")
    snapped = pt.Table.open(TABLE, store=server.store)
    assert snapped.operation == "fix_from_run"
    assert snapped.info.arguments["action"] == "snap_keypoint"
    assert (
        snapped[0]["keypoints"].keypoints[0, 9].tolist()
        == run.predictions(0).keypoints[0, 9].tolist()
    )
    assert "snapped left_wrist of instance 0" in _message(page)
    assert _marks(server) == {0: "fixed"}
    # x rejects row 0 (reviewed, no change) and moves on
    page.keyboard.press("x")
    _settled(page, "window.posetable.data.row === 1")
    assert _marks(server)[0] == "rejected"
    assert pt.Table.open(TABLE, store=server.store).revision == 2  # a mark writes no revision
    # row 1: GT #0 is the planted swap; a accepts its prediction (pred #0, named by the
    # suspect) ... but it has no matched prediction at OKS >= .5, so a says so
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert _viewer(page, "selected") == 0
    page.keyboard.press("a")
    assert "has no matched prediction to accept" in _message(page)
    # m swaps its left and right in the draft; s saves
    page.keyboard.press("m")
    flips = list(table.schema.flip_indices)
    np.testing.assert_allclose(
        _viewer(page, "draft[0].keypoints"), table[1]["keypoints"].keypoints[0][flips]
    )
    page.keyboard.press("s")
    _settled(page, "window.posetable.data.revision === 3")
    assert _marks(server)[1] == "edited"
    # now GT #0 matches pred #0: a accepts it
    page.keyboard.press("a")
    _settled(page, "window.posetable.data.revision === 4")
    accepted = pt.Table.open(TABLE, store=server.store)
    assert accepted.info.arguments["action"] == "accept_instance"
    assert (
        accepted[1]["keypoints"].keypoints[0].tolist() == run.predictions(1).keypoints[0].tolist()
    )
    assert set(accepted[1]["keypoints"].keypoint_visibilities[0].tolist()) <= {1, 2}
    assert _marks(server)[1] == "accepted"
    # n skips row 1 (a mark that is not a decision) and goes on to row 2
    page.keyboard.press("n")
    _settled(page, "window.posetable.data.row === 2")
    assert _marks(server)[1] == "skipped"
    # u: the next row of the set nobody decided on, from the start: row 1 (skipped)
    page.goto(f"{server.base}#/t/{TABLE}/row/0?run={RUN}&pos=0")
    _settled(page, "window.posetable.data.row === 0")
    page.keyboard.press("u")
    _settled(page, "window.posetable.data.row === 1")
    assert page.inner_text("#review-count") == "1 of 4 reviewed"
    # the sheet lists every key the handler knows
    page.keyboard.press("?")
    keys = page.locator("#shortcuts tr[data-keys]").count()
    assert keys == page.evaluate("import('/static/review_keys.js').then((m) => m.SHORTCUTS.length)")
    assert keys >= 20
    _shot(page, "review-keyboard-sheet")
    page.keyboard.press("Escape")
    assert page.locator("#shortcuts").count() == 0
    # the grid shows the marks: row 0 rejected, row 1 skipped, rows 2 and 3 not reviewed
    page.click("#crumbs a:nth-of-type(2)")
    _settled(page, "window.posetable.page === 'grid'")
    shown = {
        row: page.locator(f'.cell[data-row="{row}"] .badge.review').get_attribute("data-status")
        if page.locator(f'.cell[data-row="{row}"] .badge.review').count()
        else None
        for row in range(4)
    }
    assert shown == {0: "rejected", 1: "skipped", 2: None, 3: None}
    _shot(page, "review-grid-marks")


def test_a_keyboard_save_on_a_stale_revision_gives_the_conflict_and_keeps_the_draft(
    server: Server, page: Any
) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/3?run={RUN}&view=gt")
    table = pt.Table.open(TABLE, store=server.store)
    table.with_rows({3: {"width": table[3]["width"]}})  # another writer changes row 3
    assert _viewer(page, "selected") == 0  # the first instance is selected on opening
    page.keyboard.press("Tab")
    assert _viewer(page, "selected") == 1
    page.keyboard.press("Shift+ArrowRight")
    draft = _viewer(page, "draft")
    page.keyboard.press("s")
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('ConflictError')"
    )
    assert "based on revision 1" in _message(page) and "latest is 2" in _message(page)
    assert _viewer(page, "draft") == draft and _viewer(page, "dirty") is True
    page.keyboard.press("z")  # a one-click fix on the stale revision: the same message
    page.keyboard.press("]")
    page.keyboard.press("p")
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('ConflictError')"
    )
    assert pt.Table.open(TABLE, store=server.store).revision == 2
    assert page.evaluate("window.posetable.data.revision") == 1


def test_the_suspects_fixes_are_one_click(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/1?run={RUN}")
    swap = page.locator('#suspects tr[data-kind="swap"]')
    assert swap.count() == 1
    _shot(page, "review-suspect-fixes")
    swap.locator('button[data-action="mirror_instance"]').click()
    _settled(page, "window.posetable.data.revision === 2")
    fixed = pt.Table.open(TABLE, store=server.store)
    assert fixed.info.arguments["action"] == "mirror_instance"
    assert "swapped every left/right pair of instance 0" in _message(page)
    assert page.locator('#suspects tr[data-kind="swap"]').count() == 0
    # the spurious detection of row 2: add it as ground truth from its prediction block
    _open(page, f"{server.base}#/t/{TABLE}/row/2?run={RUN}")
    before = len(pt.Table.open(TABLE, store=server.store)[2]["keypoints"])
    page.click('details[data-prediction="4"] button.add-prediction')
    _settled(page, "window.posetable.data.revision === 3")
    assert len(pt.Table.open(TABLE, store=server.store)[2]["keypoints"]) == before + 1


@pytest.fixture
def mice(server: Server) -> pt.Table:
    """DeepLabCut's multi-animal project in the served store, with a frame_index column and
    a track_id per instance added (as SLEAP and PoseTrack tables carry them)."""
    pytest.importorskip("pandas")
    from tests._data import data_path

    dlc = pt.Table.from_dlc(data_path("dlc") / "multi_mouse", name="mice-dlc", store=server.store)
    rows = []
    for row in dlc:
        gt = row["keypoints"].copy()
        names = gt.instance_extras["individual"].tolist()
        gt.instance_extras["track_id"] = np.asarray(
            [int(n[-1]) if n.startswith("individual") else -1 for n in names], dtype=np.int64
        )
        frame = int(Path(row["image"]).stem[3:])  # img04.png -> 4
        rows.append({**row, "keypoints": gt, "frame_index": frame})
    return pt.Table.from_rows(rows, name="mice", schema=dlc.schema, store=server.store)


def test_a_video_steps_frame_by_frame_with_its_tracks(server: Server, page: Any, mice) -> None:
    frames = [int(Path(r["image"]).stem[3:]) for r in mice]
    order = sorted(range(len(mice)), key=lambda r: frames[r])

    def tracks_of(row: int) -> list[str]:
        ids = mice[row]["keypoints"].instance_extras["track_id"].tolist()
        return [f"track {v}" for v in ids if v >= 0]

    _open(page, f"{server.base}#/t/mice/row/{order[0]}")
    for place, row in enumerate(order):
        if place:
            page.keyboard.press(".")
            _settled(page, f"window.posetable.data.row === {row}")
        page.wait_for_selector("#frame-indicator")
        assert page.inner_text("#frame-indicator") == (
            f"video m3v1mp4short · frame {place + 1} of {len(mice)} (frame_index {frames[row]})"
        )
        assert [t.inner_text() for t in page.locator(".pill.track").all()] == tracks_of(row)
        if len(tracks_of(row)) >= 2:
            _shot(page, "review-video-frames-tracks")
    assert any(len(tracks_of(r)) >= 2 for r in order)  # the tracks were shown somewhere
    page.keyboard.press(".")  # the last frame: nowhere to go
    page.wait_for_timeout(300)
    assert page.evaluate("window.posetable.data.row") == order[-1]
    page.keyboard.press(",")
    _settled(page, f"window.posetable.data.row === {order[-2]}")
    # unsaved work is guarded on a frame step too
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+ArrowLeft")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.keyboard.press(",")
    page.wait_for_timeout(300)
    assert asked and "unsaved keypoint edits" in asked[0]
    assert page.evaluate("window.posetable.data.row") == order[-2]
