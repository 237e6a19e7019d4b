"""The fast paths of ``pt.check`` give the findings of the plain computation: checking the
edited rows of a revision again (and the table-wide rules in full) equals checking it all,
the per-row rules on some rows equal those rows' findings, the duplicate screen drops no
pair that reaches the threshold, and group medians are numpy's medians."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import posetable as pt
from posetable.diagnose import _rules_pose as pose
from posetable.diagnose._context import Context
from posetable.diagnose._flat import read_ground_truth
from posetable.diagnose.check import RULES, check_findings, check_rows
from posetable.errors import PosetableWarning
from posetable.eval.oks import oks_pairs
from posetable.sample import sample_table
from tests._core_tables import COCO_FOLDERS, coco_table


def _table(real_data, store, folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return coco_table(real_data(folder), name=folder, store=store)


def _edited(table: pt.Table) -> tuple[pt.Table, list[int]]:
    """A revision with a duplicated person (slightly moved), a point moved far off and a
    point outside the image, and the rows it changed."""
    edits = {}
    for row in range(len(table)):
        gt = table[row]["keypoints"]
        if len(gt) == 0 or gt.keypoint_visibilities is None:
            continue
        changed = gt.copy()
        i = int(np.argmax((gt.keypoint_visibilities > 0).sum(axis=1)))
        if not edits:
            twin = gt.select([i]).copy()
            twin.keypoints = twin.keypoints + 0.5
            changed._append(twin)
        else:
            j = int(np.flatnonzero(gt.keypoint_visibilities[i] > 0)[0])
            changed.keypoints[i, j] = [-50.0 * row, 3.0]
        edits[row] = {"keypoints": changed}
        if len(edits) == min(2, max(1, len(table) // 2)):  # other rows stay as they were
            break
    return table.with_rows(edits), sorted(edits)


def _planted(table: pt.Table) -> pt.Table:
    """A revision with a point outside the image in every row that has a person: findings
    on the rows an edit will not touch too."""
    edits = {}
    for row in range(len(table)):
        gt = table[row]["keypoints"]
        if len(gt) and gt.keypoint_visibilities is not None:
            moved = gt.copy()
            moved.keypoints[-1, -1] = [table[row]["width"] + 40.0, 1.0]
            moved.keypoint_visibilities[-1, -1] = 2
            edits[row] = {"keypoints": moved}
    return table.with_rows(edits)


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_checking_only_the_edited_rows_again_equals_checking_everything(real_data, store, folder):
    table = _planted(_table(real_data, store, folder))
    edited, rows = _edited(table)
    previous = check_findings(table)
    again = check_findings(edited, previous=previous, changed_rows=np.asarray(rows))
    everything = check_findings(edited)
    assert again.to_table().equals(everything.to_table())
    assert again.to_table().equals(pt.check(edited).replace_schema_metadata(None))
    unchanged = set(everything.row.tolist()) - set(rows) - {-1}
    assert unchanged  # findings on rows the edit did not touch were carried over


@pytest.mark.parametrize("folder", ["coco_kpts", "crowdpose", "aic", "horse10"])
def test_per_row_rules_on_some_rows_are_those_rows_findings(real_data, store, folder):
    table, _ = _edited(_table(real_data, store, folder))
    full = check_findings(table).to_table().to_pylist()
    per_row = {n for n, r in RULES.items() if r.per_row}
    for rows in ([0], [1, len(table) - 1], list(range(len(table)))):
        rows = sorted(set(rows))
        want = [f for f in full if f["rule"] in per_row and f["row"] in rows]
        assert check_rows(table, np.asarray(rows)).to_table().to_pylist() == want


@pytest.mark.parametrize("folder", ["coco_kpts", "crowdpose", "horse10"])
def test_ground_truth_read_in_batches_equals_one_read(real_data, store, folder, monkeypatch):
    """A large table's ground truth is read a batch of rows at a time (the Arrow column is
    never whole); batches of 1 and 3 rows give the arrays of one read, and the same check."""
    from posetable.diagnose import _flat

    table = _planted(_table(real_data, store, folder))
    whole = read_ground_truth(table)
    found = check_findings(table).to_table()
    for batch in (1, 3):
        monkeypatch.setattr(_flat, "BATCH_ROWS", batch)
        parts = read_ground_truth(table)
        for name in whole.__dataclass_fields__:
            assert np.array_equal(getattr(parts, name), getattr(whole, name), equal_nan=True), (
                batch, name)  # fmt: skip
        assert check_findings(table).to_table().equals(found)


def test_the_duplicate_screen_keeps_every_pair_that_reaches_the_threshold(store):
    table = sample_table(store=store)
    edits = {}
    for row in range(len(table)):  # near-duplicates spread around OKS 0.95
        gt = table[row]["keypoints"]
        labeled = np.flatnonzero((gt.keypoint_visibilities > 0).sum(axis=1) > 0)
        if labeled.size == 0:
            continue
        changed = gt.copy()
        for shift in (0.2, 1.0, 2.0, 3.0, 5.0, 8.0):
            twin = gt.select([int(labeled[0])]).copy()
            twin.keypoints = twin.keypoints + shift * np.random.default_rng(row).normal(
                size=twin.keypoints.shape
            )
            changed._append(twin)
        edits[row] = {"keypoints": changed}
    edited = table.with_rows(edits)
    ctx = Context(read_ground_truth(edited), edited.schema)
    gt = ctx.gt
    found = pose.duplicate_instance(ctx)
    got = sorted(zip(found[0].instance.tolist(), found[0].value.tolist(), strict=True))
    # the plain computation: every same-image, same-class pair, both directions, exact OKS
    usable = np.flatnonzero((gt.counts > 0) & ~gt.iscrowd)
    a, b = np.meshgrid(usable, usable, indexing="ij")
    a, b = a.ravel(), b.ravel()
    keep = (a < b) & (gt.row[a] == gt.row[b]) & (gt.label[a] == gt.label[b])
    a, b = a[keep], b[keep]
    xywh = np.concatenate([gt.box[:, :2], gt.box_size], axis=1)
    args = (gt.keypoints, gt.keypoints, gt.labeled, gt.area, xywh, ctx.sigmas)
    oks = np.maximum(oks_pairs(*args, a, b), oks_pairs(*args, b, a))
    hit = oks >= pose.DUPLICATE_OKS
    want = sorted(zip(b[hit].tolist(), oks[hit].tolist(), strict=True))
    assert got == want
    assert 0 < hit.sum() < hit.size  # some pairs reach the threshold, some do not


def test_group_median_is_numpys_median_per_group():
    rng = np.random.default_rng(0)
    values = rng.normal(size=5000)
    groups = rng.integers(0, 7, size=5000)
    groups[groups == 3] = 4  # an empty group
    got = pose._group_median(values, groups, 8)
    want = [np.median(values[groups == g]) if (groups == g).any() else np.nan for g in range(8)]
    np.testing.assert_array_equal(got, np.asarray(want))
