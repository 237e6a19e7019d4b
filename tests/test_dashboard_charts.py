"""The chart, run-by-image and revision-diff endpoints, in-process (needs ``[dashboard]``).

Every chart's JSON twin is checked against the library call it shows (``pt.diagnose``,
``result.keypoint_metrics()``, ``pt.evaluate``), ΔOKS against the runs' own per-sample
tables, the revision diff against the rows the test changed, and the vectorised facets
against counts made row by row here.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.diagnose.result import FIXES
from tests._predictions import noisy_predictions

pytestmark = pytest.mark.integration
pytest.importorskip("fastapi")

TABLE = "coco-sample"
RUN = "coco-sample-perturbed"


def _import(folder: Path, name: str, store: Path) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        images = folder / "images" if (folder / "images").is_dir() else None
        return pt.Table.from_coco(folder / "annotations.json", images, name=name, store=store)


@pytest.fixture
def sample_store(store: Path) -> Path:
    from posetable.dashboard._sample_run import prepare_sample, sample_predictions

    table, _ = prepare_sample(store)
    pt.Run.from_predictions(table, sample_predictions(table, seed=7), name="seed-7")
    return store


@pytest.fixture
def client(sample_store: Path, tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    app = create_app(sample_store, thumbnail_dir=tmp_path / "thumbs")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def _none_for_missing(values: Any) -> list[Any]:
    return [None if (v is None or not np.isfinite(v) or v < 0) else v for v in np.ravel(values)]


# -- the diagnosis page --------------------------------------------------------------------
def test_diagnosis_chart_is_what_pt_diagnose_finds(client: Any, sample_store: Path) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    run = pt.Run.open(RUN, store=sample_store)
    expected = pt.diagnose(table, run)
    body = _ok(client.get(f"/api/runs/{RUN}/charts/diagnosis"))
    assert body["ap"] == pytest.approx(expected.ap)
    bars = {f["fix"]: f for f in body["fixes"]}
    assert list(bars) == list(FIXES)
    for fix, value in expected.ap_improvement.items():
        assert bars[fix]["ap"] == pytest.approx(value)
        assert bars[fix]["delta"] == pytest.approx(value - expected.ap)
    counts = body["breakdown"]["counts"]
    for kind in ("good", "jitter", "inversion", "swap", "miss"):
        assert counts[kind] == expected.breakdown.column(kind).to_pylist()
    assert body["breakdown"]["keypoint_names"] == list(table.schema.keypoint_names)
    for name, curve in expected.curves.items():
        assert body["pr"]["curves"][name]["precision"] == [_none_for_missing(r) for r in curve]
    errors = expected.instance_errors.to_pylist()
    fp = [e for e in errors if e["error"] == "background_fp"]
    fn = [e for e in errors if e["error"] == "background_fn"]
    assert body["background"]["fp"]["total"] == len(fp) and body["background"]["fn"][
        "total"
    ] == len(fn)
    scores = [item["score"] for item in body["background"]["fp"]["items"]]
    assert scores == sorted((e["score"] for e in fp), reverse=True)
    first = body["background"]["fp"]["items"][0]
    assert first["link"] == f"#/t/{TABLE}/row/{first['row']}?run={RUN}&rev=1"
    assert body["has_flip_indices"] is True and body["notes"] == []


def test_background_pages_cover_every_error_once(client: Any) -> None:
    whole = _ok(client.get(f"/api/runs/{RUN}/charts/background", params={"kind": "fn"}))
    seen = []
    offset = 0
    while offset < whole["total"]:
        page = _ok(
            client.get(
                f"/api/runs/{RUN}/charts/background",
                params={"kind": "fn", "offset": offset, "limit": 1},
            )
        )
        seen.extend((i["row"], i["index"]) for i in page["items"])
        offset += 1
    assert seen == [(i["row"], i["index"]) for i in whole["items"]] and len(seen) == whole["total"]
    assert _error(client.get(f"/api/runs/{RUN}/charts/background", params={"kind": "tp"}))[
        "error"
    ].startswith("kind must be 'fp' or 'fn'")
    assert _error(client.get("/api/runs/nope/charts/diagnosis"), 404)["type"] == "NotFoundError"


def test_diagnosis_without_flip_indices_says_so(
    real_data: Any, store: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    table = _import(real_data("onehand10k"), "hands", store)
    assert table.schema.flip_indices is None
    pt.Run.from_predictions(table, noisy_predictions(table, seed=3), name="hands-run")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
            body = _ok(c.get("/api/runs/hands-run/charts/diagnosis"))
    assert body["has_flip_indices"] is False
    assert any("no flip indices" in note for note in body["notes"])
    inversion = next(f for f in body["fixes"] if f["fix"] == "inversion")
    assert inversion["ap"] is None and inversion["delta"] is None
    assert sum(body["breakdown"]["counts"]["inversion"]) == 0


# -- dataset-level charts ------------------------------------------------------------------
def test_keypoint_and_calibration_charts_are_the_keypoint_metrics(
    client: Any, sample_store: Path
) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    run = pt.Run.open(RUN, store=sample_store)
    metrics = pt.evaluate(table, run, sigmas=table.schema.sigmas).keypoint_metrics()
    body = _ok(client.get(f"/api/runs/{RUN}/charts/keypoints"))
    assert body["keypoint_names"] == list(table.schema.keypoint_names)
    for name in ("ap", "ap_v1", "ap_v2", "mean_similarity_v2", "pck_0.1_v1"):
        assert body["per_keypoint"][name] == pytest.approx(
            _none_for_missing(metrics.per_keypoint.column(name).to_numpy(zero_copy_only=False))
        )
    calibration = _ok(client.get(f"/api/runs/{RUN}/charts/calibration"))
    assert calibration["keypoint"]["ece"] == pytest.approx(metrics.keypoint_ece)
    assert calibration["instance"]["ece"] == pytest.approx(metrics.instance_ece)
    assert calibration["keypoint"]["bins"] == metrics.keypoint_reliability.to_pylist()


def test_pr_chart_is_the_runs_own_curves(client: Any, sample_store: Path) -> None:
    run = pt.Run.open(RUN, store=sample_store)
    stored = run.pr_curves()
    body = _ok(client.get(f"/api/runs/{RUN}/charts/pr"))
    assert body["precision"] == [_none_for_missing(r) for r in stored["precision"]]
    assert body["ap"] == pytest.approx(run.metrics["ap"])
    assert np.mean([v for v in body["ap_per_threshold"]]) == pytest.approx(run.metrics["ap"])


def test_histogram_of_any_numeric_column_counts_rows_under_the_filter(
    client: Any, sample_store: Path
) -> None:
    run = pt.Run.open(RUN, store=sample_store)
    values = run.per_sample.column("mean_oks").to_numpy(zero_copy_only=False)
    body = _ok(
        client.get(
            f"/api/tables/{TABLE}/charts/histogram",
            params={"column": "mean_oks", "run": RUN, "bins": 5, "filter": "mean_oks > 0.85"},
        )
    )
    assert len(body["edges"]) == 6 and sum(body["all"]) == int(np.sum(~np.isnan(values)))
    assert body["matching"] == sum(body["kept"]) == int(np.sum(values > 0.85))
    assert body["stats"]["all"]["mean"] == pytest.approx(float(np.nanmean(values)))
    counts = [len(r["keypoints"]) for r in pt.Table.open(TABLE, store=sample_store)]
    body = _ok(
        client.get(f"/api/tables/{TABLE}/charts/histogram", params={"column": "num_instances"})
    )
    centres = (np.asarray(body["edges"][:-1]) + np.asarray(body["edges"][1:])) / 2
    assert {round(c): n for c, n in zip(centres, body["all"], strict=True) if n} == {
        c: counts.count(c) for c in set(counts)
    }
    refused = _error(client.get(f"/api/tables/{TABLE}/charts/histogram", params={"column": "x"}))
    assert "numeric columns: height, image_id, num_instances" in refused["error"]
    text = _error(client.get(f"/api/tables/{TABLE}/charts/histogram", params={"column": "image"}))
    assert "not numeric" in text["error"]
    assert _error(
        client.get(
            f"/api/tables/{TABLE}/charts/histogram", params={"column": "width", "bins": 100000}
        )
    )["error"].startswith("bins must be an integer in [1, 200]")


# -- two runs image by image ---------------------------------------------------------------
def _mean_oks(run: pt.Run) -> np.ndarray:
    per = run.per_sample
    values = np.asarray(per.column("mean_oks").to_numpy(zero_copy_only=False), np.float64)
    gt = per.column("num_gt").to_numpy()
    values = np.where(np.isnan(values) & (gt > 0), 0.0, values)
    out = np.full(int(per.column("row").to_numpy().max()) + 1, np.nan)
    out[per.column("row").to_numpy()] = values
    return out


def test_images_are_sorted_by_delta_oks_with_better_and_worse(
    client: Any, sample_store: Path
) -> None:
    a = _mean_oks(pt.Run.open(RUN, store=sample_store))
    b = _mean_oks(pt.Run.open("seed-7", store=sample_store))
    delta = b - a
    body = _ok(client.get("/api/compare/images", params={"runs": f"{RUN},seed-7"}))
    assert [e["row"] for e in body["images"]] == [int(r) for r in np.argsort(delta)]
    assert [e["delta"] for e in body["images"]] == pytest.approx(np.sort(delta))
    assert body["counts"]["better"] == int((delta > 0).sum())
    assert body["counts"]["worse"] == int((delta < 0).sum())
    better = _ok(
        client.get("/api/compare/images", params={"runs": f"{RUN},seed-7", "show": "better"})
    )
    assert [e["row"] for e in better["images"]] == [
        int(r) for r in np.argsort(-delta) if delta[r] > 0
    ]
    worse = _ok(
        client.get("/api/compare/images", params={"runs": f"{RUN},seed-7", "show": "worse"})
    )
    assert (
        all(e["delta"] < 0 for e in worse["images"]) and worse["total"] == body["counts"]["worse"]
    )
    paged = _ok(
        client.get("/api/compare/images", params={"runs": f"{RUN},seed-7", "offset": 1, "limit": 2})
    )
    assert [e["row"] for e in paged["images"]] == [e["row"] for e in body["images"][1:3]]
    fn = _ok(client.get("/api/compare/images", params={"runs": f"{RUN},seed-7", "metric": "fn_50"}))
    assert fn["higher_is_better"] is False


def test_one_image_carries_both_runs_predictions(client: Any, sample_store: Path) -> None:
    body = _ok(client.get("/api/compare/images/2", params={"runs": f"{RUN},seed-7"}))
    for name in (RUN, "seed-7"):
        run = pt.Run.open(name, store=sample_store)
        assert np.asarray(body["predictions"][name]["keypoints"]) == pytest.approx(
            run.predictions(2).keypoints
        )
        row = run.per_sample.to_pylist()[2]
        assert body["metrics"][name]["tp_50"] == row["tp_50"]
    gt = pt.Table.open(TABLE, store=sample_store)[2]["keypoints"]
    assert body["gt"]["count"] == len(gt)


def test_compare_images_refuses_what_it_cannot_compare(
    client: Any, sample_store: Path, real_data: Any
) -> None:
    assert "two runs" in _error(client.get("/api/compare/images", params={"runs": RUN}))["error"]
    twice = _error(client.get("/api/compare/images", params={"runs": f"{RUN},{RUN}"}))
    assert "two different runs" in twice["error"]
    hands = _import(real_data("onehand10k"), "hands", sample_store)
    pt.Run.from_predictions(hands, noisy_predictions(hands), name="hands-run")
    other = _error(client.get("/api/compare/images", params={"runs": f"{RUN},hands-run"}))
    assert "must be on one table" in other["error"] and other["type"] == "RunError"
    unknown = _error(
        client.get("/api/compare/images", params={"runs": f"{RUN},seed-7", "metric": "nope"})
    )
    assert "its numeric metrics: num_gt" in unknown["error"]
    assert _error(client.get("/api/compare/images", params={"runs": f"{RUN},seed-7", "show": "x"}))


# -- revision diff -------------------------------------------------------------------------
def _edited(sample_store: Path) -> tuple[pt.Table, pt.Table]:
    """Revision 2: row 1's first person's left wrist moved by (3, 4) and made v=1; revision 3:
    row 3 deleted."""
    table = pt.Table.open(TABLE, store=sample_store)
    item = table[1]["keypoints"].copy()
    item.keypoints = item.keypoints.copy()
    item.keypoints[0, 9] += [3.0, 4.0]
    vis = item.keypoint_visibilities.copy()
    vis[0, 9] = 1
    item.keypoint_visibilities = vis
    moved = table.with_rows({1: {"keypoints": item}})
    return table, moved.delete_rows([3])


def test_diff_lists_edited_and_deleted_rows_with_the_edit(client: Any, sample_store: Path) -> None:
    first, last = _edited(sample_store)
    body = _ok(client.get(f"/api/tables/{TABLE}/diff", params={"from": 1, "to": last.revision}))
    assert body["counts"] == {"added": 0, "deleted": 1, "edited": 1}
    by_id = {c["sample_id"]: c for c in body["changes"]}
    ids = first.sample_ids()
    edited, deleted = by_id[int(ids[1])], by_id[int(ids[3])]
    assert edited["kind"] == "edited" and edited["fields"] == ["keypoints"]
    assert edited["row_from"] == 1 and edited["row_to"] == 1
    change = edited["instances"]["changed"]
    assert [(c["before"], c["moved"], c["visibility"]) for c in change] == [(0, [9], [[9, 2, 1]])]
    assert change[0]["max_shift"] == pytest.approx(5.0)
    assert deleted["kind"] == "deleted" and deleted["row_to"] is None
    assert [(h["revision"], h["operation"]) for h in body["between"]] == [
        (3, "delete_rows"),
        (2, "edit_rows"),
    ]
    assert body["ancestor"] is True
    latest = _ok(client.get(f"/api/tables/{TABLE}/diff"))  # default: the latest against its parent
    assert (latest["from"], latest["to"], latest["counts"]["deleted"]) == (2, 3, 1)
    back = _ok(client.get(f"/api/tables/{TABLE}/diff", params={"from": 3, "to": 1}))
    assert back["counts"] == {"added": 1, "deleted": 0, "edited": 1} and back["ancestor"] is False
    only = _ok(
        client.get(f"/api/tables/{TABLE}/diff", params={"from": 1, "to": 3, "kind": "edited"})
    )
    assert [c["sample_id"] for c in only["changes"]] == [int(ids[1])]


def test_diff_of_one_sample_has_both_sides(client: Any, sample_store: Path) -> None:
    first, _ = _edited(sample_store)
    sample_id = int(first.sample_ids()[1])
    body = _ok(client.get(f"/api/tables/{TABLE}/diff/{sample_id}", params={"from": 1, "to": 3}))
    assert body["kind"] == "edited"
    before = np.asarray(body["sides"]["from"]["instances"]["keypoints"])
    after = np.asarray(body["sides"]["to"]["instances"]["keypoints"])
    assert (after - before)[0, 9] == pytest.approx([3.0, 4.0])
    assert body["sides"]["from"]["revision"] == 1 and body["sides"]["to"]["revision"] == 3
    gone = _ok(
        client.get(f"/api/tables/{TABLE}/diff/{int(first.sample_ids()[3])}", params={"from": 1})
    )
    assert gone["kind"] == "deleted" and gone["sides"]["to"] is None
    assert _error(client.get(f"/api/tables/{TABLE}/diff/999999", params={"from": 1}), 404)
    assert (
        "has no parent"
        in _error(client.get(f"/api/tables/{TABLE}/diff", params={"to": 1}))["error"]
    )
    assert _error(client.get(f"/api/tables/{TABLE}/diff", params={"kind": "moved"}))


def test_diff_with_fragment_pruning_equals_a_full_comparison(sample_store: Path) -> None:
    from posetable.dashboard import _diff

    sample = pt.Table.open(TABLE, store=sample_store)
    rows = [dict(r) for r in sample.rows(list(range(len(sample)))) for _ in range(10)]
    many = pt.Table.from_rows(
        [{k: r[k] for k in ("image", "width", "height", "keypoints")} for r in rows],
        name="many",
        schema=sample.schema,
        store=sample_store,
        metadata=sample.metadata,
    )
    item = many[7]["keypoints"].copy()
    item.keypoints = item.keypoints + 1.0
    edited = many.with_rows({7: {"keypoints": item}, 20: {"image": "elsewhere.jpg"}})
    edited = edited.delete_rows([33])
    pruned = _diff.changes(many, edited)
    assert pruned.compared < len(many) // 2  # only the rows the edits rewrote were compared
    full_share = _diff.FULL_COMPARE_SHARE
    try:
        _diff.FULL_COMPARE_SHARE = -1.0  # every row compared in one join
        full = _diff.changes(many, edited)
    finally:
        _diff.FULL_COMPARE_SHARE = full_share
    assert full.compared == len(many)
    ids = many.sample_ids()
    assert full.sample_ids.tolist() == pruned.sample_ids.tolist() == sorted(ids[[7, 20, 33]])
    assert full.kind.tolist() == pruned.kind.tolist()
    assert full.fields.tolist() == pruned.fields.tolist()
    columns = list(full.columns)
    by_id = dict(zip(full.sample_ids.tolist(), full.fields.tolist(), strict=True))
    assert [columns[j] for j, f in enumerate(by_id[int(ids[7])]) if f] == ["keypoints"]
    assert [columns[j] for j, f in enumerate(by_id[int(ids[20])]) if f] == ["image"]


def test_diff_reports_schema_and_column_changes(client: Any, sample_store: Path) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    tagged = table.add_column("tag", ["a", "b", "c", "d"])
    body = _ok(client.get(f"/api/tables/{TABLE}/diff", params={"to": tagged.revision}))
    assert body["columns_added"] == ["tag"] and body["counts"]["edited"] == 0
    sigmas = [0.05] * table.schema.num_keypoints
    resigned = tagged.with_schema(tagged.schema.replace(oks_sigmas=sigmas))
    body = _ok(client.get(f"/api/tables/{TABLE}/diff", params={"to": resigned.revision}))
    assert body["schema_changes"]["oks_sigmas"] == [list(table.schema.oks_sigmas), sigmas]
    assert body["counts"] == {"added": 0, "deleted": 0, "edited": 0}
    assert body["between"][0]["operation"] == "edit_schema"


# -- facets at scale: vectorised counts ----------------------------------------------------
def test_facets_of_54_classes_and_check_rules_match_row_by_row_counts(
    real_data: Any, store: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    table = _import(real_data("ap10k"), "ap10k", store)
    findings = pt.check(table).to_pylist()
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        body = _ok(c.get("/api/tables/ap10k/facets"))
        kept = _ok(c.get("/api/tables/ap10k/facets", params={"filter": "row = 0"}))
    names = table.schema.classes
    per_row = [{names[int(v)] for v in r["keypoints"].instance_labels} for r in table]
    assert len(body["classes"]) == 54
    for entry in kept["classes"]:
        assert entry["all"] == sum(entry["name"] in labels for labels in per_row)
        assert entry["matching"] == int(entry["name"] in per_row[0])
    assert [c["all"] for c in body["classes"]] == [c["all"] for c in kept["classes"]]
    rules = {f["rule"] for f in findings if f["row"] is not None}
    assert [c["rule"] for c in body["checks"]] == sorted(rules)
    for entry in kept["checks"]:
        rows = {f["row"] for f in findings if f["rule"] == entry["rule"]}
        assert entry["all"] == len(rows - {None}) and entry["matching"] == int(0 in rows)
    for j, entry in enumerate(kept["keypoints"]):
        for v in (0, 1, 2):
            having = [(r["keypoints"].keypoint_visibilities[:, j] == v).any() for r in table]
            assert entry["visibility"][str(v)]["all"] == sum(having)
            assert entry["visibility"][str(v)]["matching"] == int(having[0])
