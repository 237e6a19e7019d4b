"""Eight clients at once against the real server: no 500s, conflicts are 409s, no lost save.

The server is ``posetable serve`` in a subprocess (uvicorn's thread pool serves the sync
routes, so reads and saves of one table really run on several threads at once).
"""

from __future__ import annotations

import pytest

import posetable as pt
from tests._dashboard_load import hammer
from tests.test_dashboard_browser import Server

pytestmark = pytest.mark.integration

TABLE = "coco-sample"


def test_eight_clients_reading_and_saving_get_no_server_error(store) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("httpx2")
    server = Server(store)
    try:
        table = pt.Table.open(TABLE, store=store)
        labeled = [r for r in range(len(table)) if len(table[r]["keypoints"])]
        rows = [labeled[i % len(labeled)] for i in range(8)]  # clients 0 and 4 share a row...
        report = hammer(server.base.rstrip("/"), TABLE, rows, clients=8, rounds=12, shared_row=1)
    finally:
        server.stop()
    assert report.failures == []
    assert report.server_errors == 0
    kinds = {kind for kind, _ in report.statuses}
    assert {"grid page", "row", "save own row", "save shared row", "undo"} <= kinds
    assert report.statuses[("save shared row", 200)] >= 1
    assert report.statuses[("save shared row", 409)] >= 1  # they really raced
    latest = pt.Table.open(TABLE, store=store)
    won = sum(
        n
        for (kind, status), n in report.statuses.items()
        if status == 200 and (kind.startswith("save") or kind == "undo")
    )
    assert latest.revision == 1 + won  # every 200 save is a revision, nothing else was written
    for info in latest.revisions():
        assert info.parent == (None if info.revision == 1 else info.revision - 1)
