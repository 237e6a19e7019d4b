"""The flat inputs of the label-error finder and the arithmetic it repeats over every pair.

Ground truth and predictions come from their Arrow keypoints columns in one decode each
(:func:`posetable._arrow_decode.flat_from_arrow`), with the defaults that
``FlatInstances.from_rows`` gives a row lacking a field. The OKS of every (ground truth,
prediction) pair of an image, as labeled and with the ground truth mirrored, is computed in
chunks of pairs with exactly the operations of :func:`posetable._pairs.pair_oks` (so the
numbers are the same to the bit), skipping its 3x-box branch for ground truth that has
labeled points, and sharing the prediction side between the two directions. Where the
evaluation's C kernel is in use, it computes e of both directions in one pass and sums the
terms (``pair_errors`` / ``pair_sums``); exp stays numpy's, so the numbers are the same.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._arrow_decode import flat_from_arrow
from posetable._pairs import AREA_FROM_BOX, FlatInstances, pair_oks
from posetable._rows import SAMPLE_ID
from posetable._run_columns import rows_for_samples

if TYPE_CHECKING:
    from posetable.runs import Run
    from posetable.table import Table

PAIR_CHUNK = 1 << 14  # (ground truth, prediction) pairs whose OKS is computed at once
PARALLEL_CHUNKS = 8  # from this many chunks on, two threads share them
_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    """Two worker threads, made once."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="posetable-labels"))
    return _POOL[0]


# a forked child (DataLoader workers, multiprocessing) has the pool but not its threads
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.clear)


def _kernel_module() -> Any:
    """The evaluation's C kernel where the native engine is in use, else None (numpy)."""
    from posetable.eval import _engine

    if _engine.backend() != "native":
        return None
    from posetable.eval import _native

    return _native._kernel


def run_predictions(run: Run) -> pa.Table:
    """The run's entries (``sample_id``, ``keypoints``): its own copy when it holds one;
    else read, not kept (a large run's predictions would stay in memory with every Run)."""
    data = run._cache.get("predictions")
    if data is None:
        data = pq.read_table(run.file("predictions.parquet"), columns=[SAMPLE_ID, KEYPOINTS_COLUMN])
    return data


def flat_inputs(
    table: Table, run: Run, only: np.ndarray | None = None, predictions: pa.Table | None = None
) -> tuple[np.ndarray, FlatInstances, FlatInstances]:
    """(rows, ground truth, predictions): the table rows (sorted) for which the run holds an
    entry (of ``only`` when given), and both sides' instances over them (``row`` = position
    in ``rows``). ``predictions``: the run's entries (``sample_id``, ``keypoints``) when the
    caller has them at hand (at least those of ``only``)."""
    k = table.schema.num_keypoints
    run._check_descends(table)
    data = predictions if predictions is not None else run_predictions(run)
    target = rows_for_samples(data.column(SAMPLE_ID).to_numpy(), table.sample_ids())
    keep = np.flatnonzero(target >= 0)
    if only is not None:
        keep = keep[np.isin(target[keep], np.asarray(only, np.int64))]
    order = keep[np.argsort(target[keep], kind="stable")]
    rows = target[order].astype(np.int64)
    dt_column = data.column(KEYPOINTS_COLUMN)
    if len(order) != len(target) or np.any(order != np.arange(len(order))):
        dt_column = dt_column.take(pa.array(order, pa.int64()))
    gt_column = None
    if len(rows):
        gt_column = table.take(rows, columns=[KEYPOINTS_COLUMN]).column(KEYPOINTS_COLUMN)
    return rows, flat_instances(gt_column, k), flat_instances(dt_column, k)


def flat_instances(column: pa.ChunkedArray | pa.Array | None, k: int) -> FlatInstances:
    """The instances of a keypoints column as :class:`FlatInstances`, with the defaults of
    ``FlatInstances.from_rows`` where a row lacks a field (visibility 2, confidence 1,
    score 1, area from the box, not crowd)."""
    if column is None or len(column) == 0:
        return FlatInstances.from_rows([], k)
    flat = flat_from_arrow(column, num_keypoints=k)
    total = int(flat.offsets[-1])
    row = np.repeat(np.arange(len(flat.counts), dtype=np.int64), flat.counts)
    index = np.arange(total, dtype=np.int64) - np.repeat(flat.offsets[:-1], flat.counts)
    vis = np.where(flat.has_visibilities[row][:, None], flat.visibilities, np.int32(2))
    conf = np.where(flat.has_confidences[row][:, None], flat.confidences, np.float32(1))
    score = np.where(flat.has_instance_confidences[row], flat.instance_confidences, 1.0)
    boxes = flat.boxes
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * AREA_FROM_BOX
    if "area" in flat.extras:
        values, missing = flat.extras["area"]
        given = ~missing[row]
        area[given] = np.asarray(values[given], np.float64)
    crowd = np.zeros(total, bool)
    if "iscrowd" in flat.extras:
        values, missing = flat.extras["iscrowd"]
        given = ~missing[row]
        crowd[given] = np.asarray(values[given]).astype(bool)
    return FlatInstances(
        row,
        index,
        flat.keypoints,
        vis.astype(np.int32, copy=False),
        conf.astype(np.float32, copy=False),
        score,
        boxes,
        area,
        crowd,
        flat.labels,
    )


