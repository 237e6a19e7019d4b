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

    return TestClient(create_app(store, thumbnail_dir=thumbnails))


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
            params={"run": RUN, "sort": "suspect_score", "order": "desc"},
        )
    )
    assert [r["row"] for r in body["rows"]] == _expected_order(
        [best.get(r) for r in range(4)], True
    )
    if found.num_rows:
        row = found["row"][0].as_py()
        detail = _ok(client.get(f"/api/tables/{TABLE}/rows/{row}", params={"run": RUN}))
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
    gt = body["gt"]
    return [
        {
            "source": i,
            "keypoints": gt["keypoints"][i],
            "visibility": gt["visibility"][i],
            "box": gt["boxes"][i],
            "label": gt["labels"][i],
        }
        for i in range(gt["count"])
    ]


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


def test_undo_restores_the_parent_as_a_new_revision(client: Any, sample_store: Path) -> None:
    draft = _draft(_ok(client.get(f"/api/tables/{TABLE}/rows/3")))
    draft.pop()
    _ok(
        client.post(
            f"/api/tables/{TABLE}/edit",
            json={"base_revision": 1, "rows": {"3": {"instances": draft}}},
        )
    )
    assert _error(
        client.post(f"/api/tables/{TABLE}/undo", json={"base_revision": 1}), 409, "ConflictError"
    )
    undone = _ok(client.post(f"/api/tables/{TABLE}/undo", json={"base_revision": 2}))
    assert (undone["revision"], undone["parent"], undone["operation"]) == (3, 1, "restore")
    original, restored = (pt.Table.open(f"{TABLE}@{r}", store=sample_store) for r in (1, 3))
    assert [r["keypoints"] for r in restored] == [r["keypoints"] for r in original]
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
    pred = run.predictions(2)
    assert len(accepted) == len(pred) == plan[0]["accepted"]
    np.testing.assert_array_equal(accepted.keypoints, pred.keypoints)
    expected = np.where(pred.keypoint_confidences >= 0.6, 2, 1)
    np.testing.assert_array_equal(accepted.keypoint_visibilities, expected)
    assert (accepted.keypoint_visibilities > 0).all()
    stale = client.post(
        f"/api/tables/{TABLE}/accept", json={"base_revision": 1, "run": RUN, "rows": [0]}
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
    with pytest.warns(UserWarning, match="no authentication"):
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
