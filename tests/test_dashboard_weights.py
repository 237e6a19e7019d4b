"""Sample weights from the dashboard's API, in-process, on a real COCO table made the 3LC
way (``tlc.Table.from_coco`` adds the float32 ``weight`` column): one row's weight with its
edits, the selected rows' and the filtered rows' weights; each a new revision, bad weights
refused with the value, nothing written on failure (needs the ``[dashboard]`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

import posetable as pt
from tests._dashboard_load import instances_of

pytestmark = pytest.mark.integration

NAME = "review/coco/train"
URL = f"/api/tables/{quote(NAME, safe='')}"


@pytest.fixture
def weighted(real_data, store: Path) -> tuple[Any, pt.Table]:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from posetable import tlc
    from posetable.dashboard import create_app

    folder = real_data("coco_kpts")
    tlc.Table.from_coco(
        folder / "annotations.json",
        folder / "images",
        task="pose",
        root_url=store,
        project_name="review",
        dataset_name="coco",
        table_name="train",
    )
    table = pt.Table.open(NAME, store=store)
    return TestClient(create_app(store), base_url="http://127.0.0.1"), table


def _weights(store: Path, revision: int | None = None) -> list[float]:
    ref = NAME if revision is None else f"{NAME}@{revision}"
    return pt.Table.open(ref, store=store).to_arrow(columns=["weight"]).column(0).to_pylist()


def _error(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["type"] == kind, response.json()
    return str(response.json()["error"])


def test_the_selected_rows_get_a_weight_in_one_new_revision(weighted) -> None:
    client, table = weighted
    store = table.store.root
    before = _weights(store)
    assert before == [1.0] * len(table)  # 3LC's add_weight_column default
    grid = client.get(f"{URL}/rows").json()
    assert any(c["name"] == "weight" and c["source"] == "table" for c in grid["columns"])
    answer = client.post(f"{URL}/weights", json={"base_revision": 1, "weight": 0, "rows": [1, 3]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["revision"], body["parent"], body["operation"]) == (2, 1, "set_weights")
    assert body["changed"] == 2 and body["weight"] == 0.0
    after = pt.Table.open(NAME, store=store)
    assert after.info.arguments["rows"] == [1, 3] and after.info.arguments["weight"] == 0.0
    assert after.info.arguments["note"] == "set weight 0 on 2 of the chosen rows (2)"
    expected = list(before)
    expected[1] = expected[3] = 0.0
    assert _weights(store) == expected
    for row in range(len(table)):  # only the weight changed
        assert after[row]["keypoints"] == table[row]["keypoints"]
    # the training side reads them as 3LC's weighted sampler would
    from posetable.integrations.ultralytics import sample_weights

    assert sample_weights(after, setting="sampling_weights").tolist() == expected
    # the same weight again changes nothing: refused, nothing written
    again = client.post(f"{URL}/weights", json={"base_revision": 2, "weight": 0, "rows": [1]})
    assert "already have weight 0" in _error(again, 400, "RowError")
    assert pt.Table.open(NAME, store=store).revision == 2


def test_every_row_the_grid_filter_matches_gets_the_weight(weighted) -> None:
    client, table = weighted
    counts = [len(table[r]["keypoints"]) for r in range(len(table))]
    crowded = [r for r, c in enumerate(counts) if c >= 2]
    assert 0 < len(crowded) < len(table)  # the filter picks some rows, not all
    shown = client.get(f"{URL}/rows", params={"filter": "num_instances >= 2"}).json()
    assert sorted(r["row"] for r in shown["rows"]) == crowded
    body = client.post(
        f"{URL}/weights", json={"base_revision": 1, "weight": 2.5, "filter": "num_instances >= 2"}
    ).json()
    assert body["chosen"] == len(crowded) and body["changed"] == len(crowded)
    weights = _weights(table.store.root)
    assert [r for r, w in enumerate(weights) if w == 2.5] == crowded
    assert all(w == 1.0 for r, w in enumerate(weights) if r not in crowded)
    info = pt.Table.open(NAME, store=table.store.root).info
    assert info.arguments["filter"] == "num_instances >= 2"
    # an empty filter is every row; a float32 column stores 0.3 as float32 does
    client.post(f"{URL}/weights", json={"base_revision": 2, "weight": 0.3, "filter": ""})
    assert _weights(table.store.root) == [float(np.float32(0.3))] * len(table)


@pytest.mark.parametrize(
    ("weight", "shown"),
    [
        (-1, "got -1"),
        (-0.5, "got -0.5"),
        ("2", "got '2'"),
        (None, "got None"),
        (True, "got True"),
        ("NaN", "got 'NaN'"),
        ([1], "got [1]"),
    ],
)
def test_invalid_weights_are_refused_with_the_value_and_nothing_is_written(
    weighted, weight: Any, shown: str
) -> None:
    client, table = weighted
    for body in ({"rows": [0]}, {"filter": ""}):
        response = client.post(
            f"{URL}/weights", json={"base_revision": 1, "weight": weight, **body}
        )
        message = _error(response, 400, "RowError")
        assert "weight must be a finite number >= 0" in message and shown in message
    draft = instances_of(client.get(f"{URL}/rows/0").json())
    edit = client.post(
        f"{URL}/edit",
        json={"base_revision": 1, "rows": {"0": {"instances": draft, "weight": weight}}},
    )
    assert "row 0: weight must be a finite number >= 0" in _error(edit, 400, "RowError")
    assert pt.Table.open(NAME, store=table.store.root).revision == 1


def test_the_image_view_saves_the_weight_with_the_rows_edits(weighted) -> None:
    client, table = weighted
    detail = client.get(f"{URL}/rows/2").json()
    assert detail["values"]["weight"] == 1.0
    draft = instances_of(detail)
    saved = client.post(
        f"{URL}/edit", json={"base_revision": 1, "rows": {"2": {"instances": draft, "weight": 0}}}
    ).json()
    assert saved["revision"] == 2
    after = pt.Table.open(NAME, store=table.store.root)
    assert after[2]["weight"] == 0.0 and after[2]["keypoints"] == table[2]["keypoints"]
    assert after.operation == "edit_rows"
    # weight and a moved point together: one revision with both
    draft[0]["keypoints"][0][0] += 5.0
    both = client.post(
        f"{URL}/edit", json={"base_revision": 2, "rows": {"2": {"instances": draft, "weight": 3}}}
    ).json()
    latest = pt.Table.open(NAME, store=table.store.root)
    assert both["revision"] == 3 and latest[2]["weight"] == 3.0
    moved = latest[2]["keypoints"].keypoints[0, 0, 0] - table[2]["keypoints"].keypoints[0, 0, 0]
    assert moved == pytest.approx(5.0)


def test_a_stale_or_weightless_table_is_refused(weighted, store: Path) -> None:
    client, table = weighted
    table.with_rows({0: {"weight": 4.0}})  # someone else changes row 0 meanwhile
    stale = client.post(f"{URL}/weights", json={"base_revision": 1, "weight": 0, "rows": [0]})
    assert stale.json()["type"] == "ConflictError" and stale.status_code == 409
    assert _weights(store)[0] == 4.0
    from posetable.sample import sample_table

    sample_table(store=store)  # the bundled sample: no weight column
    plain = client.post(
        "/api/tables/coco-sample/weights", json={"base_revision": 1, "weight": 1, "rows": [0]}
    )
    message = _error(plain, 400, "SchemaError")
    assert "no 'weight' column" in message and "add_weight_column=True" in message
    unknown = client.post(f"{URL}/weights", json={"base_revision": 2, "weight": 1, "rows": [99]})
    assert "row 99 does not exist" in _error(unknown, 400, "RowError")
    neither = client.post(f"{URL}/weights", json={"base_revision": 2, "weight": 1})
    assert "name the rows" in _error(neither, 400, "RowError")
