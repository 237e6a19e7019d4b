"""``pt.evaluate``, ``pt.evaluate_coco`` and ``read_coco_results``: the evaluation entry points."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from posetable._coco_constants import COCO_OKS_SIGMAS
from posetable._validate import check_sigmas
from posetable.errors import FormatError, SchemaError, UnsupportedError
from posetable.eval import _engine, _io
from posetable.eval._data import EvalInput, Frame, GroundTruthColumns, PredictionColumns, frame
from posetable.eval._duck import release
from posetable.eval._io import (
    CocoGroundTruth,
    CocoResults,
    file_size,
    positions,
    read_ground_truth,
    read_results,
)
from posetable.eval.result import EvaluationResult, _Details

if TYPE_CHECKING:
    import pyarrow as pa

    from posetable.instances import Keypoints2DInstances
    from posetable.runs import Run
    from posetable.table import Table

logger = logging.getLogger(__name__)
PathLike = Union[str, "os.PathLike[str]"]
Predictions = Union[
    Sequence[Union["Keypoints2DInstances", None]],
    Mapping[int, Union["Keypoints2DInstances", None]],
    PathLike,
    "pa.Table",
    "Run",
]


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_arrow_table(value: Any) -> bool:
    """Whether ``value`` is a pyarrow Table (without importing pyarrow: the files path never
    needs it, and a Table exists only where pyarrow was imported)."""
    arrow = sys.modules.get("pyarrow")
    return arrow is not None and isinstance(value, arrow.Table)


def _is_run(value: Any) -> bool:
    from posetable.runs import Run

    return isinstance(value, Run)


def _sigmas(sigmas: Any, default: np.ndarray, k: int) -> np.ndarray:
    if sigmas is None:
        return np.asarray(default, dtype=np.float64)
    return check_sigmas(sigmas, k, error=SchemaError)


def _coco_default_sigmas(k: int) -> np.ndarray:
    """pycocotools' default: the COCO-17 sigmas when K=17, else uniform 1/K."""
    if k == len(COCO_OKS_SIGMAS):
        return np.asarray(COCO_OKS_SIGMAS, dtype=np.float64)
    return np.full(k, 1.0 / k)


# -- ground truth sources --------------------------------------------------------------------
def _json_frame(gt: CocoGroundTruth) -> Frame:
    n_i = gt.image_ids.shape[0]
    out = frame(np.arange(n_i), np.arange(gt.category_ids.shape[0]), gt.num_keypoints)
    # images are already sorted by id; categories: label = index in the file's list
    label_position = np.full(int(gt.category_labels.max()) + 1 if gt.category_labels.size else 0, 0)
    label_position[gt.category_labels] = np.arange(gt.category_labels.shape[0])
    return Frame(
        image_ids=gt.image_ids,
        rows=out.rows,
        row_position=out.row_position,
        category_ids=gt.category_ids,
        category_labels=gt.category_labels,
        label_position=label_position,
        num_keypoints=gt.num_keypoints,
    )


def _json_ground_truth(gt: CocoGroundTruth) -> GroundTruthColumns:
    return GroundTruthColumns(
        image=gt.ann_image,
        category=gt.ann_category,
        keypoints=gt.points,
        labeled=gt.visibility > 0,
        box=gt.box,
        area=gt.area,
        ignore=(gt.iscrowd != 0) | (gt.num_kpts == 0),
        crowd=np.trunc(gt.iscrowd) != 0,
        id_zero=(gt.ids == 0)
        if gt.ids.dtype != object
        else np.array([v == 0 for v in gt.ids], bool),
        index=gt.index,
        ids=gt.ids if gt.ids.dtype != object else np.arange(1, gt.ids.shape[0] + 1),
    )


def _warn_id_zero(gt: GroundTruthColumns, where: str) -> None:
    if gt.id_zero.any():
        logger.warning(
            "%s has an annotation with id 0: pycocotools scores a prediction matched to it as a "
            "false positive (ids are its 'unmatched' marker); posetable reproduces that so the "
            "numbers agree. Renumber the annotations to avoid it.",
            where,
        )


