"""One-click fixes for the check findings whose fix is obvious.

Three rules have one: ``left_right_swap`` (mirror the swapped left/right pair back, by the
schema's flip indices), ``num_keypoints_mismatch`` (set the instance's ``num_keypoints`` to
the count of points with v > 0) and ``duplicate_instance`` (drop the reported instance: the
later of the two). A fix is only applied to a finding that :func:`~posetable.check` still
reports on that revision, so a stale click cannot change a row that is already right.

Example:
    >>> import tempfile
    >>> import posetable as pt
    >>> from posetable.sample import sample_table
    >>> table = sample_table(store=tempfile.mkdtemp())
    >>> gt = table[0]["keypoints"].copy()
    >>> gt.instance_extras["num_keypoints"][0] += 1
    >>> broken = table.with_rows({0: {"keypoints": gt}})
    >>> fixed = apply_fix(broken, 0, 0, "num_keypoints_mismatch")
    >>> fixed.operation, len(pt.check(fixed, rules="num_keypoints_mismatch"))
    ('fix_finding', 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow.compute as pc

from posetable._arrow import KEYPOINTS_COLUMN
from posetable.errors import RowError, UnsupportedError
from posetable.instances import Keypoints2DInstances
from posetable.table import Table

#: rule -> what its fix does (the note a fixed revision records)
FIXES = {
    "left_right_swap": "mirrored the swapped left/right pair",
    "num_keypoints_mismatch": "set num_keypoints to the count of labeled points (v > 0)",
    "duplicate_instance": "dropped the duplicate instance",
}


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RowError(f"{what} must be a whole number, got {value!r}"[:200])
    return int(value)


def _reported(table: Table, row: int, instance: int, rule: str) -> list[int | None]:
    """The keypoints of ``rule``'s findings on (row, instance); RowError when there are none."""
    from posetable.diagnose.check import check

    found = check(table, rules=[rule])
    mine = found.filter(
        pc.and_(pc.equal(found.column("row"), row), pc.equal(found.column("instance"), instance))
    )
    if mine.num_rows == 0:
        raise RowError(
            f"table {table.ref}, row {row}, instance {instance}: check reports no {rule} "
            "there, so there is nothing to fix (reload the row: it may have changed)"
        )
    return mine.column("keypoint").to_pylist()


def fix_finding(
    table: Table, row: int, instance: int, rule: str, *, keypoint: int | None = None
) -> Keypoints2DInstances:
    """The row's instances with one finding fixed (nothing is written).

    Args:
        table: the revision the finding is on.
        row, instance: where :func:`~posetable.check` reported it.
        rule: ``left_right_swap``, ``num_keypoints_mismatch`` or ``duplicate_instance``.
        keypoint: for ``left_right_swap``, the pair to mirror (its first point, as the
            finding names it); default every pair reported on that instance.

    Raises:
        UnsupportedError: a rule without an obvious fix.
        RowError: a row or instance that does not exist, or no such finding there.
    """
    if rule not in FIXES:
        raise UnsupportedError(
            f"rule {rule!r} has no one-click fix; the fixable rules are: {', '.join(FIXES)}"
        )
    row, instance = _number(row, "row"), _number(instance, "instance")
    n = len(table)
    if not 0 <= row < n:
        raise RowError(f"row {row} does not exist: table {table.ref} has {n} rows (0..{n - 1})")
    gt: Keypoints2DInstances = table[row][KEYPOINTS_COLUMN]
    if not 0 <= instance < len(gt):
        raise RowError(
            f"table {table.ref}, row {row} has {len(gt)} instances, no instance {instance}"
        )
    reported = _reported(table, row, instance, rule)
    fixed = gt.copy()
    if rule == "duplicate_instance":
        return fixed.select(np.arange(len(gt)) != instance)
    if rule == "num_keypoints_mismatch":
        vis = fixed.keypoint_visibilities
        count = int((vis[instance] > 0).sum()) if vis is not None else fixed.num_keypoints
        values = fixed.instance_extras["num_keypoints"]
        values[instance] = count
        return fixed
    flips = table.schema.flip_indices
    if flips is None:  # check would not have reported a swap; kept for clarity
        raise UnsupportedError(f"table {table.ref} has no flip indices to mirror a pair by")
    flip = np.asarray(flips)
    if keypoint is not None:
        keypoint = _number(keypoint, "keypoint")
        if keypoint not in reported:
            pairs = sorted(k for k in reported if k is not None)
            raise RowError(
                f"table {table.ref}, row {row}, instance {instance}: check reports no "
                f"left_right_swap for keypoint {keypoint}; it reports {pairs}"
            )
        firsts = [keypoint]
    else:
        firsts = sorted({int(k) for k in reported if k is not None})
    a = np.asarray(firsts, dtype=np.int64)
    b = flip[a]
    for array in (fixed.keypoints, fixed.keypoint_visibilities, fixed.keypoint_confidences):
        if array is not None:
            array[instance, np.concatenate([a, b])] = array[instance, np.concatenate([b, a])]
    return fixed


def apply_fix(
    table: Table,
    row: int,
    instance: int,
    rule: str,
    *,
    keypoint: int | None = None,
    arguments: Mapping[str, Any] | None = None,
) -> Table:
    """Fix one finding (:func:`fix_finding`) and save the row as a new revision.

    The revision's operation is ``fix_finding``; its arguments name the ``rule``, ``row``,
    ``instance`` (and ``keypoint``) and hold a ``note`` saying what was done, plus any
    ``arguments`` given (the dashboard adds ``source``). Conflicts follow
    :meth:`Table.with_rows` (a :class:`~posetable.errors.ConflictError`).
    """
    table.check_editable(rows=[int(row)] if isinstance(row, (int, np.integer)) else None)
    fixed = fix_finding(table, row, instance, rule, keypoint=keypoint)
    recorded: dict[str, Any] = {
        "rule": rule,
        "row": int(row),
        "instance": int(instance),
        "note": f"{FIXES[rule]} (row {int(row)}, instance {int(instance)})",
    }
    if keypoint is not None:
        recorded["keypoint"] = int(keypoint)
    recorded.update(arguments or {})
    return table.with_rows(
        {int(row): {KEYPOINTS_COLUMN: fixed}}, operation="fix_finding", arguments=recorded
    )
