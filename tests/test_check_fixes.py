"""One-click fixes of check findings (posetable.diagnose.fixes) on the real COCO excerpt."""

from __future__ import annotations

import numpy as np
import pytest

import posetable as pt
from posetable.diagnose.fixes import apply_fix, fix_finding
from posetable.errors import ConflictError, RowError, UnsupportedError


def _found(table: pt.Table, rule: str) -> list[tuple[int, int, int | None]]:
    found = pt.check(table, rules=[rule])
    return [(f["row"], f["instance"], f["keypoint"]) for f in found.to_pylist()]


def _swap_wrists(table: pt.Table, row: int, instance: int) -> pt.Table:
    gt = table[row]["keypoints"].copy()
    flip = np.asarray(table.schema.flip_indices)
    left = table.schema.keypoint_names.index("left_wrist")
    pair = [left, int(flip[left])]
    gt.keypoints[instance, pair] = gt.keypoints[instance, pair[::-1]]
    gt.keypoint_visibilities[instance, pair] = gt.keypoint_visibilities[instance, pair[::-1]]
    return table.with_rows({row: {"keypoints": gt}})


def test_mirroring_a_swapped_pair_restores_the_row(coco_table: pt.Table) -> None:
    before = set(_found(coco_table, "left_right_swap"))
    broken = _swap_wrists(coco_table, 3, 0)
    left = coco_table.schema.keypoint_names.index("left_wrist")
    injected = set(_found(broken, "left_right_swap")) - before
    assert injected == {(3, 0, min(left, coco_table.schema.flip_indices[left]))}
    (row, instance, keypoint) = injected.pop()
    fixed = apply_fix(broken, row, instance, "left_right_swap", keypoint=keypoint)
    assert set(_found(fixed, "left_right_swap")) == before
    np.testing.assert_array_equal(
        fixed[3]["keypoints"].keypoints, coco_table[3]["keypoints"].keypoints
    )
    assert fixed.operation == "fix_finding"
    args = fixed.info.arguments
    assert (args["rule"], args["row"], args["instance"], args["keypoint"]) == (
        "left_right_swap",
        3,
        0,
        keypoint,
    )
    assert "mirrored" in args["note"]


def test_setting_num_keypoints_to_the_labeled_count(coco_table: pt.Table) -> None:
    assert _found(coco_table, "num_keypoints_mismatch") == []
    gt = coco_table[2]["keypoints"].copy()
    gt.instance_extras["num_keypoints"][3] = 5
    broken = coco_table.with_rows({2: {"keypoints": gt}})
    assert _found(broken, "num_keypoints_mismatch") == [(2, 3, None)]
    fixed = apply_fix(broken, 2, 3, "num_keypoints_mismatch")
    assert _found(fixed, "num_keypoints_mismatch") == []
    assert int(fixed[2]["keypoints"].instance_extras["num_keypoints"][3]) == 12
    assert fixed.info.arguments["rule"] == "num_keypoints_mismatch"
    assert "num_keypoints" in fixed.info.arguments["note"]


def test_dropping_a_duplicate_instance(coco_table: pt.Table) -> None:
    assert _found(coco_table, "duplicate_instance") == []
    gt = coco_table[0]["keypoints"]
    doubled = gt.select([0, 0])  # the person labeled twice
    broken = coco_table.with_rows({0: {"keypoints": doubled}})
    assert _found(broken, "duplicate_instance") == [(0, 1, None)]
    fixed = apply_fix(broken, 0, 1, "duplicate_instance")
    assert _found(fixed, "duplicate_instance") == []
    assert len(fixed[0]["keypoints"]) == 1
    assert fixed[0]["keypoints"] == coco_table[0]["keypoints"]
    assert fixed.info.arguments["instance"] == 1 and "dropped" in fixed.info.arguments["note"]


def test_a_fix_needs_a_reported_finding_and_a_fixable_rule(coco_table: pt.Table) -> None:
    with pytest.raises(RowError, match="reports no num_keypoints_mismatch"):
        fix_finding(coco_table, 2, 3, "num_keypoints_mismatch")
    with pytest.raises(UnsupportedError, match="no one-click fix"):
        fix_finding(coco_table, 2, 3, "outside_image")
    with pytest.raises(RowError, match="no instance 9"):
        fix_finding(coco_table, 2, 9, "duplicate_instance")
    with pytest.raises(RowError, match="does not exist"):
        fix_finding(coco_table, 40, 0, "duplicate_instance")


def test_a_fix_on_a_stale_revision_of_the_row_conflicts(coco_table: pt.Table) -> None:
    gt = coco_table[2]["keypoints"].copy()
    gt.instance_extras["num_keypoints"][3] = 5
    broken = coco_table.with_rows({2: {"keypoints": gt}})
    apply_fix(broken, 2, 3, "num_keypoints_mismatch")
    with pytest.raises(ConflictError):
        apply_fix(broken, 2, 3, "num_keypoints_mismatch")
