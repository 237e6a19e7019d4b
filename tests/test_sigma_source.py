"""Where a table's OKS sigmas came from, wherever sigmas are reported: ``posetable info``
(the summary), the dashboard's schema payload and ``posetable check``'s advice."""

from __future__ import annotations

import warnings
from pathlib import Path

import orjson
import pytest

import posetable as pt
from posetable.dashboard._payload import schema_json
from posetable.summary import summarize
from tests._data import data_path


@pytest.fixture
def coco(store: Path) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return pt.Table.from_coco(
            data_path("coco_kpts") / "annotations.json", name="c", store=store
        )


def _revisions(coco: pt.Table) -> dict[str, pt.Table]:
    """The same table with sigmas of every source (each a schema-only revision)."""
    k = coco.schema.num_keypoints
    uniform = coco.with_schema(coco.schema.replace(oks_sigmas=None))
    user = uniform.with_schema(uniform.schema.replace(oks_sigmas=[0.05] * k))
    estimated = user.with_schema(
        user.schema.replace(oks_sigmas=[0.06] * k, oks_sigmas_source="estimated from a@1, b@1")
    )
    return {"COCO": coco, "uniform 1/K": uniform, "user": user,
            "estimated from a@1, b@1": estimated}  # fmt: skip


def test_info_and_the_dashboard_report_the_schema_s_sigma_source(coco: pt.Table) -> None:
    for source, table in _revisions(coco).items():
        assert table.schema.oks_sigmas_source == source
        summary = summarize(table)
        assert f"sigmas: {source}" in summary.to_text()
        assert summary.to_dict()["oks_sigmas_source"] == source
        payload = orjson.loads(orjson.dumps(schema_json(table.schema)))  # as the page gets it
        assert payload["oks_sigmas_source"] == source
        assert payload["oks_sigmas_given"] == (source != "uniform 1/K")  # the old field stays


def test_check_advises_how_to_get_sigmas_only_when_there_are_none(coco: pt.Table) -> None:
    for source, table in _revisions(coco).items():
        found = [f for f in pt.check(table).to_pylist() if f["rule"] == "sigmas_missing"]
        if source != "uniform 1/K":
            assert found == [], source
            continue
        (finding,) = found
        assert "uniform 1/K = 0.05882 for the K=17 keypoints" in finding["message"]
        assert "pt.estimate_sigmas(table_a, table_b)" in finding["message"]
        assert "table.with_schema(schema.replace(oks_sigmas=...))" in finding["message"]