class PairOks:
    """OKS of (ground truth, prediction) pairs as labeled and mirrored (``flips``)."""

    def __init__(
        self, gt: FlatInstances, dt_keypoints: np.ndarray, sigmas: np.ndarray, flips: np.ndarray
    ) -> None:
        self.gt = gt
        self.dt_keypoints = dt_keypoints
        self.sigmas = sigmas
        self.flips = flips
        self.variances = (2 * np.asarray(sigmas, np.float64)) ** 2
        self.labeled = gt.visibility > 0
        self.k1 = self.labeled.sum(axis=1)
        self.dx = np.ascontiguousarray(dt_keypoints[..., 0])
        self.dy = np.ascontiguousarray(dt_keypoints[..., 1])
        self.eps_area = gt.area + np.spacing(1)
        self._kernel = _kernel_module()
        if self._kernel is None:  # the numpy path's ground truth per coordinate, as mirrored
            self.gx = np.ascontiguousarray(gt.keypoints[..., 0])
            self.gy = np.ascontiguousarray(gt.keypoints[..., 1])
            self.gx_flip = self.gx.take(flips, axis=1)
            self.gy_flip = self.gy.take(flips, axis=1)
            self.labeled_flip = self.labeled.take(flips, axis=1)
        else:  # the C kernel's inputs, contiguous and typed once
            self._native = (
                np.ascontiguousarray(gt.keypoints, np.float64),
                np.ascontiguousarray(self.labeled, np.bool_),
                np.ascontiguousarray(self.k1, np.int64),
                np.ascontiguousarray(gt.boxes, np.float64),
                np.ascontiguousarray(self.eps_area, np.float64),
                np.ascontiguousarray(dt_keypoints, np.float64),
                np.ascontiguousarray(self.variances, np.float64),
                np.ascontiguousarray(flips, np.int64),
            )

    def _errors(
        self, g: np.ndarray, dkx: np.ndarray, dky: np.ndarray, flip: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(e, labeled) of pairs whose ground truth has labeled points: pair_oks' e, the
        same ufuncs in the same order, written in place."""
        if flip:
            gkx, gky, labeled = self.gx_flip[g], self.gy_flip[g], self.labeled_flip[g]
        else:
            gkx, gky, labeled = self.gx[g], self.gy[g], self.labeled[g]
        e = np.subtract(dkx, gkx, out=gkx)
        np.square(e, out=e)
        dy = np.subtract(dky, gky, out=gky)
        np.square(dy, out=dy)
        np.add(e, dy, out=e)
        np.divide(e, self.variances, out=e)
        np.divide(e, self.eps_area[g][:, None], out=e)
        np.divide(e, 2, out=e)
        return e, labeled

    def _chunk(
        self,
        gi: np.ndarray,
        di: np.ndarray,
        a: int,
        b: int,
        out: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    ) -> None:
        """Pairs ``a:b`` into ``out`` = (oks, oks mirrored, e, e mirrored)."""
        g, d = gi[a:b], di[a:b]
        if self._kernel is not None:
            self._chunk_native(g, d, a, b, out)
            return
        k1 = self.k1[g]
        points = np.flatnonzero(k1 > 0)
        boxed = np.flatnonzero(k1 == 0)
        gp, dp = g[points], d[points]
        dkx, dky = self.dx[dp], self.dy[dp]
        count = np.maximum(k1[points], 1)
        for flip in (False, True):
            e, labeled = self._errors(gp, dkx, dky, flip)
            e_out = out[3 if flip else 2]
            if e_out is not None:
                e_out[a + points] = e
            terms = np.negative(e, out=e)
            np.exp(terms, out=terms)
            terms[~labeled] = 0.0
            oks_out = out[1] if flip else out[0]
            oks_out[a + points] = terms.sum(axis=1) / count
        if boxed.size:  # ground truth without labeled points: pycocotools' 3x box
            value, e_box = pair_oks(self.gt, self.dt_keypoints, g[boxed], d[boxed], self.sigmas)
            out[0][a + boxed] = value
            out[1][a + boxed] = value  # mirroring moves no labeled point
            for e_out in out[2:]:
                if e_out is not None:
                    e_out[a + boxed] = e_box

    def _chunk_native(
        self,
        g: np.ndarray,
        d: np.ndarray,
        a: int,
        b: int,
        out: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    ) -> None:
        """:meth:`_chunk` on the C kernel: e of both directions in one pass (the same
        operations in the same order), numpy's own exp, and the kernel's sums in numpy's
        pairwise order, so every number is the numpy path's to the bit."""
        gkp, labeled, k1, boxes, eps_area, dkp, variances, flips = self._native
        g = np.ascontiguousarray(g, np.int64)
        d = np.ascontiguousarray(d, np.int64)
        k = variances.shape[0]
        e, e_flip = np.empty((b - a, k)), np.empty((b - a, k))
        kernel = self._kernel
        kernel.pair_errors(
            gkp, labeled, k1, boxes, eps_area, dkp, variances, flips, g, d, e, e_flip
        )
        for errors, e_out in ((e, out[2]), (e_flip, out[3])):
            if e_out is not None:
                e_out[a:b] = errors
            np.negative(errors, out=errors)
            np.exp(errors, out=errors)
        kernel.pair_sums(e, e_flip, labeled, k1, flips, g, out[0][a:b], out[1][a:b])

    def _chunks(
        self, gi: np.ndarray, di: np.ndarray, errors: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(oks, oks mirrored, e, e mirrored) of the pairs (gt[gi], dt[di]); e (P, K) only
        with ``errors``. Large inputs run on two threads (numpy releases the GIL)."""
        n, k = len(gi), self.dt_keypoints.shape[1]
        out = (
            np.empty(n),
            np.empty(n),
            np.empty((n, k)) if errors else None,
            np.empty((n, k)) if errors else None,
        )
        starts = list(range(0, n, PAIR_CHUNK))

        def work(chunk_starts: list[int]) -> None:
            for a in chunk_starts:
                self._chunk(gi, di, a, min(a + PAIR_CHUNK, n), out)

        if len(starts) >= PARALLEL_CHUNKS:
            list(_pool().map(work, [starts[0::2], starts[1::2]]))
        else:
            work(starts)
        return out

    def oks(self, gi: np.ndarray, di: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P,) OKS of the pairs (gt[gi], dt[di]) as labeled and mirrored."""
        oks, oks_flip, _, _ = self._chunks(gi, di, False)
        return oks, oks_flip

    def errors(self, gi: np.ndarray, di: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, K) pycocotools' per-keypoint errors e of the pairs, as labeled and mirrored."""
        _, _, e, e_flip = self._chunks(gi, di, True)
        if e is None or e_flip is None:  # pragma: no cover - _chunks always fills them here
            raise RuntimeError("per-keypoint errors were not computed")
        return e, e_flip


def best_per_group(
    group: np.ndarray, value: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each group id in [0, size): the index of its max value (-1) and that value (0).

    Ties go to the smallest index; NaN loses to any number (a group of NaN only gives its
    first index and NaN), as a stable sort by (group, -value) would choose.
    """
    best_index = np.full(size, -1, np.int64)
    best_value = np.zeros(size)
    if len(group) == 0:
        return best_index, best_value
    monotonic = bool(np.all(group[1:] >= group[:-1]))
    order = np.arange(len(group)) if monotonic else np.argsort(group, kind="stable")
    keys, values = group[order], value[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    top = np.fmax.reduceat(values, starts)
    owner = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(keys))))
    at = np.flatnonzero(values == top[owner])
    first = np.full(len(starts), len(keys), np.int64)
    if len(at):  # hits are in order: the first of each group's run of hits
        lead = at[np.concatenate([[True], owner[at][1:] != owner[at][:-1]])]
        first[owner[lead]] = lead
    none = first == len(keys)  # every value of the group is NaN
    first[none] = starts[none]
    winners = order[first]
    best_index[keys[starts]] = winners
    best_value[keys[starts]] = value[winners]
    return best_index, best_value


def row_nanmedian(values: np.ndarray) -> np.ndarray:
    """``np.nanmedian(values, axis=1)`` of a 2-D float array, without numpy's masked arrays:
    the mean of the two middle values (``(low + high) / 2``, as numpy computes it) of each
    row's non-NaN values; NaN for a row of NaN only."""
    n = values.shape[0]
    if n == 0:
        return np.zeros(0)
    ordered = np.sort(values, axis=1)  # NaN last
    count = (~np.isnan(values)).sum(axis=1)
    high = count // 2
    low = np.where(count % 2 == 1, high, high - 1)
    rows = np.arange(n)
    lo = ordered[rows, np.maximum(low, 0)]
    hi = ordered[rows, np.minimum(high, values.shape[1] - 1)]
    with np.errstate(invalid="ignore", over="ignore"):
        out = (lo + hi) / 2.0
    out[count == 0] = np.nan
    return out
