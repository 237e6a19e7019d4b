"""The dashboard's JSON API, in-process, on the bundled sample and the real test datasets.

Needs the ``[dashboard]`` extra (FastAPI, httpx), hence the ``integration`` marker; the
imports happen in fixtures so the core suite can still collect this file.
"""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import lance
import numpy as np
import pyarrow.compute as pc
import pytest

import posetable as pt
from posetable.sample import sample_table
from tests._dashboard_load import instances_of

pytestmark = pytest.mark.integration


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def sample_store(store: Path) -> Path:
    """A store with the bundled sample and the synthetic run the dashboard opens with."""
    from posetable.dashboard._sample_run import prepare_sample

    prepare_sample(store)
    return store


def _client(store: Path, thumbnails: Path | None = None) -> Any:
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    # the app accepts only its own host names (DNS rebinding); TestClient's is "testserver"
    return TestClient(create_app(store, thumbnail_dir=thumbnails), base_url="http://127.0.0.1")


@pytest.fixture
def client(sample_store: Path, tmp_path: Path) -> Any:
    with _client(sample_store, tmp_path / "thumbs") as c:
        yield c


TABLE = "coco-sample"
RUN = "coco-sample-perturbed"


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _error(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == kind, body
    assert body["error"]
    return str(body["error"])


def _base(row: dict[str, Any]) -> dict[str, Any]:
    """A row's image, size and keypoints (no format passthrough columns)."""
    return {key: row[key] for key in ("image", "width", "height", "keypoints")}


def _import(folder: Path, name: str, store: Path) -> pt.Table:
    """A real COCO dataset as a table (the importer's notes about filled fields are expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        images = folder / "images" if (folder / "images").is_dir() else None
        return pt.Table.from_coco(folder / "annotations.json", images, name=name, store=store)


def _expected_order(values: list[Any], descending: bool) -> list[int]:
    """Rows ordered by value (nulls last), ties by row ascending: the grid's contract."""
    present = [
        (v, r)
        for r, v in enumerate(values)
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    missing = [
        r for r, v in enumerate(values) if (v is None or (isinstance(v, float) and math.isnan(v)))
    ]
    ordered = sorted(present, key=lambda vr: (-vr[0] if descending else vr[0], vr[1]))
    return [r for _, r in ordered] + missing


# -- tables and runs -----------------------------------------------------------------------
def test_tables_page_lists_counts_revisions_and_runs_with_metrics(
    client: Any, sample_store: Path
) -> None:
    body = _ok(client.get("/api/tables"))
    (table,) = body["tables"]
    assert (table["name"], table["rows"], table["instances"], table["num_keypoints"]) == (
        TABLE,
        4,
        14,
        17,
    )
    assert [r["revision"] for r in table["revisions"]] == [1]
    assert table["revisions"][0]["operation"] == pt.Table.open(TABLE, store=sample_store).operation
    (run,) = table["runs"]
    opened = pt.Run.open(RUN, store=sample_store)
    assert run["name"] == RUN and run["table_revision"] == 1
    assert run["metrics"] == opened.metrics
    assert run["model_info"]["kind"] == "synthetic"  # the sample run says it is not a real model


def test_table_detail_has_schema_for_drawing_and_every_sortable_column(client: Any) -> None:
    body = _ok(client.get(f"/api/tables/{TABLE}", params={"run": RUN}))
    schema = body["schema"]
    sample = pt.Table.open(TABLE, store=client.app.state.dashboard.store)
    assert schema["keypoint_names"] == list(sample.schema.keypoint_names)
    assert schema["lines"] == [list(p) for p in sample.schema.lines]
    assert len(schema["keypoint_colors"]) == 17 and len(set(schema["keypoint_colors"])) == 17
    names = {c["name"]: c["source"] for c in body["columns"]}
    assert names["image_id"] == "table"
    assert names["num_visible"] == "derived"
    assert names["mean_oks"] == names["fn_50"] == "run"
    assert names["suspect_score"] == "suspects"
    assert body["image_roots"] == sample.metadata["image_roots"]


# -- the grid ------------------------------------------------------------------------------
def test_grid_page_returns_ground_truth_and_predictions_as_stored(
    client: Any, sample_store: Path
) -> None:
    body = _ok(client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN, "limit": 4}))
    assert body["total"] == 4 and [r["row"] for r in body["rows"]] == [0, 1, 2, 3]
    table = pt.Table.open(TABLE, store=sample_store)
    run = pt.Run.open(RUN, store=sample_store)
    for record in body["rows"]:
        gt = table[record["row"]]["keypoints"]
        np.testing.assert_array_equal(np.asarray(record["gt"]["keypoints"]), gt.keypoints)
        np.testing.assert_array_equal(
            np.asarray(record["gt"]["visibility"]), gt.keypoint_visibilities
        )
        np.testing.assert_array_equal(np.asarray(record["gt"]["boxes"]), gt.instance_bbs)
        pred = run.predictions(record["row"])
        assert (record["pred"] is None) == (pred is None)
        if pred is not None:
            np.testing.assert_array_equal(np.asarray(record["pred"]["keypoints"]), pred.keypoints)
            np.testing.assert_allclose(
                np.asarray(record["pred"]["confidence"]), pred.keypoint_confidences, rtol=0, atol=0
            )
        assert record["thumbnail_url"].endswith(f"/thumbnail/{record['row']}?revision=1")


def test_sort_by_a_run_metric_follows_the_per_sample_table(client: Any, sample_store: Path) -> None:
    per_sample = pt.Run.open(RUN, store=sample_store).per_sample
    by_row = dict(
        zip(per_sample["row"].to_pylist(), per_sample["mean_oks"].to_pylist(), strict=True)
    )
    values = [by_row.get(r) for r in range(4)]
    for order in ("asc", "desc"):
        body = _ok(
            client.get(
                f"/api/tables/{TABLE}/rows", params={"run": RUN, "sort": "mean_oks", "order": order}
            )
        )
        assert [r["row"] for r in body["rows"]] == _expected_order(values, order == "desc")
        assert [r["metrics"]["mean_oks"] for r in body["rows"]] == [
            values[r["row"]] for r in body["rows"]
        ]


