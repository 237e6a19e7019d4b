"""``pt.check(table, engine="ray")``: the checks mapped over the table's Lance fragments.

``lance_ray.read_lance`` makes a Ray Dataset of the table's ``sample_id`` column at this
revision (one read task per group of fragments); each batch becomes one Ray task that opens
the table revision in its worker, reads the ground truth of its rows and runs the per-row
rules on them (:func:`posetable.diagnose.check.check_rows`' way: the same findings as those
rows have in a check of the whole table), with their messages written there. The task also
returns what the one table-wide rule on rows needs, ``bone_length_outlier``: the log
relative length of every labeled skeleton line of its instances (12 bytes per instance and
line, and each instance's row, index, annotation id and class once), from which the driver
makes the rule's decision over the whole table exactly as the rule does (its medians need
every value: they are not mergeable statistics). The schema rules run on
the driver. The pieces are merged in the check's order (severity, rule, row, instance,
keypoint; ties stay in the order one rule found them, which one task holds): the result is
:func:`posetable.check`'s, row for row.

Ray retries a task whose worker died (``max_retries``); past that, or when a task raises,
the check fails with an error and never returns part of the findings. Workers must reach
the store's files by the same paths (one machine, or a shared file system Lance reads).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posetable._rows import SAMPLE_ID
from posetable.diagnose._findings import FINDINGS_SCHEMA, Findings, sort_order
from posetable.diagnose._flat import read_ground_truth
from posetable.diagnose._found import SEVERITIES
from posetable.diagnose._pieces import check_piece, empty_bones, table_wide
from posetable.diagnose._sources import Source, _coco_lines
from posetable.errors import PosetableError, UnsupportedError

if TYPE_CHECKING:
    from posetable.table import Table

logger = logging.getLogger(__name__)
MAX_RETRIES = 3  # Ray Data's default retries a dead worker's task forever


@dataclass(frozen=True)
class RowMap:
    """The rows of sample ids (every task's batch of ``sample_id``)."""

    sorted_sample_ids: np.ndarray
    sample_rows: np.ndarray

    @classmethod
    def of(cls, table: Table) -> RowMap:
        """The row map of ``table``."""
        ids = table.sample_ids()
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], order.astype(np.int64))

    def rows_of(self, batch: pa.Table) -> np.ndarray:
        """The table rows of a batch's sample ids, sorted."""
        ids = np.asarray(batch.column(SAMPLE_ID).to_numpy(), np.int64)
        return np.sort(self.sample_rows[np.searchsorted(self.sorted_sample_ids, ids)])


@dataclass(frozen=True)
class _CheckContext:
    """What every check task shares (put once in Ray's object store)."""

    store: str
    ref: str
    file: str | None
    names: tuple[str, ...]
    row_map: RowMap


_TABLES: dict[tuple[str, str], Any] = {}
_CONTEXTS: dict[str, Any] = {}


def shared(ref: Any) -> Any:
    """The object behind a Ray object ref, fetched once per worker process."""
    import ray

    key = ref.hex()
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one job at a time per worker: drop the previous one
        _CONTEXTS[key] = ray.get(ref)
    return _CONTEXTS[key]


def open_table(store: str, ref: str) -> Table:
    """The table revision ``ref`` of ``store``, opened once per worker process."""
    from posetable.table import Table

    key = (store, ref)
    if key not in _TABLES:
        if len(_TABLES) > 8:
            _TABLES.clear()
        _TABLES[key] = Table.open(ref, store=store)
    return _TABLES[key]


