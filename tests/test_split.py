"""Splitting a table into derived tables: ``posetable.split_table`` and 3LC's ``tlc_tools``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
import posetable.tlc as tlc
from posetable.errors import PosetableWarning, TableExistsError, UnsupportedError
from posetable.tlc_tools.split import split_table


@pytest.fixture
def pets(store: Path) -> pt.Table:
    """40 rows: 30 dogs, 10 cats (a 3:1 class imbalance), with a 2-d embedding."""
    rows = [
        {
            "image": f"{i}.jpg",
            "width": 8,
            "height": 8,
            "kind": "cat" if i % 4 == 0 else "dog",
            "embedding": [float(i % 7), float(i // 7)],
        }
        for i in range(40)
    ]
    return pt.Table.from_rows(rows, name="pets", schema=pt.Keypoints2DSchema(1), store=store)


def _kinds(table: pt.Table) -> dict[str, int]:
    kinds = [r["kind"] for r in table]
    return {k: kinds.count(k) for k in ("cat", "dog")}


def test_a_random_split_is_new_derived_tables_and_leaves_the_source(pets: pt.Table) -> None:
    parts = pt.split_table(pets, {"train": 0.75, "val": 0.25}, seed=3)
    assert {k: (t.ref, len(t)) for k, t in parts.items()} == {
        "train": ("pets-train@1", 30),
        "val": ("pets-val@1", 10),
    }
    assert all(t.source == "pets@1" for t in parts.values())
    assert parts["val"].info.arguments["strategy"] == "random"
    images = [r["image"] for t in parts.values() for r in t]
    assert sorted(images) == sorted(r["image"] for r in pets)  # every row once
    ids = np.concatenate([t.sample_ids() for t in parts.values()])
    assert sorted(ids.tolist()) == pets.sample_ids().tolist()  # sample ids are kept
    assert pets.latest().revision == 1 and len(pets) == 40
    again = pt.split_table(
        pets, {"train": 0.75, "val": 0.25}, seed=3, names={"train": "a", "val": "b"}
    )
    assert [r["image"] for r in again["val"]] == [r["image"] for r in parts["val"]]  # same seed
    other = pt.split_table(
        pets, {"train": 0.75, "val": 0.25}, seed=4, names={"train": "c", "val": "d"}
    )
    assert [r["image"] for r in other["val"]] != [r["image"] for r in parts["val"]]


def test_a_stratified_split_keeps_each_class_in_proportion(pets: pt.Table) -> None:
    parts = pt.split_table(
        pets, {"train": 0.6, "val": 0.2, "test": 0.2}, strategy="stratified", by="kind", seed=0
    )
    assert {k: _kinds(t) for k, t in parts.items()} == {
        "train": {"cat": 6, "dog": 18},
        "val": {"cat": 2, "dog": 6},
        "test": {"cat": 2, "dog": 6},
    }


def test_balanced_and_undersampled_and_traversal_strategies(pets: pt.Table) -> None:
    splits = {"train": 0.5, "val": 0.5}
    greedy = pt.split_table(pets, splits, strategy="balanced_greedy", by="kind",
                            names={"train": "g1", "val": "g2"})  # fmt: skip
    assert {k: _kinds(t) for k, t in greedy.items()} == {
        "train": {"cat": 5, "dog": 15},
        "val": {"cat": 5, "dog": 15},
    }
    under = pt.split_table(pets, splits, strategy="undersampled_balanced", by="kind",
                           names={"train": "u1", "val": "u2"})  # fmt: skip
    assert {k: _kinds(t) for k, t in under.items()} == {
        "train": {"cat": 5, "dog": 5},
        "val": {"cat": 5, "dog": 5},
    }
    spread = pt.split_table(pets, {"train": 0.8, "val": 0.2}, strategy="traversal_index",
                            by="embedding", names={"train": "t1", "val": "t2"})  # fmt: skip
    points = np.asarray([r["embedding"] for r in spread["val"]])
    assert len(points) == 8 and len({tuple(p) for p in points}) == 8
    assert np.ptp(points[:, 0]) == 6 and np.ptp(points[:, 1]) >= 4  # spread over the space


def test_by_a_function_of_the_row(pets: pt.Table) -> None:
    parts = pt.split_table(pets, {"a": 0.5, "b": 0.5}, strategy="stratified",
                           by=lambda row: int(row["image"].split(".")[0]) % 2)  # fmt: skip
    assert [len(t) for t in parts.values()] == [20, 20]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"splits": {"train": 1.5}}, "proportion of 'train' must be a number in"),
        ({"splits": {"": 1.0}}, "split names must be non-empty"),
        ({"strategy": "k-means"}, r"strategy must be one of \['random', 'stratified'"),
        ({"strategy": "stratified"}, "needs by="),
        ({"strategy": "stratified", "by": "nope"}, "by must be a column name"),
        ({"seed": 1.5}, "seed must be an int"),
    ],
)
def test_bad_split_arguments_raise_and_write_nothing(pets: pt.Table, options: dict, message: str):
    with pytest.raises(UnsupportedError, match=message):
        pt.split_table(pets, **options)
    assert pt.list_tables(store=pets.store) == ["pets"]


def test_proportions_are_normalised_with_a_warning(pets: pt.Table) -> None:
    with pytest.warns(PosetableWarning, match="sum to 2, not 1; they are normalised"):
        parts = pt.split_table(pets, {"train": 1.0, "val": 1.0})
    assert [len(t) for t in parts.values()] == [20, 20]


def test_split_names_that_exist_write_nothing(pets: pt.Table) -> None:
    pt.split_table(pets, {"train": 0.5, "val": 0.5})
    with pytest.raises(TableExistsError, match="pets-val"):
        pt.split_table(pets, {"val": 0.5, "new": 0.5})
    assert pt.list_tables(store=pets.store) == ["pets", "pets-train", "pets-val"]


# -- 3LC's tlc_tools.split.split_table ------------------------------------------------------------
def _tlc_pets(store: Path) -> tlc.Table:
    kp = tlc.Keypoints2DInstances.create_empty(image_width=8, image_height=8).to_row()
    return tlc.Table.from_dict(
        {"image": [f"{i}.jpg" for i in range(20)], "kp": [kp] * 20,
         "kind": ["cat" if i % 4 == 0 else "dog" for i in range(20)]},
        structure={"image": tlc.ImageUrlSchema(), "kp": tlc.Keypoints2DSchema(num_keypoints=1),
                   "kind": tlc.StringSchema()},
        table_name="initial", dataset_name="Pets", project_name="Zoo", root_url=store,
    )  # fmt: skip


def test_tlc_split_table_makes_tables_named_by_split_in_the_dataset(store: Path) -> None:
    table = _tlc_pets(store)
    parts = split_table(table)
    assert {k: (t.native.ref, len(t)) for k, t in parts.items()} == {
        "train": ("Zoo/Pets/train@1", 16),
        "val": ("Zoo/Pets/val@1", 4),
    }
    assert parts["train"].native.source == "Zoo/Pets/initial@1"
    assert parts["train"].columns == table.columns and parts["val"][0]["kp"]["instances"] == []
    # reuse (3LC's default): the split tables are opened as they are
    again = split_table(table.url, random_seed=7)
    assert {k: t.native.ref for k, t in again.items()} == {
        k: t.native.ref for k, t in parts.items()
    }


def test_tlc_split_table_stratified_by_a_column_or_a_row_function(store: Path) -> None:
    table = _tlc_pets(store)
    parts = split_table(
        table, splits={"train": 0.6, "val": 0.4}, split_strategy="stratified", split_by="kind"
    )
    assert {k: sorted(r["kind"] for r in t).count("cat") for k, t in parts.items()} == {
        "train": 3,
        "val": 2,
    }
    by_row = split_table(table, splits={"a": 0.5, "b": 0.5}, split_strategy="stratified",
                         split_by=lambda row: row["kind"] == "cat")  # fmt: skip
    assert [sorted(r["kind"] for r in t).count("cat") for t in by_row.values()] == [3, 2]


def test_tlc_split_table_rename_overwrite_and_partial_reuse(store: Path) -> None:
    table = _tlc_pets(store)
    split_table(table, splits={"train": 0.5, "val": 0.5})
    renamed = split_table(table, splits={"train": 0.5, "val": 0.5}, if_exists="rename")
    assert [t.name for t in renamed.values()] == ["train_0001", "val_0001"]
    rewritten = split_table(
        table, splits={"train": 0.5, "val": 0.5}, if_exists="overwrite", random_seed=5
    )
    assert [t.native.ref for t in rewritten.values()] == ["Zoo/Pets/train@2", "Zoo/Pets/val@2"]
    with pytest.raises(TableExistsError, match=r"split tables \['train'\] of \['train', 'test'\]"):
        split_table(table, splits={"train": 0.5, "test": 0.5})
    assert "Zoo/Pets/test" not in pt.list_tables(store=store)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split_by": 1}, "split_by=1 indexes tuple rows"),
        ({"split_strategy": "stratified", "split_by": "nope"}, "split_by='nope' is not a column"),
        ({"if_exists": "raise"}, r"if_exists must be one of \['reuse', 'overwrite', 'rename'\]"),
        ({"split_strategy": "fps"}, "strategy must be one of"),
    ],
)
def test_tlc_split_table_bad_arguments(store: Path, options: dict[str, Any], message: str) -> None:
    table = _tlc_pets(store)
    with pytest.raises(UnsupportedError, match=message):
        split_table(table, **options)
    assert pt.list_tables(store=store) == ["Zoo/Pets/initial"]
