"""DNS rebinding in a real Chromium: a page of another site whose name points at 127.0.0.1.

A rebinding attacker serves a page from ``http://evil.example:PORT/`` (the dashboard's own
port), then points ``evil.example`` at 127.0.0.1: the page's scripts now talk to the
dashboard as their own origin, so the browser's same-origin rule lets them read every
answer. Chromium's ``--host-resolver-rules`` makes that name resolve to 127.0.0.1 here. The
server (``posetable serve`` in a subprocess, as in ``test_dashboard_browser``) must refuse
whatever that origin asks, while its real address keeps working, and the page itself must
load under its Content-Security-Policy without a single violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import posetable as pt
from tests import test_dashboard_browser as browser_tests
from tests.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RUN,
    TABLE,
    Server,
)

pytestmark = pytest.mark.browser

EVIL = "evil.example"
server = browser_tests.server  # the same `posetable serve --sample --port 0` per test

EDIT_FROM_ROW_0 = """async () => {
  const row = await (await fetch('/api/tables/coco-sample/rows/0')).json();
  const gt = row.gt;
  const instances = [...Array(gt.count).keys()].map(i => ({
    source: i, keypoints: gt.keypoints[i], visibility: gt.visibility[i], box: gt.boxes[i],
    label: gt.labels[i]}));
  instances[0].keypoints[0] = [instances[0].keypoints[0][0] + 2, instances[0].keypoints[0][1]];
  instances[0].visibility[0] = 2;
  return {base_revision: row.revision, rows: {"0": {instances}}};
}"""

ATTACK = """async (edit) => {
  const answer = async (response) => ({status: response.status, text: await response.text()});
  const json = {'Content-Type': 'application/json'};
  return {
    tables: await answer(await fetch('/api/tables')),
    image: await answer(await fetch('/api/tables/coco-sample/image/0')),
    file: await answer(await fetch('/api/tables/coco-sample/file?path=000000000785.jpg')),
    edit: await answer(await fetch('/api/tables/coco-sample/edit',
                                   {method: 'POST', headers: json, body: JSON.stringify(edit)})),
  };
}"""

SAVE = """async (edit) => {
  const response = await fetch('/api/tables/coco-sample/edit', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(edit)});
  return {status: response.status, body: await response.json()};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, resolving ``evil.example`` to 127.0.0.1 (the rebound name)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    rule = f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rule])
        yield launched
        launched.close()


def _port(server: Server) -> int:
    port = urlsplit(server.base).port
    assert port is not None, server.base
    return port


def _ready(page: Any, condition: str = "true") -> None:
    """Wait for the page to settle, polling from Python: under the page's CSP (no
    'unsafe-eval') Playwright's string predicates cannot run, plain evaluations can."""
    check = f"!!(window.posetable && window.posetable.ready === true && ({condition}))"
    for _ in range(300):
        if page.evaluate(check):
            page.wait_for_timeout(300)  # thumbnails load and cells redraw
            return
        page.wait_for_timeout(100)
    pytest.fail(f"the page never became ready ({condition}) at {page.url}")


def test_a_rebinding_page_can_neither_read_nor_edit_while_the_real_origin_works(
    server: Server, browser: Any
) -> None:
    port = _port(server)
    # the real origin, in a context that enforces the page's CSP (the shared `page`
    # fixture bypasses it for Playwright's string predicates)
    real = browser.new_context(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    try:
        page = real.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', "
            "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        first = page.goto(server.url)
        assert first is not None and first.status == 200
        _ready(page, "window.posetable.page === 'grid'")
        edit = page.evaluate(EDIT_FROM_ROW_0)
        assert edit["base_revision"] == 1

        attacker = browser.new_context()
        try:
            evil = attacker.new_page()
            landing = evil.goto(f"http://{EVIL}:{port}/")  # served for the other name
            assert landing is not None
            landing_status, landing_text = landing.status, landing.text()
            stolen = evil.evaluate(ATTACK, edit)  # the attacker's script, on its own origin
        finally:
            attacker.close()
        for what in ("tables", "image", "file", "edit"):
            assert stolen[what]["status"] == 403, (what, stolen[what]["text"][:300])
            assert "HostNotAllowedError" in stolen[what]["text"] and EVIL in stolen[what]["text"]
            assert "coco-sample@" not in stolen[what]["text"]
        assert pt.Table.open(TABLE, store=server.store).revision == 1  # nothing was saved
        assert landing_status == 403 and "HostNotAllowedError" in landing_text
        assert "coco-sample" not in landing_text

        # the real origin still reads and saves
        assert page.evaluate("fetch('/api/tables').then(r => r.status)") == 200
        saved = page.evaluate(SAVE, edit)
        assert saved["status"] == 200 and saved["body"]["revision"] == 2, saved
        assert pt.Table.open(TABLE, store=server.store).revision == 2

        # every page runs under the CSP without one violation, and cannot be framed
        assert first.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
        for view, name in (
            (f"#/t/{TABLE}?run={RUN}&view=both", "grid"),
            (f"#/t/{TABLE}/row/0?run={RUN}&view=both", "viewer"),
            (f"#/compare?runs={RUN}", "compare"),
            ("#/", "home"),
        ):
            page.goto(server.base + view)
            _ready(page, f"window.posetable.page === '{name}'")
            if name in ("grid", "viewer"):  # its images and canvases are drawn
                assert page.evaluate("document.querySelectorAll('canvas').length") > 0
        assert page.evaluate("window.__csp") == []
        # and the policy is in force: an injected inline script is blocked and reported
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = 1'; document.body.appendChild(s); }"
        )
        for _ in range(50):
            if page.evaluate("window.__csp.length"):
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.ran") is None
        assert page.evaluate("window.__csp")[0].startswith("script-src")
    finally:
        real.close()
    assert not errors, errors
