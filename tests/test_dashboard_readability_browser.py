"""Readability of the image view and the grid (issue 19 item 8), in Debian's Chromium on real
tables: COCO-WholeBody's 133 points per person (a name search and a "hide unlabeled" toggle
in the URL; bones coloured by limb; crop to a small instance), a row whose image file is
missing (the cell and the view name its path), AP-10K's 54 classes (distinct colours, the
class name on each box) and the links to the revision diff and the run's diagnosis.

What each page drew is read back from ``window.posetable`` and compared with the tables'
own values; screenshots go to ``test-output/dashboard/``.
"""

from __future__ import annotations

import colorsys
import itertools
import math
import warnings
from pathlib import Path
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
RUN = "coco-sample-perturbed"


def _wholebody(real_data: Any, store: Path) -> pt.Table:
    """COCO-WholeBody's real annotations, parts merged (K=133), on the coco_kpts images."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return pt.Table.from_coco(
            real_data("coco_wholebody") / "annotations.json",
            real_data("coco_kpts") / "images",
            name="wholebody",
            store=store,
            merge_parts=True,
        )


def _import(folder: Path, name: str, store: Path) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name=name, store=store
        )


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _hue_saturation(color: str) -> tuple[float, float]:
    r, g, b = (c / 255 for c in _rgb(color))
    hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
    return hue * 360, saturation


def _lab(color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, for colour distances as people see them."""

    def linear(c: float) -> float:
        c /= 255
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (linear(c) for c in _rgb(color))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _side(name: str) -> str:
    """The body side a keypoint name states (COCO-WholeBody names start left_ / right_)."""
    return "left" if name.startswith("left_") else "right" if name.startswith("right_") else ""


def test_133_keypoints_search_and_hide_unlabeled_in_the_url(
    server: Server, page: Any, real_data: Any
) -> None:
    table = _wholebody(real_data, server.store)
    names = table.schema.keypoint_names
    assert table.schema.num_keypoints == 133
    row = 0
    person = table[row]["keypoints"]
    labeled = person.keypoint_visibilities[0] > 0
    assert 0 < labeled.sum() < 133  # some points of this person are unlabeled
    _open(page, f"{server.base}#/t/wholebody/row/{row}")
    # K > 40: unlabeled points are hidden from the list by default; the canvas never draws them
    assert page.is_checked("#kp-hide-unlabeled")
    shown = page.locator('#details tr[data-kind="gt"][data-instance="0"]:not([hidden])')
    assert shown.count() == int(labeled.sum())
    assert page.inner_text("#kp-count").startswith(f"{int(labeled.sum())} of 133 shown")
    drawn = page.evaluate("window.posetable.viewer.stats.gt.points.length")
    assert drawn == int((person.keypoint_visibilities > 0).sum())
    listed = [int(k) for k in shown.evaluate_all("(rows) => rows.map((r) => r.dataset.keypoint)")]
    assert listed == [k for k in range(133) if labeled[k]]
    # the long list scrolls inside the panel
    assert page.evaluate(
        "(() => { const s = document.querySelector('#details .kp-scroll');"
        " return s.scrollHeight > s.clientHeight + 100; })()"
    )
    _shot(page, "viewer-k133-hide-unlabeled")
    # typing filters the names as they are typed, and the URL keeps it
    page.fill("#kp-search", "thumb")
    thumbs = [k for k, n in enumerate(names) if "thumb" in n]
    assert len(thumbs) == 8
    expected = [k for k in thumbs if labeled[k]]
    listed = [int(k) for k in shown.evaluate_all("(rows) => rows.map((r) => r.dataset.keypoint)")]
    assert listed == expected
    assert "kpq=thumb" in page.url
    page.uncheck("#kp-hide-unlabeled")
    listed = [int(k) for k in shown.evaluate_all("(rows) => rows.map((r) => r.dataset.keypoint)")]
    assert listed == thumbs
    assert page.inner_text("#kp-count").startswith("8 of 133 shown")
    assert "hide0=0" in page.url
    _shot(page, "viewer-k133-search")
    # a reload restores both from the URL
    url = page.url
    page.goto("about:blank")
    _open(page, url)
    assert page.input_value("#kp-search") == "thumb"
    assert not page.is_checked("#kp-hide-unlabeled")
    assert shown.count() == 8
    # predictions' lists follow the search too; a small K lists everything by default
    _open(page, f"{server.base}#/t/{TABLE}/row/0?run={RUN}")
    assert not page.is_checked("#kp-hide-unlabeled")
    k17 = pt.Table.open(TABLE, store=server.store).schema.num_keypoints
    assert page.locator('#details tr[data-kind="gt"][data-instance="0"]').count() == k17
    page.fill("#kp-search", "left")
    pred_rows = page.locator('#details tr[data-kind="pred"][data-instance="0"]:not([hidden])')
    assert pred_rows.count() == sum(
        "left" in n for n in pt.Table.open(TABLE, store=server.store).schema.keypoint_names
    )