def test_filter_by_metric_derived_and_user_columns_changes_the_rows(
    client: Any, sample_store: Path
) -> None:
    per_sample = pt.Run.open(RUN, store=sample_store).per_sample.to_pylist()
    table = pt.Table.open(TABLE, store=sample_store)
    cases = {
        "fn_50 > 0": {r["row"] for r in per_sample if r["fn_50"] > 0},
        "mean_oks < 0.8 or tp_50 = 0": {
            r["row"]
            for r in per_sample
            if r["tp_50"] == 0 or (r["mean_oks"] is not None and r["mean_oks"] < 0.8)
        },
        "image_id = 785": {0},
        "num_instances >= 5 and not image_id = 196141": {
            i
            for i, row in enumerate(table)
            if len(row["keypoints"]) >= 5 and row["image_id"] != 196141
        },
        "image contains '0401'": {i for i, row in enumerate(table) if "0401" in row["image"]},
        "num_visible > 60": {
            i
            for i, row in enumerate(table)
            if int((row["keypoints"].keypoint_visibilities == 2).sum()) > 60
        },
    }
    assert len({frozenset(v) for v in cases.values()}) > 3  # the filters really differ
    for text, expected in cases.items():
        body = _ok(client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN, "filter": text}))
        assert {r["row"] for r in body["rows"]} == expected, text
        assert body["total"] == len(expected)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("bogus > 1", "unknown column 'bogus'"),
        ("mean_oks <", "expected a value"),
        ("image_id = 1; DROP TABLE t", "cannot read"),
        ("(num_instances > 1", "never closed"),
        ("num_instances >> 1", "expected"),
    ],
)
def test_bad_filters_are_typed_errors_naming_the_problem(
    client: Any, text: str, fragment: str
) -> None:
    message = _error(
        client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN, "filter": text}),
        400,
        "QueryError",
    )
    assert fragment in message


def test_sort_by_unknown_column_and_bad_paging_are_refused(client: Any) -> None:
    assert "unknown column" in _error(
        client.get(f"/api/tables/{TABLE}/rows", params={"sort": "nope"}), 400, "QueryError"
    )
    assert "limit" in _error(
        client.get(f"/api/tables/{TABLE}/rows", params={"limit": 0}), 400, "QueryError"
    )
    assert "offset" in _error(
        client.get(f"/api/tables/{TABLE}/rows", params={"offset": -1}), 400, "QueryError"
    )
    _error(client.get(f"/api/tables/{TABLE}/rows", params={"limit": "x"}), 422, "ValidationError")


