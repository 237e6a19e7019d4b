"""Check findings in the dashboard, in Debian's Chromium: the grid's badge and check filter,
and a one-click fix in the image view that saves a new revision."""

from __future__ import annotations

from typing import Any

import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests.test_dashboard_browser import Server, _open, _settled, _shot

browser = _browser_tests.browser
page = _browser_tests.page
server = _browser_tests.server
pytestmark = pytest.mark.browser

TABLE = "coco-sample"


def test_findings_badge_filter_and_one_click_fix(server: Server, page: Any) -> None:
    table = pt.Table.open(TABLE, store=server.store)
    doubled = table[1]["keypoints"].select([0, 0, *range(1, len(table[1]["keypoints"]))])
    broken = table.with_rows({1: {"keypoints": doubled}})  # revision 2: row 1's person twice
    dup = pt.check(broken, rules="duplicate_instance").to_pylist()
    assert [(f["row"], f["instance"]) for f in dup] == [(1, 1)]
    _open(page, f"{server.base}#/t/{TABLE}")
    badge = page.locator('.cell[data-row="1"] .badge.findings')
    assert badge.count() == 1 and "sev-error" in (badge.get_attribute("class") or "")
    on_row_1 = [f for f in pt.check(broken).to_pylist() if f["row"] == 1]
    assert badge.inner_text() == f"⚠ {len(on_row_1)}"
    page.click("#filters summary")
    page.wait_for_function("document.getElementById('filters').dataset.ready === 'true'")
    page.select_option("#check-filter", "duplicate_instance")
    _settled(page, "location.hash.includes('check_rules')")
    assert page.locator(".cell").count() == 1
    assert page.locator('.cell[data-row="1"]').count() == 1
    _shot(page, "grid-check-filter")
    _open(page, f"{server.base}#/t/{TABLE}/row/1?view=gt")
    row = page.locator('#findings tr[data-rule="duplicate_instance"]')
    assert row.count() == 1
    _shot(page, "viewer-findings")
    row.locator("button.fix").click()
    _settled(page, f"window.posetable.data.revision === {broken.revision + 1}")
    fixed = pt.Table.open(TABLE, store=server.store)
    assert fixed.revision == broken.revision + 1 and fixed.operation == "fix_finding"
    assert fixed.info.arguments["rule"] == "duplicate_instance"
    assert fixed[1]["keypoints"] == table[1]["keypoints"]
    assert len(pt.check(fixed, rules="duplicate_instance")) == 0
    assert page.locator('#findings tr[data-rule="duplicate_instance"]').count() == 0
    assert "dropped the duplicate instance" in page.inner_text("#message")
    _shot(page, "viewer-after-fix")
