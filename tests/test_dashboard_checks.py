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