def test_paging_visits_every_row_once_in_sorted_order(store: Path, tmp_path: Path) -> None:
    sample = sample_table(store=store)
    rows = [_base(r) for r in sample] * 30  # 120 real rows
    big = pt.Table.from_rows(
        ({**r, "copy": i // 4} for i, r in enumerate(rows)),
        name="big",
        schema=sample.schema,
        store=store,
    )
    visible = [int((r["keypoints"].keypoint_visibilities == 2).sum()) for r in big]
    seen: list[int] = []
    with _client(store, tmp_path / "t") as c:
        for offset in range(0, 120, 50):
            body = _ok(
                c.get(
                    "/api/tables/big/rows",
                    params={"sort": "num_visible", "order": "desc", "offset": offset, "limit": 50},
                )
            )
            assert body["total"] == 120
            seen += [r["row"] for r in body["rows"]]
        assert seen == _expected_order(visible, True)
        beyond = _ok(c.get("/api/tables/big/rows", params={"filter": "copy >= 10", "offset": 500}))
        assert beyond["rows"] == [] and beyond["total"] == 80


def test_suspects_sort_and_image_view_lists_them(client: Any, sample_store: Path) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    found = pt.find_label_errors(table, pt.Run.open(RUN, store=sample_store))
    best: dict[int, float] = {}
    for r, s in zip(found["row"].to_pylist(), found["score"].to_pylist(), strict=True):
        best[r] = max(best.get(r, -1.0), s)
    body = _ok(
        client.get(
            f"/api/tables/{TABLE}/rows",
            params={
                "run": RUN,
                "sort": "suspect_score",
                "order": "desc",
                # the library's defaults (the dashboard's own are lower)
                "suspect_instance": 0.5,
                "suspect_keypoint": 0.5,
            },
        )
    )
    assert [r["row"] for r in body["rows"]] == _expected_order(
        [best.get(r) for r in range(4)], True
    )
    if found.num_rows:
        row = found["row"][0].as_py()
        detail = _ok(
            client.get(
                f"/api/tables/{TABLE}/rows/{row}",
                params={"run": RUN, "suspect_instance": 0.5, "suspect_keypoint": 0.5},
            )
        )
        assert len(detail["suspect_list"]) == sum(1 for r in found["row"].to_pylist() if r == row)


# -- the image view ------------------------------------------------------------------------
def test_image_view_has_per_instance_metrics_and_grid_neighbours(
    client: Any, sample_store: Path
) -> None:
    run = pt.Run.open(RUN, store=sample_store)
    body = _ok(
        client.get(
            f"/api/tables/{TABLE}/rows/2",
            params={"run": RUN, "position": 1, "sort": "image_id", "order": "desc"},
        )
    )
    # image ids by row: 785, 40083, 196141, 197388 -> descending order is rows 3, 2, 1, 0
    assert body["navigation"] == {"position": 1, "previous": 3, "next": 1, "total": 4}
    mine = run.per_instance.filter(pc.equal(run.per_instance["row"], 2)).to_pylist()
    gt = [m for m in mine if m["kind"] == "gt"]
    assert [m["index"] for m in body["per_instance"]["gt"]] == sorted(m["index"] for m in gt)
    for got in body["per_instance"]["gt"]:
        want = next(m for m in gt if m["index"] == got["index"])
        assert got["partner"] == want["partner"]
        if want["oks"] is not None:
            assert got["oks"] == pytest.approx(want["oks"], rel=0, abs=0)
        if want["keypoint_errors"] is not None and got["keypoint_oks"] is not None:
            sigma = np.asarray(body["schema"]["oks_sigmas"])
            errors = np.array([np.nan if e is None else e for e in want["keypoint_errors"]])
            expected = np.exp(-(errors**2) / (8 * sigma**2))
            np.testing.assert_allclose(
                np.array([np.nan if v is None else v for v in got["keypoint_oks"]]),
                expected,
                rtol=1e-12,
            )
    assert body["run_info"]["model_info"] == run.model_info
    assert _error(client.get(f"/api/tables/{TABLE}/rows/4"), 400, "QueryError").startswith(
        "row 4 does not exist"
    )


def test_unknown_table_and_run_are_404(client: Any) -> None:
    assert "coco-sample" in _error(client.get("/api/tables/nope/rows"), 404, "NotFoundError")
    assert RUN in _error(
        client.get(f"/api/tables/{TABLE}/rows", params={"run": "nope"}), 404, "NotFoundError"
    )
    _error(client.get(f"/api/tables/{TABLE}/rows", params={"revision": 9}), 404, "NotFoundError")


# -- editing -------------------------------------------------------------------------------
def _draft(body: dict[str, Any]) -> list[dict[str, Any]]:
    return instances_of(body)


def _new_fragment_rows(uri: str, parent: int, child: int) -> int:
    before = {f.fragment_id for f in lance.dataset(uri, version=parent).get_fragments()}
    after = lance.dataset(uri, version=child).get_fragments()
    return sum(f.count_rows() for f in after if f.fragment_id not in before)


def test_edit_saves_one_revision_writing_only_the_changed_row(
    client: Any, sample_store: Path
) -> None:
    body = _ok(client.get(f"/api/tables/{TABLE}/rows/1"))
    draft = _draft(body)
    draft[1]["keypoints"][5] = [
        draft[1]["keypoints"][5][0] + 12.25,
        draft[1]["keypoints"][5][1] - 7.5,
    ]
    draft[1]["visibility"][15] = 1
    saved = _ok(
        client.post(
            f"/api/tables/{TABLE}/edit",
            json={"base_revision": 1, "rows": {"1": {"instances": draft}}},
        )
    )
    assert (saved["revision"], saved["parent"], saved["operation"], saved["rows"]) == (
        2,
        1,
        "edit_rows",
        [1],
    )
    before = pt.Table.open(f"{TABLE}@1", store=sample_store)
    after = pt.Table.open(f"{TABLE}@2", store=sample_store)
    old, new = before[1]["keypoints"], after[1]["keypoints"]
    moved = new.keypoints - old.keypoints
    assert moved[1, 5].tolist() == [12.25, -7.5]
    moved[1, 5] = 0
    assert not moved.any()
    assert new.keypoint_visibilities[1, 15] == 1 and old.keypoint_visibilities[1, 15] == 0
    # COCO fields kept, num_keypoints recounted
    assert new.instance_extras["id"].tolist() == old.instance_extras["id"].tolist()
    assert new.instance_extras["area"].tolist() == old.instance_extras["area"].tolist()
    assert new.instance_extras["num_keypoints"][1] == old.instance_extras["num_keypoints"][1] + 1
    for r in (0, 2, 3):
        assert after[r]["keypoints"] == before[r]["keypoints"]
    assert _new_fragment_rows(str(after.dataset.uri), 1, 2) == 1
    # the grid follows: latest is 2 now
    assert _ok(client.get(f"/api/tables/{TABLE}/rows", params={"limit": 1}))["revision"] == 2


def test_edit_based_on_an_old_revision_is_refused_and_writes_nothing(
    client: Any, sample_store: Path
) -> None:
    body = _ok(client.get(f"/api/tables/{TABLE}/rows/0"))
    draft = _draft(body)
    draft[0]["keypoints"][0] = [100.0, 100.0]
    _ok(
        client.post(
            f"/api/tables/{TABLE}/edit",
            json={"base_revision": 1, "rows": {"0": {"instances": draft}}},
        )
    )
    draft[0]["keypoints"][0] = [50.0, 50.0]
    # invalid AND stale: the conflict is reported first
    draft[0]["visibility"][0] = 7
    message = _error(
        client.post(
            f"/api/tables/{TABLE}/edit",
            json={"base_revision": 1, "rows": {"0": {"instances": draft}}},
        ),
        409,
        "ConflictError",
    )
    assert "revision 1" in message and "latest is 2" in message
    assert pt.Table.open(TABLE, store=sample_store).revision == 2


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d[0].update(visibility=[3] * 17), "visibility must be 0, 1 or 2, got 3"),
        (lambda d: d[0].update(keypoints=d[0]["keypoints"][:16]), "shape (17, 2)"),
        (lambda d: d[0].update(label=4), "label must be a class index in [0, 0]"),
        (lambda d: d[0].update(box=[10, 10, 5, 50]), "x2 >= x1"),
        (lambda d: d[0].update(source=9), "source must name an instance"),
        (lambda d: d.append(dict(d[0])), "appears twice"),
        (lambda d: d[0].update(keypoints="nope"), "keypoints"),
    ],
)
def test_invalid_edits_are_typed_errors_and_write_nothing(
    client: Any, sample_store: Path, change: Any, fragment: str
) -> None:
    draft = _draft(_ok(client.get(f"/api/tables/{TABLE}/rows/0")))
    change(draft)
    response = client.post(
        f"/api/tables/{TABLE}/edit", json={"base_revision": 1, "rows": {"0": {"instances": draft}}}
    )
    assert fragment in _error(response, 400, "RowError")
    assert pt.Table.open(TABLE, store=sample_store).revision == 1


