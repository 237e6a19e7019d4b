"""A run's label-error suspects as the dashboard keeps them: found once per run, revision
and thresholds (or read from what the run keeps), the per-sample summary in memory and
every suspect in a Parquet file of the cache folder, read a sample at a time.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from posetable._rows import SAMPLE_ID
from posetable._run_suspects import read_suspects, suspects_path, write_suspects
from posetable.label_errors import find_label_errors

logger = logging.getLogger(__name__)
SuspectThresholds = tuple[float, float]


def suspects_of(table: Any, run: Any, thresholds: SuspectThresholds, folder: Path) -> pa.Table:
    """``find_label_errors`` of a run on a table revision, kept in (and read back from) the
    dashboard's cache ``folder``: revisions and runs never change, so neither do they."""
    cached = read_suspects(folder, thresholds)
    if cached is not None:
        return cached
    found = find_label_errors(
        table,
        run,
        instance_confidence_threshold=thresholds[0],
        keypoint_confidence_threshold=thresholds[1],
    )
    write_suspects(folder, thresholds, found)
    return found


def with_sample_ids(found: pa.Table, sample_ids: np.ndarray) -> pa.Table:
    """Suspects with each one's sample id (``sample_ids``: of the revision's rows)."""
    ids = np.asarray(sample_ids, dtype=np.int64)[found.column("row").to_numpy()]
    return found.append_column(SAMPLE_ID, pa.array(ids, pa.int64()))


_KEPT_THRESHOLDS = 8  # suspect tables kept per run and revision (one per threshold pair)
_KEPT_GROUP_ROWS = 2048  # row group of a kept suspects file: one sample reads one or two


class KeptSuspects:
    """The suspects of a run on a revision at one pair of thresholds: the per-sample
    summary in memory, every suspect in a Parquet file of the cache folder sorted by sample
    id (in small row groups, so one sample's read touches one or two of them). A large
    run's suspects are many (hundreds of thousands, each with its detail text): kept on
    disk they cost the server no memory. Where the folder cannot be written they stay in
    memory."""

    def __init__(self, rows: pa.Table, folder: Path, thresholds: SuspectThresholds) -> None:
        self.per_sample = aggregate_suspects(rows)
        self._rows: pa.Table | None = None
        self._path = suspects_path(folder, thresholds).with_suffix(".by-sample.parquet")
        if self._path.is_file():  # written by an earlier server: runs and revisions never change
            return
        ids = rows.column(SAMPLE_ID).to_numpy()
        order = np.argsort(ids, kind="stable")  # within a sample: find_label_errors' order
        by_sample = rows.take(pa.array(order, pa.int64())).append_column(
            "_position", pa.array(order, pa.int64())
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            staging = self._path.with_name(f".{self._path.name}.{threading.get_ident()}")
            pq.write_table(by_sample, staging, row_group_size=_KEPT_GROUP_ROWS)
            os.replace(staging, self._path)
        except OSError:
            logger.warning("cannot write %s; the suspects stay in memory", self._path)
            self._rows = rows

    def rows(self, sample_id: int | None = None) -> pa.Table:
        """Every suspect in ``find_label_errors``' order, or those of one sample."""
        if self._rows is not None:
            data = self._rows
            if sample_id is None:
                return data
            return data.filter(pc.equal(data.column(SAMPLE_ID), int(sample_id)))
        if sample_id is None:
            data = pq.read_table(self._path)
            order = np.argsort(data.column("_position").to_numpy(), kind="stable")
            data = data.take(pa.array(order, pa.int64()))
        else:
            data = pq.read_table(self._path, filters=[(SAMPLE_ID, "=", int(sample_id))])
        return data.drop_columns(["_position"])


def remember(cache: dict[SuspectThresholds, Any], key: SuspectThresholds, value: Any) -> None:
    """Keep ``value`` under ``key``, forgetting the oldest entries beyond a few."""
    cache[key] = value
    while len(cache) > _KEPT_THRESHOLDS:
        cache.pop(next(iter(cache)))


def aggregate_suspects(found: pa.Table) -> pa.Table:
    if found.num_rows == 0:
        return pa.table(
            {
                SAMPLE_ID: pa.array([], pa.int64()),
                "suspect_score": pa.array([], pa.float64()),
                "suspects": pa.array([], pa.int64()),
                "suspect_kinds": pa.array([], pa.string()),
            }
        )
    grouped = found.group_by(SAMPLE_ID).aggregate(
        [("score", "max"), ("score", "count"), ("kind", "distinct")]
    )
    kinds = [", ".join(sorted(k)) for k in grouped.column("kind_distinct").to_pylist()]
    return pa.table(
        {
            SAMPLE_ID: grouped.column(SAMPLE_ID),
            "suspect_score": grouped.column("score_max").cast(pa.float64()),
            "suspects": grouped.column("score_count").cast(pa.int64()),
            "suspect_kinds": pa.array(kinds, pa.string()),
        }
    )
