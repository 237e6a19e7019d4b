"""The review API, in-process: one-click fixes with a run's prediction as evidence, a new
instance scaled into a drawn box, video frames around a row, and the review queue's marks.

Real data: the bundled COCO sample with the dashboard's sample run (its planted left/right
swap on row 1 and spurious detection on row 2) and DeepLabCut's multi-animal test project
(a video's frames). Needs the ``[dashboard]`` extra (and pandas for DeepLabCut)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt

pytestmark = pytest.mark.integration

TABLE = "coco-sample"
RUN = "coco-sample-perturbed"
T = f"/api/tables/{TABLE}"


def _client(store: Path) -> Any:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    return TestClient(create_app(store), base_url="http://127.0.0.1")


@pytest.fixture
def sample(store: Path) -> tuple[Any, pt.Table, pt.Run]:
    from posetable.dashboard._sample_run import prepare_sample

    table, run = prepare_sample(store)
    assert run is not None
    return _client(store), table, pt.Run.open(run, store=store)


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _error(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["type"] == kind, response.json()
    return str(response.json()["error"])


def _fix(client: Any, **body: Any) -> Any:
    return client.post(f"{T}/fix", json={"base_revision": 1, "run": RUN, **body})


# -- one-click fixes from the run ------------------------------------------------------------
def test_the_planted_swap_is_a_suspect_whose_fix_swaps_left_and_right_back(sample) -> None:
    client, table, _ = sample
    detail = _ok(client.get(f"{T}/rows/1", params={"run": RUN}))
    swap = [s for s in detail["suspect_list"] if s["kind"] == "swap"]
    assert [(s["instance"], s["prediction"]) for s in swap] == [(0, 0)]
    body = _ok(_fix(client, row=1, action="mirror_instance", instance=0))
    assert (body["revision"], body["operation"]) == (2, "fix_from_run")
    assert body["note"] == "swapped every left/right pair of instance 0 (row 1)"
    fixed = pt.Table.open(TABLE, store=table.store.root)
    flips = list(table.schema.flip_indices)
    before, after = table[1]["keypoints"], fixed[1]["keypoints"]
    np.testing.assert_array_equal(after.keypoints[0], before.keypoints[0][flips])
    np.testing.assert_array_equal(
        after.keypoint_visibilities[0], before.keypoint_visibilities[0][flips]
    )
    assert after.instance_extras["id"].tolist() == before.instance_extras["id"].tolist()
    arguments = fixed.info.arguments
    assert (arguments["action"], arguments["row"], arguments["instance"]) == (
        "mirror_instance",
        1,
        0,
    )
    assert arguments["source"] == "dashboard" and arguments["rows"] == [1]
    # after the fix the run no longer calls it a swap
    again = _ok(client.get(f"{T}/rows/1", params={"run": RUN, "revision": 2}))
    assert not [s for s in again["suspect_list"] if s["kind"] == "swap"]


def test_accepting_one_instances_prediction_follows_the_accept_rule(sample) -> None:
    client, table, run = sample
    threshold = 0.6
    body = _ok(
        _fix(
            client,
            row=1,
            action="accept_instance",
            instance=0,
            prediction=0,
            keypoint_confidence_threshold=threshold,
        )
    )
    after = pt.Table.open(TABLE, store=table.store.root)[1]["keypoints"]
    before = table[1]["keypoints"]
    predicted = run.predictions(1)
    np.testing.assert_array_equal(after.keypoints[0], predicted.keypoints[0])
    confidence = np.asarray(predicted.keypoint_confidences[0])
    expected = np.where(confidence >= threshold, 2, 1)
    np.testing.assert_array_equal(after.keypoint_visibilities[0], expected)
    assert (after.keypoint_visibilities[0] > 0).all()  # accepting never gives v=0
    assert after.instance_extras["id"][0] == before.instance_extras["id"][0]  # id kept
    assert after.instance_extras["num_keypoints"][0] == 17
    np.testing.assert_array_equal(after.keypoints[1:], before.keypoints[1:])  # others kept
    kept = int((expected == 2).sum())
    assert f"({kept} keypoints v=2, {17 - kept} v=1 at confidence >= 0.6)" in body["note"]


def test_snapping_a_point_takes_the_matched_prediction_and_keeps_its_visibility(sample) -> None:
    client, table, run = sample
    # no prediction named: the one the accept rule matches (the evaluation's partner too)
    partner = _ok(client.get(f"{T}/rows/0", params={"run": RUN}))["per_instance"]["gt"][0]
    assert partner["partner"] == 0
    body = _ok(_fix(client, row=0, action="snap_keypoint", instance=0, keypoint=9))
    assert "snapped left_wrist of instance 0 to prediction 0" in body["note"]
    after = pt.Table.open(TABLE, store=table.store.root)[0]["keypoints"]
    before = table[0]["keypoints"]
    assert after.keypoints[0, 9].tolist() == run.predictions(0).keypoints[0, 9].tolist()
    assert after.keypoint_visibilities[0, 9] == before.keypoint_visibilities[0, 9]
    moved = np.flatnonzero((after.keypoints[0] != before.keypoints[0]).any(axis=1))
    assert moved.tolist() == [9]
    # GT #0 of row 1 is swapped: no prediction matches it at OKS >= 0.5
    unmatched = _fix(client, base_revision=2, row=1, action="snap_keypoint", instance=0, keypoint=0)
    assert "no prediction of run" in _error(unmatched, 400, "RunError")


def test_adding_a_prediction_and_dropping_an_instance(sample) -> None:
    client, table, run = sample
    top = max(int(table[r]["keypoints"].instance_extras["id"].max()) for r in range(len(table)))
    body = _ok(_fix(client, row=2, action="add_prediction", prediction=4))
    assert body["instance"] == 5
    after = pt.Table.open(TABLE, store=table.store.root)[2]["keypoints"]
    assert len(after) == len(table[2]["keypoints"]) + 1
    assert after.instance_extras["id"][5] > top
    np.testing.assert_array_equal(after.keypoints[5], run.predictions(2).keypoints[4])
    assert set(after.keypoint_visibilities[5].tolist()) <= {1, 2}
    dropped = _ok(
        client.post(
            f"{T}/fix",
            json={"base_revision": 2, "row": 2, "action": "drop_instance", "instance": 5},
        )
    )
    assert dropped["revision"] == 3
    assert pt.Table.open(TABLE, store=table.store.root)[2]["keypoints"] == table[2]["keypoints"]


def test_a_fix_on_a_stale_revision_gets_the_conflict_and_writes_nothing(sample) -> None:
    client, table, _ = sample
    table.with_rows({1: {"width": table[1]["width"]}})  # another writer changes row 1
    stale = _fix(client, row=1, action="mirror_instance", instance=0)
    message = _error(stale, 409, "ConflictError")
    assert "based on revision 1" in message and "latest is 2" in message
    assert pt.Table.open(TABLE, store=table.store.root).revision == 2
    unknown = _fix(client, base_revision=2, row=1, action="teleport", instance=0)
    assert "action must be one of snap_keypoint" in _error(unknown, 400, "RowError")
    missing = _fix(client, base_revision=2, row=1, action="accept_instance", instance=7)
    assert "there is no instance 7 (0..2)" in _error(missing, 400, "RowError")


# -- a new instance in a drawn box -------------------------------------------------------------
def test_a_drawn_box_gets_the_schemas_default_pose_stretched_into_it(sample) -> None:
    client, table, _ = sample
    box = [40.0, 30.0, 160.0, 290.0]
    made = _ok(
        client.get(
            f"{T}/new_instance/1", params=dict(zip(("x1", "y1", "x2", "y2"), box, strict=True))
        )
    )
    assert made["pose_source"] == "schema" and made["box"] == box
    points = np.asarray(made["keypoints"])
    np.testing.assert_allclose(points.min(axis=0), box[:2])
    np.testing.assert_allclose(points.max(axis=0), box[2:])
    pose = np.asarray(table.schema.default_pose)  # the same shape, stretched per axis
    unit = (pose - pose.min(axis=0)) / (pose.max(axis=0) - pose.min(axis=0))
    np.testing.assert_allclose((points - box[:2]) / np.subtract(box[2:], box[:2]), unit)
    assert made["visibility"] == [2] * 17 and made["source"] is None
    bad = client.get(f"{T}/new_instance/1", params={"x1": 50, "y1": 10, "x2": 20, "y2": 90})
    assert "x1 < x2 and y1 < y2" in _error(bad, 400, "RowError")
    half = client.get(f"{T}/new_instance/1", params={"x1": 5, "y1": 10})
    assert "all of x1, y1, x2 and y2" in _error(half, 400, "RowError")


@pytest.fixture
def mice(real_data, store: Path) -> tuple[Any, pt.Table]:
    pytest.importorskip("pandas")
    table = pt.Table.from_dlc(real_data("dlc") / "multi_mouse", name="mice", store=store)
    return _client(store), table


def test_without_a_default_pose_the_tables_own_instances_give_one(mice) -> None:
    client, table = mice
    assert table.schema.default_pose is None
    made = _ok(
        client.get(
            "/api/tables/mice/new_instance/0", params={"x1": 100, "y1": 100, "x2": 300, "y2": 200}
        )
    )
    assert made["pose_source"] == "table"
    points = np.asarray(made["keypoints"])
    assert (points >= [100, 100]).all() and (points <= [300, 200]).all()
    ring = table.schema.pose_for_new_instance()
    ring_points = 100 + (ring - ring.min(0)) / (ring.max(0) - ring.min(0)) * [200, 100]
    assert not np.allclose(points, ring_points)
    # the schema's default pose, once set (KeypointHelper.edit_default_keypoints), wins
    pose = [[0.1, 0.5], [0.5, 0.4], [0.9, 0.5], [0.0, 0.0], [1.0, 1.0]]
    posed = pt.KeypointHelper.edit_default_keypoints(table, pose, table_name="mice-posed")
    made = _ok(
        client.get(
            "/api/tables/mice-posed/new_instance/0", params={"x1": 0, "y1": 0, "x2": 100, "y2": 50}
        )
    )
    assert made["pose_source"] == "schema" and posed.schema.default_pose is not None
    np.testing.assert_allclose(made["keypoints"], np.asarray(pose) * [100, 50])


# -- video frames ----------------------------------------------------------------------------
def test_frames_of_a_deeplabcut_video_step_in_image_order_then_by_frame_index(mice) -> None:
    client, table = mice
    names = [Path(r["image"]).name for r in table]
    in_order = sorted(range(len(table)), key=lambda r: names[r])  # img04.png, img05.png, ...
    for place, row in enumerate(in_order):
        frames = _ok(client.get(f"/api/tables/mice/frames/{row}"))
        assert frames["video"] == "m3v1mp4short" and frames["ordered_by"] == "image"
        assert (frames["position"], frames["count"]) == (place, len(table))
        assert frames["previous"] == (in_order[place - 1] if place else None)
        assert frames["next"] == (in_order[place + 1] if place + 1 < len(in_order) else None)
    # with a frame_index column (as SLEAP and PoseTrack tables have) that order is used
    numbered = table.add_column("frame_index", [40, 10, 30, 20, 0])
    frames = _ok(client.get("/api/tables/mice/frames/3", params={"revision": numbered.revision}))
    assert frames["ordered_by"] == "frame_index" and frames["frame_index"] == 20
    assert (frames["previous"], frames["next"], frames["position"]) == (1, 2, 2)
    first = _ok(client.get("/api/tables/mice/frames/4"))  # frame_index 0
    assert (first["previous"], first["first"], first["last"]) == (None, 4, 0)
    missing = client.get("/api/tables/mice/frames/9")
    assert "row 9 does not exist" in _error(missing, 400, "RowError")


def test_a_table_without_videos_has_no_frames(sample) -> None:
    client, _, _ = sample
    frames = _ok(client.get(f"{T}/frames/0"))
    assert frames["video"] is None and frames["count"] == 0


# -- the review queue's marks ------------------------------------------------------------------
def test_marks_follow_samples_across_revisions_and_the_queue_skips_decided_rows(sample) -> None:
    client, table, _ = sample
    for row, status in ((2, "rejected"), (0, "skipped"), (3, "accepted")):
        body = _ok(
            client.post(f"{T}/review", json={"base_revision": 1, "row": row, "status": status})
        )
        assert body["mark"]["status"] == status and body["mark"]["row"] == row
    marks = _ok(client.get(f"{T}/review"))
    assert {int(r): m["status"] for r, m in marks["marks"].items()} == {
        0: "skipped",
        2: "rejected",
        3: "accepted",
    }
    assert marks["reviewed"] == 2 and marks["counts"] == {
        "skipped": 1,
        "rejected": 1,
        "accepted": 1,
    }
    # the queue in row order from position 0: row 1 is the next one nobody decided on
    assert _ok(client.get(f"{T}/review/next", params={"position": 0}))["row"] == 1
    assert _ok(client.get(f"{T}/review/next", params={"position": 1}))["row"] is None
    # a later revision without row 0: the marks move with their samples
    shorter = table.delete_rows([0])
    moved = _ok(client.get(f"{T}/review", params={"revision": shorter.revision}))
    assert {int(r): m["status"] for r, m in moved["marks"].items()} == {
        1: "rejected",
        2: "accepted",
    }
    # a mark taken back
    _ok(client.post(f"{T}/review", json={"base_revision": 1, "row": 2, "status": "cleared"}))
    assert "2" not in _ok(client.get(f"{T}/review", params={"revision": 1}))["marks"]
    assert pt.Table.open(TABLE, store=table.store.root).revision == shorter.revision  # no edits


def test_bad_marks_are_refused(sample) -> None:
    client, _, _ = sample
    bad = client.post(f"{T}/review", json={"base_revision": 1, "row": 0, "status": "maybe"})
    assert "status must be one of accepted" in _error(bad, 400, "RowError")
    far = client.post(f"{T}/review", json={"base_revision": 1, "row": 4, "status": "skipped"})
    assert "row 4 does not exist" in _error(far, 400, "RowError")
    none = client.post(f"{T}/review", json={"row": 0, "status": "skipped"})
    assert "needs 'base_revision'" in _error(none, 400, "RowError")
