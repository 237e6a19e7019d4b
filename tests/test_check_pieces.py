"""``pt.check`` in pieces of rows (``posetable.diagnose._pieces``): the findings of the
whole-table check (``check_whole``), row for row and message for message, for any piece
size, on real tables with planted faults in several fragments; and the incremental check
after an edit gives what checking the edited revision afresh gives."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import posetable as pt
from posetable.diagnose import _pieces
from posetable.diagnose._sources import Source, _coco_lines
from posetable.diagnose.check import check_findings, check_rules, check_whole
from posetable.errors import PosetableWarning
from tests._core_tables import COCO_FOLDERS, coco_table
from tests._planted import bone_outlier_table, planted

PIECES = (1, 3, 7, _pieces.PIECE_ROWS)


def _source(table: pt.Table) -> Source:
    return Source(table, source_lines=_coco_lines(table))


def _same(got, want) -> None:
    a, b = got.to_table(), want.to_table()
    assert a.to_pylist() == b.to_pylist()  # same rows, same order, same messages
    assert a.equals(b)


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_pieces_of_any_size_give_the_whole_table_check(real_data, store, folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = planted(coco_table(real_data(folder), name=folder, store=store))
    assert len(table.dataset.get_fragments()) > 1
    names = check_rules(None)
    want = check_whole(_source(table), names)
    assert len(set(want.rules())) >= 3
    for piece_rows in PIECES:
        found, labeled = _pieces.check_in_pieces(_source(table), names, piece_rows=piece_rows)
        assert labeled
        _same(found, want)
    _same(check_findings(table), want)
    assert pt.check(table).equals(
        want.to_table().replace_schema_metadata(pt.check(table).schema.metadata)
    )


def test_bone_outliers_are_decided_over_every_piece(store):
    """The table-wide rule on rows: its medians span pieces (48 jittered sample rows, some
    with a point moved far off, in pieces of 5 and 16 rows)."""
    table = bone_outlier_table(store)
    for names in (["bone_length_outlier"], check_rules(None)):
        want = check_whole(_source(table), names)
        assert sum(r == "bone_length_outlier" for r in want.rules()) >= 3
        for piece_rows in (5, 16):
            _same(_pieces.check_in_pieces(_source(table), names, piece_rows=piece_rows)[0], want)


@pytest.mark.parametrize(
    "rules", [["outside_image", "sigmas_missing"], ["left_right_swap"], ["skeleton_invalid"]]
)
def test_pieces_of_some_rules(real_data, store, rules):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = planted(coco_table(real_data("crowdpose"), name="c", store=store))
    want = check_whole(_source(table), rules)
    _same(_pieces.check_in_pieces(_source(table), rules, piece_rows=2)[0], want)


def test_a_table_without_rows_or_labeled_points_has_no_findings(store):
    schema = pt.Keypoints2DSchema(3)
    empty = pt.Table.from_rows([], name="e", schema=schema, store=store)
    blank = pt.Keypoints2DInstances.create_empty(num_keypoints=3)
    blank.add_instance([[1, 2, 0], [3, 4, 0], [5, 6, 0]])
    unlabeled = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 8, "height": 8, "keypoints": blank}], name="u",
        schema=schema, store=store,
    )  # fmt: skip
    for table in (empty, unlabeled):
        found, labeled = _pieces.check_in_pieces(_source(table), check_rules(None), piece_rows=1)
        assert (len(found), labeled) == (0, False)
        _same(found, check_whole(_source(table), check_rules(None)))


def test_an_incremental_check_after_an_edit_is_a_fresh_check(real_data, store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = coco_table(real_data("coco_kpts"), name="k", store=store)
    names = check_rules(None)
    before = check_findings(table, names)
    edited = planted(table)
    changed = np.flatnonzero(
        [edited[i]["keypoints"] != table[i]["keypoints"] for i in range(len(table))]
    )
    assert changed.size >= 3
    again = check_findings(edited, names, previous=before, changed_rows=changed)
    _same(again, check_whole(_source(edited), names))


def _reference_z(ctx, lines) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bone_length_outlier's (instance, line, z) of every measured line, value by value,
    with ``np.median`` per group: the rule as its docstring states it."""
    from posetable.diagnose import _rules_pose as pose

    inst, line, values = pose.bone_measurements(ctx, lines)
    cls = ctx.gt.label[inst]
    group = pose._canonical_lines(ctx, lines)[line]
    med = np.empty_like(values)
    enough = np.zeros(values.shape[0], bool)
    for i in range(values.shape[0]):  # a loop per value: slow, plain, independent
        own = (cls == cls[i]) & (group == group[i])
        pooled = group == group[i]
        if own.sum() >= pose.BONE_MIN_SAMPLES:
            med[i], enough[i] = np.median(values[own]), True
        else:
            med[i], enough[i] = np.median(values[pooled]), pooled.sum() >= pose.BONE_MIN_SAMPLES
    deviation = np.abs(values - med)
    all_spread = 1.4826 * np.median(deviation[enough])
    spread = np.array(
        [1.4826 * np.median(deviation[enough & (cls == c)]) if (enough & (cls == c)).any()
         else all_spread for c in cls]
    )  # fmt: skip
    z = (values - med) / np.maximum(spread, pose.BONE_MIN_SPREAD)
    hit = enough & (z > pose.BONE_Z) & (values - med > np.log(pose.BONE_RATIO))
    return inst[hit], line[hit], z[hit]


@pytest.mark.parametrize("folder", ["coco_kpts", "aic", "coco_wholebody"])
def test_the_bone_decision_is_the_plain_formula_to_the_bit(real_data, store, folder, monkeypatch):
    """Low thresholds, so that many lines are reported: every reported z equals the plain
    value-by-value formula's, bit for bit (the decision gathers per-cell tables instead)."""
    from posetable.diagnose import _rules_pose as pose
    from posetable.diagnose._context import Context
    from posetable.diagnose._flat import read_ground_truth

    monkeypatch.setattr(pose, "BONE_Z", 0.5)
    monkeypatch.setattr(pose, "BONE_RATIO", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = planted(coco_table(real_data(folder), name=folder, store=store))
    source = _source(table)
    ctx = Context(read_ground_truth(table), table.schema, source.source_lines, source.source_flips)
    lines = _pieces._skeleton(ctx)
    want_inst, _, want_z = _reference_z(ctx, lines)
    (got,) = pose.bone_length_outlier(ctx)
    assert len(got) == want_z.shape[0] > 0
    assert np.array_equal(got.instance, want_inst)
    assert got.value.tobytes() == want_z.tobytes()


def test_messages_written_a_chunk_at_a_time_are_every_message(real_data, store, monkeypatch):
    """``pt.check``'s table writes its messages a chunk of findings at a time (no Python
    string per finding at once): chunks of 1 and 2 give the table of one chunk."""
    from posetable.diagnose import _findings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = planted(coco_table(real_data("coco_kpts"), name="coco", store=store))
    found = check_findings(table)
    assert len(found) > 4 and len(set(found.rules())) >= 3
    whole = found.to_table()
    assert whole.column("message").to_pylist() == found.messages()
    for chunk in (1, 2):
        monkeypatch.setattr(_findings, "MESSAGE_CHUNK", chunk)
        chunked = found.to_table()
        assert chunked.column("message").num_chunks == -(-len(found) // chunk)
        assert chunked.equals(whole)
