"""Adding and moving whole people in the image view, in Debian's Chromium against a real
server on the bundled sample: a new instance drawn as a box (the schema's default pose
stretched into it), moving, scaling, swapping left/right and flipping an instance, and a
rectangle selection of points moved together; each step undoable, all saved as one
revision whose rows hold exactly what the page showed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests.test_dashboard_browser import Server, _open, _settled, _shot

browser = _browser_tests.browser
page = _browser_tests.page
server = _browser_tests.server
pytestmark = pytest.mark.browser

TABLE = "coco-sample"


def _screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of image point (x, y) on the stage canvas."""
    sx, sy = page.evaluate(f"window.posetable.viewer.toScreen({x}, {y})")
    box = page.locator("#stage-canvas").bounding_box()
    return box["x"] + sx, box["y"] + sy


def _drag(
    page: Any, start: tuple[float, float], end: tuple[float, float], *, key: str = ""
) -> None:
    if key:
        page.keyboard.down(key)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=4)
    page.mouse.move(*end, steps=4)
    page.mouse.up()
    if key:
        page.keyboard.up(key)


def _draft(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.posetable.viewer.draft")


def _saved(page: Any, server: Server, revision: int) -> pt.Table:
    page.keyboard.press("s")
    _settled(page, f"window.posetable.data && window.posetable.data.revision === {revision}")
    return pt.Table.open(TABLE, store=server.store)


def test_a_drawn_box_gets_the_default_pose_scaled_into_it(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/1?view=gt")
    table = pt.Table.open(TABLE, store=server.store)
    before = len(_draft(page))
    corner_a, corner_b = (300.0, 40.0), (420.0, 300.0)  # image pixels (the image is 500 x 333)
    page.keyboard.press("b")
    assert "Drag a box" in page.inner_text("#message")
    _drag(page, _screen(page, *corner_a), _screen(page, *corner_b))
    page.wait_for_function(f"window.posetable.viewer.draft.length === {before + 1}")
    made = _draft(page)[before]
    np.testing.assert_allclose(made["box"], [*corner_a, *corner_b], atol=0.5)
    points = np.asarray(made["keypoints"])
    np.testing.assert_allclose(points.min(axis=0), made["box"][:2])
    np.testing.assert_allclose(points.max(axis=0), made["box"][2:])
    pose = np.asarray(table.schema.default_pose)
    unit = (pose - pose.min(axis=0)) / (pose.max(axis=0) - pose.min(axis=0))
    size = np.subtract(made["box"][2:], made["box"][:2])
    np.testing.assert_allclose((points - made["box"][:2]) / size, unit, atol=1e-9)
    assert page.evaluate("window.posetable.viewer.selected") == before
    _shot(page, "edit-instance-drawn-box")
    page.keyboard.press("z")  # the new instance is one undo step
    assert len(_draft(page)) == before
    page.keyboard.press("y")
    assert len(_draft(page)) == before + 1
    after = _saved(page, server, 2)
    saved = after[1]["keypoints"]
    assert len(saved) == before + 1
    np.testing.assert_allclose(saved.keypoints[before], points)
    np.testing.assert_allclose(saved.instance_bbs[before], made["box"])
    assert (saved.keypoint_visibilities[before] == 2).all()
    ids = table[1]["keypoints"].instance_extras["id"].tolist()
    assert saved.instance_extras["id"][before] > max(ids)


def test_moving_scaling_swapping_and_flipping_an_instance_saves_one_revision(
    server: Server, page: Any
) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/0?view=gt")
    table = pt.Table.open(TABLE, store=server.store)
    flips = list(table.schema.flip_indices)
    start = _draft(page)[0]
    vis = np.asarray(start["visibility"])
    labeled = vis > 0
    x1, y1, x2, y2 = start["box"]
    # drag inside the selected box (away from its points): the whole instance moves
    inside = (x1 + 0.5 * (x2 - x1), y1 + 0.93 * (y2 - y1))
    scale = page.evaluate("window.posetable.viewer.view.scale")
    a = _screen(page, *inside)
    _drag(page, a, (a[0] - 40, a[1] + 12))
    moved = _draft(page)[0]
    shift = np.asarray(moved["keypoints"]) - np.asarray(start["keypoints"])
    np.testing.assert_allclose(
        shift[labeled], np.tile([-40 / scale, 12 / scale], (labeled.sum(), 1))
    )
    assert not shift[~labeled].any()  # unlabeled points stay where the file put them
    np.testing.assert_allclose(
        np.subtract(moved["box"], start["box"]), [-40 / scale, 12 / scale] * 2
    )
    # + scales about the box centre by 10 %
    page.keyboard.press("+")
    scaled = _draft(page)[0]
    centre = np.add(moved["box"][:2], moved["box"][2:]) / 2
    expected = centre + (np.asarray(moved["keypoints"]) - centre) * 1.1
    np.testing.assert_allclose(np.asarray(scaled["keypoints"])[labeled], expected[labeled])
    # m swaps left and right (points stay, names swap); h flips about the box's centre line
    page.keyboard.press("m")
    swapped = _draft(page)[0]
    np.testing.assert_allclose(swapped["keypoints"], np.asarray(scaled["keypoints"])[flips])
    assert swapped["visibility"] == [scaled["visibility"][f] for f in flips]
    page.keyboard.press("h")
    flipped = _draft(page)[0]
    cx = (swapped["box"][0] + swapped["box"][2]) / 2
    mirrored = np.asarray(swapped["keypoints"]) * [-1, 1] + [2 * cx, 0]
    np.testing.assert_allclose(flipped["keypoints"], mirrored[flips])
    # Shift+arrow nudges the instance by one image pixel
    page.keyboard.press("Shift+ArrowDown")
    nudged = _draft(page)[0]
    nudge = np.asarray(nudged["keypoints"]) - np.asarray(flipped["keypoints"])
    lab = np.asarray(nudged["visibility"]) > 0
    np.testing.assert_allclose(nudge[lab], np.tile([0, 1], (lab.sum(), 1)))
    _shot(page, "edit-instance-moved-scaled-flipped")
    # five steps, each undone one at a time
    history = [flipped, swapped, scaled, moved, start]
    for expected_state in history:
        page.keyboard.press("z")
        np.testing.assert_allclose(_draft(page)[0]["keypoints"], expected_state["keypoints"])
    for expected_state in reversed(history[:-1]):
        page.keyboard.press("y")
        np.testing.assert_allclose(_draft(page)[0]["keypoints"], expected_state["keypoints"])
    page.keyboard.press("y")
    after = _saved(page, server, 2)
    assert after.revision == 2 and after.parent == 1 and after.operation == "edit_rows"
    np.testing.assert_allclose(after[0]["keypoints"].keypoints[0], nudged["keypoints"])
    np.testing.assert_allclose(after[0]["keypoints"].instance_bbs[0], nudged["box"])
    np.testing.assert_array_equal(
        after[0]["keypoints"].keypoint_visibilities[0], nudged["visibility"]
    )


def test_shift_dragging_a_corner_scales_the_instance_with_its_box(
    server: Server, page: Any
) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/0?view=gt")
    start = _draft(page)[0]
    x1, y1, x2, y2 = start["box"]
    corner = _screen(page, x2, y2)
    scale = page.evaluate("window.posetable.viewer.view.scale")
    _drag(page, corner, (corner[0] + 30, corner[1] + 20), key="Shift")
    grown = _draft(page)[0]
    new_box = [x1, y1, x2 + 30 / scale, y2 + 20 / scale]
    np.testing.assert_allclose(grown["box"], new_box, atol=1e-6)
    points = np.asarray(start["keypoints"])
    sx = (new_box[2] - x1) / (x2 - x1)
    sy = (new_box[3] - y1) / (y2 - y1)
    expected = np.stack([x1 + (points[:, 0] - x1) * sx, y1 + (points[:, 1] - y1) * sy], axis=1)
    labeled = np.asarray(start["visibility"]) > 0
    np.testing.assert_allclose(np.asarray(grown["keypoints"])[labeled], expected[labeled])
    # without Shift the corner edits the box only
    corner = _screen(page, *grown["box"][2:])
    _drag(page, corner, (corner[0] - 10, corner[1]))
    np.testing.assert_allclose(_draft(page)[0]["keypoints"], grown["keypoints"])


def test_a_rectangle_selection_moves_its_points_together(server: Server, page: Any) -> None:
    _open(page, f"{server.base}#/t/{TABLE}/row/0?view=gt")
    start = _draft(page)[0]
    points = np.asarray(start["keypoints"])
    vis = np.asarray(start["visibility"])
    names = pt.Table.open(TABLE, store=server.store).schema.keypoint_names
    legs = [names.index(n) for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")]
    assert (vis[legs] > 0).all()
    lo = points[legs].min(axis=0) - 4
    hi = points[legs].max(axis=0) + 4
    inside = (vis > 0) & (points >= lo).all(axis=1) & (points <= hi).all(axis=1)
    _drag(page, _screen(page, *lo), _screen(page, *hi), key="Control")
    picked = page.evaluate("window.posetable.viewer.picked")
    assert sorted(p["keypoint"] for p in picked) == np.flatnonzero(inside).tolist()
    assert page.evaluate("window.posetable.viewer.stats.gt.picked") == int(inside.sum())
    _shot(page, "edit-instance-rectangle-selection")
    scale = page.evaluate("window.posetable.viewer.view.scale")
    grab = _screen(page, *points[legs[0]])
    _drag(page, grab, (grab[0] + 25, grab[1] - 15))
    moved = np.asarray(_draft(page)[0]["keypoints"]) - points
    np.testing.assert_allclose(moved[inside], np.tile([25 / scale, -15 / scale], (inside.sum(), 1)))
    assert not moved[~inside].any()
    page.keyboard.press("Escape")  # clears the selection
    assert page.evaluate("window.posetable.viewer.picked") == []
    page.keyboard.press("z")
    np.testing.assert_allclose(_draft(page)[0]["keypoints"], points)
