"""A run's per-sample metrics on a revision that only edited some rows of the run's own.

Every per-sample and per-instance metric of an image (matches, mean OKS, the image's AP)
depends on that image's ground truth and predictions alone, so on a revision that changed
rows of the run's revision (and nothing else: same rows, same skeleton and sigmas) only
the changed rows need evaluating again: they are written to a small table of their own in
a temporary store and evaluated there; every other row keeps the run's stored metrics. The
dataset-wide summary (AP) still needs a full evaluation, which the dashboard runs in the
background.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np
import pyarrow as pa

from posetable._commit import Touch
from posetable.eval import evaluate
from posetable.instances import Keypoints2DInstances
from posetable.store import read_operation_record
from posetable.table import Table

MAX_HOPS = 64  # revisions walked back to the run's (beyond: evaluated in full)


def changed_since(table: Table, run: Any) -> np.ndarray | None:
    """The sample ids edited between the run's revision and ``table`` (sorted), or None when
    anything else changed on the way (rows added or deleted, the schema, another table)."""
    if table.name != run.table_name or table.revision < run.table_revision:
        return None
    own = run.table()
    if own.schema.to_json() != table.schema.to_json() or len(own) != len(table):
        return None
    if not np.array_equal(np.asarray(run.sigmas, np.float64), table.schema.sigmas):
        return None  # the run was scored with other sigmas than this revision's
    changed: set[int] = set()
    revision: int | None = table.revision
    for _ in range(MAX_HOPS):
        if revision == run.table_revision:
            return np.asarray(sorted(changed), np.int64)
        if revision is None or revision < run.table_revision:
            return None
        record = read_operation_record(table.dataset, revision)
        touch = Touch.from_json(record.get("touched"))
        if touch.kind != "rows":
            return None
        changed.update(touch.sample_ids)
        parent = record.get("parent")
        revision = None if parent is None else int(parent)
    return None


def evaluate_rows(
    table: Table, rows: np.ndarray, predictions: list[Keypoints2DInstances | None]
) -> tuple[pa.Table, pa.Table]:
    """(per_sample, per_instance) of ``predictions`` (one entry per row of ``rows``, sorted)
    on those rows of ``table``, with ``row`` naming the rows of ``table``: the same values
    as an evaluation of the whole table gives them."""
    rows = np.asarray(rows, np.int64)
    folder = tempfile.mkdtemp(prefix="posetable-rows-")
    try:
        small = Table.from_arrow(
            table.take(rows),
            name="rows",
            schema=table.schema,
            store=folder,
            metadata=table.metadata,
        )
        result = evaluate(small, predictions, sigmas=table.schema.sigmas)
        per_sample, per_instance = result.per_sample, result.per_instance
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _renumbered(per_sample, rows), _renumbered(per_instance, rows)


def _renumbered(data: pa.Table, rows: np.ndarray) -> pa.Table:
    """``data`` with its ``row`` (positions in the small table) turned into ``rows``."""
    at = data.schema.get_field_index("row")
    local = data.column(at).to_numpy()
    return data.set_column(at, "row", pa.array(rows[local], pa.int64()))
