"""The check and diagnosis endpoints, in-process (needs the ``[dashboard]`` extra)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import posetable as pt
from posetable.errors import PosetableWarning
from tests._predictions import noisy_predictions

pytestmark = pytest.mark.integration


@pytest.fixture
def served(real_data, store: Path) -> tuple[Any, pt.Table]:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    folder = real_data("crowdpose")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="crowd", store=store
        )
    pt.Run.from_predictions(table, noisy_predictions(table, seed=2), name="noisy")
    client = TestClient(create_app(store), base_url="http://127.0.0.1")
    return client, table


def test_check_endpoint_returns_counts_badges_and_findings(served) -> None:
    client, table = served
    body = client.get("/api/tables/crowd/check").json()
    expected = pt.check(table).to_pylist()
    assert body["findings"] == expected
    assert body["counts"] == {"error": 7, "warning": 1, "info": 0}
    assert body["by_rule"]["num_keypoints_mismatch"]["error"] == 4
    assert body["rows"] == {"0": {"error": 2, "warning": 0}, "1": {"error": 2, "warning": 0}}
    only = client.get("/api/tables/crowd/check?rule=num_keypoints_mismatch&row=1").json()
    assert only["total"] == 2 and {f["row"] for f in only["findings"]} == {1}
    assert client.get("/api/tables/crowd/check?revision=1&limit=1").json()["total"] == 8


def test_check_endpoint_pages_the_findings_the_revision_keeps(served) -> None:
    """Pages of the check endpoint, put together, are ``pt.check``'s findings (of every rule,
    of some rules, of one severity), each page with the badges of the rows it is on (over
    all their findings), answered from the findings the revision's index keeps."""
    client, table = served
    expected = pt.check(table).to_pylist()
    assert len(expected) > 3
    pages = [
        client.get("/api/tables/crowd/check", params={"offset": at, "limit": 3}).json()
        for at in range(0, len(expected), 3)
    ]
    assert [f for page in pages for f in page["findings"]] == expected
    assert {page["total"] for page in pages} == {len(expected)}
    for page in pages:
        rows = {f["row"] for f in page["findings"] if f["row"] is not None}
        assert page["rows"] == {
            str(r): {
                s: sum(1 for f in expected if f["row"] == r and f["severity"] == s)
                for s in ("error", "warning")
            }
            for r in sorted(rows)
            if any(f["row"] == r and f["severity"] != "info" for f in expected)
        }
    badged = {f["row"] for f in expected if f["row"] is not None and f["severity"] != "info"}
    assert pages[0]["rows_with_findings"] == len(badged)
    found_rules = sorted({f["rule"] for f in expected})
    some = [found_rules[0], "outside_box"]
    body = client.get("/api/tables/crowd/check", params={"rules": ",".join(some)}).json()
    assert body["findings"] == pt.check(table, rules=some).to_pylist()
    assert set(body["by_rule"]) == {found_rules[0]}
    warned = client.get("/api/tables/crowd/check", params={"severity": "warning"}).json()
    assert warned["findings"] == [f for f in expected if f["severity"] == "warning"]
    state = client.app.state.dashboard
    kept = state.index(state.table("crowd"))
    assert kept.check_state()["state"] == "done" and len(kept.findings()) == len(expected)


def test_check_endpoint_refuses_unknown_rules_and_severities(served) -> None:
    client, _ = served
    response = client.get("/api/tables/crowd/check?rules=bogus")
    assert response.status_code == 400
    assert response.json()["type"] == "UnsupportedError"
    assert client.get("/api/tables/crowd/check?severity=fatal").status_code == 400
    assert client.get("/api/tables/nope/check").status_code == 404


def test_diagnose_endpoint_returns_the_diagnosis_and_its_curves(served) -> None:
    client, table = served
    body = client.get("/api/runs/noisy/diagnose").json()
    expected = pt.diagnose(table, pt.Run.open("noisy", store=table.store.root))
    assert body["ap"] == pytest.approx(expected.ap)
    assert body["ap_improvement"] == pytest.approx(expected.ap_improvement)
    assert len(body["curves"]["baseline"]) == 10 and len(body["curves"]["baseline"][0]) == 101
    assert body["table"] == "crowd" and body["revision"] == 1


