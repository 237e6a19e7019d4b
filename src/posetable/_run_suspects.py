"""A run's label-error suspects, found once and kept as a Parquet file beside the run.

``Run`` writes them when it is created (at the dashboard's default thresholds), so opening
a run of any size shows its suspects at once; the dashboard keeps the ones it finds for
other runs or thresholds in its cache folder the same way. A file is written to a temporary
name and renamed, so a reader never sees half of one; one that cannot be read is ignored
(the suspects are found again).
"""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from posetable.runs import Run
    from posetable.table import Table

logger = logging.getLogger(__name__)
#: (instance score, keypoint confidence) of the suspects a run keeps (the dashboard's
#: defaults, lower than ``find_label_errors``' 0.5: the sample's planted swap scores 0.42)
SUSPECT_THRESHOLDS = (0.3, 0.3)
CHUNK_ROWS = 10_000  # rows whose suspects are found at a time (~25 MB of pairs)


def suspects_path(folder: Path, thresholds: tuple[float, float]) -> Path:
    """Where the suspects at ``thresholds`` are kept in ``folder``.

    Example:
        >>> suspects_path(Path("run"), (0.3, 0.3)).name
        'suspects-0.3-0.3.parquet'
    """
    return Path(folder) / f"suspects-{thresholds[0]!r}-{thresholds[1]!r}.parquet"


def read_suspects(folder: Path, thresholds: tuple[float, float]) -> pa.Table | None:
    """The suspects kept in ``folder`` at ``thresholds``, or None."""
    path = suspects_path(folder, thresholds)
    if not path.is_file():
        return None
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException):  # damaged or foreign: found again instead
        logger.warning("ignoring unreadable suspects file %s", path)
        return None


def write_suspects(
    folder: Path, thresholds: tuple[float, float], suspects: pa.Table
) -> Path | None:
    """Keep ``suspects`` in ``folder`` (atomically); None where the folder is not writable."""
    target = suspects_path(folder, thresholds)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(suspects, staging, use_dictionary=["kind"])
        os.replace(staging, target)
    except OSError:
        staging.unlink(missing_ok=True)
        logger.warning("could not keep the suspects in %s", folder)
        return None
    return target


def find_and_keep(
    run: Run,
    table: Table | None = None,
    *,
    predictions: pa.Table | None = None,
    folder: Path | None = None,
) -> Path | None:
    """Find the run's suspects at :data:`SUSPECT_THRESHOLDS` on its own revision and keep
    them beside it (what ``Run`` does when it is created). A run whose suspects cannot be
    found is still a run: the reason is logged and the dashboard finds them when asked.

    ``predictions``: the run's ``predictions`` table when at hand (a run being written: the
    same suspects as from its file, without reading it back); ``folder``: where to keep
    them (default the run's folder; a run being written keeps them in its staging folder).
    """
    from posetable.errors import PosetableError

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # asked by nobody: a caller of the finder sees them
            found = _suspects(table if table is not None else run.table(), run, predictions)
    except PosetableError as exc:
        logger.warning("label-error suspects of run %s were not kept: %s", run.name, exc)
        return None
    return write_suspects(run.path if folder is None else folder, SUSPECT_THRESHOLDS, found)


def _suspects(table: Table, run: Run, predictions: pa.Table | None) -> pa.Table:
    """``find_label_errors``' suspects of every row at :data:`SUSPECT_THRESHOLDS`, found
    :data:`CHUNK_ROWS` rows at a time past that size: each suspect depends on its own row
    alone, and the chunks' suspects sorted as the finder sorts them (score, highest first,
    then row; stable) are the same table, in a fraction of the memory (a 1M-image run at
    once needs ~20 GB)."""
    from posetable._label_flat import run_predictions
    from posetable._rows import SAMPLE_ID
    from posetable._run_columns import rows_for_samples
    from posetable.label_errors import label_errors_of_rows

    def of(rows: np.ndarray | None, data: pa.Table | None) -> pa.Table:
        return label_errors_of_rows(
            table,
            run,
            rows,
            predictions=data,
            instance_confidence_threshold=SUSPECT_THRESHOLDS[0],
            keypoint_confidence_threshold=SUSPECT_THRESHOLDS[1],
        )

    n = len(table)
    if n <= CHUNK_ROWS:
        return of(None, predictions)
    if predictions is None:  # read once for every chunk
        predictions = run_predictions(run)
    # each chunk is handed its own predictions: the entries whose sample is in its rows
    target = rows_for_samples(predictions.column(SAMPLE_ID).to_numpy(), table.sample_ids())
    order = np.argsort(target, kind="stable")
    bounds = np.searchsorted(target[order], np.arange(0, n + CHUNK_ROWS, CHUNK_ROWS))
    parts = [
        of(
            np.arange(a, min(a + CHUNK_ROWS, n), dtype=np.int64),
            predictions.take(pa.array(order[bounds[i] : bounds[i + 1]], pa.int64())),
        )
        for i, a in enumerate(range(0, n, CHUNK_ROWS))
    ]
    joined = pa.concat_tables(parts)
    order = np.lexsort((joined.column("row").to_numpy(), -joined.column("score").to_numpy()))
    return joined.take(pa.array(order, pa.int64()))
