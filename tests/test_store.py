"""The store: where tables live, revisions as Lance versions, lineage, conflicts."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import lance
import numpy as np
import orjson
import pytest

import posetable as pt
from posetable.errors import ConflictError, NotFoundError, RevisionError
from tests._core_tables import coco_rows, coco_table, files_under, versions

TINY_STORE = Path(__file__).parent / "data" / "store-pylance14"


@pytest.fixture
def coco(real_data, store: Path) -> pt.Table:
    return coco_table(real_data("coco_kpts"), name="coco", store=store)


# -- where the store is -----------------------------------------------------------------------
def test_store_comes_from_the_argument_then_env_then_the_working_directory(
    real_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema, rows = coco_rows(real_data("onehand10k"))
    home = tmp_path / "home"
    monkeypatch.setenv("POSETABLE_HOME", str(home))
    pt.Table.from_rows(rows, name="hands", schema=schema)
    assert (home / "tables" / "hands.lance").is_dir()
    assert pt.list_tables() == ["hands"]
    assert pt.Table.open("hands").store.root == home.absolute()
    explicit = tmp_path / "explicit"
    pt.Table.from_rows(rows, name="other", schema=schema, store=explicit)
    assert pt.list_tables(store=explicit) == ["other"] and pt.list_tables() == ["hands"]
    assert pt.list_tables(store=pt.Store(explicit)) == ["other"]
    monkeypatch.delenv("POSETABLE_HOME")
    monkeypatch.chdir(tmp_path)
    pt.Table.from_rows(rows, name="here", schema=schema)
    assert pt.list_tables(store=tmp_path / "posetable-data") == ["here"]


def test_list_tables_names_only_committed_tables(coco: pt.Table) -> None:
    stray = coco.store.tables_dir / "half.lance"
    stray.mkdir()
    assert pt.list_tables(store=coco.store) == ["coco"]
    assert pt.Store(coco.store.root).table_names() == ["coco"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "non-empty"),
        (".hidden", "may not start with '.'"),
        ("../up", "may not start with '.'"),
        ("a//b", "empty part"),
        ("a/", "empty part"),
        ("a:b", "may not hold ':'"),
        ("a@b", "may not hold '@'"),
        ("tab\there", "may not hold"),
        (" padded", "space"),
        ("x.lance/y", "may not end with '.lance'"),
    ],
)
def test_bad_table_names_are_refused_naming_the_part(store: Path, name: str, why: str) -> None:
    with pytest.raises(RevisionError, match=re.escape(why)):
        pt.Table.from_rows([], name=name, schema=pt.Keypoints2DSchema(1), store=store)
    assert pt.list_tables(store=store) == []


def test_path_like_names_with_spaces_live_in_nested_folders_and_are_listed(store: Path) -> None:
    schema = pt.Keypoints2DSchema(1)
    names = ["3LC Tutorials - COCO128/COCO128/initial", "Other/COCO128/initial", "flat", "é"]
    for name in names:
        pt.Table.from_rows([], name=name, schema=schema, store=store)
    assert pt.list_tables(store=store) == sorted(names)
    assert (store / "tables" / "3LC Tutorials - COCO128" / "COCO128" / "initial.lance").is_dir()
    assert pt.Store(store).table_names("Other/COCO128") == ["Other/COCO128/initial"]
    one = pt.Table.open("3LC Tutorials - COCO128/COCO128/initial@1", store=store)
    assert one.ref == "3LC Tutorials - COCO128/COCO128/initial@1"
    # the same table name in two datasets: two tables
    assert pt.Table.open("Other/COCO128/initial", store=store).dataset.uri != one.dataset.uri


# -- opening ---------------------------------------------------------------------------------
def test_open_latest_and_a_revision(coco: pt.Table) -> None:
    edited = coco.with_rows({0: {"width": 1}})
    assert pt.Table.open("coco", store=coco.store).revision == edited.revision == 2
    first = pt.Table.open("coco@1", store=coco.store)
    assert first.revision == 1 and first[0]["width"] == coco[0]["width"]
    assert first.ref == "coco@1" and first.latest().revision == 2 and not first.is_latest()


def test_unknown_table_lists_the_known_ones(coco: pt.Table) -> None:
    with pytest.raises(NotFoundError, match=r"no table named 'cocoa' .* known tables: coco"):
        pt.Table.open("cocoa", store=coco.store)
    with pytest.raises(LookupError):
        pt.Table.open("cocoa", store=coco.store)
    with pytest.raises(NotFoundError, match=r"known tables: \(none\)"):
        pt.Table.open("x", store=coco.store.root / "elsewhere")


def test_unknown_revision_lists_the_known_ones(coco: pt.Table) -> None:
    coco.with_rows({0: {"width": 1}}).with_rows({0: {"width": 2}})
    with pytest.raises(
        NotFoundError, match=r"table 'coco' has no revision 7; known revisions: 1\.\.3"
    ):
        pt.Table.open("coco@7", store=coco.store)
    with pytest.raises(RevisionError, match="'name' or 'name@REVISION'"):
        pt.Table.open("coco@latest", store=coco.store)


# -- revisions, metadata, lineage ---------------------------------------------------------
def test_each_revision_is_one_lance_version_with_its_record_in_the_same_commit(
    coco: pt.Table,
) -> None:
    # a new revision with other sigmas (KeypointHelper.edit_oks_sigmas derives a new table)
    rows_edited = coco.with_rows({2: {"width": 3}})
    edited = rows_edited.with_schema(
        rows_edited.schema.replace(oks_sigmas=[0.04] * 17),
        operation="edit_oks_sigmas",
        arguments={"oks_sigmas": [0.04] * 17},
    )
    dataset = lance.dataset(str(coco.store.table_uri("coco")))
    assert (
        [v["version"] for v in dataset.versions()]
        == [1, 2, 3]
        == [r.revision for r in edited.revisions()]
    )
    for version, operation in [(1, "create"), (2, "edit_rows"), (3, "edit_oks_sigmas")]:
        props = dataset.read_transaction(version).transaction_properties
        record = orjson.loads(props["posetable"])
        assert record["operation"] == operation
        assert record["parent"] == (None if version == 1 else version - 1)
        meta = orjson.loads(
            lance.dataset(dataset.uri, version=version).schema.metadata[b"posetable"]
        )
        sigmas = meta["schema"]["oks_sigmas"]
        assert sigmas == ([0.04] * 17 if version == 3 else None)
    assert edited.info.arguments == {"oks_sigmas": [0.04] * 17}
    assert edited.info.timestamp is not None


def test_history_walks_the_lineage_with_operations_and_arguments(coco: pt.Table) -> None:
    t2 = coco.with_rows({1: {"width": 10}})
    t3 = t2.delete_rows([0])
    t4 = t3.add_column("split", ["a", "b", "c"])
    t5 = t4.with_schema(
        t4.schema.replace(lines=[0, 1], line_colors=None),
        operation="edit_default_lines",
        arguments={"lines": [0, 1]},
    )
    lineage = [(h.revision, h.parent, h.operation) for h in t5.history()]
    assert lineage == [
        (5, 4, "edit_default_lines"),
        (4, 3, "add_column"),
        (3, 2, "delete_rows"),
        (2, 1, "edit_rows"),
        (1, None, "create"),
    ]
    assert t5.history()[2].arguments == {"rows": [0]}
    assert t5.history()[3].arguments == {"rows": [1]}
    assert t3.history()[0].revision == 3  # history of a revision stops at itself
    assert [h.operation for h in pt.Table.open("coco@2", store=coco.store).history()] == [
        "edit_rows",
        "create",
    ]


def test_writing_rows_to_an_existing_name_makes_the_next_revision(
    real_data, coco: pt.Table
) -> None:
    schema, rows = coco_rows(real_data("coco_kpts"))
    again = pt.Table.from_rows(
        rows[:2], name="coco", schema=schema, store=coco.store, if_exists="new_revision"
    )
    assert (again.revision, again.parent, len(again)) == (2, 1, 2)
    assert len(pt.Table.open("coco@1", store=coco.store)) == 4
    with pytest.raises(RevisionError, match="if_exists must be one of"):
        pt.Table.from_rows(rows, name="coco", schema=schema, store=coco.store, if_exists="reuse")


def test_another_dataset_under_an_existing_name_is_refused_naming_both(store: Path) -> None:
    """A K=17 import named like a K=20 table never silently becomes its revision 2."""
    animals = pt.Table.from_rows(
        [{"image": "cat.jpg", "width": 8, "height": 8}],
        name="initial",
        schema=pt.Keypoints2DSchema(20),
        store=store,
    )
    uri = animals.store.table_uri("initial")
    state = sorted(p.name for p in (uri / "_versions").iterdir())
    people = pt.Keypoints2DSchema.coco_person()
    makers = [
        lambda: pt.Table.from_rows([], name="initial", schema=people, store=store),
        lambda: pt.TableWriter("initial", schema=people, store=store),
        lambda: pt.Table.from_arrow(animals.to_arrow(), name="initial", schema=people, store=store),
    ]
    for make in makers:
        with pytest.raises(pt.errors.TableExistsError) as caught:
            make()
        text = str(caught.value)
        assert "table 'initial' already exists" in text
        assert "latest revision 1, K=20, 1 rows" in text and "K=17" in text
        assert "if_exists='new_revision'" in text
    assert sorted(p.name for p in (uri / "_versions").iterdir()) == state
    assert pt.Table.open("initial", store=store).schema.num_keypoints == 20


# -- conflicts: an edit of an old revision (DESIGN §1b) -----------------------------------
def test_an_edit_of_an_old_revision_that_overlaps_a_newer_one_is_a_conflict(
    coco: pt.Table,
) -> None:
    coco.with_rows({0: {"width": 1}})
    uri = coco.store.table_uri("coco")
    state = versions(uri)
    edits = [
        lambda: coco.with_rows({0: {"width": 2}}),  # the same row
        lambda: coco.with_rows({0: {"width": -5}}),  # also bad, but the conflict comes first
        lambda: coco.with_rows({99: {"width": 5}}),  # out of range: the latest decides
        lambda: coco.delete_rows([3]),  # positions would move under the other edit
        lambda: coco.add_column("split", ["a"] * 4),
    ]
    for edit in edits:
        with pytest.raises(ConflictError, match=r"revision 1|revision 2"):
            edit()
    assert versions(uri) == state


def test_an_edit_of_an_old_revision_touching_other_rows_lands_on_the_latest(
    coco: pt.Table,
) -> None:
    first = coco.with_rows({0: {"width": 1}})
    second = coco.with_rows({3: {"width": 3}})  # based on 1, applied to 2
    assert (second.revision, second.parent) == (3, 2)
    assert [r["width"] for r in second][::3] == [1, 3]
    sigmas = coco.with_schema(coco.schema.replace(oks_sigmas=[0.05] * 17))  # rows vs schema
    assert (sigmas.revision, sigmas.parent) == (4, 3)
    assert sigmas[0]["width"] == 1 and sigmas.schema.oks_sigmas is not None
    with pytest.raises(ConflictError, match=r"revision 4 .*changed the schema"):
        first.with_schema(coco.schema.replace(lines=[]))  # schema vs schema
    assert [(h.revision, h.parent) for h in sigmas.history()] == [(4, 3), (3, 2), (2, 1), (1, None)]


def test_derive_keeps_an_old_revision_apart_without_touching_the_history(coco: pt.Table) -> None:
    images = [r["image"] for r in coco]
    latest = coco.with_rows({0: {"width": 1}})
    derived = coco.derive("coco-as-imported")
    assert (derived.ref, derived.parent, derived.source) == ("coco-as-imported@1", None, "coco@1")
    assert [r["image"] for r in derived] == images and derived[0]["width"] == coco[0]["width"]
    assert list(derived.sample_ids()) == list(coco.sample_ids())
    edited = derived.with_rows({3: {"width": 3}})
    assert edited[3]["width"] == 3 and pt.Table.open("coco", store=coco.store).revision == 2
    assert latest.latest()[3]["width"] == coco[3]["width"]
    with pytest.raises(ConflictError, match="already exists"):
        coco.derive("coco-as-imported")


def test_restore_makes_an_old_revision_the_latest_again(coco: pt.Table) -> None:
    coco.delete_rows([0, 1])
    back = coco.restore()
    assert len(back) == 4 and back.operation == "restore"
    assert (back.parent, back.info.arguments) == (2, {"revision": 1})


def test_revert_undoes_one_revision_and_keeps_later_work(coco: pt.Table) -> None:
    a = coco.with_rows({0: {"width": 1}})
    b = a.with_rows({1: {"width": 2}})
    undone = a.revert()
    assert [r["width"] for r in undone][:2] == [coco[0]["width"], 2]
    assert (undone.parent, undone.operation) == (b.revision, "revert")
    undone.with_rows({0: {"width": 9}})  # row 0 changed again after a
    with pytest.raises(ConflictError, match="same rows"):
        a.revert()
    deleted = undone.latest().delete_rows([0])
    assert len(deleted.revert()) == 4  # the latest, so it can go back whole


# -- durability across versions of pylance ------------------------------------------------
def test_a_store_written_by_the_pinned_pylance_still_opens(real_data, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(TINY_STORE, store)
    before = files_under(store)
    schema, rows = coco_rows(real_data("coco_kpts"))
    assert pt.list_tables(store=store) == ["coco"]
    latest = pt.Table.open("coco", store=store)
    assert latest.revision == 4
    assert [(h.revision, h.operation) for h in latest.history()] == [
        (4, "delete_rows"),
        (3, "edit_oks_sigmas"),
        (2, "edit_rows"),
        (1, "create"),
    ]
    first = pt.Table.open("coco@1", store=store)
    assert first.schema == schema
    for got, want in zip(first, rows, strict=True):
        assert got["image"] == want["image"] and got["width"] == want["width"]
        assert got["keypoints"].to_row() == want["keypoints"].to_row()
    assert pt.Table.open("coco@2", store=store)[1]["width"] == 999
    np.testing.assert_array_equal(
        pt.KeypointHelper.get_oks_sigmas_from_table(latest), np.full(17, 0.05)
    )
    assert not pt.Table.open("coco@2", store=store).schema.oks_sigmas_given
    assert [r["image"] for r in latest] == [r["image"] for r in rows[1:]]
    assert latest[0]["width"] == 999
    assert latest.sql("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 3}]
    assert files_under(store) == before  # reading wrote nothing
    assert os.listdir(TINY_STORE / "tables") == ["coco.lance"]