def test_unchanged_or_malformed_edits_are_refused(client: Any) -> None:
    draft = _draft(_ok(client.get(f"/api/tables/{TABLE}/rows/0")))
    post = lambda body: client.post(f"/api/tables/{TABLE}/edit", json=body)  # noqa: E731
    assert "nothing to save" in _error(
        post({"base_revision": 1, "rows": {"0": {"instances": draft}}}), 400, "RowError"
    )
    assert "does not exist" in _error(
        post({"base_revision": 1, "rows": {"9": {"instances": draft}}}), 400, "RowError"
    )
    assert "base_revision" in _error(post({"rows": {"0": {"instances": draft}}}), 400, "RowError")
    assert "revision number" in _error(
        post({"base_revision": "1", "rows": {}}), 400, "RevisionError"
    )


def test_add_instance_from_default_pose_and_delete_another(client: Any, sample_store: Path) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    made = _ok(
        client.get(f"/api/tables/{TABLE}/new_instance/1", params={"x": 250, "y": 160, "size": 100})
    )
    pose = table.schema.pose_for_new_instance()
    np.testing.assert_allclose(np.asarray(made["keypoints"]), (pose - 0.5) * 100 + [250, 160])
    assert made["visibility"] == [2] * 17 and made["source"] is None
    centred = _ok(client.get(f"/api/tables/{TABLE}/new_instance/1"))
    kp = np.asarray(centred["keypoints"])  # default: half the shorter side, image centre
    assert kp[:, 0].min() >= 0 and kp[:, 0].max() <= 500 and kp[:, 1].max() <= 333
    draft = _draft(_ok(client.get(f"/api/tables/{TABLE}/rows/1")))
    del draft[2]  # the annotation without keypoints
    draft.append(made)
    saved = _ok(
        client.post(
            f"/api/tables/{TABLE}/edit",
            json={"base_revision": 1, "rows": {"1": {"instances": draft}}},
        )
    )
    row = pt.Table.open(f"{TABLE}@{saved['revision']}", store=sample_store)[1]["keypoints"]
    old = table[1]["keypoints"]
    assert len(row) == 3
    ids = row.instance_extras["id"].tolist()
    assert ids[:2] == old.instance_extras["id"][:2].tolist()
    all_ids = pc.list_flatten(
        table.dataset.to_table(columns=["keypoints.instances_additional_data.id"]).column(0)
    ).to_pylist()
    assert ids[2] == max(all_ids) + 1
    box = np.asarray(made["box"])
    assert row.instance_extras["area"][2] == pytest.approx(
        (box[2] - box[0]) * (box[3] - box[1]) * 0.53
    )
    assert row.instance_extras["iscrowd"][2] == 0 and row.instance_extras["num_keypoints"][2] == 17


def test_undo_reverts_exactly_the_revision_shown_and_keeps_other_saves(
    client: Any, sample_store: Path
) -> None:
    def save(row: int, base: int, drop: int = 1) -> dict[str, Any]:
        draft = _draft(_ok(client.get(f"/api/tables/{TABLE}/rows/{row}?revision={base}")))
        del draft[-drop:]
        body = {"base_revision": base, "rows": {str(row): {"instances": draft}}}
        return _ok(client.post(f"/api/tables/{TABLE}/edit", json=body))

    original = pt.Table.open(f"{TABLE}@1", store=sample_store)
    assert save(3, base=1)["revision"] == 2  # tab A saves row 3
    assert save(2, base=1)["revision"] == 3  # tab B, opened at 1, saves row 2: lands on 2
    undone = _ok(client.post(f"/api/tables/{TABLE}/undo", json={"base_revision": 2}))  # A undoes
    assert (undone["revision"], undone["parent"], undone["operation"]) == (4, 3, "revert")
    latest = pt.Table.open(TABLE, store=sample_store)
    assert latest[3]["keypoints"] == original[3]["keypoints"]  # A's save is undone
    assert len(latest[2]["keypoints"]) == len(original[2]["keypoints"]) - 1  # B's is kept
    assert [h.parent for h in latest.history()] == [3, 2, 1, None]
    save(2, base=4)  # row 2 again: now undoing revision 3 would drop this save
    assert _error(
        client.post(f"/api/tables/{TABLE}/undo", json={"base_revision": 3}), 409, "ConflictError"
    )
    assert pt.Table.open(TABLE, store=sample_store).revision == 5
    fresh = pt.Table.from_rows(
        [_base(original[0])], name="fresh", schema=original.schema, store=sample_store
    )
    message = _error(
        client.post("/api/tables/fresh/undo", json={"base_revision": fresh.revision}),
        400,
        "RevisionError",
    )
    assert "nothing to undo" in message


def test_accept_predictions_writes_the_visibility_rules(client: Any, sample_store: Path) -> None:
    run = pt.Run.open(RUN, store=sample_store)
    plan = _ok(
        client.post(
            f"/api/tables/{TABLE}/accept",
            json={
                "base_revision": 1,
                "run": RUN,
                "rows": [2],
                "keypoint_confidence_threshold": 0.6,
                "plan": True,
            },
        )
    )["plan"]
    assert [p["row"] for p in plan] == [2] and pt.Table.open(
        TABLE, store=sample_store
    ).revision == 1
    saved = _ok(
        client.post(
            f"/api/tables/{TABLE}/accept",
            json={
                "base_revision": 1,
                "run": RUN,
                "rows": [2],
                "keypoint_confidence_threshold": 0.6,
            },
        )
    )
    assert saved["parent"] == 1 and saved["rows"] == [2]
    accepted = pt.Table.open(f"{TABLE}@{saved['revision']}", store=sample_store)[2]["keypoints"]
    before = pt.Table.open(f"{TABLE}@1", store=sample_store)[2]["keypoints"]
    pred = run.predictions(2)
    assert len(pred) == plan[0]["accepted"] and len(accepted) == len(before) + 1
    # the four people are replaced in place, the spurious detection is added last, and the
    # person without keypoints (a box only) is kept as it was
    box_only = (before.keypoint_visibilities == 0).all(axis=1)
    written = np.flatnonzero(np.r_[~box_only, True])
    np.testing.assert_array_equal(accepted.keypoints[written], pred.keypoints)
    expected = np.where(pred.keypoint_confidences >= 0.6, 2, 1)
    np.testing.assert_array_equal(accepted.keypoint_visibilities[written], expected)
    assert (accepted.keypoint_visibilities[written] > 0).all()
    assert accepted.select(np.flatnonzero(box_only)) == before.select(np.flatnonzero(box_only))
    stale = client.post(  # row 2 changed since revision 1: a conflict, nothing written
        f"/api/tables/{TABLE}/accept", json={"base_revision": 1, "run": RUN, "rows": [2]}
    )
    _error(stale, 409, "ConflictError")
    bad = client.post(
        f"/api/tables/{TABLE}/accept",
        json={"base_revision": saved["revision"], "run": RUN, "keypoint_confidence_threshold": 1.5},
    )
    assert "keypoint_confidence_threshold" in _error(bad, 400, "RunError")


