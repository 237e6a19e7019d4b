"""A revision's flat snapshot (``posetable._flat_snapshot``): what evaluating it needs, read
with numpy alone by ``Table.open`` and ``pt.evaluate(table, run)``.

The snapshot must give the bits the Lance path gives, describe the table as Lance does, and
never be read for data it was not made from (a table made again under its name, a corrupt
or half-written file); a store where it cannot be written still evaluates.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import lance
import numpy as np
import pyarrow as pa
import pytest

import posetable as pt
from posetable import _flat_snapshot
from posetable.eval._columns import table_frame, table_ground_truth
from tests._core_tables import COCO_FOLDERS, coco_table
from tests._predictions import noisy_predictions

ARRAYS = ("stats", "precision", "recall", "scores")


def _same_bits(got: pt.EvaluationResult, want: pt.EvaluationResult) -> None:
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.shape == b.shape and a.tobytes() == b.tobytes(), name
    assert got.per_sample.equals(want.per_sample)
    assert got.per_instance.equals(want.per_instance)


def _cache(store: Path) -> Path:
    return store / ".cache" / "flat"


def _made(real_data, store: Path, name: str) -> tuple[pt.Table, pt.Run]:
    table = coco_table(real_data(name), name=name, store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=5), name=f"{name}-run")
    return table, run


@pytest.mark.parametrize("name", COCO_FOLDERS)
def test_the_snapshot_holds_the_lance_paths_arrays_and_evaluates_to_its_bits(
    real_data, store, name
):
    table, run = _made(real_data, store, name)  # creating the run evaluated: snapshot kept
    snapshot = _flat_snapshot.find(pt.Store(store), name, None)
    assert snapshot is not None and snapshot.revision == table.revision
    fr = table_frame(table)
    for field, want in vars(fr).items():
        got = getattr(snapshot.frame(), field)
        assert np.asarray(got).dtype == np.asarray(want).dtype, field
        assert np.array_equal(got, want), field
    for field, want in vars(table_ground_truth(table, fr)).items():
        got = getattr(snapshot.ground_truth(), field)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), field
    from_snapshot = pt.evaluate(
        pt.Table.open(name, store=store), pt.Run.open(run.name, store=store)
    )
    shutil.rmtree(_cache(store))
    from_lance = pt.evaluate(pt.Table.open(name, store=store), pt.Run.open(run.name, store=store))
    _same_bits(from_snapshot, from_lance)
    assert _flat_snapshot.find(pt.Store(store), name, None) is not None  # written again


def test_a_table_opened_from_its_snapshot_is_the_table_lance_opens(real_data, store):
    lance_table = coco_table(real_data("crowdpose"), name="t", store=store)
    pt.evaluate(lance_table, noisy_predictions(lance_table, seed=2))
    opened = pt.Table.open("t", store=store)
    assert _flat_snapshot.find(pt.Store(store), "t", 1) is not None
    assert (opened.ref, len(opened), opened.columns) == (
        lance_table.ref, len(lance_table), lance_table.columns
    )  # fmt: skip
    assert opened.schema == lance_table.schema and opened.metadata == lance_table.metadata
    assert opened.info == lance_table.info and opened.is_latest()
    assert np.array_equal(opened.sample_ids(), lance_table.sample_ids())
    assert opened.to_arrow().equals(lance_table.to_arrow())
    assert opened[1]["keypoints"] == lance_table[1]["keypoints"]
    edited = opened.add_column("note", ["a", "b"])  # edits work on it: Lance opens when asked
    assert (edited.revision, edited.parent, edited[1]["note"]) == (2, 1, "b")
    latest = pt.Table.open("t", store=store)  # the latest is revision 2, which has none yet
    assert latest.revision == 2 and latest.columns == [*lance_table.columns, "note"]
    assert pt.Table.open("t@1", store=store).columns == lance_table.columns


def test_a_table_made_again_under_its_name_never_reads_the_old_snapshot(real_data, store):
    first, _ = _made(real_data, store, "coco_kpts")
    assert _flat_snapshot.find(pt.Store(store), "coco_kpts", 1) is not None
    shutil.rmtree(store / "tables" / "coco_kpts.lance")
    other = coco_table(real_data("horse10"), name="coco_kpts", store=store)  # K=22, not 17
    assert other.revision == 1
    assert _flat_snapshot.find(pt.Store(store), "coco_kpts", 1) is None  # another manifest
    reopened = pt.Table.open("coco_kpts", store=store)
    assert reopened.schema.num_keypoints == other.schema.num_keypoints != first.schema.num_keypoints
    predictions = noisy_predictions(other, seed=8)
    _same_bits(pt.evaluate(reopened, predictions), pt.evaluate(other, predictions))


def test_a_corrupt_or_half_written_snapshot_is_not_read(real_data, store):
    table, run = _made(real_data, store, "ap10k")
    want = pt.evaluate(table, run)
    folder = _cache(store) / "ap10k.lance" / "r1"
    (folder / "gt-keypoints.npy").write_bytes(b"not an array")
    _same_bits(pt.evaluate(pt.Table.open("ap10k", store=store), run), want)
    (folder / "meta.json").write_text("{")
    assert _flat_snapshot.find(pt.Store(store), "ap10k", 1) is None
    _same_bits(pt.evaluate(pt.Table.open("ap10k", store=store), run), want)
    # a writer that died before its rename leaves a staging folder, which nobody reads
    shutil.rmtree(folder)
    (folder.parent / ".r1.deadbeef").mkdir()
    assert _flat_snapshot.find(pt.Store(store), "ap10k", 1) is None
    _same_bits(pt.evaluate(pt.Table.open("ap10k", store=store), run), want)


def test_a_store_where_the_snapshot_cannot_be_written_still_evaluates(real_data, store):
    (store / ".cache").write_text("a file where the cache folder would go")
    table, run = _made(real_data, store, "onehand10k")
    fr = table_frame(table)
    assert _flat_snapshot.save(table, fr, table_ground_truth(table, fr)) is None
    got = pt.evaluate(pt.Table.open("onehand10k", store=store), run)
    (store / ".cache").unlink()
    _same_bits(got, pt.evaluate(table, run))


@pytest.mark.parametrize("v2_names", [True, False])
def test_revisions_read_from_the_manifest_names_are_lances_versions(tmp_path, v2_names):
    uri = tmp_path / "d.lance"
    data = pa.table({"a": [1, 2]})
    lance.write_dataset(data, str(uri), enable_v2_manifest_paths=v2_names)
    for _ in range(3):
        lance.write_dataset(data, str(uri), mode="append")
    versions = sorted(int(v["version"]) for v in lance.dataset(str(uri)).versions())
    assert sorted(_flat_snapshot.revisions_on_disk(uri) or []) == versions == [1, 2, 3, 4]
    (uri / "_versions" / "odd.manifest").write_text("")  # a name Lance did not write: ask Lance
    assert _flat_snapshot.revisions_on_disk(uri) is None
    assert _flat_snapshot.revisions_on_disk(tmp_path / "missing.lance") is None


def test_gc_removes_snapshots_no_revision_can_read_and_keeps_the_rest(real_data, store):
    _made(real_data, store, "aic")
    _made(real_data, store, "horse10")
    shutil.rmtree(store / "tables" / "horse10.lance")  # its snapshot can never be read again
    coco_table(real_data("horse10"), name="horse10", store=store)  # not evaluated yet
    dead_writer = _cache(store) / "aic.lance" / ".r2.0123abcd"
    dead_writer.mkdir()
    report = pt.collect_garbage(store=store, min_age_s=0)
    assert report.removed == sorted([_cache(store) / "horse10.lance" / "r1", dead_writer])
    assert _flat_snapshot.find(pt.Store(store), "aic", 1) is not None
    assert pt.collect_garbage(store=store, min_age_s=0).removed == []


def test_a_snapshot_keeps_the_rows_a_run_from_results_reads(real_data, store, tmp_path):
    """Sample ids are kept with the snapshot; the image sizes once a run is made from a
    results file on the revision (what it keeps of the table), read from then on."""
    table, run = _made(real_data, store, "crowdpose")
    results = run.export_coco_results(tmp_path / "results.json")
    snapshot = _flat_snapshot.find(pt.Store(store), "crowdpose", None)
    assert snapshot is not None
    assert np.array_equal(snapshot.row_column("sample_id"), table.sample_ids())
    assert snapshot.row_column("width") is None and snapshot.row_column("nope") is None
    made = pt.Run.from_coco_results(pt.Table.open("crowdpose", store=store), results, name="c")
    sizes = table.to_arrow(columns=["width", "height"])
    for name in ("width", "height"):
        want = sizes.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        assert np.array_equal(snapshot.row_column(name), want), name
        assert np.array_equal(pt.Table.open("crowdpose", store=store)._row_column(name), want)
    assert made.metrics == run.metrics
