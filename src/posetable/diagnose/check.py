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
from posetable.diagnose._flat import read_ground_truth
from posetable.diagnose._found import SEVERITIES, Found
from posetable.diagnose._sources import Source, open_sources
from posetable.errors import UnsupportedError

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table


@dataclass(frozen=True)
class Rule:
    """One check: its name, what it reports, and the function that finds it."""

    name: str
    severity: str
    summary: str
    run: Callable[[Context], list[Found]]


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
        ),
        Rule(
            "skeleton_invalid",
            "error",
            "skeleton lines out of range, looped or repeated",
            schema_rules.skeleton_invalid,
        ),
        Rule(
            "sigmas_missing",
            "warning",
            "no OKS sigmas: every metric uses 1/K",
            schema_rules.sigmas_missing,
        ),
    )
}

FINDINGS_SCHEMA = pa.schema(
    [
        ("rule", pa.string()),
        ("severity", pa.string()),
        ("row", pa.int64()),
        ("instance", pa.int64()),
        ("keypoint", pa.int64()),
        ("value", pa.float64()),
        ("message", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("annotation_id", pa.int64()),
        ("split", pa.string()),
    ]
)


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

    Returns:
        An Arrow table, one row per finding, most severe first: ``rule``, ``severity``
        (``error`` / ``warning`` / ``info``: a rule that could not run, and why), ``row``,
        ``instance`` (null for a finding about the schema or the file), ``keypoint`` (null
        where not one point), ``value`` (what was measured; see each rule), ``message``,
        and where it came from: ``file``, ``line`` (YOLO label line, or the data.yaml key),
        ``annotation_id`` (COCO ``id``), ``split`` (YOLO). A table with no labeled point
        gives an empty table.

    Raises:
        UnsupportedError: an unknown rule name.
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
    with open_sources(source, store=store, split=split) as sources:
        parts = [_check_one(s, names) for s in sources]
    table = pa.concat_tables(parts) if parts else FINDINGS_SCHEMA.empty_table()
    return table.replace_schema_metadata({b"posetable": b'{"kind":"findings"}'})


def _check_one(source: Source, names: list[str]) -> pa.Table:
    table = source.table
    gt = read_ground_truth(table)
    if not gt.labeled.any():
        return FINDINGS_SCHEMA.empty_table()
    ctx = Context(gt, table.schema, source.source_lines, source.source_flips)
    found: list[Found] = []
    for name in names:
        found.extend(f for f in RULES[name].run(ctx) if len(f))
    return _assemble(found, gt, source)


_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_ORDER = {n: i for i, n in enumerate(RULES)}


def _assemble(found: list[Found], gt: Any, source: Source) -> pa.Table:
    if not found:
        return FINDINGS_SCHEMA.empty_table()
    inst = np.concatenate([f.instance for f in found])
    keypoint = np.concatenate([f.keypoint for f in found])
    value = np.concatenate([f.value for f in found])
    severity = np.concatenate([f.severities() for f in found])
    rule = np.concatenate([np.full(len(f), f.rule, dtype=object) for f in found])
    message = [m for f in found for m in f.message]
    has = inst >= 0
    safe = np.where(has, inst, 0)
    row = np.where(has, gt.row[safe] if len(gt) else -1, -1)
    index = np.where(has, gt.index[safe] if len(gt) else -1, -1)
    ids = np.where(has, gt.ids[safe] if len(gt) else -1, -1)
    line = np.full(inst.shape[0], -1, np.int64)
    files = np.full(inst.shape[0], source.file, dtype=object)
    if source.lines is not None and source.label_files is not None and len(gt):
        line[has] = source.lines[safe[has]]
        label_files = np.asarray(source.label_files, dtype=object)
        files[has] = label_files[row[has]]
    if source.key_lines:
        key = {"flip_indices_invalid": "flip_idx", "skeleton_invalid": "skeleton"}
        for i in np.flatnonzero(~has).tolist():
            at = source.key_lines.get(key.get(str(rule[i]), ""))
            if at is not None:
                line[i] = at
    rank = np.array([_RANK[s] for s in severity.tolist()], np.int64)
    order_rule = np.array([_ORDER[r] for r in rule.tolist()], np.int64)
    order = np.lexsort((keypoint, index, row, order_rule, rank))
    data = {
        "rule": pa.array(rule[order].tolist(), pa.string()),
        "severity": pa.array(severity[order].tolist(), pa.string()),
        "row": pa.array(row[order], pa.int64(), mask=~has[order]),
        "instance": pa.array(index[order], pa.int64(), mask=~has[order]),
        "keypoint": pa.array(keypoint[order], pa.int64(), mask=keypoint[order] < 0),
        "value": pa.array(value[order], pa.float64(), mask=np.isnan(value[order])),
        "message": pa.array([message[i] for i in order.tolist()], pa.string()),
        "file": pa.array(files[order].tolist(), pa.string()),
        "line": pa.array(line[order], pa.int64(), mask=line[order] < 0),
        "annotation_id": pa.array(ids[order], pa.int64(), mask=ids[order] < 0),
        "split": pa.array([source.split] * len(order), pa.string()),
    }
    return pa.table(data, schema=FINDINGS_SCHEMA)


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