# -- images --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "000000000785.jpg/../../../../../../../etc/hostname",
        "..%2F..%2Fetc%2Fpasswd",
        "~/.bashrc",
    ],
)
def test_files_outside_the_image_roots_are_refused(client: Any, path: str) -> None:
    for response in (
        client.get(f"/api/tables/{TABLE}/file", params={"path": path}),
        client.get(f"/api/tables/{TABLE}/images/{quote(path, safe='')}"),
        client.get(f"/api/tables/{TABLE}/images/{path.replace('..', '%2e%2e')}"),
    ):
        assert response.status_code in (403, 404), response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["type"] in ("ForbiddenPathError", "NotFoundError", "NotFound")
        assert b"root:" not in response.content


def test_files_inside_the_roots_are_served(client: Any, sample_store: Path) -> None:
    roots = pt.Table.open(TABLE, store=sample_store).metadata["image_roots"]
    response = client.get(f"/api/tables/{TABLE}/file", params={"path": "000000000785.jpg"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content == (Path(roots[0]) / "000000000785.jpg").read_bytes()
    traversal_back_in = client.get(
        f"/api/tables/{TABLE}/file", params={"path": "x/../000000040083.jpg"}
    )
    assert traversal_back_in.status_code == 200
    in_url = client.get(f"/api/tables/{TABLE}/images/000000000785.jpg")
    assert in_url.status_code == 200 and in_url.content == response.content
    static = client.get("/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd")
    assert static.status_code == 404 and static.json()["type"] == "NotFound"


def test_thumbnails_are_made_once_and_cached_on_disk(sample_store: Path, tmp_path: Path) -> None:
    from PIL import Image

    cache = tmp_path / "thumbs"
    with _client(sample_store, cache) as c:
        first = c.get(f"/api/tables/{TABLE}/thumbnail/0")
        assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
        files = list(cache.rglob("*.jpg"))
        assert len(files) == 1
        stamp = files[0].stat().st_mtime_ns
        assert c.get(f"/api/tables/{TABLE}/thumbnail/0").content == first.content
        assert files[0].stat().st_mtime_ns == stamp
        c.get(f"/api/tables/{TABLE}/thumbnail/1")
        assert len(list(cache.rglob("*.jpg"))) == 2
        full = c.get(f"/api/tables/{TABLE}/image/0")
    with Image.open(__import__("io").BytesIO(first.content)) as thumb:
        assert max(thumb.size) == 384 and thumb.size[0] / thumb.size[1] == pytest.approx(
            640 / 425, rel=0.01
        )
    assert full.status_code == 200 and len(full.content) > len(first.content)


def test_missing_and_outside_images_get_a_placeholder(
    store: Path, real_data: Any, tmp_path: Path
) -> None:
    wholebody = real_data("coco_wholebody")  # annotations only, no image copies
    _import(wholebody, "wb", store)
    sample = sample_table(store=store)
    escaped = _base(sample[0])
    escaped["image"] = str(Path(sample.metadata["image_roots"][0]) / ".." / ".." / "sample.py")
    pt.Table.from_rows(
        [escaped], name="escaped", schema=sample.schema, store=store, metadata=sample.metadata
    )
    with _client(store, tmp_path / "t") as c:
        for name in ("wb", "escaped"):
            for kind in ("thumbnail", "image"):
                response = c.get(f"/api/tables/{name}/{kind}/0")
                assert response.status_code == 200
                assert response.headers["content-type"] == "image/png"
                assert "X-Posetable-Placeholder" in response.headers
        assert (
            "outside the image roots"
            in c.get("/api/tables/escaped/thumbnail/0").headers["X-Posetable-Placeholder"]
        )
        page = _ok(c.get("/api/tables/wb/rows"))
        assert page["total"] == 4 and page["rows"][0]["gt"]["count"] >= 1


# -- other real datasets -------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["ap10k", "onehand10k", "horse10", "crowdpose", "aic"])
def test_real_datasets_of_other_shapes_feed_every_page(
    store: Path, real_data: Any, tmp_path: Path, dataset: str
) -> None:
    folder = real_data(dataset)
    table = _import(folder, dataset, store)
    k = table.schema.num_keypoints
    with _client(store, tmp_path / "t") as c:
        overview = _ok(c.get("/api/tables"))["tables"][0]
        assert overview["num_keypoints"] == k and overview["rows"] == len(table)
        page = _ok(
            c.get(f"/api/tables/{dataset}/rows", params={"sort": "num_labeled", "order": "desc"})
        )
        assert page["schema"]["num_keypoints"] == k
        assert len(set(page["schema"]["keypoint_colors"])) == k  # one distinct colour per keypoint
        assert page["schema"]["classes"] == list(table.schema.classes)
        labeled = [int((r["keypoints"].keypoint_visibilities > 0).sum()) for r in table]
        assert [r["row"] for r in page["rows"]] == _expected_order(labeled, True)
        for record in page["rows"]:
            assert np.asarray(record["gt"]["keypoints"]).shape == (record["gt"]["count"], k, 2)
            thumb = c.get(record["thumbnail_url"])
            assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
            assert "X-Posetable-Placeholder" not in thumb.headers
        detail = _ok(c.get(f"/api/tables/{dataset}/rows/0"))
        draft = _draft(detail)
        if draft:
            draft[0]["label"] = len(table.schema.classes) - 1
            saved = c.post(
                f"/api/tables/{dataset}/edit",
                json={"base_revision": table.revision, "rows": {"0": {"instances": draft}}},
            )
            if len(table.schema.classes) > 1 or detail["gt"]["labels"][0] != draft[0]["label"]:
                assert _ok(saved)["revision"] == table.revision + 1
                assert (
                    pt.Table.open(dataset, store=store)[0]["keypoints"].instance_labels[0]
                    == draft[0]["label"]
                )


# -- comparing runs ------------------------------------------------------------------------
def test_compare_runs_gives_metrics_and_pr_curves(client: Any, sample_store: Path) -> None:
    from posetable.dashboard._sample_run import sample_predictions

    table = pt.Table.open(TABLE, store=sample_store)
    other = pt.Run.from_predictions(table, sample_predictions(table, seed=7), name="seed-7")
    body = _ok(client.get("/api/compare", params={"runs": f"{RUN},seed-7"}))
    assert [m["run"] for m in body["metrics"]] == [RUN, "seed-7"]
    assert body["metrics"][1]["ap"] == other.metrics["ap"]
    curve = np.asarray(body["pr_curves"]["seed-7"]["precision"])
    np.testing.assert_array_equal(curve, other.pr_curves()["precision"])
    assert curve.shape == (10, 101) and body["warnings"] == []
    one = _ok(client.get(f"/api/runs/{RUN}"))
    assert np.asarray(one["pr_curves"]["precision"]).shape == (10, 101)
    assert "at least one run" in _error(client.get("/api/compare"), 400, "QueryError")


# -- serving -------------------------------------------------------------------------------
def test_binding_anything_but_loopback_warns() -> None:
    from posetable.dashboard.server import bind, dashboard_url, is_loopback

    quiet = bind("127.0.0.1", 0)
    try:
        assert quiet.getsockname()[0] == "127.0.0.1"
    finally:
        quiet.close()
    with pytest.warns(UserWarning, match="binds 0.0.0.0: anyone who can reach this machine"):
        loud = bind("0.0.0.0", 0)
    loud.close()
    assert is_loopback("localhost") and is_loopback("::1") and not is_loopback("0.0.0.0")
    assert (
        dashboard_url("127.0.0.1", 8765, table="coco sample", run="r")
        == "http://127.0.0.1:8765/#/t/coco%20sample?run=r"
    )


def test_port_in_use_is_a_typed_error() -> None:
    from posetable.dashboard.server import ServeError, bind

    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ServeError, match="--port 0"):
            bind("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


def test_sample_preparation_is_idempotent(sample_store: Path) -> None:
    from posetable.dashboard._sample_run import prepare_sample

    table, run = prepare_sample(sample_store)
    assert (table.ref, run) == (f"{TABLE}@1", RUN)
    assert pt.list_runs(store=sample_store) == [RUN]


def test_store_copy_keeps_working(sample_store: Path, tmp_path: Path) -> None:
    """Thumbnails live in the store's cache folder by default, created on demand."""
    copy = tmp_path / "copy"
    shutil.copytree(sample_store, copy)
    with _client(copy) as c:
        assert c.get(f"/api/tables/{TABLE}/thumbnail/2").status_code == 200
    assert list((copy / ".cache" / "thumbnails").rglob("*.jpg"))


def test_serve_command_is_registered_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    from posetable.cli import main

    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--store", "--port", "--host", "--sample", "127.0.0.1"):
        assert option in usage


# -- accepting predictions safely, and runs without suspects -------------------------------
def _timid_run(table: pt.Table, name: str) -> pt.Run:
    """The sample run's predictions with every score under the dashboard's 0.3 (and the
    library's 0.5) instance thresholds of find_label_errors."""
    from posetable.dashboard._sample_run import sample_predictions

    predictions = sample_predictions(table)
    for item in predictions:
        if item is not None:
            item.instance_confidences = item.instance_confidences * 0.25
    return pt.Run.from_predictions(table, predictions, name=name)


def test_a_run_with_no_confident_prediction_feeds_every_page(
    client: Any, sample_store: Path
) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    run = _timid_run(table, "timid")
    assert pt.find_label_errors(table, run).num_rows == 0  # raised IndexError before
    _ok(client.get(f"/api/tables/{TABLE}", params={"run": "timid"}))
    _ok(client.get("/api/runs/timid"))
    for sort in ("row", "suspect_score", "mean_oks"):
        page = _ok(client.get(f"/api/tables/{TABLE}/rows", params={"run": "timid", "sort": sort}))
        assert [r["suspects"] for r in page["rows"]] == [None] * 4
    filtered = _ok(
        client.get(f"/api/tables/{TABLE}/rows", params={"run": "timid", "filter": "suspects > 0"})
    )
    assert filtered["total"] == 0
    for row in range(4):
        detail = _ok(client.get(f"/api/tables/{TABLE}/rows/{row}", params={"run": "timid"}))
        assert detail["suspect_list"] == []


def _accept(client: Any, **body: Any) -> Any:
    return client.post(f"/api/tables/{body.pop('table', TABLE)}/accept", json=body)


def test_accept_preview_says_what_changes_per_row_and_writes_nothing(
    client: Any, sample_store: Path
) -> None:
    table = pt.Table.open(TABLE, store=sample_store)
    run = pt.Run.open(RUN, store=sample_store)
    body = {"base_revision": 1, "run": RUN, "rows": [0, 1, 2], "keypoint_confidence_threshold": 0.6}
    preview = _ok(_accept(client, dry_run=True, **body))
    expected = pt.accept_predictions_plan(
        table, run, rows=[0, 1, 2], keypoint_confidence_threshold=0.6
    ).to_pylist()
    assert preview["plan"] == expected
    assert _ok(_accept(client, plan=True, **body))["plan"] == expected  # the older name
    for key in ("added", "replaced", "kept", "removed", "keypoints_visible", "keypoints_occluded"):
        assert preview["totals"][key] == sum(r[key] for r in expected)
    assert preview["totals"]["rows_changed"] == sum(r["action"] != "none" for r in expected)
    # the sample's row 1: a person without keypoints is kept; GT #0's prediction is mirrored
    # (a left/right swap) and matches nobody, so GT #0 is removed and the mirror added;
    # row 2: a spurious detection is added
    by_row = {r["row"]: r for r in preview["plan"]}
    ids = table[1]["keypoints"].instance_extras["id"].tolist()
    assert (by_row[1]["kept"], by_row[1]["removed"], by_row[1]["added"]) == (1, 1, 1)
    assert by_row[1]["removed_ids"] == [ids[0]] and by_row[1]["replaced_ids"] == [ids[1]]
    assert by_row[2]["added"] == 1
    assert pt.Table.open(TABLE, store=sample_store).revision == 1  # nothing written
    assert "dry_run must be true or false" in _error(
        _accept(client, dry_run="yes", **body), 400, "RowError"
    )
    saved = _ok(_accept(client, **body))
    new = pt.Table.open(TABLE, store=sample_store)
    assert (saved["revision"], new.revision) == (2, 2)
    for record in preview["plan"]:
        after = new[record["row"]]["keypoints"]
        assert len(after) == record["gt_after"]
        assert int((after.keypoint_visibilities == 2).sum()) >= record["keypoints_visible"]
    # confirming a preview of rows someone changed meanwhile: a conflict, nothing written
    _error(_accept(client, **body), 409, "ConflictError")
    assert pt.Table.open(TABLE, store=sample_store).revision == 2


def test_accept_instance_threshold_keeps_scores_at_or_above_it(
    client: Any, sample_store: Path
) -> None:
    run = pt.Run.open(RUN, store=sample_store)
    scores = run.predictions(2).instance_confidences
    cut = float(np.sort(scores)[-2])  # keeps exactly the two best, the second at the cut
    body = {"base_revision": 1, "run": RUN, "rows": [2], "keypoint_confidence_threshold": 0.5}
    (record,) = _ok(_accept(client, dry_run=True, instance_confidence_threshold=cut, **body))[
        "plan"
    ]
    assert record["accepted"] == 2 and record["predictions"] == len(scores)
    (everything,) = _ok(_accept(client, dry_run=True, instance_confidence_threshold=None, **body))[
        "plan"
    ]
    assert everything["accepted"] > record["accepted"]
    for bad in ("high", [0.5], True):
        message = _error(
            _accept(client, dry_run=True, **{**body, "instance_confidence_threshold": bad}),
            400,
            "RowError",
        )
        assert "instance_confidence_threshold must be a number" in message
    saved = _ok(_accept(client, instance_confidence_threshold=cut, **body))
    assert saved["revision"] == 2
    written = pt.Table.open(TABLE, store=sample_store)
    assert written.info.arguments["instance_confidence_threshold"] == cut
    ids = written[2]["keypoints"].instance_extras["id"].tolist()
    before = pt.Table.open(f"{TABLE}@1", store=sample_store)[2]["keypoints"]
    assert len(ids) == record["gt_after"] and set(record["replaced_ids"]) <= set(ids)
    assert set(ids) - set(before.instance_extras["id"].tolist()) == set()  # no new person


def test_accept_keeps_box_only_instances_and_coco_ids_of_the_real_excerpt(
    store: Path, real_data: Any, tmp_path: Path
) -> None:
    from tests._predictions import noisy_predictions

    table = _import(real_data("coco_kpts"), "coco", store)
    pt.Run.from_predictions(table, noisy_predictions(table, seed=5, noise=0.01), name="m")
    with _client(store, tmp_path / "t") as c:
        preview = _ok(_accept(c, table="coco", base_revision=1, run="m", dry_run=True))
        saved = _ok(_accept(c, table="coco", base_revision=1, run="m"))
    new = pt.Table.open(f"coco@{saved['revision']}", store=store)
    for record in preview["plan"]:
        row = record["row"]
        before, after = table[row]["keypoints"], new[row]["keypoints"]
        assert after.instance_extras["id"].tolist() == before.instance_extras["id"].tolist()
        box_only = (before.keypoint_visibilities == 0).all(axis=1)
        assert record["kept"] == int(box_only.sum()) and record["removed"] == 0
        assert sorted(record["replaced_ids"]) == sorted(
            before.instance_extras["id"][~box_only].tolist()
        )
        np.testing.assert_array_equal(after.instance_bbs[box_only], before.instance_bbs[box_only])
        assert (after.instance_extras["num_keypoints"][box_only] == 0).all()
    assert sum(r["kept"] for r in preview["plan"]) == 2  # ids 1202706 and 508900
    out = new.export_coco(tmp_path / "accepted.json")
    import json

    ids = [a["id"] for a in json.loads(out.read_text())["annotations"]]
    assert len(ids) == len(set(ids)) == 14


def test_metrics_after_accepting_are_of_the_new_revision(client: Any, sample_store: Path) -> None:
    run = pt.Run.open(RUN, store=sample_store)
    page = _ok(client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN}))
    assert page["metrics_ref"] == run.table_ref and page["run_metrics"] == run.metrics
    stale = page["rows"][2]["metrics"]
    saved = _ok(
        _accept(client, base_revision=1, run=RUN, rows=[2], keypoint_confidence_threshold=0.6)
    )
    new = pt.Table.open(f"{TABLE}@{saved['revision']}", store=sample_store)
    expected = pt.evaluate(new, run)
    by_row = {r["row"]: r for r in expected.per_sample.to_pylist()}
    page = _ok(
        client.get(f"/api/tables/{TABLE}/rows", params={"run": RUN, "revision": saved["revision"]})
    )
    assert page["metrics_ref"] == new.ref and page["run_metrics"]["ap"] == expected.ap
    for record in page["rows"]:
        want = by_row[record["row"]]
        assert record["metrics"] == {k: want[k] for k in record["metrics"]}
    # row 2's ground truth now is the predictions it was compared with
    assert page["rows"][2]["metrics"]["mean_oks"] == 1.0 != stale["mean_oks"]
    assert page["rows"][2]["metrics"]["fp_50"] == 0
    ordered = _ok(
        client.get(
            f"/api/tables/{TABLE}/rows",
            params={"run": RUN, "revision": 2, "sort": "mean_oks", "order": "desc"},
        )
    )
    assert [r["row"] for r in ordered["rows"]] == _expected_order(
        [by_row[r]["mean_oks"] for r in range(4)], True
    )
    detail = _ok(client.get(f"/api/tables/{TABLE}/rows/2", params={"run": RUN, "revision": 2}))
    assert detail["metrics_ref"] == new.ref
    mine = [m for m in expected.per_instance.to_pylist() if m["row"] == 2 and m["kind"] == "gt"]
    assert [(m["index"], m["partner"]) for m in detail["per_instance"]["gt"]] == [
        (m["index"], m["partner"]) for m in mine
    ]
    assert all(m["oks"] == 1.0 for m in detail["per_instance"]["gt"] if m["partner"] >= 0)
    # a run made on the new revision, seen on the old one: its predictions against @1
    from posetable.dashboard._sample_run import sample_predictions

    later = sample_predictions(new, seed=4)
    pt.Run.from_predictions(new, later, name="later")
    old = pt.Table.open(f"{TABLE}@1", store=sample_store)
    page = _ok(client.get(f"/api/tables/{TABLE}/rows", params={"run": "later", "revision": 1}))
    truth = {r["row"]: r for r in pt.evaluate(old, later).per_sample.to_pylist()}
    assert page["metrics_ref"] == old.ref
    for record in page["rows"]:
        assert record["metrics"] == {k: truth[record["row"]][k] for k in record["metrics"]}


