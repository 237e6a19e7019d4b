"""A run's predictions and per-instance metrics as Lance datasets sorted by ``sample_id``.

A run's record and metric tables are Parquet; these Lance copies are its index for random
access by sample (the dashboard reads one page of predictions without reading the run).
They are made on first use (or by ``Run.materialize``) into ``<run>/index/``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posetable._lazy import LazyModule
from posetable._rows import SAMPLE_ID

if TYPE_CHECKING:
    import lance
    import pyarrow as pa
    import pyarrow.parquet as pq
    from lance.dataset import LanceDataset
else:
    lance = LazyModule("lance")
    pa = LazyModule("pyarrow")
    pq = LazyModule("pyarrow.parquet")

INDEX_FOLDER = "index"


def sorted_lance_copy(
    source: Path, target: Path, run_sample_ids: np.ndarray
) -> tuple[LanceDataset, np.ndarray]:
    """A Lance copy of a run's Parquet file with ``sample_id``, sorted by it (made once)."""
    if (target / "_versions").is_dir() and any((target / "_versions").iterdir()):
        dataset = lance.dataset(str(target))
        return dataset, dataset.to_table(columns=[SAMPLE_ID]).column(SAMPLE_ID).to_numpy()
    parquet = pq.ParquetFile(source)
    rows = parquet.read(columns=["row"]).column("row").to_numpy()
    ids = run_sample_ids[rows]
    names = [n for n in parquet.schema_arrow.names if n != SAMPLE_ID]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    if len(ids) < 2 or bool(np.all(ids[1:] >= ids[:-1])):

        def batches() -> Iterator[pa.RecordBatch]:
            done = 0
            for batch in parquet.iter_batches(batch_size=16384, columns=names):
                part = ids[done : done + batch.num_rows]
                done += batch.num_rows
                yield pa.RecordBatch.from_arrays(
                    [*batch.columns, pa.array(part, pa.int64())], names=[*names, SAMPLE_ID]
                )

        kept = [f for f in parquet.schema_arrow.remove_metadata() if f.name != SAMPLE_ID]
        schema = pa.schema([*kept, pa.field(SAMPLE_ID, pa.int64())])
        reader = pa.RecordBatchReader.from_batches(schema, batches())
        order_ids = ids
    else:
        order = np.argsort(ids, kind="stable")
        data = parquet.read(columns=names).take(pa.array(order))
        order_ids = ids[order]
        reader = data.append_column(SAMPLE_ID, pa.array(order_ids, pa.int64())).to_reader()
    _write_into_place(reader, target, staging)
    return lance.dataset(str(target)), np.asarray(order_ids, dtype=np.int64)


def _write_into_place(data: pa.Table | pa.RecordBatchReader, target: Path, staging: Path) -> None:
    lance.write_dataset(data, str(staging))
    try:
        os.replace(staging, target)
    except OSError:  # another worker made it first
        shutil.rmtree(staging, ignore_errors=True)
