"""The store: where tables live, revisions as Lance versions, lineage, conflicts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import lance
import numpy as np
import orjson
import pytest

import posetable as pt
from posetable.errors import ConflictError, NotFoundError, RevisionError, RowError
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


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "a/b", "a b", "é", "../up"])
def test_table_names_are_checked(store: Path, name: str) -> None:
    with pytest.raises(RevisionError, match="table name must be letters"):
        pt.Table.from_rows([], name=name, schema=pt.Keypoints2DSchema(1), store=store)


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
    edited = pt.KeypointHelper.edit_oks_sigmas(coco.with_rows({2: {"width": 3}}), [0.04] * 17)
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
    t5 = pt.KeypointHelper.edit_default_lines(t4, [0, 1])
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
    again = pt.Table.from_rows(rows[:2], name="coco", schema=schema, store=coco.store)
    assert (again.revision, again.parent, len(again)) == (2, 1, 2)
    assert len(pt.Table.open("coco@1", store=coco.store)) == 4
    with pytest.raises(RevisionError, match="already exists"):
        pt.Table.from_rows(rows, name="coco", schema=schema, store=coco.store, if_exists="error")


# -- conflicts and branches ---------------------------------------------------------------
def test_every_edit_of_an_old_revision_is_a_conflict_before_any_other_check(coco: pt.Table) -> None:
    coco.with_rows({0: {"width": 1}})
    uri = coco.store.table_uri("coco")
    state = versions(uri)
    edits = [
        lambda: coco.with_rows({0: {"width": 2}}),
        lambda: coco.with_rows({99: {"width": -5}}),  # also bad, but the conflict comes first
        lambda: coco.delete_rows([0]),
        lambda: coco.add_column("split", ["a"] * 4),
        lambda: coco.with_schema(coco.schema.replace(lines=[])),
        lambda: pt.KeypointHelper.edit_oks_sigmas(coco, [0.1] * 17),
        lambda: pt.KeypointHelper.edit_default_keypoints(coco, [0.5] * 34),
        lambda: pt.KeypointHelper.edit_default_lines(coco, [0, 1]),
    ]
    for edit in edits:
        with pytest.raises(ConflictError, match=r"revision 1 is not the latest \(2\).*branch=True"):
            edit()
    assert versions(uri) == state


def test_branch_makes_a_new_revision_from_an_old_one(coco: pt.Table) -> None:
    images = [r["image"] for r in coco]
    latest = coco.with_rows({0: {"width": 1}})
    branched = coco.with_rows({3: {"width": 3}}, branch=True)
    assert branched[0]["width"] == coco[0]["width"] and branched[3]["width"] == 3
    assert [r["image"] for r in branched] == images
    lineage = [(h.revision, h.operation) for h in branched.history()]
    assert lineage == [(4, "edit_rows"), (3, "branch"), (1, "create")]
    assert latest[0]["width"] == 1  # the other line is untouched
    with pytest.raises(ConflictError):
        latest.with_rows({0: {"width": 5}})
    with pytest.raises(RowError):  # a failed branch edit writes nothing, not even the branch
        coco.with_rows({0: {"height": 0}}, branch=True)
    assert pt.Table.open("coco", store=coco.store).revision == 4


def test_restore_makes_an_old_revision_the_latest_again(coco: pt.Table) -> None:
    coco.delete_rows([0, 1])
    back = coco.restore()
    assert len(back) == 4 and back.parent == 1 and back.operation == "restore"


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