def test_path_like_table_names_are_served_with_their_slash_encoded(
    client: Any, sample_store: Path
) -> None:
    from urllib.parse import quote

    name = "My Project/COCO/initial"
    pt.Table.open(TABLE, store=sample_store).derive(name)
    url = f"/api/tables/{quote(name, safe='')}"
    assert _ok(client.get(url))["table"] == name
    page = _ok(client.get(f"{url}/rows"))
    assert page["ref"] == f"{name}@1" and len(page["rows"]) == 4
    detail = _ok(client.get(f"{url}/rows/1"))
    draft = _draft(detail)
    draft.pop()
    body = {"base_revision": 1, "rows": {"1": {"instances": draft}}}
    assert _ok(client.post(f"{url}/edit", json=body))["revision"] == 2
    assert client.get(f"{url}/image/1").status_code == 200
    _error(client.get(f"/api/tables/{quote('../../etc', safe='')}/rows"), 400, "RevisionError")


def _grid_values(client: Any, **params: Any) -> list[dict[str, Any]]:
    page = client.get("/api/tables/coco/rows", params={"run": "model", "limit": 500, **params})
    assert page.status_code == 200, page.text
    return [
        {"row": r["row"], "metrics": r["metrics"], "suspects": r["suspects"]}
        for r in page.json()["rows"]
    ]


