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
        self._source: Path | None = None  # see from_file
        self._sample_ids = np.zeros(0, np.int64)
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

    @classmethod
    def from_file(
        cls, source: Path, sample_ids: np.ndarray, folder: Path, thresholds: SuspectThresholds
    ) -> KeptSuspects:
        """The suspects a run keeps in ``source`` (``find_label_errors``' columns, its
        order), whose rows are those of ``sample_ids``, without reading them all: the
        per-sample summary from three columns (``row``, ``score``, ``kind``); the file by
        sample id is written by :meth:`write_by_sample` (a bounded-memory sort on disk),
        and until then one sample's suspects are read from ``source`` itself. A million
        images' run keeps millions of suspects (~1.4 GB in memory with their details)."""
        self = cls.__new__(cls)
        ids = np.asarray(sample_ids, np.int64)
        columns = pq.read_table(source, columns=["row", "score", "kind"], read_dictionary=["kind"])
        self.per_sample = _summary(
            columns.column("row").to_numpy(),
            ids,
            columns.column("score").to_numpy(),
            columns.column("kind"),
        )
        del columns
        self._rows = None
        self._path = suspects_path(folder, thresholds).with_suffix(".by-sample.parquet")
        self._source = source
        self._sample_ids = ids
        return self

    def write_by_sample(self) -> None:
        """Write the suspects of :meth:`from_file` sorted by sample id (once: runs never
        change), sorted by DuckDB within a memory limit (spilling to disk beyond)."""
        source = self._source
        if source is None or self._path.is_file():
            return
        import duckdb

        staging = self._path.with_name(f".{self._path.name}.{threading.get_ident()}")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(config={"memory_limit": _SORT_MEMORY, "threads": 1})
            try:
                con.execute("SET enable_progress_bar = false")
                con.execute(f"SET temp_directory = {_sql_text(str(self._path.parent))}")
                con.register(
                    "ids",
                    pa.table(
                        {"row": np.arange(len(self._sample_ids)), SAMPLE_ID: self._sample_ids}
                    ),
                )
                con.execute(
                    f"COPY (SELECT s.* EXCLUDE (file_row_number), ids.{SAMPLE_ID}, "
                    "s.file_row_number AS _position "
                    f"FROM read_parquet({_sql_text(str(source))}, file_row_number = true) s "
                    f"JOIN ids USING (row) ORDER BY ids.{SAMPLE_ID}, s.file_row_number) "
                    f"TO {_sql_text(str(staging))} "
                    f"(FORMAT parquet, ROW_GROUP_SIZE {_KEPT_GROUP_ROWS})"
                )
            finally:
                con.close()
            os.replace(staging, self._path)
        except (OSError, duckdb.Error):
            staging.unlink(missing_ok=True)
            logger.warning(
                "cannot write %s; one sample's suspects are read from the run's", self._path
            )

    def rows(self, sample_id: int | None = None) -> pa.Table:
        """Every suspect in ``find_label_errors``' order, or those of one sample."""
        if self._rows is not None:
            data = self._rows
            if sample_id is None:
                return data
            return data.filter(pc.equal(data.column(SAMPLE_ID), int(sample_id)))
        source = self._source
        if source is not None and not self._path.is_file():  # not sorted by sample yet
            return self._from_source(source, sample_id)
        if sample_id is None:
            data = pq.read_table(self._path)
            order = np.argsort(data.column("_position").to_numpy(), kind="stable")
            data = data.take(pa.array(order, pa.int64()))
        else:
            data = pq.read_table(self._path, filters=[(SAMPLE_ID, "=", int(sample_id))])
        data = data.drop_columns(["_position"])
        if source is not None:  # written by DuckDB: its columns say "not null"
            schema = pq.read_schema(source).append(pa.field(SAMPLE_ID, pa.int64()))
            data = data.cast(schema.remove_metadata())
        return data

    def _from_source(self, source: Path, sample_id: int | None) -> pa.Table:
        """Suspects read from the run's own file (all, or one sample's, in its order)."""
        if sample_id is None:
            data = pq.read_table(source)
        else:
            rows = np.flatnonzero(self._sample_ids == int(sample_id))
            data = pq.read_table(source, filters=[("row", "in", rows.tolist())])
        ids = self._sample_ids[data.column("row").to_numpy()]
        return data.append_column(SAMPLE_ID, pa.array(ids, pa.int64()))


#: DuckDB's memory while it sorts a run's suspects by sample (beyond, it spills to disk)
_SORT_MEMORY = "256MB"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _summary(rows: np.ndarray, sample_ids: np.ndarray, score: np.ndarray, kind: Any) -> pa.Table:
    """The per-sample summary (as ``aggregate_suspects`` gives it, ordered by row) of
    suspects given as columns (``rows`` index ``sample_ids``): the highest score, the count
    and the kinds (sorted, joined by ", ") of each row, by unbuffered ufuncs over rows (no
    sort of the millions of suspects of a large run); kinds as bits of their codes."""
    if len(rows) == 0:
        return aggregate_suspects(pa.table({SAMPLE_ID: pa.array([], pa.int64())}))
    encoded = kind.combine_chunks() if isinstance(kind, pa.ChunkedArray) else kind
    if not pa.types.is_dictionary(encoded.type):
        encoded = pc.dictionary_encode(encoded)
    names = [str(n) for n in encoded.dictionary.to_pylist()]
    if len(names) > 62:  # pragma: no cover - find_label_errors has four kinds
        raise ValueError(f"too many suspect kinds to summarise: {len(names)}")
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(sample_ids)
    counts = np.bincount(rows, minlength=n)
    best = np.full(n, -np.inf)
    np.maximum.at(best, rows, np.asarray(score, np.float64))
    bits = np.zeros(n, np.int64)
    np.bitwise_or.at(bits, rows, np.left_shift(1, codes))
    present = np.flatnonzero(counts)
    bits = bits[present]
    labels = {
        int(b): ", ".join(sorted(name for i, name in enumerate(names) if int(b) >> i & 1))
        for b in np.unique(bits).tolist()
    }
    combos = np.asarray(sorted(labels), np.int64)
    text = pa.array([labels[int(b)] for b in combos.tolist()], pa.string())
    return pa.table(
        {
            SAMPLE_ID: pa.array(np.asarray(sample_ids, np.int64)[present], pa.int64()),
            "suspect_score": pa.array(best[present], pa.float64()),
            "suspects": pa.array(counts[present].astype(np.int64), pa.int64()),
            "suspect_kinds": text.take(pa.array(np.searchsorted(combos, bits), pa.int64())),
        }
    )


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
