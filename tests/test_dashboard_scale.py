"""What the dashboard keeps of a large table and run is what it keeps of a small one: the
suspects a run wrote read without loading them whole, the check's findings kept narrow, the
filter columns in small types (needs the ``[dashboard]`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from tests._predictions import noisy_predictions

pytestmark = pytest.mark.integration


@pytest.fixture
def noisy_run(coco_table: pt.Table) -> pt.Run:
    pytest.importorskip("fastapi")
    return pt.Run.from_predictions(
        coco_table, noisy_predictions(coco_table, seed=3, noise=0.3), name="noisy"
    ).materialize()  # its suspects kept beside it, as the CLI makes a run


def test_suspects_read_from_the_runs_file_are_the_ones_found_in_memory(
    coco_table: pt.Table, noisy_run: pt.Run, tmp_path: Path
) -> None:
    from posetable._rows import SAMPLE_ID
    from posetable._run_suspects import SUSPECT_THRESHOLDS, suspects_path
    from posetable.dashboard._suspects import KeptSuspects, with_sample_ids
    from posetable.label_errors import find_label_errors

    found = find_label_errors(
        coco_table,
        noisy_run,
        instance_confidence_threshold=SUSPECT_THRESHOLDS[0],
        keypoint_confidence_threshold=SUSPECT_THRESHOLDS[1],
    )
    assert found.num_rows > 3 and len(set(found.column("kind").to_pylist())) > 1
    ids = np.asarray(coco_table.sample_ids(), np.int64)
    memory = KeptSuspects(with_sample_ids(found, ids), tmp_path / "memory", SUSPECT_THRESHOLDS)
    source = suspects_path(noisy_run.path, SUSPECT_THRESHOLDS)
    kept = KeptSuspects.from_file(source, ids, tmp_path / "file", SUSPECT_THRESHOLDS)
    assert kept.per_sample.sort_by(SAMPLE_ID).equals(memory.per_sample.sort_by(SAMPLE_ID))
    with_some = sorted(set(ids[found.column("row").to_numpy()].tolist()))
    without = sorted(set(ids.tolist()) - set(with_some))
    asked = [*with_some[:4], *without[:1]]
    for sample_id in asked:  # before the file by sample exists: read from the run's
        assert kept.rows(sample_id).equals(memory.rows(sample_id))
    kept.write_by_sample()
    by_sample = suspects_path(tmp_path / "file", SUSPECT_THRESHOLDS)
    assert by_sample.with_suffix(".by-sample.parquet").is_file()
    for sample_id in asked:
        assert kept.rows(sample_id).equals(memory.rows(sample_id))
    assert kept.rows().equals(memory.rows())


def test_a_large_runs_pages_show_the_suspects_it_kept(
    coco_table: pt.Table, noisy_run: pt.Run, monkeypatch: Any
) -> None:
    """Past EAGER_SUSPECTS_ROWS (lowered to 0) the grid starts the suspects in the
    background; once ready, the sort by suspect score and the image view's list are those
    of ``find_label_errors``."""
    from fastapi.testclient import TestClient

    from posetable.dashboard import _index, _views, create_app
    from posetable.label_errors import find_label_errors

    monkeypatch.setattr(_index, "EAGER_SUSPECTS_ROWS", 0)
    monkeypatch.setattr(_views, "EAGER_SUSPECTS_ROWS", 0)
    client = TestClient(create_app(coco_table.store.root), base_url="http://127.0.0.1")
    params = {"run": "noisy", "sort": "suspect_score", "order": "desc"}
    client.get("/api/tables/coco/rows", params={"run": "noisy"})
    page = client.get("/api/tables/coco/rows", params=params).json()
    found = find_label_errors(
        coco_table, noisy_run, instance_confidence_threshold=0.3, keypoint_confidence_threshold=0.3
    )
    best: dict[int, float] = {}
    rows, scores = found.column("row").to_pylist(), found.column("score").to_pylist()
    for r, score in zip(rows, scores, strict=True):
        best[r] = max(best.get(r, -1.0), score)
    ranked = sorted(best, key=lambda r: (-best[r], r))
    assert [r["row"] for r in page["rows"]][: len(ranked)] == ranked[: len(page["rows"])]
    row = ranked[0]
    detail = client.get(f"/api/tables/coco/rows/{row}", params={"run": "noisy"}).json()
    mine = found.filter(found.column("row").to_numpy() == row).to_pylist()
    assert detail["suspect_list"] == mine


def test_findings_kept_narrow_are_the_checks(coco_table: pt.Table) -> None:
    from posetable.dashboard._kept_findings import KeptFindings
    from posetable.diagnose.check import check_findings

    doubled = coco_table[0]["keypoints"].select([0, 0])
    broken = coco_table.with_rows({0: {"keypoints": doubled}})
    found = check_findings(broken)
    kept = KeptFindings(found)
    assert len(found) > 1
    assert kept.full().to_table().equals(pt.check(broken).replace_schema_metadata(None))
    some = np.asarray([len(found) - 1, 0], np.int64)
    assert kept.take(some).to_table().equals(found.take(some).to_table())
    assert np.array_equal(kept.row, found.row) and np.array_equal(kept.rule, found.rule)
    assert kept.nbytes < 8 * 10 * len(found)