# -- predictions sources ---------------------------------------------------------------------
def _results_to_predictions(
    res: CocoResults, fr: Frame, *, image_key: np.ndarray, unknown_category: str
) -> PredictionColumns:
    """Map results to image / category positions (``image_key``: image id of each position)."""
    n = len(res)
    _check_id_types(res, "image_id", res.image_ids, image_key)
    _check_id_types(res, "category_id", res.category_ids, fr.category_ids)
    img = positions(res.image_ids, image_key) if n else np.zeros(0, np.int64)
    if np.any(img < 0):
        i = int(np.flatnonzero(img < 0)[0])
        raise FormatError(
            f"results[{i}]: image_id {res.image_ids[i : i + 1].tolist()[0]!r} is not an image "
            "of the ground truth",
            path=res.path,
        )
    cat = positions(res.category_ids, fr.category_ids) if n else np.zeros(0, np.int64)
    keep = np.ones(n, bool)
    if np.any(cat < 0):
        i = int(np.flatnonzero(cat < 0)[0])
        if unknown_category == "error":
            raise FormatError(
                f"results[{i}]: category_id {res.category_ids[i : i + 1].tolist()[0]!r} is not a "
                f"category of the "
                f"ground truth (known: {fr.category_ids.tolist()[:10]})",
                path=res.path,
            )
        keep = cat >= 0
        logger.warning(
            "%s: %d results name a category the ground truth does not have; they are left "
            "out, as pycocotools leaves them out",
            res.path,
            int((~keep).sum()),
        )
    every = bool(keep.all())  # then the columns are taken as they are, without a copy
    image = img if every else img[keep]
    order = np.argsort(image, kind="stable")
    index = np.empty(image.shape[0], np.int64)
    if image.size:
        index[order] = np.arange(image.shape[0]) - _engine.group_starts(image[order])
    return PredictionColumns(
        image=image,
        category=cat if every else cat[keep],
        keypoints=res.points if every else res.points[keep],
        score=res.score if every else res.score[keep],
        area=res.area if every else res.area[keep],
        index=index,
    )


def _check_id_types(res: CocoResults, key: str, ids: np.ndarray, known: np.ndarray) -> None:
    """A FormatError when results write ids of another JSON type than the ground truth's
    (``"12"`` for the integer 12): pycocotools would find no such image or category."""
    if (ids.dtype == object) == (known.dtype == object) or not len(ids) or not len(known):
        return
    if ids.dtype == object:
        bad = np.fromiter((isinstance(v, str) for v in ids.tolist()), bool, len(ids))
        found, wanted = "the string", "integers (JSON numbers)"
    else:
        kinds = {type(v) for v in known.tolist()}
        if kinds != {str}:
            return
        bad = np.ones(len(ids), bool)
        found, wanted = "the number", "strings"
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(
            f"results[{i}]: {key!r} is {found} {ids[i]!r}, but the ground truth's "
            f"{key.split('_')[0]} ids are {wanted}",
            path=res.path,
        )


def _predictions(
    predictions: Any, fr: Frame, image_key: np.ndarray, unknown_category: str
) -> PredictionColumns:
    if _is_path(predictions):
        res = read_results(predictions, fr.num_keypoints)
        return _results_to_predictions(
            res, fr, image_key=image_key, unknown_category=unknown_category
        )
    if _is_arrow_table(predictions):
        from posetable.eval._columns import predictions_from_arrow

        return predictions_from_arrow(predictions, fr)
    if isinstance(predictions, (Sequence, Mapping)) and not isinstance(predictions, (str, bytes)):
        from posetable.eval._columns import predictions_from_instances

        return predictions_from_instances(predictions, fr)
    raise TypeError(
        "predictions must be a sequence of Keypoints2DInstances (None where a row has none), a "
        "mapping row -> Keypoints2DInstances, a COCO results JSON path, or a pyarrow Table with "
        f"'row' and 'keypoints' columns; got {type(predictions).__name__}"
    )