def test_a_large_edited_revision_reuses_the_runs_metrics_and_suspects(
    real_data, store: Path, monkeypatch, tmp_path: Path
) -> None:
    """Past the eager sizes (lowered to 0 here) an edit of some rows is evaluated and
    searched for label errors on those rows alone, the rest kept from the run: the grid,
    the suspect sort and a row's suspects and per-instance metrics are the same as a full
    re-evaluation (the eager path) gives; the summary follows in the background."""
    pytest.importorskip("fastapi")
    from posetable.dashboard import _index
    from tests._predictions import noisy_predictions

    folder = real_data("coco_kpts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        table = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="coco", store=store
        )
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=3, noise=0.05), name="model")
    run.materialize()
    assert (run.path / "suspects-0.3-0.3.parquet").is_file()  # kept since materialize
    gt = table[1]["keypoints"]
    flips = np.asarray(table.schema.flip_indices)
    mirrored = gt.copy()
    mirrored.keypoints[0] = gt.keypoints[0][flips]
    mirrored.keypoint_visibilities[0] = gt.keypoint_visibilities[0][flips]
    edited = table.with_rows({1: {"keypoints": mirrored}, 3: {"keypoints": gt.select([0])}})
    eager = _client(store, tmp_path / "a")
    want = _grid_values(eager)
    want_sorted = _grid_values(eager, sort="suspect_score", order="desc")
    want_row = eager.get("/api/tables/coco/rows/1", params={"run": "model"}).json()
    for name in ("EAGER_EVALUATE_ROWS", "EAGER_SUSPECTS_ROWS", "EAGER_CHECK_ROWS"):
        monkeypatch.setattr(_index, name, 0)
    shutil.rmtree(store / ".cache", ignore_errors=True)
    lazy = _client(store, tmp_path / "b")
    first = lazy.get("/api/tables/coco/rows", params={"run": "model"}).json()
    assert first["revision"] == edited.revision
    assert first["run_metrics_state"] in ("re-evaluating", "done")
    assert _grid_values(lazy) == want
    assert _grid_values(lazy, sort="suspect_score", order="desc") == want_sorted
    row = lazy.get("/api/tables/coco/rows/1", params={"run": "model"}).json()
    assert row["suspect_list"] == want_row["suspect_list"] and row["suspect_list"]
    assert row["per_instance"] == want_row["per_instance"]
    view = lazy.app.state.dashboard.run_on("model", edited)
    assert view._changed is not None  # the incremental path ran
    view._summary_job.result(timeout=60)
    assert view.summary == pytest.approx(eager.app.state.dashboard.run_on("model", edited).summary)
