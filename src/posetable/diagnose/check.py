"""``pt.check``: keypoint data checks without a model, over a whole table at once.

Twelve rules, each named as it appears in the findings (``RULES``). A source is a table, a
table name ``NAME[@REV]``, a COCO keypoints JSON or a YOLO-pose data.yaml; files are read
into a temporary store, never the user's. The result is an Arrow table with one row per
finding, most severe first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from posetable.diagnose import _rules_points as points
from posetable.diagnose import _rules_pose as pose
from posetable.diagnose import _rules_schema as schema_rules
from posetable.diagnose._context import Context
from posetable.diagnose._findings import FINDINGS_SCHEMA, Findings, merged, sort_order
from posetable.diagnose._flat import read_ground_truth
from posetable.diagnose._found import SEVERITIES, Found
from posetable.diagnose._pieces import check_in_pieces
from posetable.diagnose._sources import Source, _coco_lines, open_sources
from posetable.errors import UnsupportedError

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table


@dataclass(frozen=True)
class Rule:
    """One check: its name, what it reports, and the function that finds it.

    ``per_row``: its findings on a row depend on that row alone (and the schema), so after
    an edit of some rows only those rows need checking again; the others (bone-length
    statistics over the table, the schema rules) are run on the whole table.
    """

    name: str
    severity: str
    summary: str
    run: Callable[[Context], list[Found]]
    per_row: bool = True


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "num_keypoints_mismatch",
            "error",
            "num_keypoints differs from the count of v > 0",
            points.num_keypoints_mismatch,
        ),
        Rule(
            "unlabeled_with_coordinates",
            "warning",
            "v = 0 with non-zero x or y",
            points.unlabeled_with_coordinates,
        ),
        Rule("outside_image", "error", "a labeled point outside the image", points.outside_image),
        Rule("outside_box", "warning", "a labeled point well outside its box", points.outside_box),
        Rule(
            "degenerate_box", "error", "a box without width, height or area", points.degenerate_box
        ),
        Rule(
            "duplicate_instance",
            "error",
            "two instances of one image with OKS >= 0.95",
            pose.duplicate_instance,
        ),
        Rule(
            "left_right_swap",
            "warning",
            "a left/right pair mirrored against the body",
            pose.left_right_swap,
        ),
        Rule(
            "bone_length_outlier",
            "warning",
            "a skeleton line far longer than usual",
            pose.bone_length_outlier,
            per_row=False,
        ),
        Rule(
            "collapsed_instance",
            "warning",
            "all labeled points within a tiny radius",
            pose.collapsed_instance,
        ),
        Rule(
            "flip_indices_invalid",
            "error",
            "flip indices that are not a valid mirror",
            schema_rules.flip_indices_invalid,
            per_row=False,
        ),
        Rule(
            "skeleton_invalid",
            "error",
            "skeleton lines out of range, looped or repeated",
            schema_rules.skeleton_invalid,
            per_row=False,
        ),
        Rule(
            "sigmas_missing",
            "warning",
            "no OKS sigmas: every metric uses 1/K",
            schema_rules.sigmas_missing,
            per_row=False,
        ),
    )
}


def check_rules(rules: Iterable[str] | str | None) -> list[str]:
    """The rule names to run (all by default); an unknown name is an ``UnsupportedError``."""
    if rules is None:
        return list(RULES)
    names = [rules] if isinstance(rules, str) else list(rules)
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise UnsupportedError(
            f"unknown check rule {unknown[0]!r}; the rules are: {', '.join(RULES)}"
        )
    return [n for n in RULES if n in names]


def check(
    source: Table | str | Any,
    *,
    rules: Iterable[str] | str | None = None,
    store: StoreLike = None,
    split: str | None = None,
    engine: str = "local",
) -> pa.Table:
    """Check keypoint data for the label errors people cannot see, without a model.

    Args:
        source: a :class:`~posetable.Table`, a table name ``NAME[@REV]`` in ``store``, a
            COCO keypoints JSON, or a YOLO-pose data.yaml (or its folder). Files are
            imported into a temporary store that is removed afterwards.
        rules: the rules to run (names of ``RULES``); default all of them.
        store: where ``NAME[@REV]`` is looked up (default ``$POSETABLE_HOME`` or
            ``./posetable-data``).
        split: for a data.yaml, the one split to check (default every split it names).
        engine: ``"local"`` (this process) or ``"ray"``: Ray Data maps the per-row rules
            over the table's Lance fragments (the ``[ray]`` extra) and the driver merges
            them with the table-wide rules, giving the same findings row for row (a table
            or a COCO JSON; a YOLO-pose dataset is checked locally only).

    Returns:
        An Arrow table, one row per finding, most severe first: ``rule``, ``severity``
        (``error`` / ``warning`` / ``info``: a rule that could not run, and why), ``row``,
        ``instance`` (null for a finding about the schema or the file), ``keypoint`` (null
        where not one point), ``value`` (what was measured; see each rule), ``message``,
        and where it came from: ``file``, ``line`` (YOLO label line, or the data.yaml key),
        ``annotation_id`` (COCO ``id``), ``split`` (YOLO). A table with no labeled point
        gives an empty table.

    Raises:
        UnsupportedError: an unknown rule name or engine.
        FormatError: a file that is not a COCO keypoints JSON or YOLO-pose dataset (a label
            line with the wrong number of values names the K it expects).
        NotFoundError: no table of that name.

    Example:
        >>> import tempfile
        >>> import posetable as pt
        >>> from posetable.sample import sample_table
        >>> table = sample_table(store=tempfile.mkdtemp())
        >>> findings = pt.check(table)
        >>> findings.column_names[:7]
        ['rule', 'severity', 'row', 'instance', 'keypoint', 'value', 'message']
        >>> gt = table[0]["keypoints"].copy()
        >>> gt.keypoints[0, 5] = [-40.0, 10.0]
        >>> found = pt.check(table.with_rows({0: {"keypoints": gt}}), rules=["outside_image"])
        >>> found.select(["rule", "row", "instance", "keypoint"]).to_pylist()
        [{'rule': 'outside_image', 'row': 0, 'instance': 0, 'keypoint': 5}]
    """
    names = check_rules(rules)
    if engine not in ("local", "ray"):
        raise UnsupportedError(f"engine must be 'local' or 'ray', got {engine!r}")
    with open_sources(source, store=store, split=split) as sources:
        if engine == "ray":
            from posetable.diagnose._ray_check import check_ray

            parts = [check_ray(s, names) for s in sources]
        else:
            parts = [check_findings(s, names).to_table() for s in sources]
    table = pa.concat_tables(parts) if parts else FINDINGS_SCHEMA.empty_table()
    return table.replace_schema_metadata({b"posetable": b'{"kind":"findings"}'})


def check_findings(
    source: Source | Table,
    names: list[str] | None = None,
    *,
    previous: Findings | None = None,
    changed_rows: np.ndarray | None = None,
) -> Findings:
    """The findings of one source as :class:`Findings` (messages written on request).

    With ``previous`` (the findings of the same rules on the parent revision, whose rows
    are this revision's rows) and ``changed_rows`` (the rows edited since), the per-row
    rules check only the changed rows and keep ``previous``' findings of the others; the
    table-wide rules run on the whole table. The result is the same as checking it all.
    """
    if not isinstance(source, Source):
        source = Source(source, source_lines=_coco_lines(source))
    names = list(RULES) if names is None else names
    again = previous is not None and changed_rows is not None
    again = again and previous.rule_names == tuple(names)  # type: ignore[union-attr]
    if source.lines is None and source.label_files is None:  # a table or a COCO JSON
        if not again:
            return check_in_pieces(source, names)[0]
        assert previous is not None and changed_rows is not None
        changed = np.unique(np.asarray(changed_rows, np.int64))
        found, labeled = check_in_pieces(source, names, changed_rows=changed)
        if not labeled:
            return found
        kept = _unchanged(previous, names, changed, len(source.table), notes_again=True)
        return merged(kept, found)
    # a YOLO-pose dataset: its findings name label lines by instance, over the whole table
    if not again:
        return check_whole(source, names)
    assert previous is not None and changed_rows is not None
    table = source.table
    gt = read_ground_truth(table)
    if not gt.labeled.any():
        return Findings.empty(names)
    ctx = Context(gt, table.schema, source.source_lines, source.source_flips)
    per_row = [n for n in names if RULES[n].per_row]
    wide = [n for n in names if not RULES[n].per_row]
    changed_mask = np.zeros(gt.num_rows, bool)
    changed_mask[np.asarray(changed_rows, np.int64)] = True
    kept = _unchanged(previous, names, np.flatnonzero(changed_mask), gt.num_rows, notes_again=False)
    sub = gt.subset(changed_mask[gt.row])
    sub_ctx = Context(sub, table.schema, ctx.source_lines, ctx.source_flips)
    # schema-level notes of per-row rules (instance -1) do not change with rows: kept
    sub_found = [f for f in _run_rules(sub_ctx, per_row) if np.all(f.instance >= 0)]
    rows_again = _assemble(sub_found, sub, source, names)
    return merged(kept, merged(rows_again, _assemble(_run_rules(ctx, wide), gt, source, names)))


def check_whole(source: Source, names: list[str]) -> Findings:
    """The findings of ``names`` with the whole table's ground truth read at once: how a
    YOLO-pose dataset is checked (its label lines are numbered over all its instances), and
    the reference :func:`~posetable.diagnose._pieces.check_in_pieces` equals."""
    gt = read_ground_truth(source.table)
    if not gt.labeled.any():
        return Findings.empty(names)
    ctx = Context(gt, source.table.schema, source.source_lines, source.source_flips)
    return _assemble(_run_rules(ctx, names), gt, source, names)


def _unchanged(
    previous: Findings, names: list[str], changed: np.ndarray, n_rows: int, *, notes_again: bool
) -> Findings:
    """``previous``' findings of the per-row rules on rows not in ``changed`` (sorted): the
    ones an incremental check keeps. The table-wide rules' are all found again, and so are
    the per-row rules' notes about the schema (row -1) when ``notes_again``."""
    is_changed = np.zeros(n_rows, bool)
    is_changed[changed] = True
    rule_code = np.asarray([RULES[n].per_row for n in names], bool)
    on_row = previous.row >= 0
    again = rule_code[previous.rule] & on_row & is_changed[np.clip(previous.row, 0, None)]
    again |= ~rule_code[previous.rule]  # table-wide rules: all found again
    if notes_again:
        again |= ~on_row
    return previous.take(np.flatnonzero(~again))


def check_rows(table: Table, rows: np.ndarray, names: list[str] | None = None) -> Findings:
    """The findings of the per-row rules on some rows of ``table`` (sorted, unique): the
    same as those rows' findings in a check of the whole table (where it has a labeled
    point), read and computed for these rows only. Notes about the schema are left out."""
    names = list(RULES) if names is None else names
    source = Source(table, source_lines=_coco_lines(table))
    gt = read_ground_truth(table, np.asarray(rows, np.int64))
    ctx = Context(gt, table.schema, source.source_lines, source.source_flips)
    per_row = [n for n in names if RULES[n].per_row]
    found = [f for f in _run_rules(ctx, per_row) if np.all(f.instance >= 0)]
    return _assemble(found, gt, source, names)


def _run_rules(ctx: Context, names: list[str]) -> list[Found]:
    found: list[Found] = []
    for name in names:
        found.extend(f for f in RULES[name].run(ctx) if len(f))
    return found


_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _assemble(found: list[Found], gt: Any, source: Source, names: list[str]) -> Findings:
    if not found:
        return Findings.empty(names)
    code = {n: i for i, n in enumerate(names)}
    sizes = np.asarray([len(f) for f in found], np.int64)
    part = np.repeat(np.arange(len(found), dtype=np.int64), sizes)
    position = np.arange(part.shape[0], dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    inst = np.concatenate([f.instance for f in found])
    keypoint = np.concatenate([f.keypoint for f in found])
    value = np.concatenate([f.value for f in found])
    severity = np.concatenate(
        [
            np.full(len(f), _RANK[f.severity], np.int64)
            if isinstance(f.severity, str)
            else np.asarray([_RANK[x] for x in f.severity], np.int64)
            for f in found
        ]
    )
    rule = np.repeat(np.asarray([code[f.rule] for f in found], np.int64), sizes)
    has = inst >= 0
    safe = np.where(has, inst, 0)
    row = np.where(has, gt.row[safe] if len(gt) else -1, -1)
    index = np.where(has, gt.index[safe] if len(gt) else -1, -1)
    ids = np.where(has, gt.ids[safe] if len(gt) else -1, -1)
    line = np.full(inst.shape[0], -1, np.int64)
    files = None
    if source.lines is not None and source.label_files is not None and len(gt):
        line[has] = source.lines[safe[has]]
        files = np.full(inst.shape[0], source.file, dtype=object)
        files[has] = np.asarray(source.label_files, dtype=object)[row[has]]
    if source.key_lines:
        key = {"flip_indices_invalid": "flip_idx", "skeleton_invalid": "skeleton"}
        for i in np.flatnonzero(~has).tolist():
            at = source.key_lines.get(key.get(names[int(rule[i])], ""))
            if at is not None:
                line[i] = at
    rule_rank = np.asarray([_ORDER[n] for n in names], np.int64)[rule]
    order = sort_order(severity, rule_rank, row, index, keypoint)
    return Findings(
        tuple(names),
        tuple(found),
        part[order],
        position[order],
        rule[order],
        severity[order],
        row[order],
        index[order],
        keypoint[order],
        value[order],
        line[order],
        ids[order],
        None if files is None else files[order],
        source.file,
        source.split,
    )


_ORDER = {n: i for i, n in enumerate(RULES)}


def exit_code(findings: pa.Table, fail_on: str = "error") -> int:
    """1 when ``findings`` hold one at ``fail_on`` severity or worse, else 0 (a CI gate).

    Example:
        >>> exit_code(FINDINGS_SCHEMA.empty_table())
        0
    """
    if fail_on not in ("error", "warning"):
        raise UnsupportedError(f"fail_on must be 'error' or 'warning', got {fail_on!r}")
    worst = {"error": {"error"}, "warning": {"error", "warning"}}[fail_on]
    severities = set(findings.column("severity").to_pylist()) if findings.num_rows else set()
    return 1 if severities & worst else 0