# -- running -------------------------------------------------------------------------------
def run(
    inputs: EvalInput, params: _engine.Params | None = None, *, source: Any = None
) -> EvaluationResult:
    """Evaluate prepared columns (the engine alone; no file or table access). ``source``:
    the (ground truth, predictions) they came from, for ``result.keypoint_metrics()``."""
    p = params or _engine.Params()
    matches = _engine.match(inputs, p)
    acc = _engine.accumulate(inputs, matches, p)
    return EvaluationResult(
        stats=_engine.summarize(acc, p),
        precision=acc.precision,
        recall=acc.recall,
        scores=acc.scores,
        oks_thresholds=p.oks_thresholds,
        recall_thresholds=p.recall_thresholds,
        sigmas=inputs.sigmas,
        category_ids=inputs.category_ids,
        _details=_Details(inputs, matches, p, source),
    )


def prepare(
    ground_truth: Table | PathLike, predictions: Predictions, *, sigmas: Any = None
) -> EvalInput:
    """Read ground truth and predictions into the engine's flat columns."""
    from posetable.eval._columns import predictions_from_arrays
    from posetable.table import Table

    if isinstance(ground_truth, Table):
        fr, gt_cols = _table_flat(ground_truth)
        sig = _sigmas(sigmas, ground_truth.schema.sigmas, fr.num_keypoints)
        where = f"table {ground_truth.ref}"
        # results JSON image ids name the table's image_id column (or the row index)
        image_key = fr.image_ids
        if _is_run(predictions):
            arrays = predictions.prediction_arrays(ground_truth)  # type: ignore[union-attr]
            dt_cols = predictions_from_arrays(arrays, fr)
        else:
            dt_cols = _predictions(predictions, fr, image_key, "error")
    elif _is_path(ground_truth):
        if _is_run(predictions):
            raise TypeError(
                "a Run is evaluated against a table (its own revision or one descending from "
                "it), not a JSON file: pt.evaluate(run.table(), run)"
            )
        if _is_path(predictions):
            return _prepare_files(ground_truth, predictions, sigmas=sigmas)  # type: ignore[arg-type]
        gt = read_ground_truth(ground_truth)
        fr = _json_frame(gt)
        gt_cols = _json_ground_truth(gt)
        sig = _sigmas(sigmas, _coco_default_sigmas(fr.num_keypoints), fr.num_keypoints)
        where = str(ground_truth)
        dt_cols = _predictions(predictions, fr, fr.image_ids, "drop")
    else:
        raise TypeError(
            "ground_truth must be a posetable Table or a COCO JSON path, "
            f"got {type(ground_truth).__name__}"
        )
    _warn_id_zero(gt_cols, where)
    return EvalInput(
        gt=gt_cols,
        dt=dt_cols,
        image_ids=fr.image_ids,
        rows=fr.rows,
        category_ids=fr.category_ids,
        category_labels=fr.category_labels,
        sigmas=sig,
    )


def _table_frame(table: Table) -> Frame:
    """A table's frame alone (its revision's snapshot when it has one: no ground truth
    read), for reading results against it."""
    from posetable import _flat_snapshot

    snapshot = _flat_snapshot.find(table.store, table.name, table.revision)
    if snapshot is not None:
        try:
            return snapshot.frame()
        except (OSError, ValueError):  # replaced while read: read the table instead
            pass
    return _flat_from_lance(table)[0]


def _table_flat(table: Table) -> tuple[Frame, GroundTruthColumns]:
    """A table's frame and ground truth: from its revision's flat snapshot when it has one
    (numpy alone), else read from Lance and kept as the snapshot for the next time."""
    from posetable import _flat_snapshot

    snapshot = _flat_snapshot.find(table.store, table.name, table.revision)
    if snapshot is not None:
        try:
            return snapshot.frame(), snapshot.ground_truth()
        except (OSError, ValueError):  # replaced while read: read the table instead
            pass
    return _flat_from_lance(table)


def _flat_from_lance(table: Table) -> tuple[Frame, GroundTruthColumns]:
    """A table's frame and ground truth read from Lance, kept as its revision's snapshot."""
    from posetable import _flat_snapshot
    from posetable.eval._columns import table_frame, table_ground_truth

    fr = table_frame(table)
    gt = table_ground_truth(table, fr)
    _flat_snapshot.save(table, fr, gt)
    return fr, gt