def to_bytes(table: pa.Table) -> bytes:
    """An Arrow table as IPC stream bytes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_bytes(blob: bytes) -> pa.Table:
    """The Arrow table of :func:`to_bytes`."""
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


def guarded(
    work: Callable[[pa.Table, Any], dict[str, Any]],
    batch: pa.Table,
    context: Any,
    schema: pa.Schema,
) -> pa.Table:
    """A task's one-row output (``schema``, whose last column is ``error``): ``work``'s
    values, or our own error it raised (pickled: it is raised again, typed, on the driver;
    Ray Data would wrap it in its own)."""
    try:
        values = work(batch, context)
        values["error"] = None
    except PosetableError as exc:
        values = dict.fromkeys(schema.names)
        values["error"] = pickle.dumps(exc)
    return pa.Table.from_pylist([values], schema=schema)


def raise_task_error(blob: bytes) -> None:
    """Raise the error a task returned (:func:`guarded`)."""
    try:
        error = pickle.loads(blob)
    except Exception:  # an error class that does not unpickle: its text still names it
        error = None
    if isinstance(error, PosetableError):
        raise error
    raise PosetableError(f"a Ray task failed with an error that could not be read: {blob[:200]!r}")


_CHECK_OUT = pa.schema(
    [
        ("findings", pa.large_binary()),
        ("bone_instances", pa.large_binary()),
        ("bone_values", pa.large_binary()),
        ("labeled", pa.bool_()),
        ("error", pa.large_binary()),
    ]
)


def check_batch(batch: pa.Table, context: Any) -> pa.Table:
    """One Ray task (the function Ray Data maps): :func:`check_task` of a batch."""
    return guarded(check_task, batch, context, _CHECK_OUT)


def check_task(batch: pa.Table, context: Any) -> dict[str, Any]:
    """The per-row findings of a batch's rows (messages written) and their skeleton lines'
    log lengths, as IPC bytes; and whether any of its points is labeled."""
    ctx: _CheckContext = shared(context)
    table = open_table(ctx.store, ctx.ref)
    rows = ctx.row_map.rows_of(batch)
    source = Source(table, file=ctx.file, source_lines=_coco_lines(table))
    piece = check_piece(read_ground_truth(table, rows), source, list(ctx.names))
    instances, values = piece.bones or empty_bones()
    return {
        "findings": to_bytes(piece.findings.to_table()),
        "bone_instances": to_bytes(instances),
        "bone_values": to_bytes(values),
        "labeled": piece.labeled,
    }


def check_ray(
    source: Source,
    names: list[str],
    *,
    batch_rows: int | None = None,
    max_retries: int = MAX_RETRIES,
) -> pa.Table:
    """The findings of one source (as ``check_findings(source, names).to_table()``), with
    the per-row work done on Ray Data over the table's Lance fragments."""
    if source.lines is not None or source.label_files is not None:
        raise UnsupportedError(
            'engine="ray" checks a table or a COCO keypoints JSON; a YOLO-pose dataset\'s '
            'label lines are known to this process only: use engine="local" for it'
        )
    table = source.table
    context = _CheckContext(
        store=str(table.store.root),
        ref=table.ref,
        file=source.file,
        names=tuple(names),
        row_map=RowMap.of(table),
    )
    blobs = map_table(table, check_batch, context, batch_rows, max_retries, "check")
    if not any(bool(b["labeled"]) for b in blobs):
        return Findings.empty(names).to_table()
    bones = [(from_bytes(b["bone_instances"]), from_bytes(b["bone_values"])) for b in blobs]
    pieces = [table_wide(source, names, bones).to_table()]
    pieces.extend(from_bytes(b["findings"]) for b in blobs)
    return in_check_order(pa.concat_tables(pieces), names)


def in_check_order(findings: pa.Table, names: list[str]) -> pa.Table:
    """Findings sorted as ``pt.check`` sorts them (stable: pieces keep their order)."""
    if findings.num_rows == 0:
        return FINDINGS_SCHEMA.empty_table()

    def ints(name: str) -> np.ndarray:
        column = findings.column(name).fill_null(-1)
        return np.asarray(column.to_numpy(), np.int64)

    def codes(name: str, values: Sequence[str]) -> np.ndarray:
        found = pc.index_in(findings.column(name), value_set=pa.array(list(values), pa.string()))
        return np.asarray(found.to_numpy(zero_copy_only=False), np.int64)

    severity, rule = codes("severity", SEVERITIES), codes("rule", names)
    order = sort_order(severity, rule, ints("row"), ints("instance"), ints("keypoint"))
    return findings.take(pa.array(order, pa.int64())).combine_chunks()


def map_table(
    table: Table,
    task: Callable[[pa.Table, Any], pa.Table],
    context: Any,
    batch_rows: int | None,
    max_retries: int,
    what: str,
) -> list[dict[str, Any]]:
    """The rows of ``task``'s one-row outputs over batches of the table's ``sample_id``
    read with ``lance_ray`` (each batch one Ray task, ``context`` shared through Ray's
    object store); a failed task fails all with our error (never a partial answer)."""
    from posetable.eval._ray import _imports, _quiet_ray, map_over_table

    if batch_rows is not None and (int(batch_rows) != batch_rows or batch_rows < 1):
        raise UnsupportedError(f"batch_rows must be a whole number >= 1, got {batch_rows!r}")
    ray, lance_ray = _imports()
    with _quiet_ray():
        batches = map_over_table(
            ray, lance_ray, table, [SAMPLE_ID], task, context, batch_rows, max_retries,
            what=what,
        )  # fmt: skip
    out = [row for batch in batches for row in batch.to_pylist()]
    for row in out:
        if row.get("error") is not None:
            raise_task_error(row["error"])
    logger.debug("table %s: %d Ray tasks for %s", table.ref, len(out), what)
    return out
