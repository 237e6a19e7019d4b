"""Table.set_values: one user column of many rows edited in Arrow, as one revision that
follows the same racing-edit rule as with_rows."""

from __future__ import annotations

import numpy as np
import pytest

import posetable as pt
from posetable.errors import ConflictError, RowError
from tests._core_tables import coco_table


@pytest.fixture
def weighted(real_data, store) -> pt.Table:
    table = coco_table(real_data("coco_kpts"), name="coco", store=store)
    return table.add_column("weight", np.ones(len(table), np.float32))


def test_values_land_on_the_chosen_rows_and_nothing_else_changes(weighted):
    edited = weighted.set_values("weight", [0.0, 2.5], rows=[3, 1])
    assert edited.parent == weighted.revision and edited.operation == "set_values"
    assert edited.info.arguments["rows"] == [1, 3]
    weights = edited.to_arrow(columns=["weight"]).column("weight").to_pylist()
    assert weights == [1.0, 2.5, 1.0, 0.0]
    before, after = weighted.to_arrow(), edited.to_arrow()
    for name in before.column_names:
        if name != "weight":
            assert before.column(name).equals(after.column(name)), name
    assert edited.sample_ids().tolist() == weighted.sample_ids().tolist()
    everyone = edited.set_values("weight", 0.5)
    assert everyone.to_arrow(columns=["weight"]).column("weight").to_pylist() == [0.5] * 4


def test_bad_values_and_columns_are_refused_and_nothing_is_written(weighted):
    revisions = len(weighted.revisions())
    with pytest.raises(RowError, match="do not fit it"):
        weighted.set_values("weight", "heavy", rows=[0])
    with pytest.raises(RowError, match="got 3 values for 2 rows"):
        weighted.set_values("weight", [1.0, 2.0, 3.0], rows=[0, 1])
    with pytest.raises(RowError, match="unknown column 'wieght'"):
        weighted.set_values("wieght", 1.0)
    with pytest.raises(RowError, match="'keypoints' is one of the table's own columns"):
        weighted.set_values("keypoints", None)
    with pytest.raises(RowError, match="names a row twice"):
        weighted.set_values("weight", 1.0, rows=[1, 1])
    with pytest.raises(RowError):
        weighted.set_values("weight", 1.0, rows=[9])
    assert len(weighted.latest().revisions()) == revisions


def test_a_racing_edit_of_other_rows_lands_and_of_the_same_rows_conflicts(weighted):
    other = weighted.set_values("weight", 3.0, rows=[0])  # another writer, row 0
    kept = weighted.set_values("weight", 4.0, rows=[2])  # stale base, other rows: rebuilt
    assert kept.parent == other.revision
    assert kept.to_arrow(columns=["weight"]).column("weight").to_pylist() == [3.0, 1.0, 4.0, 1.0]
    with pytest.raises(ConflictError):
        weighted.set_values("weight", 5.0, rows=[0])