def _prepare_files(
    gt_json: PathLike,
    results_json: PathLike,
    *,
    sigmas: Any,
    ground_truth: CocoGroundTruth | None = None,
) -> EvalInput:
    """Read both files into the engine's columns (``ground_truth``: the file already read,
    as the shim reads it for its ids).

    The results are read in a thread while the ground truth is (DuckDB parses one JSON
    array on one core). The DuckDB reads of two large files (``_io.RELEASE_BYTES`` each)
    take turns (``_duck.turn``), so their peaks do not add up, while the ground truth's
    splitting and the rest of its document are read during the results' turn. Each
    reader keeps its columns, not its intermediates.
    """
    if ground_truth is not None:
        gt = ground_truth
        res = read_results(results_json, gt.num_keypoints, confidences=False)
    else:
        gt, res = _read_both(gt_json, results_json)
    k = gt.num_keypoints
    fr = _json_frame(gt)
    gt_cols = _json_ground_truth(gt)
    del gt  # its columns live on in gt_cols; the rest goes
    sig = _sigmas(sigmas, _coco_default_sigmas(k), k)
    _warn_id_zero(gt_cols, str(gt_json))
    dt_cols = _results_to_predictions(res, fr, image_key=fr.image_ids, unknown_category="drop")
    del res
    if file_size(gt_json) + file_size(results_json) >= _io.RELEASE_BYTES:
        release()  # DuckDB's and the readers' freed memory go back before the engine runs
    return EvalInput(
        gt=gt_cols,
        dt=dt_cols,
        image_ids=fr.image_ids,
        rows=fr.rows,
        category_ids=fr.category_ids,
        category_labels=fr.category_labels,
        sigmas=sig,
    )


TWO_FILE_PART_BYTES = 32 << 20  # see _read_both


def _read_both(gt_json: PathLike, results_json: PathLike) -> tuple[CocoGroundTruth, CocoResults]:
    """The two files read at once (the results in a thread, with K peeked from the file).
    Results of :data:`TWO_FILE_PART_BYTES` or more are also scanned in parts: they take
    longer than their ground truth, whose core is then free (on smaller files the
    threads cost more than they give back)."""
    parts = file_size(results_json) >= TWO_FILE_PART_BYTES
    with ThreadPoolExecutor(max_workers=1) as pool:
        k_hint = _peek_num_keypoints(results_json)
        future = (
            pool.submit(read_results, results_json, k_hint, confidences=False, parts=parts)
            if k_hint
            else None
        )
        gt = read_ground_truth(gt_json)
        if future is not None and k_hint == gt.num_keypoints:
            return gt, future.result()
        if future is not None:
            with contextlib.suppress(FormatError):
                future.result()
        return gt, read_results(results_json, gt.num_keypoints, confidences=False)