def test_bones_are_coloured_by_limb(server: Server, page: Any, real_data: Any) -> None:
    table = _wholebody(real_data, server.store)
    names = table.schema.keypoint_names
    lines = table.schema.lines
    assert table.schema.line_colors is None  # the page colours the bones itself
    _open(page, f"{server.base}#/t/wholebody/row/3")
    bones = page.evaluate("window.posetable.viewer.stats.gt.bones")
    person = table[3]["keypoints"]
    visible = person.keypoint_visibilities > 0
    expected = [
        (i, line)
        for i in range(len(person))
        for line, (a, b) in enumerate(lines)
        if visible[i, a] and visible[i, b]
    ]
    assert [(b["instance"], b["line"]) for b in bones] == expected
    by_side: dict[str, set[str]] = {"left": set(), "right": set(), "centre": set()}
    for bone in bones:
        a, b = lines[bone["line"]]
        sides = {_side(names[a]), _side(names[b])} - {""}
        want = sides.pop() if len(sides) == 1 else "centre"
        assert bone["side"] == want, (names[a], names[b], bone)
        by_side[want].add(bone["color"])
    assert by_side["left"] and by_side["right"] and by_side["centre"]
    assert not by_side["left"] & by_side["right"]
    for color in by_side["left"]:  # an orange family
        hue, saturation = _hue_saturation(color)
        assert 10 <= hue <= 50 and saturation > 0.5, color
    for color in by_side["right"]:  # a blue family
        hue, saturation = _hue_saturation(color)
        assert 190 <= hue <= 230 and saturation > 0.5, color
    for color in by_side["centre"]:  # neutral
        assert _hue_saturation(color)[1] < 0.05, color
    # the pixels say so too: the middle of the longest left and right bones of instance 0
    ui_points = {
        (p["instance"], p["keypoint"]): (p["x"], p["y"])
        for p in page.evaluate("window.posetable.viewer.stats.gt.points")
    }

    def longest(side: str) -> tuple[float, float]:
        mine = [b for b in bones if b["instance"] == 0 and b["side"] == side]
        ends = [
            (ui_points[(0, lines[b["line"]][0])], ui_points[(0, lines[b["line"]][1])]) for b in mine
        ]
        (xa, ya), (xb, yb) = max(ends, key=lambda e: math.dist(*e))
        return (xa + xb) / 2, (ya + yb) / 2

    for side, channel in (("left", 0), ("right", 2)):
        x, y = longest(side)
        pixel = page.evaluate(
            f"""(() => {{ const c = document.getElementById('stage-canvas');
            const d = c.getContext('2d').getImageData({round(x)}, {round(y)}, 1, 1).data;
            return Array.from(d); }})()"""
        )
        other = 2 - channel
        assert pixel[channel] > pixel[other] + 60, (side, pixel)
    _shot(page, "viewer-k133-limb-colours")
    # a schema that names its own line colours (COCO's) keeps them
    _open(page, f"{server.base}#/t/{TABLE}/row/0?view=gt")
    given = page.evaluate("window.posetable.data.schema.line_colors")
    bones = page.evaluate("window.posetable.viewer.stats.gt.bones")
    assert bones and all(b["color"] == given[b["line"]] for b in bones)


