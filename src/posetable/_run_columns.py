"""A run's predictions as flat evaluation columns: numpy files, read memory-mapped.

``predictions.parquet`` keeps the posetable keypoints struct (the record, read by the
dashboard, accepting and exports); evaluating a run needs only flat arrays, and decoding the
nested struct costs more than the evaluation itself. So a run also keeps the folder
``predictions_eval/``: one ``.npy`` file per column, one entry per predicted instance:
``row``, ``sample_id``, ``index`` (within its row), ``label``, ``score``, ``area``
(pycocotools' detection area) and ``keypoints`` ((N, K, 2) float64). Reading maps the files
instead of decoding them, and needs numpy alone (no pyarrow: see ``_lazy``). Runs written
before kept the same columns in one Arrow IPC file, ``predictions_eval.arrow``, which is
still read.

A run made from a results file keeps its record in the same folder too (format 2), as three
more columns: ``confidences`` ((N, K) float32, each point's third value), ``boxes`` ((N, 4)
float64 xyxy) and ``image_sizes`` ((N, 2) float64, the width and height of each instance's
image); ``predictions.parquet`` is then made from them on first use (writing the nested
struct costs several times reading the file).
"""

from __future__ import annotations

import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posetable._lazy import LazyModule
from posetable._rows import SAMPLE_ID

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = LazyModule("pyarrow")

EVAL_COLUMNS_FOLDER = "predictions_eval"
LEGACY_EVAL_COLUMNS_FILE = "predictions_eval.arrow"  # runs written before the folder


@dataclass(frozen=True)
class PredictionArrays:
    """Every predicted instance of a run as flat arrays (N instances, K keypoints).

    Attributes:
        row: (N,) int64 table row.
        sample_id: (N,) int64 stable sample id of the row.
        index: (N,) int64 instance index within its row.
        label: (N,) int64 class label.
        score: (N,) float64 instance score.
        area: (N,) float64 pycocotools' detection area.
        keypoints: (N, K, 2) float64 x, y.
    """

    row: np.ndarray
    sample_id: np.ndarray
    index: np.ndarray
    label: np.ndarray
    score: np.ndarray
    area: np.ndarray
    keypoints: np.ndarray

    def __len__(self) -> int:
        return int(self.row.shape[0])

    def take(self, at: np.ndarray) -> PredictionArrays:
        """The instances at ``at`` (positions, or a mask)."""
        return PredictionArrays(**{f.name: getattr(self, f.name)[at] for f in fields(self)})

    def to_arrow(self) -> pa.Table:
        """The columns as an Arrow table (``keypoints``: a fixed-size list of 2K float64)."""
        n, k = self.keypoints.shape[0], self.keypoints.shape[1]
        flat = np.ascontiguousarray(self.keypoints, np.float64).reshape(n * 2 * k)
        return pa.table(
            {
                "row": pa.array(self.row, pa.int64()),
                SAMPLE_ID: pa.array(self.sample_id, pa.int64()),
                "index": pa.array(self.index, pa.int64()),
                "label": pa.array(self.label, pa.int64()),
                "score": pa.array(self.score, pa.float64()),
                "area": pa.array(self.area, pa.float64()),
                "keypoints": pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float64()), 2 * k),
            },
            metadata={b"num_keypoints": str(k).encode()},
        )

    @classmethod
    def from_arrow(cls, data: pa.Table) -> PredictionArrays:
        """The arrays of :meth:`to_arrow`'s table."""
        return cls(
            row=data.column("row").to_numpy(),
            sample_id=data.column(SAMPLE_ID).to_numpy(),
            index=data.column("index").to_numpy(),
            label=data.column("label").to_numpy(),
            score=data.column("score").to_numpy(),
            area=data.column("area").to_numpy(),
            keypoints=keypoint_array(data),
        )


_COLUMNS = tuple(f.name for f in fields(PredictionArrays))


#: the record's columns beyond the evaluation's, with their types (see the module's text)
RECORD_COLUMNS = {"confidences": np.float32, "boxes": np.float64, "image_sizes": np.float64}