def _peek_num_keypoints(path: PathLike) -> int:
    """K read from the first result's keypoints list (0 when it cannot be told cheaply)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError:
        return 0
    start = head.find(b'"keypoints"')
    if start < 0:
        return 0
    open_at = head.find(b"[", start)
    close_at = head.find(b"]", open_at)
    if open_at < 0 or close_at < 0:
        return 0
    count = head[open_at + 1 : close_at].count(b",") + 1
    return count // 3 if count % 3 == 0 else 0


def evaluate(
    ground_truth: Table | PathLike,
    predictions: Predictions,
    *,
    sigmas: Any = None,
    engine: str = "local",
    max_memory: int | None = None,
) -> EvaluationResult:
    """COCO keypoint AP/AR exactly as pycocotools computes it, plus per-instance metrics.

    Args:
        ground_truth: a Table (images by its ``image_id`` column, else by row) or a COCO
            keypoints JSON path.
        predictions: per row a ``Keypoints2DInstances`` with ``instance_confidences`` (the
            score) or None (a sequence aligned with the rows, or a mapping row ->
            instances); a COCO results JSON path; a pyarrow Table with ``row`` and
            ``keypoints`` (posetable's keypoints struct); or a :class:`~posetable.Run` (of
            this table's revision or an ancestor: rows are matched by sample id). For a JSON
            ground truth, "rows" are the images in sorted id order.
        sigmas: OKS sigmas (K,). Default: the table's sigmas (uniform 1/K when it has none);
            for a JSON file pycocotools' COCO-17 sigmas when K=17, else 1/K.
        engine: ``"local"`` (this process) or ``"ray"``: Ray Data maps the evaluation over
            the table's Lance fragments (``lance-ray``) and merges the partial results,
            giving the same bits (a Table ground truth; extra ``posetable[ray]``; the
            result carries the arrays and stats, not the per-instance tables).
        max_memory: the most bytes a local evaluation may hold; default: what the matching
            needs must fit in the memory available now. Checked from the counts before the
            matching allocates.

    Returns:
        An :class:`EvaluationResult` (``ap`` ... ``ar_large``, ``per_sample``,
        ``per_instance``, ``str()`` = the COCO summary).

    Raises:
        EvaluationMemoryError: too large for one process (it points to ``engine="ray"``).
        SchemaError: sigmas of the wrong length or not > 0.
        FormatError: a results file naming an unknown image, keypoints of another K, NaN,
            a missing score.
        InstancesError: predictions of another K, without scores, NaN values, unknown rows.

    Example:
        >>> import tempfile
        >>> import posetable as pt
        >>> gt = pt.Keypoints2DInstances.create_empty(num_keypoints=3)
        >>> gt.add_instance([[10, 10, 2], [20, 30, 2], [30, 50, 1]],
        ...                 instance_extras={"area": 900.0})
        >>> row = {"image": "a.jpg", "width": 64, "height": 64, "keypoints": gt}
        >>> table = pt.Table.from_rows([row], name="demo", schema=pt.Keypoints2DSchema(3),
        ...                            store=tempfile.mkdtemp())
        >>> pred = pt.Keypoints2DInstances(gt.keypoints + 1.0, instance_confidences=[0.8],
        ...                                keypoint_confidences=[[0.9, 0.8, 0.7]])
        >>> result = pt.evaluate(table, [pred])
        >>> round(result.ap, 6), result.per_sample.column("tp_50").to_pylist()
        (1.0, [1])
    """
    if engine == "ray":
        from posetable.eval._ray import evaluate_ray

        return evaluate_ray(ground_truth, predictions, sigmas=sigmas)
    if engine != "local":
        raise UnsupportedError(f"engine must be 'local' or 'ray', got {engine!r}")
    inputs = prepare(ground_truth, predictions, sigmas=sigmas)
    from posetable.eval._memory import check_memory

    check_memory(inputs, _engine.Params(), max_memory=max_memory)
    return run(inputs, source=(ground_truth, predictions))


def evaluate_coco(
    gt_json: PathLike, results_json: PathLike, *, sigmas: Any = None
) -> EvaluationResult:
    """Evaluate a COCO keypoints ground-truth file against a COCO results file.

    The numbers are pycocotools' (``COCOeval(gt, dt, "keypoints")`` with
    ``params.kpt_oks_sigmas`` = ``sigmas``; default COCO-17 when K=17, else 1/K). Results
    naming a category the ground truth lacks are left out, as pycocotools leaves them out;
    results for an image it lacks are an error. An empty results list gives AP 0.

    Example:
        ``pt.evaluate_coco("person_keypoints_val2017.json", "results.json").ap``
    """
    inputs = _prepare_files(gt_json, results_json, sigmas=sigmas)
    return run(inputs, source=(gt_json, results_json))


@dataclass(frozen=True)
class CocoResultRows:
    """A COCO keypoint results file read against a table: flat columns, one entry per result,
    ordered by table row (the file's order kept within a row).

    Attributes:
        rows: ``(T,)`` the table row of each result.
        keypoints: ``(T, K, 2)`` pixel coordinates.
        confidences: ``(T, K)`` float32, the third value of each point.
        labels: ``(T,)`` class indices.
        scores: ``(T,)`` instance scores.
        boxes: ``(T, 4)`` xyxy (``bbox`` when given, else the points' extent).
        areas: ``(T,)`` pycocotools' area of each result (what evaluation uses).
    """

    rows: np.ndarray
    keypoints: np.ndarray
    confidences: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray


def read_coco_result_rows(path: PathLike, table: Table) -> CocoResultRows:
    """Read a COCO keypoint results JSON against ``table`` into flat columns (no object per
    row or result): what :func:`read_coco_results` and ``Run.from_coco_results`` build on.

    Raises:
        FormatError: as :func:`read_coco_results`.
    """
    fr = _table_frame(table)
    res = read_results(path, fr.num_keypoints, parts=True)  # the one file read: every core
    cols = _results_to_predictions(res, fr, image_key=fr.image_ids, unknown_category="error")
    rows = fr.rows[cols.image].astype(np.int64)
    # results are mostly written image by image: then they are in order, and not copied
    ordered = rows.shape[0] < 2 or bool(np.all(rows[1:] >= rows[:-1]))
    order = slice(None) if ordered else np.argsort(rows, kind="stable")
    if res.bbox is not None:
        negative = np.flatnonzero((res.bbox[:, 2] < 0) | (res.bbox[:, 3] < 0))
        if negative.size:  # a table's box has x2 >= x1 (pycocotools' evaluation takes it)
            i = int(negative[0])
            raise FormatError(
                f"results[{i}]: 'bbox' [x, y, width, height] must have width >= 0 and "
                f"height >= 0 to become a table box, found {res.bbox[i].tolist()}",
                path=res.path,
            )
        boxes = np.concatenate([res.bbox[:, :2], res.bbox[:, :2] + res.bbox[:, 2:]], axis=1)
    else:
        kp = res.points
        boxes = (
            np.stack(
                [kp[..., 0].min(1), kp[..., 1].min(1), kp[..., 0].max(1), kp[..., 1].max(1)], 1
            )
            if len(kp)
            else np.zeros((0, 4))
        )
    third = res.confidences if res.confidences is not None else res.keypoints[..., 2]
    return CocoResultRows(
        rows=rows[order],
        keypoints=cols.keypoints[order],
        confidences=np.asarray(third[order], np.float32),
        labels=fr.category_labels[cols.category][order],
        scores=cols.score[order],
        boxes=boxes[order],
        areas=cols.area[order],
    )


def read_coco_results(path: PathLike, table: Table) -> list[Keypoints2DInstances | None]:
    """Read a COCO keypoint results JSON into predictions aligned with ``table``'s rows.

    ``image_id`` names the table's ``image_id`` column (tables imported from COCO have it;
    else the row index); ``category_id`` maps to the label through
    ``table.metadata["coco"]["categories"]`` (else label = category_id - 1). Each row gets
    keypoints, ``keypoint_confidences`` (the third value of each point), the score as
    ``instance_confidences`` and the box (``bbox`` when given, else the points' extent,
    whose w*h is pycocotools' area of the result), and the row's image size; rows without
    results get None.

    Raises:
        FormatError: unknown image_id or category_id, keypoints of another K, NaN, a
            missing score or a malformed file (naming the file and the result).
    """
    from posetable.instances import Keypoints2DInstances

    flat = read_coco_result_rows(path, table)
    out: list[Keypoints2DInstances | None] = [None] * len(table)
    if not len(flat.rows):
        return out
    sizes = table.to_arrow(columns=["width", "height"])
    widths = sizes.column("width").to_numpy(zero_copy_only=False)
    heights = sizes.column("height").to_numpy(zero_copy_only=False)
    bounds = np.flatnonzero(np.diff(flat.rows)) + 1
    for chunk in np.split(np.arange(len(flat.rows)), bounds):
        row = int(flat.rows[chunk[0]])
        out[row] = Keypoints2DInstances(
            flat.keypoints[chunk],
            keypoint_confidences=flat.confidences[chunk],
            instance_labels=flat.labels[chunk],
            instance_confidences=flat.scores[chunk],
            instance_bbs=flat.boxes[chunk],
            num_keypoints=flat.keypoints.shape[1],
            image_width=float(widths[row]),
            image_height=float(heights[row]),
        )
    return out
