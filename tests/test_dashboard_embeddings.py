"""Runs with per-sample columns of the user's own in the dashboard: sorting and filtering by
them, the embeddings scatter with its lasso filter, and the per-epoch view of a 3LC
training run (its epochs are runs named ``{project}/{run}/{stream}-epoch-NNNN``).

API tests in-process (``integration``); the pages in Debian's Chromium (``browser``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

import posetable as pt
from tests import test_dashboard_browser as _browser_tests
from tests._predictions import noisy_predictions
from tests.test_dashboard_browser import Server, _open, _settled, _shot

# the Chromium fixtures of the browser tests, shared
browser = _browser_tests.browser
page = _browser_tests.page

TABLE = "coco-sample"
TRAINING = "pose-project/yolo-run"
LOSS = np.array([0.9, 0.1, 0.5, 0.3])
EMBEDDING = np.array([[0.0, 0.0, 1.0], [1.0, 0.1, -1.0], [0.1, 1.0, 0.5], [0.9, 0.9, 0.0]])


def _populate(store: Path) -> None:
    """The sample, a run with a loss and a 3-D embedding, and a 3-epoch training run."""
    from posetable.dashboard._sample_run import prepare_sample

    table, _ = prepare_sample(store)
    pt.Run.from_predictions(
        table,
        noisy_predictions(table),
        name="with-embedding",
        sample_columns={"loss_pose": LOSS, "embedding": EMBEDDING},
    )
    for epoch in range(3):
        for stream in ("train", "val"):
            pt.Run.from_predictions(
                table,
                noisy_predictions(
                    table, seed=epoch + (10 if stream == "train" else 0), noise=0.08 / (epoch + 1)
                ),
                name=f"{TRAINING}/{stream}-epoch-{epoch:04d}",
                model_info={"tlc_run": TRAINING, "stream": stream, "epoch": epoch},
                sample_columns={"loss_pose": LOSS / (epoch + 1)},
            )


@pytest.fixture
def client(store: Path, tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from posetable.dashboard import create_app

    _populate(store)
    app = create_app(store, thumbnail_dir=tmp_path / "thumbs")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.integration
def test_user_columns_sort_and_filter_the_grid(client: Any) -> None:
    rows = f"/api/tables/{TABLE}/rows"
    grid = _ok(client.get(rows, params={"run": "with-embedding", "sort": "loss_pose"}))
    assert [r["row"] for r in grid["rows"]] == [1, 3, 2, 0]
    assert [r["metrics"]["loss_pose"] for r in grid["rows"]] == sorted(LOSS.tolist())
    kept = _ok(client.get(rows, params={"run": "with-embedding", "filter": "embedding_2 < 0.2"}))
    assert sorted(r["row"] for r in kept["rows"]) == [1, 3]
    names = {c["name"]: c["source"] for c in grid["columns"]}
    assert names["embedding_0"] == names["loss_pose"] == "run"


@pytest.mark.integration
def test_user_columns_stay_on_a_later_revision(client: Any, store: Path) -> None:
    table = pt.Table.open(TABLE, store=store)
    edited = table.with_rows({0: {"width": table[0]["width"]}})
    grid = _ok(
        client.get(
            f"/api/tables/{TABLE}/rows",
            params={"run": "with-embedding", "revision": edited.revision, "sort": "loss_pose"},
        )
    )
    assert grid["metrics_ref"] != grid["run_table_ref"]  # re-evaluated on the new revision
    assert [r["metrics"]["loss_pose"] for r in grid["rows"]] == sorted(LOSS.tolist())


@pytest.mark.integration
def test_embeddings_endpoint_gives_one_point_per_row_and_colours(client: Any) -> None:
    body = _ok(client.get("/api/runs/with-embedding/embeddings", params={"color": "loss_pose"}))
    assert body["dimensions"] == ["embedding_0", "embedding_1", "embedding_2"]
    assert body["rows"] == [0, 1, 2, 3]
    assert np.allclose(body["coordinates"], EMBEDDING)
    assert body["color"]["values"] == LOSS.tolist()
    by_class = _ok(client.get("/api/runs/with-embedding/embeddings", params={"color": "image"}))
    assert by_class["color"]["numeric"] is False
    refused = client.get("/api/runs/with-embedding/embeddings", params={"color": "nope"})
    assert refused.status_code == 400 and "known columns" in refused.json()["error"]
    missing = client.get("/api/runs/coco-sample-perturbed/embeddings")
    assert missing.status_code == 404 and "sample_columns" in missing.json()["error"]


@pytest.mark.integration
def test_a_lasso_selection_is_a_grid_filter_on_sample_ids(client: Any) -> None:
    body = _ok(client.get("/api/runs/with-embedding/embeddings"))
    chosen = [body["sample_ids"][i] for i in (1, 3)]
    text = f"{body['sample_id_field']} in ({', '.join(map(str, chosen))})"
    grid = _ok(
        client.get(f"/api/tables/{TABLE}/rows", params={"run": "with-embedding", "filter": text})
    )
    assert sorted(r["sample_id"] for r in grid["rows"]) == sorted(chosen)
    too_many = "sample_id in (" + ", ".join(str(i) for i in range(1001)) + ")"
    refused = client.get(f"/api/tables/{TABLE}/rows", params={"filter": too_many})
    assert refused.status_code == 400 and "at most 1000" in refused.json()["error"]


@pytest.mark.integration
def test_training_endpoint_groups_epochs_per_stream(client: Any) -> None:
    listed = _ok(client.get("/api/training"))["training_runs"]
    assert listed == [{"name": TRAINING, "table": TABLE, "streams": {"train": 3, "val": 3}}]
    assert _ok(client.get("/api/tables"))["training_runs"] == listed
    body = _ok(client.get(f"/api/training/{quote(TRAINING, safe='')}"))
    assert sorted(body["streams"]) == ["train", "val"]
    val = body["streams"]["val"]
    assert [e["epoch"] for e in val] == [0, 1, 2]
    assert [e["run"] for e in val] == [f"{TRAINING}/val-epoch-{e:04d}" for e in range(3)]
    for e in val:
        assert e["metrics"] == pt.Run.open(e["run"], store=client.app.state.dashboard.store).metrics
        assert e["sample_means"]["loss_pose"] == pytest.approx(LOSS.mean() / (e["epoch"] + 1))
    assert val[2]["metrics"]["ap"] > val[0]["metrics"]["ap"]  # less noise, better AP
    unknown = client.get(f"/api/training/{quote('no/such', safe='')}")
    assert unknown.status_code == 404 and TRAINING in unknown.json()["error"]


# -- in Chromium ---------------------------------------------------------------------------
@pytest.mark.browser
def test_lasso_in_the_scatter_filters_the_grid(store: Path, page: Any) -> None:
    _populate(store)
    server = Server(store)
    try:
        _open(page, f"{server.base}#/t/{TABLE}/embeddings?run=with-embedding&color=loss_pose")
        assert page.evaluate("document.getElementById('scatter').dataset.points") == "4"
        _shot(page, "embeddings-scatter")
        # a lasso around points 1 and 3 (canvas coordinates -> page coordinates)
        corners = page.evaluate("[1, 3].map((i) => window.posetable.embeddings.toCanvas(i))")
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        box = [
            (min(xs) - 12, min(ys) - 12),
            (max(xs) + 12, min(ys) - 12),
            (max(xs) + 12, max(ys) + 12),
            (min(xs) - 12, max(ys) + 12),
        ]
        inside = [
            i
            for i in range(4)
            if (lambda p: box[0][0] < p[0] < box[1][0] and box[0][1] < p[1] < box[2][1])(
                page.evaluate(f"window.posetable.embeddings.toCanvas({i})")
            )
        ]
        points = [
            page.evaluate(f"window.posetable.embeddings.canvasToClient({x}, {y})") for x, y in box
        ]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in [*points[1:], points[0]]:
            page.mouse.move(*point, steps=4)
        page.mouse.up()
        expected = page.evaluate(
            f"{inside}.map((i) => window.posetable.data.sample_ids[i]).sort((a, b) => a - b)"
        )
        text = page.input_value("#lasso-filter")
        assert text == f"sample_id in ({', '.join(map(str, expected))})"
        _shot(page, "embeddings-lasso")
        page.click("#lasso-grid")
        _settled(page, "window.posetable.page === 'grid'")
        assert "filter=sample_id" in page.url
        rows = page.evaluate("window.posetable.data.rows.map((r) => r.sample_id)")
        assert sorted(rows) == expected
        # the 3-D projection rotates with shift-drag
        _open(page, f"{server.base}#/t/{TABLE}/embeddings?run=with-embedding&axes=3d")
        before = page.evaluate("window.posetable.embeddings.toCanvas(0)")
        start = page.evaluate("window.posetable.embeddings.canvasToClient(400, 300)")
        page.keyboard.down("Shift")
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(start[0] + 80, start[1] + 30, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        assert page.evaluate("window.posetable.embeddings.toCanvas(0)") != before
        assert "yaw=" in page.url
        _shot(page, "embeddings-3d")
    finally:
        server.stop()


@pytest.mark.browser
def test_training_page_charts_each_metric_per_epoch(store: Path, page: Any) -> None:
    _populate(store)
    server = Server(store)
    try:
        _open(page, server.base + "#/")
        page.click(f"#training-runs a:text('{TRAINING}')")
        page.wait_for_function("window.posetable.page === 'training' && window.posetable.ready")
        assert "%2F" in page.url
        charts = page.evaluate(
            "[...document.querySelectorAll('#epoch-charts canvas')].map((c) => c.dataset.metric)"
        )
        assert "ap" in charts and "ar" in charts
        means = page.evaluate(
            "[...document.querySelectorAll('#sample-charts canvas')].map((c) => c.dataset.metric)"
        )
        assert "mean_loss_pose" in means
        assert page.locator("#epochs tbody tr").count() == 6
        _shot(page, "training-epochs")
    finally:
        server.stop()