def write_prediction_arrays(
    folder: Path, arrays: PredictionArrays, record: dict[str, np.ndarray] | None = None
) -> Path:
    """Write ``arrays`` as ``<folder>/predictions_eval/`` (atomically: a staging folder
    renamed into place), with the :data:`RECORD_COLUMNS` of ``record`` when given."""
    target = folder / EVAL_COLUMNS_FOLDER
    staging = folder / f".{EVAL_COLUMNS_FOLDER}.{uuid.uuid4().hex}"
    staging.mkdir()
    types = {"score": np.float64, "area": np.float64, "keypoints": np.float64}
    columns = {
        n: np.ascontiguousarray(getattr(arrays, n), types.get(n, np.int64)) for n in _COLUMNS
    }
    for name, kind in RECORD_COLUMNS.items() if record is not None else ():
        values = np.ascontiguousarray(record[name], kind)  # type: ignore[index]
        if values.shape[0] != len(arrays):
            raise ValueError(
                f"record column {name!r}: {values.shape[0]} entries, not {len(arrays)}"
            )
        columns[name] = values

    def save(names: list[str]) -> None:
        for name in names:
            np.save(staging / f"{name}.npy", columns[name])

    # two writers (the keypoints, the rest): the kernel's page-cache work on two cores
    rest = [n for n in columns if n != "keypoints"]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="posetable-npy") as pool:
        for done in [pool.submit(save, ["keypoints"]), pool.submit(save, rest)]:
            done.result()
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return target


def has_prediction_arrays(folder: Path) -> bool:
    """Whether a run folder keeps its flat columns (in either layout)."""
    return (folder / EVAL_COLUMNS_FOLDER).is_dir() or (folder / LEGACY_EVAL_COLUMNS_FILE).is_file()


def read_prediction_arrays(folder: Path) -> PredictionArrays | None:
    """The flat columns of a run folder (memory-mapped, read-only), or None for a run
    written without them."""
    path = folder / EVAL_COLUMNS_FOLDER
    if path.is_dir():
        return PredictionArrays(
            **{name: np.load(path / f"{name}.npy", mmap_mode="r") for name in _COLUMNS}
        )
    legacy = folder / LEGACY_EVAL_COLUMNS_FILE
    if legacy.is_file():
        with pa.memory_map(str(legacy)) as source:
            return PredictionArrays.from_arrow(pa.ipc.open_file(source).read_all())
    return None


def read_record_columns(folder: Path) -> dict[str, np.ndarray] | None:
    """The :data:`RECORD_COLUMNS` a run folder keeps (memory-mapped), or None for a run
    whose record is its ``predictions.parquet``."""
    path = folder / EVAL_COLUMNS_FOLDER
    if not all((path / f"{name}.npy").is_file() for name in RECORD_COLUMNS):
        return None
    return {name: np.load(path / f"{name}.npy", mmap_mode="r") for name in RECORD_COLUMNS}


def keypoint_array(data: pa.Table) -> np.ndarray:
    """(N, K, 2) float64 keypoints of the flat columns (no copy for a single chunk)."""
    column = data.column("keypoints")
    width = column.type.list_size
    chunks = [c.flatten().to_numpy(zero_copy_only=False) for c in column.chunks]
    values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.zeros(0)
    return values.reshape(data.num_rows, width // 2, 2)


def rows_for_samples(ids: np.ndarray, target_sample_ids: np.ndarray) -> np.ndarray:
    """The row holding each sample id of ``ids`` in a table whose rows hold
    ``target_sample_ids``; -1 where that table no longer has the sample."""
    if target_sample_ids.shape[0] == 0:
        return np.full(ids.shape[0], -1, np.int64)
    if np.all(target_sample_ids[1:] > target_sample_ids[:-1]):  # most tables: no sort needed
        where = np.minimum(np.searchsorted(target_sample_ids, ids), target_sample_ids.shape[0] - 1)
        return np.where(target_sample_ids[where] == ids, where, -1).astype(np.int64)
    order = np.argsort(target_sample_ids, kind="stable")
    where = np.minimum(np.searchsorted(target_sample_ids[order], ids), order.shape[0] - 1)
    found = target_sample_ids[order][where] == ids
    return np.where(found, order[where], -1).astype(np.int64)