def test_crop_to_a_small_instance_and_back(server: Server, page: Any, real_data: Any) -> None:
    table = _wholebody(real_data, server.store)
    row = 3
    boxes = table[row]["keypoints"].instance_bbs
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    small = int(np.argmin(areas))
    _open(page, f"{server.base}#/t/wholebody/row/{row}")
    fitted = page.evaluate("window.posetable.viewer.view.scale")
    for _ in range(small):
        page.keyboard.press("Tab")
    assert page.evaluate("window.posetable.viewer.selected") == small
    page.keyboard.press("c")
    page.wait_for_timeout(100)
    state = page.evaluate(
        """(() => { const ui = window.posetable.viewer; const b = ui.draft[ui.selected].box;
        const s = document.querySelector('.stage');
        return { cropped: ui.cropped, scale: ui.view.scale, a: ui.toScreen(b[0], b[1]),
                 b: ui.toScreen(b[2], b[3]), w: s.clientWidth, h: s.clientHeight }; })()"""
    )
    assert state["cropped"] == small and state["scale"] > fitted * 1.5
    (x1, y1), (x2, y2) = state["a"], state["b"]
    assert 0 <= x1 < x2 <= state["w"] and 0 <= y1 < y2 <= state["h"]  # the whole box in view
    fill = max((x2 - x1) / state["w"], (y2 - y1) / state["h"])
    assert 0.6 < fill < 0.95  # zoomed to it, with a margin
    assert "on" in (page.get_attribute("#crop", "class") or "")
    _shot(page, "viewer-crop-small-instance")
    # the wheel still zooms around the cursor in the crop; c again goes back to the fit
    rect = page.evaluate(
        "(() => { const r = document.getElementById('stage-canvas').getBoundingClientRect();"
        " return [r.left, r.top]; })()"
    )
    page.mouse.move(rect[0] + x1 + 5, rect[1] + y1 + 5)
    page.mouse.wheel(0, -200)
    page.wait_for_timeout(100)
    assert page.evaluate("window.posetable.viewer.view.scale") > state["scale"]
    page.keyboard.press("c")
    page.wait_for_timeout(100)
    assert page.evaluate("window.posetable.viewer.view.scale") == pytest.approx(fitted)
    assert page.evaluate("window.posetable.viewer.cropped") is None
    page.click("#crop")  # the button does the same
    assert page.evaluate("window.posetable.viewer.cropped") == small
    page.click("#fit")
    assert page.evaluate("window.posetable.viewer.cropped") is None


def test_a_missing_image_says_so_with_its_path(server: Server, page: Any, real_data: Any) -> None:
    table = _import(real_data("coco_kpts"), "people", server.store)
    missing = "images/000000000785.jpg"  # not under the table's image root (its own folder)
    assert not (Path(table.metadata["image_roots"][0]) / missing).exists()
    broken = table.with_rows({1: {"image": missing}})
    assert broken[1]["image"] == missing
    _open(page, f"{server.base}#/t/people")
    page.wait_for_function("document.querySelectorAll('.cell .missing-image').length === 1")
    cell = page.locator('.cell[data-row="1"] .missing-image')
    assert cell.inner_text() == f"image not found: {missing}"
    assert page.locator(".cell.missing").count() == 1
    # the overlays are still drawn on the placeholder
    gt_points = int((broken[1]["keypoints"].keypoint_visibilities > 0).sum())
    assert page.get_attribute('.cell[data-row="1"]', "data-gt-points") == str(gt_points)
    _shot(page, "grid-missing-image")
    _open(page, f"{server.base}#/t/people/row/1")
    page.wait_for_selector("#missing-image")
    assert page.inner_text("#missing-image") == f"image not found: {missing}"
    assert page.evaluate("window.posetable.viewer.missing") == f"image not found: {missing}"
    _shot(page, "viewer-missing-image")
    # what the server sends: the path as the row names it, no server path
    headers = page.evaluate(
        """fetch(window.posetable.data.image_url).then((r) => ({
            missing: r.headers.get('X-Posetable-Missing'),
            reason: r.headers.get('X-Posetable-Missing-Reason'),
            type: r.headers.get('content-type') }))"""
    )
    assert headers == {"missing": missing, "reason": "image not found", "type": "image/png"}
    # a readable row has no message
    _open(page, f"{server.base}#/t/people/row/0")
    page.wait_for_function("window.posetable.viewer.image.done === true")
    assert page.evaluate("window.posetable.viewer.missing") is None
    assert page.locator("#missing-image").count() == 0


