"""``pt.find_label_errors(table, run, engine="ray")``: the finder over the table's fragments.

Every suspect depends on its own row alone (its ground truth and the run's predictions of
that image: :func:`posetable.label_errors.label_errors_of_rows`), so nothing is reduced
but the ranking. ``lance_ray.read_lance`` makes a Ray Dataset of the table's ``sample_id``
column at this revision; each batch becomes one Ray task that opens the table revision and
the run in its worker, reads the run's predictions of its samples only, and finds their
suspects (details written there). The driver ranks all of them as the finder does (score,
highest first, then row; a row's ties stay in the order one task found them) and keeps the
first ``top``: the result is :func:`posetable.find_label_errors`', row for row.

A task that fails fails the whole search with an error (after ``max_retries`` runs of a task
whose worker died): never part of the suspects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._rows import SAMPLE_ID
from posetable.diagnose._ray_check import (
    MAX_RETRIES,
    RowMap,
    from_bytes,
    guarded,
    map_table,
    open_table,
    shared,
    to_bytes,
)

if TYPE_CHECKING:
    from posetable.runs import Run
    from posetable.table import Table


@dataclass(frozen=True)
class _FinderContext:
    """What every task shares (put once in Ray's object store)."""

    store: str
    ref: str
    run_store: str
    run_name: str
    instance_confidence_threshold: float
    keypoint_confidence_threshold: float
    kinds: tuple[str, ...]
    row_map: RowMap


_RUNS: dict[tuple[str, str], Any] = {}


def _open_run(store: str, name: str) -> Run:
    from posetable.runs import Run

    key = (store, name)
    if key not in _RUNS:
        if len(_RUNS) > 8:
            _RUNS.clear()
        _RUNS[key] = Run.open(name, store=store)
    return _RUNS[key]


_OUT = pa.schema([("suspects", pa.large_binary()), ("error", pa.large_binary())])


def label_errors_batch(batch: pa.Table, context: Any) -> pa.Table:
    """One Ray task (the function Ray Data maps): :func:`label_errors_task` of a batch."""
    return guarded(label_errors_task, batch, context, _OUT)


def label_errors_task(batch: pa.Table, context: Any) -> dict[str, Any]:
    """Every suspect of the batch's rows (details written), as IPC bytes."""
    from posetable.label_errors import label_errors_of_rows

    ctx: _FinderContext = shared(context)
    table = open_table(ctx.store, ctx.ref)
    run = _open_run(ctx.run_store, ctx.run_name)
    ids = pa.array(np.asarray(batch.column(SAMPLE_ID).to_numpy(), np.int64))
    predictions = pq.read_table(
        run.file("predictions.parquet"),
        columns=[SAMPLE_ID, KEYPOINTS_COLUMN],
        filters=pc.field(SAMPLE_ID).isin(ids),
    )
    found = label_errors_of_rows(
        table,
        run,
        ctx.row_map.rows_of(batch),
        predictions=predictions,
        instance_confidence_threshold=ctx.instance_confidence_threshold,
        keypoint_confidence_threshold=ctx.keypoint_confidence_threshold,
        kinds=ctx.kinds,
    )
    return {"suspects": to_bytes(found)}


def find_label_errors_ray(
    table: Table,
    run: Run,
    *,
    top: int | None,
    instance_confidence_threshold: float,
    keypoint_confidence_threshold: float,
    kinds: tuple[str, ...],
    batch_rows: int | None = None,
    max_retries: int = MAX_RETRIES,
) -> pa.Table:
    """:func:`posetable.find_label_errors` with the per-row work on Ray Data."""
    from posetable._validate import as_index
    from posetable.errors import RunError, UnsupportedError
    from posetable.filtering import check_instance_threshold, check_keypoint_threshold
    from posetable.label_errors import label_errors_of_rows
    from posetable.runs import Run
    from posetable.table import Table

    if not isinstance(table, Table) or not isinstance(run, Run):
        raise UnsupportedError(
            'engine="ray" finds label errors of a posetable Table with a Run, got '
            f"{type(table).__name__} and {type(run).__name__}"
        )
    # what the tasks would refuse, refused here before any task starts
    if top is not None and (as_index(top) is None or isinstance(top, float) or top < 0):
        raise RunError(f"top must be None or a whole number >= 0, got {top!r}"[:200])
    check_instance_threshold(instance_confidence_threshold)
    check_keypoint_threshold(keypoint_confidence_threshold)
    run._finished()
    run._check_descends(table)
    run.file("predictions.parquet")  # a record made on first use: made here, not by each task
    context = _FinderContext(
        store=str(table.store.root),
        ref=table.ref,
        run_store=str(run.path.parent.parent),
        run_name=run.name,
        instance_confidence_threshold=instance_confidence_threshold,
        keypoint_confidence_threshold=keypoint_confidence_threshold,
        kinds=tuple(kinds),
        row_map=RowMap.of(table),
    )
    rows = map_table(table, label_errors_batch, context, batch_rows, max_retries, "label errors")
    if not rows:  # an empty table: no fragment, no task
        return label_errors_of_rows(
            table,
            run,
            np.zeros(0, np.int64),
            top=top,
            instance_confidence_threshold=instance_confidence_threshold,
            keypoint_confidence_threshold=keypoint_confidence_threshold,
            kinds=tuple(kinds),
        )
    suspects = pa.concat_tables([from_bytes(r["suspects"]) for r in rows])
    row = np.asarray(suspects.column("row").to_numpy(), np.int64)
    score = np.asarray(suspects.column("score").to_numpy(), np.float64)
    order = np.lexsort((row, -score)) if len(row) else np.zeros(0, np.int64)
    if top is not None:
        order = order[: int(top)]
    return suspects.take(pa.array(order, pa.int64())).combine_chunks()
