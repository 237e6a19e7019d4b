"""``pt.evaluate(table, run, engine="ray")``: Ray Data over the table's Lance fragments.

The driver reads only what is small: the table's image ids and sample ids (the image axis),
the predictions' row column, and the ground truth once in row batches for its fingerprint
(streamed: one batch held at a time). ``lance_ray.read_lance`` makes a Ray Dataset of the
table's ``sample_id`` and ``keypoints`` columns at this revision, one read task per group
of fragments; each batch becomes one :class:`~posetable.eval.partial.Partial` in a Ray
task (the engine's own matching on that batch's images, with their predictions sliced
from the run's memory-mapped evaluation columns), and the driver merges the partials'
bytes with :func:`~posetable.eval.partial.merge_partials`, which refuses a set that misses
an image: a lost batch can never give a number. Ray retries a task whose worker died
(``max_retries``); past that the evaluation fails with an ``EvaluationError``.

Workers must reach the store's files by the same paths (one machine, or a shared file
system / object store that Lance reads).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from posetable._rows import SAMPLE_ID
from posetable._run_columns import PredictionArrays
from posetable.errors import EvaluationError, PosetableError, UnsupportedError, missing_extra
from posetable.eval import _engine
from posetable.eval._columns import (
    Frame,
    ground_truth_columns,
    predictions_from_arrays,
    table_frame,
)
from posetable.eval._data import EvalInput
from posetable.eval._fingerprint import GroundTruthHasher
from posetable.eval.partial import Partial, merge_partials, partial_of
from posetable.eval.result import EvaluationResult

if TYPE_CHECKING:
    from posetable.table import Table

logger = logging.getLogger(__name__)
MAX_RETRIES = 3  # Ray Data's default retries a dead worker's task forever
HASH_BATCH_ROWS = 1024  # rows read at a time for the fingerprint (small: Lance reads ahead)
BLOCK_ROWS = 20_000  # rows per task by default: ~45,000 persons, ~80,000 predictions


@dataclass(frozen=True)
class _Context:
    """What every task shares (put once in Ray's object store)."""

    frame: Frame
    sorted_sample_ids: np.ndarray  # the table's sample ids, sorted
    sample_rows: np.ndarray  # the row of each sorted sample id
    predictions: PredictionArrays | None  # the flat prediction columns, or None: read ``path``
    path: str | None  # a run's folder, whose evaluation columns each task maps
    order: np.ndarray | None  # prediction entries by row (None: already in row order)
    starts: np.ndarray  # (rows + 1,) where each row's entries start in row order
    sigmas: np.ndarray
    params: _engine.Params
    labels: tuple[str, ...]
    fingerprint: str

    def rows_of(self, sample_ids: np.ndarray) -> np.ndarray:
        """Table rows of the given sample ids."""
        where = np.searchsorted(self.sorted_sample_ids, sample_ids)
        return self.sample_rows[where]

    def predictions_of(self, rows: np.ndarray) -> PredictionArrays:
        """The flat prediction columns of ``rows`` (sorted), in row order."""
        lo, hi = self.starts[rows], self.starts[rows + 1]
        counts = hi - lo
        first = np.cumsum(counts) - counts
        take = np.repeat(lo - first, counts) + np.arange(int(counts.sum()))
        if self.order is not None:
            take = self.order[take]
        source = self.predictions if self.predictions is not None else _mapped(self.path)
        return source.take(take)


_MAPPED: dict[str, PredictionArrays] = {}
_CONTEXTS: dict[str, _Context] = {}


def _mapped(path: str | None) -> PredictionArrays:
    """The run's evaluation columns, memory-mapped once per worker process."""
    from posetable._run_columns import read_prediction_arrays

    if path is None:
        raise EvaluationError("the Ray evaluation has no predictions to read")
    if path not in _MAPPED:
        data = read_prediction_arrays(Path(path))
        if data is None:
            raise EvaluationError(f"the run's evaluation columns {path} are gone")
        _MAPPED[path] = data
    return _MAPPED[path]


def _context(ref: Any) -> _Context:
    import ray

    key = ref.hex()
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one evaluation at a time per worker: drop the previous one
        _CONTEXTS[key] = ray.get(ref)
    return _CONTEXTS[key]


def evaluate_batch(batch: pa.Table, context: Any) -> pa.Table:
    """One Ray task: the partial of the images of ``batch`` (table rows), as bytes."""
    ctx = _context(context)
    fr = ctx.frame
    rows = ctx.rows_of(batch.column(SAMPLE_ID).to_numpy())
    gt = ground_truth_columns(batch.column("keypoints"), rows, fr)
    dt = predictions_from_arrays(ctx.predictions_of(np.sort(rows)), fr)
    sub = EvalInput(
        gt=gt,
        dt=dt,
        image_ids=fr.image_ids,
        rows=fr.rows,
        category_ids=fr.category_ids,
        category_labels=fr.category_labels,
        sigmas=ctx.sigmas,
    )
    partial = partial_of(
        sub,
        np.sort(fr.row_position[rows]),
        ground_truth=ctx.fingerprint,
        params=ctx.params,
        area_labels=ctx.labels,
    )
    return pa.table({"partial": pa.array([partial.to_bytes()], pa.large_binary())})


def table_fingerprint(table: Table, fr: Frame) -> str:
    """The ground-truth fingerprint of ``table`` (as ``evaluate_partial`` computes it),
    streamed over row batches so the driver never holds the whole ground truth."""
    hasher = GroundTruthHasher()
    for start in range(0, len(table), HASH_BATCH_ROWS):  # one batch read at a time
        rows = np.arange(start, min(start + HASH_BATCH_ROWS, len(table)))
        batch = table.take(rows, columns=["keypoints"])
        hasher.update(ground_truth_columns(batch.column("keypoints"), rows, fr))
    return hasher.hexdigest(
        fr.image_ids, fr.rows, fr.category_ids, fr.category_labels, fr.num_keypoints
    )


def _prediction_source(
    table: Table, predictions: Any, fr: Frame
) -> tuple[PredictionArrays | None, str | None, np.ndarray]:
    """(flat prediction columns to share, or None and a run's folder to map; their rows)."""
    from posetable._run_columns import has_prediction_arrays
    from posetable.eval import api

    if api._is_run(predictions):
        run = predictions
        columns = run.prediction_arrays(table)
        own = table.name == run.table_name and table.revision == run.table_revision
        rows = np.asarray(columns.row)
        if own and has_prediction_arrays(Path(run.path)):
            return None, str(run.path), rows
        return columns, None, rows
    dt = api._predictions(predictions, fr, fr.image_ids, "error")
    rows = fr.rows[dt.image]
    labels = fr.category_labels[dt.category]
    ids = np.zeros(rows.shape[0], np.int64)  # sample ids are not read by the tasks
    flat = PredictionArrays(rows, ids, dt.index, labels, dt.score, dt.area, dt.keypoints)
    return flat, None, rows


def _imports() -> tuple[Any, Any]:
    try:
        import lance_ray
        import ray
    except ImportError as exc:
        raise missing_extra("ray and lance-ray", "ray") from exc
    return ray, lance_ray


def evaluate_ray(
    table: Any,
    predictions: Any,
    *,
    sigmas: Any = None,
    batch_rows: int | None = None,
    max_retries: int = MAX_RETRIES,
) -> EvaluationResult:
    """:func:`posetable.evaluate` on Ray Data: the same stats and arrays, bit for bit.

    ``batch_rows``: table rows per task (default: Ray Data's blocks of the fragments);
    ``max_retries``: how often a task whose worker died is run again.
    """
    from posetable.eval import api

    blobs = ray_partials(
        table,
        predictions,
        sigmas=sigmas,
        batch_rows=batch_rows,
        max_retries=max_retries,
    )
    if not blobs:  # an empty table: no fragment, no task
        return api.evaluate(table, predictions, sigmas=sigmas)
    return merge_partials(Partial.from_bytes(blob) for blob in blobs)


def ray_partials(
    table: Any,
    predictions: Any,
    *,
    sigmas: Any = None,
    batch_rows: int | None = None,
    max_retries: int = MAX_RETRIES,
) -> list[bytes]:
    """The partials' bytes of :func:`evaluate_ray`, one per Ray Data batch."""
    from posetable.eval import api
    from posetable.table import Table

    if not isinstance(table, Table):
        raise UnsupportedError(
            'engine="ray" evaluates a posetable Table (it maps over the table\'s Lance '
            f'fragments), got {type(table).__name__}; for JSON files use engine="local" or '
            "pt.evaluate_partial on disjoint images with pt.merge_partials"
        )
    ray, lance_ray = _imports()
    fr = table_frame(table)
    sig = api._sigmas(sigmas, table.schema.sigmas, fr.num_keypoints)
    flat, path, pred_rows = _prediction_source(table, predictions, fr)
    sample_ids = table.sample_ids()
    by_id = np.argsort(sample_ids, kind="stable")
    sorted_rows = bool(np.all(pred_rows[1:] >= pred_rows[:-1])) if pred_rows.size else True
    order = None if sorted_rows else np.argsort(pred_rows, kind="stable")
    in_order = pred_rows if order is None else pred_rows[order]
    context = _Context(
        frame=fr,
        sorted_sample_ids=sample_ids[by_id],
        sample_rows=by_id.astype(np.int64),
        predictions=flat,
        path=path,
        order=order,
        starts=np.searchsorted(in_order, np.arange(len(table) + 1)).astype(np.int64),
        sigmas=sig,
        params=_engine.Params(),
        labels=_engine.AREA_LABELS,
        fingerprint=table_fingerprint(table, fr),
    )
    with _quiet_ray():
        return _run(ray, lance_ray, table, context, batch_rows, max_retries)


@contextlib.contextmanager
def _quiet_ray() -> Iterator[None]:
    """Ray's own deprecation notices (its internals, nothing a caller can change) and
    lance's fork warning (Ray execs the processes it forks) stay out of the caller's way."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray(\.|$)")
        warnings.filterwarnings("ignore", message="lance is not fork-safe")
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        yield


def _run(
    ray: Any, lance_ray: Any, table: Table, context: _Context, batch_rows: int | None,
    max_retries: int,
) -> list[bytes]:  # fmt: skip
    batches = map_over_table(
        ray, lance_ray, table, [SAMPLE_ID, "keypoints"], evaluate_batch, context, batch_rows,
        max_retries, what="evaluation", error=EvaluationError,
    )  # fmt: skip
    blobs = [blob for batch in batches for blob in batch.column("partial").to_pylist()]
    logger.debug("table %s: %d partials from Ray", table.ref, len(blobs))
    return blobs


def map_over_table(
    ray: Any,
    lance_ray: Any,
    table: Table,
    columns: list[str],
    task: Callable[[pa.Table, Any], pa.Table],
    context: Any,
    batch_rows: int | None,
    max_retries: int,
    *,
    what: str,
    error: type[PosetableError] = PosetableError,
) -> list[pa.Table]:
    """``task``'s outputs over the table's ``columns`` read with ``lance_ray`` at its
    revision, each block one Ray task (``context`` shared through the object store; a
    task whose worker dies is run again at most ``max_retries`` times). Our own error
    raised in a task comes back as itself; any other failure is an ``error`` naming what
    failed: never a result from part of the table. Evaluation, check and label errors on
    Ray all map through here."""
    if not ray.is_initialized():
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    ref = ray.put(context)
    dataset = table.dataset
    scanner = {"batch_size": int(batch_rows)} if batch_rows else None
    # two blocks per CPU, of at most BLOCK_ROWS rows (a task's memory): each task costs a
    # scheduling round trip, so not Ray Data's many small blocks (70 for 50,000 rows)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    blocks = None if batch_rows else max(2 * cpus, -(-len(table) // BLOCK_ROWS))
    source = lance_ray.read_lance(
        dataset.uri,
        columns=columns,
        dataset_options={"version": dataset.version},
        scanner_options=scanner,
        override_num_blocks=blocks,
    )
    mapped = source.map_batches(  # max_retries: Ray Data 2.60 names no parameter for it
        task,
        fn_kwargs={"context": ref},
        batch_format="pyarrow",
        batch_size=int(batch_rows) if batch_rows else None,
        zero_copy_batch=True,
        max_retries=int(max_retries),
    )
    try:
        return list(mapped.iter_batches(batch_format="pyarrow", batch_size=None))
    except Exception as exc:
        cause = _our_cause(exc)
        if cause is not None:
            raise cause from None
        raise error(
            f"the Ray {what} of table {table.ref} failed and gave no result "
            f"({_describe(exc)}); a task is run again at most {max_retries} times after "
            "its worker dies"
        ) from exc


_RAISED = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


def _describe(exc: BaseException) -> str:
    """What failed: the exception a task raised (its line in Ray's traceback text), else
    Ray's own error (a worker that died: ``WorkerCrashedError``) and its first line."""
    text = str(exc)
    for line in text.splitlines():
        raised = _RAISED.match(line.strip())
        if raised and not raised.group(1).startswith("ray."):
            return f"{raised.group(1)}: {raised.group(2)}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"


def _our_cause(exc: BaseException) -> PosetableError | None:
    """Our own error raised inside a task (bad predictions...), unwrapped from Ray's."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PosetableError) and type(current).__module__.startswith("posetable"):
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return None