def test_54_classes_get_distinct_colours_and_named_boxes(
    server: Server, page: Any, real_data: Any
) -> None:
    animals = _import(real_data("ap10k"), "animals", server.store)
    classes = list(animals.schema.classes)
    assert len(classes) == 54
    _open(page, f"{server.base}#/t/animals")
    palette = page.evaluate(
        "import('/static/draw.js').then((m) => Array.from({length: 54}, (_, i) => m.classColor(i)))"
    )
    assert len(set(palette)) == 54
    assert palette[:6] == ["#ffffff", "#ffd400", "#00e5ff", "#ff5cf0", "#9cff57", "#ff8a65"]
    labs = [_lab(c) for c in palette]
    closest = min(math.dist(a, b) for a, b in itertools.combinations(labs, 2))
    assert closest > 8, closest  # CIE76: no two classes look alike
    drawn = page.evaluate("window.posetable.grid.drawn")
    seen = []
    for r in range(len(animals)):
        labels = animals[r]["keypoints"].instance_labels.tolist()
        shown = drawn[str(r)]["gt"]["labels"]
        assert [s["label"] for s in shown] == labels
        for s in shown:
            assert s["color"] == palette[s["label"]] and s["text"] == classes[s["label"]]
            seen.append(s["label"])
    assert len(set(seen)) == len(seen) == 2 and palette[seen[0]] != palette[seen[1]]
    _shot(page, "grid-ap10k-classes")
    _open(page, f"{server.base}#/t/animals/row/1")
    labels = page.evaluate("window.posetable.viewer.stats.gt.labels")
    label = animals[1]["keypoints"].instance_labels.tolist()[0]
    assert labels[0]["text"] == classes[label] and labels[0]["color"] == palette[label]
    swatch = page.evaluate(
        "getComputedStyle(document.querySelector('#details .class-swatch')).backgroundColor"
    )
    assert swatch == "rgb({}, {}, {})".format(*_rgb(palette[label]))
    _shot(page, "viewer-ap10k-class")


def test_links_to_the_parent_diff_and_the_run_diagnosis(server: Server, page: Any) -> None:
    table = pt.Table.open(TABLE, store=server.store)
    moved = table[1]["keypoints"].copy()
    moved.keypoints[0, 0] += 5.0
    edited = table.with_rows({1: {"keypoints": moved}})
    assert edited.parent == table.revision
    _open(page, f"{server.base}#/t/{TABLE}/row/1?run={RUN}")
    data = page.evaluate(
        "({ sid: window.posetable.data.sample_id, rev: window.posetable.data.revision })"
    )
    assert data["rev"] == edited.revision
    href = page.get_attribute("#diff-link", "href")
    assert href == f"#/t/{TABLE}/diff?from={table.revision}&to={edited.revision}&sel={data['sid']}"
    assert page.get_attribute("#diagnosis-link", "href") == (
        f"#/runs/{RUN}/diagnosis?table={TABLE}&rev={edited.revision}"
    )
    _shot(page, "viewer-links")
    page.click("#diff-link")
    _settled(page, "window.posetable.page === 'diff'")
    assert page.locator("#message").inner_text().strip() == ""
    assert f"sel={data['sid']}" in page.url
    page.go_back()
    _settled(page, "window.posetable.page === 'viewer'")
    page.click("#diagnosis-link")
    _settled(page, "window.posetable.page === 'diagnosis'")
    assert page.locator("#message").inner_text().strip() == ""
    # the first revision has no parent: no diff link; no run: no diagnosis link
    _open(page, f"{server.base}#/t/{TABLE}/row/1?rev={table.revision}")
    assert page.locator("#diff-link").count() == (0 if table.parent is None else 1)
    assert page.locator("#diagnosis-link").count() == 0
