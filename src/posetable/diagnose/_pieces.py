"""Checking a table in pieces of rows: the findings of a whole-table check, in bounded memory.

A per-row rule's findings on a row depend on that row alone (and the schema), so they are
found piece by piece, each piece's ground truth read, checked and let go. The one
table-wide rule that reads rows, ``bone_length_outlier``, needs every value for its medians
(they are not mergeable statistics), so each piece measures its skeleton lines: the log
relative length of each labeled line (12 bytes per instance and line, and each measured
instance's row, index, annotation id and class once), and one decision is made over all of
them exactly as the rule makes it. The schema rules, and the notes of per-row rules that
cannot run on this schema, are found on no row at all. The pieces are merged in the
check's order (severity, rule, row, instance, keypoint; ties stay in the order one rule
found them, which one piece holds), so the result is the whole-table check's, row for row.

The local check runs this over pieces of :data:`PIECE_ROWS` rows; ``engine="ray"`` runs
each piece in a Ray task (``_ray_check``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from posetable._allocator import release_freed_memory
from posetable.diagnose import _rules_pose as pose
from posetable.diagnose._context import Context
from posetable.diagnose._findings import Findings, concatenated
from posetable.diagnose._flat import GroundTruth, ground_truth_pieces, read_ground_truth
from posetable.diagnose._found import Found

if TYPE_CHECKING:
    from posetable.diagnose._sources import Source

BONE = "bone_length_outlier"
#: rows checked at a time by the local check (~150 MB of flat ground truth at COCO's K=17
#: and ~2.5 instances a row, plus the rules' work arrays)
PIECE_ROWS = 1 << 16


@dataclass(frozen=True)
class Piece:
    """What checking one piece of rows gives.

    Attributes:
        findings: the per-row rules' findings on its rows (no notes about the schema).
        bones: its skeleton lines' measures for ``bone_length_outlier`` (:func:`bone_values`),
            or None when that rule is not run.
        labeled: whether any of its points is labeled.
    """

    findings: Findings
    bones: tuple[pa.Table, pa.Table] | None
    labeled: bool


def check_piece(
    gt: GroundTruth,
    source: Source,
    names: list[str],
    *,
    per_row: bool = True,
    measure_bones: bool = True,
) -> Piece:
    """Check the rows of ``gt`` (a piece of the table's ground truth): the per-row rules
    of ``names`` (unless ``per_row=False``) and the skeleton lines' measures (when
    ``bone_length_outlier`` is one of them, unless ``measure_bones=False``)."""
    from posetable.diagnose.check import RULES, _assemble, _run_rules

    ctx = Context(gt, source.table.schema, source.source_lines, source.source_flips)
    found: list[Found] = []
    if per_row:
        rules = [n for n in names if RULES[n].per_row]
        found = [f for f in _run_rules(ctx, rules) if np.all(f.instance >= 0)]
    bones = bone_values(ctx) if BONE in names and measure_bones else None
    return Piece(_assemble(found, gt, source, names), bones, bool(gt.labeled.any()))


def table_wide(
    source: Source, names: list[str], bones: list[tuple[pa.Table, pa.Table]]
) -> Findings:
    """The findings found on no single row: the schema rules, the per-row rules' notes
    (a rule that cannot run on this schema) and ``bone_length_outlier`` over every piece's
    measures (``bones``, in row order or not)."""
    from posetable.diagnose.check import RULES, _assemble, _run_rules

    table = source.table
    empty = read_ground_truth(table, np.zeros(0, np.int64))
    ctx = Context(empty, table.schema, source.source_lines, source.source_flips)
    schema_rules = [n for n in names if n != BONE and not RULES[n].per_row]
    notes = _run_rules(ctx, [n for n in names if RULES[n].per_row])
    driver = _run_rules(ctx, schema_rules) + [f for f in notes if np.all(f.instance < 0)]
    parts = [_assemble(driver, empty, source, names)]
    if BONE in names:
        if _skeleton(ctx).shape[0] == 0:
            parts.append(_assemble(pose.bone_length_outlier(ctx), empty, source, names))
        else:
            bone, instances = bone_findings(ctx, bones)
            parts.append(_assemble([f for f in bone if len(f)], instances, source, names))
    return concatenated(parts)


def check_in_pieces(
    source: Source,
    names: list[str],
    *,
    piece_rows: int = PIECE_ROWS,
    changed_rows: np.ndarray | None = None,
) -> tuple[Findings, bool]:
    """(the findings of ``names`` on the whole table, whether any point is labeled), read
    and checked ``piece_rows`` rows at a time. With ``changed_rows`` (sorted, unique), the
    per-row rules check those rows only (the table-wide ones still read every row)."""
    table = source.table
    parts: list[Findings] = []
    bones: list[tuple[pa.Table, pa.Table]] = []
    labeled = False
    needs_rows = changed_rows is None
    for gt in ground_truth_pieces(table, piece_rows):
        piece = check_piece(gt, source, names, per_row=needs_rows)
        labeled |= piece.labeled
        parts.append(piece.findings.narrowed())  # ~30 bytes a finding kept, not ~90
        if piece.bones is not None:
            bones.append(piece.bones)
        del gt, piece
        release_freed_memory()  # the piece's work arrays: back to the system, not kept
    if changed_rows is not None and len(changed_rows):
        gt = read_ground_truth(table, np.asarray(changed_rows, np.int64))
        parts.append(check_piece(gt, source, names, measure_bones=False).findings)
    if not labeled:
        return Findings.empty(names), False
    parts.append(table_wide(source, names, bones))
    return concatenated(parts), True


_BONE_INSTANCES = pa.schema(
    [("row", pa.int64()), ("index", pa.int64()), ("id", pa.int64()), ("label", pa.int64())]
)
_BONE_VALUES = pa.schema([("instance", pa.int32()), ("line", pa.int32()), ("value", pa.float64())])


def empty_bones() -> tuple[pa.Table, pa.Table]:
    """The measures of a piece where ``bone_length_outlier`` measured nothing."""
    return _BONE_INSTANCES.empty_table(), _BONE_VALUES.empty_table()


def _skeleton(ctx: Context) -> np.ndarray:
    """(L, 2) the lines ``bone_length_outlier`` measures (no line from a point to itself)."""
    lines = np.asarray(ctx.schema.lines, np.int64).reshape(-1, 2)
    return lines[lines[:, 0] != lines[:, 1]]


def bone_values(ctx: Context) -> tuple[pa.Table, pa.Table]:
    """Every (instance, line) that ``bone_length_outlier`` measures, in its order (instance,
    then line): the log of the line's length relative to the instance's scale, computed as
    the rule computes it (12 bytes each: the instance's number here, the line, the value),
    and the row, index, annotation id and class of each instance measured."""
    lines = _skeleton(ctx)
    gt = ctx.gt
    if lines.shape[0] == 0 or len(gt) == 0:
        return empty_bones()
    inst, line, log_len = pose.bone_measurements(ctx, lines)
    used, number = np.unique(inst, return_inverse=True)
    columns = [gt.row[used], gt.index[used], gt.ids[used], gt.label[used]]
    instances = pa.Table.from_arrays(
        [pa.array(np.asarray(c, np.int64), pa.int64()) for c in columns], schema=_BONE_INSTANCES
    )
    values = pa.Table.from_arrays(
        [
            pa.array(number.astype(np.int32).ravel(), pa.int32()),
            pa.array(line.astype(np.int32), pa.int32()),
            pa.array(log_len, pa.float64()),
        ],
        schema=_BONE_VALUES,
    )
    return instances, values


@dataclass(frozen=True)
class _Instances:
    """The instances the gathered bone lengths belong to, as ``_assemble`` reads them."""

    row: np.ndarray
    index: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.row.shape[0])


def bone_findings(
    ctx: Context, pieces: list[tuple[pa.Table, pa.Table]]
) -> tuple[list[Found], _Instances]:
    """``bone_length_outlier`` over the whole table from the tasks' line lengths (their
    :func:`bone_values`): the rule's decision (statistics per class and line, robust
    z-score, the shared end) on the same values in the same order, so the same findings;
    instances are numbered in the returned :class:`_Instances` (row order). ``pieces`` is
    emptied once read: its tables go before the decision needs the memory."""
    lines = _skeleton(ctx)
    offsets = np.cumsum([0] + [t.num_rows for t, _ in pieces])
    starts = np.cumsum([0] + [v.num_rows for _, v in pieces])
    # narrow integers (the decision's memory is ~a dozen arrays of one entry per value)
    index_type = np.int32 if offsets[-1] < 1 << 31 else np.int64
    line_type = np.int16 if lines.shape[0] < 1 << 15 else np.int32
    n_instances, n_values = int(offsets[-1]), int(starts[-1])
    row, index, ids, label = (np.empty(n_instances, np.int64) for _ in range(4))
    inst = np.empty(n_values, index_type)
    line = np.empty(n_values, line_type)
    values = np.empty(n_values)
    # each piece copied into the whole table's arrays, then let go: the pieces and the
    # arrays are never all held at once
    for i in range(len(pieces)):
        instances, measured = pieces[i]
        at, to = slice(offsets[i], offsets[i + 1]), slice(starts[i], starts[i + 1])
        for out, name in ((row, "row"), (index, "index"), (ids, "id"), (label, "label")):
            out[at] = instances.column(name).to_numpy()
        inst[to] = measured.column("instance").to_numpy() + offsets[i]
        line[to] = measured.column("line").to_numpy()
        values[to] = measured.column("value").to_numpy()
        pieces[i] = empty_bones()
        del instances, measured
        if i % 8 == 7:
            pa.default_memory_pool().release_unused()
            release_freed_memory()
    pieces.clear()
    label = label.astype(np.int32 if label.size == 0 or label.max() < 1 << 31 else np.int64)
    step_row, step_index = row[1:] - row[:-1], index[1:] - index[:-1]
    if not np.all((step_row > 0) | ((step_row == 0) & (step_index > 0))):
        # tasks came back out of row order: number the instances in row order again, and
        # put the values in the rule's order (instance, then line)
        by_row = np.lexsort((index, row))
        rank = np.empty_like(by_row)
        rank[by_row] = np.arange(by_row.shape[0])
        row, index, ids, label = row[by_row], index[by_row], ids[by_row], label[by_row]
        inst = rank[inst].astype(index_type)
        order = np.lexsort((line, inst))
        inst, line, values = inst[order], line[order], values[order]
    instances = _Instances(row, index, ids)
    if inst.size == 0:
        return [], instances
    # the rule's own decision (posetable.diagnose._rules_pose.bone_length_outlier); its count
    # of classes is of every instance: a larger count adds empty groups, which no value reads
    n_classes = int(label.max()) + 1  # every instance here has a measured line
    cls = label[inst] if n_classes > 1 else None
    return pose.bone_decision(ctx, lines, inst, line, values, cls, n_classes), instances