@pytest.fixture
def coco_served(coco_table: pt.Table) -> tuple[Any, pt.Table]:
    """The COCO excerpt with a duplicated person in row 0 (revision 2), served."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    doubled = coco_table[0]["keypoints"].select([0, 0])
    broken = coco_table.with_rows({0: {"keypoints": doubled}})
    return TestClient(create_app(broken.store.root), base_url="http://127.0.0.1"), broken


def test_grid_rows_carry_findings_and_check_rules_filters_them(coco_served) -> None:
    client, table = coco_served
    page = client.get("/api/tables/coco/rows").json()
    expected = pt.check(table).to_pylist()
    by_row = {r["row"]: r["findings"] for r in page["rows"]}
    assert by_row[0]["error"] == 1 and by_row[0]["worst"] == "error"
    assert by_row[0]["items"][0]["rule"] == "duplicate_instance"
    assert by_row[0]["items"][0]["fix"] == "dropped the duplicate instance"
    for row, badge in by_row.items():
        mine = [f for f in expected if f["row"] == row]
        assert [i["rule"] for i in badge["items"]] == [f["rule"] for f in mine]
    column = next(c for c in page["columns"] if c["name"] == "check_rules")
    assert column["type"] == "list<string>"
    dup = client.get(
        "/api/tables/coco/rows", params={"filter": "check_rules has 'duplicate_instance'"}
    )
    assert [r["row"] for r in dup.json()["rows"]] == [0]
    swap = client.get(
        "/api/tables/coco/rows", params={"filter": "check_rules has 'left_right_swap'"}
    )
    assert [r["row"] for r in swap.json()["rows"]] == sorted(
        {f["row"] for f in expected if f["rule"] == "left_right_swap"}
    )
    facets = client.get("/api/tables/coco/facets").json()
    assert facets["check_field"] == "check_rules"
    assert {"rule": "duplicate_instance", "all": 1, "matching": 1} in facets["checks"]


def test_fix_endpoint_saves_a_revision_and_refuses_stale_or_unfixable(coco_served) -> None:
    client, table = coco_served
    body = {"base_revision": 2, "row": 0, "instance": 1, "rule": "duplicate_instance"}
    saved = client.post("/api/tables/coco/fix", json=body)
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert answer["revision"] == 3 and answer["operation"] == "fix_finding"
    assert "dropped the duplicate" in answer["note"]
    latest = pt.Table.open("coco", store=table.store.root)
    assert latest.info.arguments["source"] == "dashboard"
    assert (
        len(latest[0]["keypoints"]) == 1 and len(pt.check(latest, rules="duplicate_instance")) == 0
    )
    again = client.post("/api/tables/coco/fix", json=body)  # row 0 changed since revision 2
    assert again.status_code == 409 and again.json()["type"] == "ConflictError"
    gone = client.post("/api/tables/coco/fix", json=body | {"base_revision": 3, "instance": 0})
    assert gone.status_code == 400 and "reports no duplicate_instance" in gone.json()["error"]
    other = client.post(
        "/api/tables/coco/fix", json=body | {"base_revision": 3, "rule": "outside_box"}
    )
    assert other.status_code == 400 and other.json()["type"] == "UnsupportedError"
    bad = client.post("/api/tables/coco/fix", json=body | {"base_revision": 3, "row": "0"})
    assert bad.status_code == 400 and bad.json()["type"] == "RowError"


def _items(badge: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(i["rule"], i["instance"], i["keypoint"], i["message"]) for i in badge["items"]]


def _state(page: dict[str, Any]) -> dict[str, Any]:
    return {k: page["check_state"][k] for k in ("state", "error", "incremental")}


def _wanted(findings: list[dict[str, Any]], row: int, rules: set[str]) -> list[tuple[Any, ...]]:
    return [
        (f["rule"], f["instance"], f["keypoint"], f["message"])
        for f in findings
        if f["row"] == row and f["rule"] in rules
    ]


def test_a_large_revision_is_checked_in_the_background_and_says_so(coco_served, monkeypatch):
    """Past EAGER_CHECK_ROWS (lowered here to 0) the first page does not wait for the check:
    it says "checking", shows the per-row rules' findings of its rows (found for them alone),
    and the full check's badges once it is done; an edit then re-checks only its rows."""
    import threading

    from posetable.dashboard import _index
    from posetable.diagnose.check import RULES

    client, table = coco_served
    expected = pt.check(table).to_pylist()
    every, per_row = set(RULES), {n for n, r in RULES.items() if r.per_row}
    monkeypatch.setattr(_index, "EAGER_CHECK_ROWS", 0)
    gate = threading.Event()
    original = _index.TableIndex._run_check

    def held(self: Any) -> None:  # the background check waits until the first page is read
        gate.wait(30)
        original(self)

    monkeypatch.setattr(_index.TableIndex, "_run_check", held)
    page = client.get("/api/tables/coco/rows").json()
    assert page["check_state"]["state"] == "checking"
    for row in page["rows"]:
        assert row["findings"]["complete"] is False
        assert _items(row["findings"]) == _wanted(expected, row["row"], per_row)
    gate.set()
    dup = client.get(
        "/api/tables/coco/rows", params={"filter": "check_rules has 'duplicate_instance'"}
    )
    assert [r["row"] for r in dup.json()["rows"]] == [0]  # the filter waits for the check
    done = client.get("/api/tables/coco/rows").json()
    assert _state(done) == {"state": "done", "error": None, "incremental": False}
    for row in done["rows"]:
        assert row["findings"]["complete"] is True
        assert _items(row["findings"]) == _wanted(expected, row["row"], every)
    # an edit of row 2 (a new revision): its check reuses the parent's findings
    edited = table.with_rows({2: {"keypoints": table[2]["keypoints"].select([0])}})
    client.get("/api/tables/coco/rows", params={"filter": "check_rules has 'outside_box'"})
    again = client.get("/api/tables/coco/rows").json()
    assert again["revision"] == edited.revision
    assert _state(again) == {"state": "done", "error": None, "incremental": True}
    want_all = pt.check(edited).to_pylist()
    for row in again["rows"]:
        assert _items(row["findings"]) == _wanted(want_all, row["row"], every)
