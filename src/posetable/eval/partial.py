"""Partial evaluations: disjoint image subsets evaluated apart and merged bit for bit.

pycocotools' ``accumulate`` concatenates, per category and area range, the top predictions
of every image in sorted image-id order (each image's already sorted by score) and sorts
that concatenation by score with a stable mergesort, so ties across images keep image-id
order. A :class:`Partial` therefore keeps, for each prediction it evaluated, its category,
the position of its image among ALL the ground truth's sorted image ids, its score rank in
the image, its score and its TP / FP flags per (area range, threshold), plus the count of
non-ignored ground truth per (category, area range). :func:`merge_partials` puts the union
back in (category, image, rank) order, the single evaluation's own order, and runs the same
accumulation on it (:func:`posetable.eval._engine.accumulate_pool`, C kernel or numpy), so
the stats, precision, recall and scores arrays are those of ``pt.evaluate`` on everything.
Matching is the engine's own (``_engine.match``): an image's matches never depend on
another image.

A partial serialises to bytes (:meth:`Partial.to_bytes`): a versioned header, a
fingerprint of the FULL ground truth (every image, so partials of one evaluation agree and
partials of another are refused), the parameters, the sigmas, the image ids it covers and
the arrays, with a checksum. No pickle: bytes from elsewhere are parsed, never executed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import EvaluationError
from posetable.eval import _engine
from posetable.eval._data import EvalInput, GroundTruthColumns, PredictionColumns
from posetable.eval._fingerprint import ground_truth_fingerprint
from posetable.eval._partial_bytes import PartialError, pack, unpack
from posetable.eval.result import EvaluationResult, _Details

if TYPE_CHECKING:
    from posetable.eval.api import PathLike, Predictions
    from posetable.table import Table

__all__ = [
    "Partial",
    "PartialCoverageError",
    "PartialError",
    "PartialMismatchError",
    "evaluate_partial",
    "merge_partials",
]


class PartialMismatchError(PartialError):
    """Partials of different evaluations: another ground truth, other sigmas or other
    parameters. ``field`` names the first difference; ``index`` the partial that differs
    from the first one."""

    def __init__(self, message: str, *, field: str, index: int) -> None:
        super().__init__(message)
        self.field = field
        self.index = index


class PartialCoverageError(PartialError):
    """Partials whose images overlap, or that together miss images of the ground truth.
    ``kind`` is ``"overlap"`` or ``"missing"``."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


# -- the value -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PartialDetails:
    """What per-sample and per-instance tables need (``evaluate_partial(details=True)``).

    Attributes:
        gt: the ground truth of the covered images (image positions in the full ground truth).
        dt: their predictions.
        matches: the engine's matches of ``gt`` and ``dt``.
        gt_position: (G,) index of each ground truth in the full ground truth's order.
        dt_position: (D,) index of each prediction in all the predictions' order.
    """

    gt: GroundTruthColumns
    dt: PredictionColumns
    matches: _engine.Matches
    gt_position: np.ndarray
    dt_position: np.ndarray


@dataclass(frozen=True)
class Partial:
    """The evaluation of a disjoint subset of images, ready to merge (bytes on the wire).

    Attributes:
        ground_truth: hex fingerprint of the full ground truth (all images).
        num_images: I, the full ground truth's number of images.
        num_keypoints: K.
        category_ids: (C,) category ids (the C axis).
        category_labels: (C,) label of each category.
        sigmas: (K,) OKS sigmas.
        params: the engine's parameters (thresholds, recall thresholds, area ranges, maxDets).
        area_labels: the names of the area ranges (pycocotools' ``areaRngLbl``).
        images: (n,) sorted positions of the covered images among all sorted image ids.
        image_ids: (n,) their ids.
        rows: (n,) their rows (table rows; positions for a JSON file).
        pool: what the accumulation reads of the evaluated predictions, in (category,
            image, rank) order.
        pool_image: (E,) image position of each evaluated prediction.
        details: per-instance data, when asked for (``details=True``), else None.

    Example:
        >>> import json, pathlib, tempfile
        >>> import posetable as pt
        >>> from posetable.sample import sample_annotations
        >>> coco = json.loads(sample_annotations().read_text())
        >>> results = [{"image_id": a["image_id"], "category_id": 1, "score": 0.9,
        ...             "keypoints": a["keypoints"]} for a in coco["annotations"]]
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.json"
        >>> _ = path.write_text(json.dumps(results))
        >>> ids = sorted(image["id"] for image in coco["images"])
        >>> first = pt.evaluate_partial(sample_annotations(), path, images=ids[:2])
        >>> second = pt.evaluate_partial(sample_annotations(), path, images=ids[2:])
        >>> merged = pt.merge_partials([first.to_bytes(), second.to_bytes()])
        >>> whole = pt.evaluate_coco(sample_annotations(), path)
        >>> bool((merged.stats == whole.stats).all()), len(first.images)
        (True, 2)
    """

    ground_truth: str
    num_images: int
    num_keypoints: int
    category_ids: np.ndarray
    category_labels: np.ndarray
    sigmas: np.ndarray
    params: _engine.Params
    area_labels: tuple[str, ...]
    images: np.ndarray
    image_ids: np.ndarray
    rows: np.ndarray
    pool: _engine.Pool
    pool_image: np.ndarray
    details: PartialDetails | None = None

    def to_bytes(self) -> bytes:
        """The partial as bytes (versioned header, arrays, checksum); see :meth:`from_bytes`."""
        arrays: dict[str, np.ndarray] = {
            "sigmas": self.sigmas,
            "oks_thresholds": self.params.oks_thresholds,
            "recall_thresholds": self.params.recall_thresholds,
            "area_ranges": self.params.area_ranges,
            "max_dets": np.asarray(self.params.max_dets, np.int64),
            "category_labels": self.category_labels,
            "images": self.images,
            "rows": self.rows,
            "pool_image": self.pool_image,
        }
        objects: dict[str, list[Any]] = {}
        for name, value in (("image_ids", self.image_ids), ("category_ids", self.category_ids)):
            if value.dtype == object:
                objects[name] = value.tolist()
            else:
                arrays[name] = value
        for f in fields(_engine.Pool):
            arrays[f"pool.{f.name}"] = getattr(self.pool, f.name)
        if self.details is not None:
            d = self.details
            groups: tuple[tuple[str, Any], ...] = (
                ("gt", d.gt),
                ("dt", d.dt),
                ("matches", d.matches),
            )
            for prefix, group in groups:
                for f in fields(group):
                    arrays[f"{prefix}.{f.name}"] = getattr(group, f.name)
            arrays["gt_position"] = d.gt_position
            arrays["dt_position"] = d.dt_position
        header: dict[str, Any] = {
            "ground_truth": self.ground_truth,
            "num_images": self.num_images,
            "num_keypoints": self.num_keypoints,
            "area_labels": list(self.area_labels),
            "details": self.details is not None,
            "objects": objects,
        }
        return pack(header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Partial:
        """A partial back from :meth:`to_bytes`.

        Raises:
            PartialError: bytes that are not a partial, damaged or cut short, or written
                by a newer posetable (the format version is named).
        """
        header, arrays = unpack(bytes(data))
        try:
            return _from_parts(header, arrays)
        except (KeyError, TypeError, ValueError) as exc:
            raise PartialError(f"the partial's content is inconsistent: {exc}") from None


def _from_parts(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Partial:
    objects = header["objects"]

    def ids(name: str) -> np.ndarray:
        if name in objects:
            return np.asarray(objects[name], dtype=object)
        return arrays[name]

    params = _engine.Params(
        oks_thresholds=arrays["oks_thresholds"],
        recall_thresholds=arrays["recall_thresholds"],
        area_ranges=arrays["area_ranges"].reshape(-1, 2),
        max_dets=tuple(int(m) for m in arrays["max_dets"].tolist()),
    )
    pool = _engine.Pool(**{f.name: arrays[f"pool.{f.name}"] for f in fields(_engine.Pool)})
    details = None
    if header["details"]:

        def build(kind: type, prefix: str) -> Any:
            return kind(**{f.name: arrays[f"{prefix}.{f.name}"] for f in fields(kind)})

        details = PartialDetails(
            gt=build(GroundTruthColumns, "gt"),
            dt=build(PredictionColumns, "dt"),
            matches=build(_engine.Matches, "matches"),
            gt_position=arrays["gt_position"],
            dt_position=arrays["dt_position"],
        )
    partial = Partial(
        ground_truth=str(header["ground_truth"]),
        num_images=int(header["num_images"]),
        num_keypoints=int(header["num_keypoints"]),
        category_ids=ids("category_ids"),
        category_labels=arrays["category_labels"],
        sigmas=arrays["sigmas"],
        params=params,
        area_labels=tuple(str(v) for v in header["area_labels"]),
        images=arrays["images"],
        image_ids=ids("image_ids"),
        rows=arrays["rows"],
        pool=pool,
        pool_image=arrays["pool_image"],
        details=details,
    )
    _check_shapes(partial)
    return partial


def _check_shapes(p: Partial) -> None:
    """ValueError naming the first array whose shape does not fit the others."""
    n_a, n_t = p.params.area_ranges.shape[0], p.params.oks_thresholds.shape[0]
    n_e, n = p.pool.category.shape[0], p.images.shape[0]
    expected = {
        "pool.score": (n_e,),
        "pool.rank": (n_e,),
        "pool_image": (n_e,),
        "pool.tp": (n_a, n_t, n_e),
        "pool.fp": (n_a, n_t, n_e),
        "pool.npig": (p.category_ids.shape[0], n_a),
        "image_ids": (n,),
        "rows": (n,),
        "category_labels": p.category_ids.shape,
        "sigmas": (p.num_keypoints,),
    }
    values = {
        "pool.score": p.pool.score,
        "pool.rank": p.pool.rank,
        "pool_image": p.pool_image,
        "pool.tp": p.pool.tp,
        "pool.fp": p.pool.fp,
        "pool.npig": p.pool.npig,
        "image_ids": p.image_ids,
        "rows": p.rows,
        "category_labels": p.category_labels,
        "sigmas": p.sigmas,
    }
    for name, shape in expected.items():
        if values[name].shape != shape:
            raise ValueError(f"{name} has shape {values[name].shape}, expected {shape}")
    if n and (np.any(np.diff(p.images) <= 0) or p.images[0] < 0 or p.images[-1] >= p.num_images):
        raise ValueError(f"images must be sorted, unique positions in [0, {p.num_images})")


# -- making partials --------------------------------------------------------------------------
def engine_params(params: Any) -> tuple[_engine.Params, tuple[str, ...]]:
    """(engine parameters, area labels) of a pycocotools-shaped ``Params`` (None: defaults)."""
    if params is None:
        return _engine.Params(), _engine.AREA_LABELS
    from posetable.eval.shim import _engine_params

    if not getattr(params, "useCats", 1):
        raise EvaluationError("params.useCats=0 is not supported for keypoints; keep useCats=1")
    engine, _ = _engine_params(params)
    labels = tuple(str(v) for v in getattr(params, "areaRngLbl", _engine.AREA_LABELS))
    if len(labels) > engine.area_ranges.shape[0]:
        raise EvaluationError(
            f"params.areaRngLbl names {len(labels)} area ranges but params.areaRng has "
            f"{engine.area_ranges.shape[0]}; give one label per range"
        )
    return engine, labels


def subset(inp: EvalInput, images: np.ndarray) -> tuple[EvalInput, np.ndarray, np.ndarray]:
    """(inputs of the images at sorted positions ``images``, on the full image axis; the
    kept ground truth's and predictions' indices in ``inp``)."""
    chosen = np.zeros(inp.num_images, bool)
    chosen[images] = True
    g = np.flatnonzero(chosen[inp.gt.image])
    d = np.flatnonzero(chosen[inp.dt.image])
    gt = GroundTruthColumns(**{f.name: getattr(inp.gt, f.name)[g] for f in fields(inp.gt)})
    dt = PredictionColumns(**{f.name: getattr(inp.dt, f.name)[d] for f in fields(inp.dt)})
    sub = EvalInput(
        gt=gt,
        dt=dt,
        image_ids=inp.image_ids,
        rows=inp.rows,
        category_ids=inp.category_ids,
        category_labels=inp.category_labels,
        sigmas=inp.sigmas,
    )
    return sub, g, d


def partial_of(
    sub: EvalInput,
    images: np.ndarray,
    *,
    ground_truth: str,
    params: _engine.Params,
    area_labels: tuple[str, ...],
    positions: tuple[np.ndarray, np.ndarray] | None = None,
) -> Partial:
    """Match ``sub`` (the inputs of the images ``images`` alone, on the full image axis) and
    keep what the merge needs; ``positions``: (ground truth, prediction) indices in the full
    inputs, to keep per-instance details too."""
    matches = _engine.match(sub, params)
    ev = matches.evaluated
    details = None
    if positions is not None:
        details = PartialDetails(
            gt=sub.gt, dt=sub.dt, matches=matches, gt_position=positions[0],
            dt_position=positions[1],
        )  # fmt: skip
    return Partial(
        ground_truth=ground_truth,
        num_images=sub.num_images,
        num_keypoints=int(sub.sigmas.shape[0]),
        category_ids=sub.category_ids,
        category_labels=sub.category_labels,
        sigmas=np.asarray(sub.sigmas, np.float64),
        params=params,
        area_labels=area_labels,
        images=images.astype(np.int64),
        image_ids=sub.image_ids[images],
        rows=sub.rows[images].astype(np.int64),
        pool=_engine.Pool.of(sub, matches),
        pool_image=sub.dt.image[ev].astype(np.int64),
        details=details,
    )


def _chosen_positions(inp: EvalInput, images: Any, rows: Any) -> np.ndarray:
    """Sorted image positions named by image ids (``images``) or rows (``rows``)."""
    from posetable.eval._io import positions

    if (images is None) == (rows is None):
        raise EvaluationError(
            "evaluate_partial needs exactly one of images= (image ids) or rows= (table rows)"
        )
    if images is not None:
        wanted = np.asarray(list(images))
        if wanted.dtype.kind not in "iuO" and wanted.size:
            wanted = wanted.astype(object)
        found = positions(wanted, inp.image_ids) if wanted.size else np.zeros(0, np.int64)
        what, shown = "image id", wanted
    else:
        wanted = np.asarray(list(rows), dtype=np.int64)
        n_rows = inp.rows.shape[0]  # rows are 0..n-1, one per image
        row_position = np.empty(n_rows, np.int64)
        row_position[inp.rows] = np.arange(n_rows)
        inside = (wanted >= 0) & (wanted < n_rows)
        found = np.full(wanted.shape[0], -1, np.int64)
        found[inside] = row_position[wanted[inside]]
        what, shown = "row", wanted
    if np.any(found < 0):
        i = int(np.flatnonzero(found < 0)[0])
        raise EvaluationError(
            f"{what} {shown.tolist()[i]!r} is not an image of the ground truth "
            f"({inp.num_images} images)"
        )
    unique, counts = np.unique(found, return_counts=True)
    if np.any(counts > 1):
        i = int(np.flatnonzero(found == unique[counts > 1][0])[0])
        raise EvaluationError(f"{what} {shown.tolist()[i]!r} is given twice")
    return unique.astype(np.int64)


def evaluate_partial(
    ground_truth: Table | PathLike,
    predictions: Predictions,
    *,
    images: Iterable[Any] | None = None,
    rows: Iterable[int] | None = None,
    sigmas: Any = None,
    params: Any = None,
    details: bool = False,
) -> Partial:
    """Evaluate the images ``images`` (or ``rows``) alone, to merge with the other parts.

    Takes what :func:`posetable.evaluate` takes. Predictions of images outside the subset
    are not evaluated here (they belong to another partial), as pycocotools' ``imgIds``
    leaves them out; the ground truth is read whole, for its fingerprint and image axis.

    Args:
        ground_truth: a Table or a COCO keypoints JSON path (the FULL ground truth).
        predictions: as for :func:`posetable.evaluate`.
        images: the image ids to evaluate (the table's ``image_id`` column, else its row
            index; a JSON file's image ids). Exactly one of ``images`` and ``rows``.
        rows: the table rows to evaluate (for a JSON file: positions in sorted id order).
        sigmas: OKS sigmas, as for :func:`posetable.evaluate`.
        params: pycocotools-shaped parameters (``posetable.eval.COCOeval().params``:
            ``iouThrs``, ``recThrs``, ``maxDets``, ``areaRng``, ``areaRngLbl``); default
            pycocotools' keypoint defaults. ``imgIds`` / ``catIds`` are not read.
        details: keep per-instance data too, so that the merged result has ``per_sample``
            and ``per_instance`` (larger partials: the keypoints travel with them).

    Returns:
        A :class:`Partial` (``to_bytes()`` to send it; :func:`merge_partials` to merge).

    Raises:
        EvaluationError: an image id or row the ground truth lacks, or given twice.

    Example:
        See :class:`Partial`.
    """
    from posetable.eval import api

    engine, labels = engine_params(params)
    inputs = api.prepare(ground_truth, predictions, sigmas=sigmas)
    chosen = _chosen_positions(inputs, images, rows)
    sub, g, d = subset(inputs, chosen)
    return partial_of(
        sub,
        chosen,
        ground_truth=ground_truth_fingerprint(inputs),
        params=engine,
        area_labels=labels,
        positions=(g, d) if details else None,
    )


# -- merging ----------------------------------------------------------------------------------
def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype == object or b.dtype == object:
        return bool(a.tolist() == b.tolist())
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 120 else text[:117] + "..."


def _check_alike(parts: Sequence[Partial]) -> None:
    first = parts[0]
    for i, p in enumerate(parts[1:], start=1):
        checks: list[tuple[str, Any, Any, bool]] = [
            ("ground_truth", p.ground_truth, first.ground_truth,
             p.ground_truth == first.ground_truth),
            ("num_images", p.num_images, first.num_images, p.num_images == first.num_images),
            ("category_ids", p.category_ids, first.category_ids,
             _same(p.category_ids, first.category_ids)),
            ("sigmas", p.sigmas, first.sigmas, _same(p.sigmas, first.sigmas)),
        ]  # fmt: skip
        for f in fields(_engine.Params):
            mine, theirs = getattr(p.params, f.name), getattr(first.params, f.name)
            alike = (
                _same(np.asarray(mine), np.asarray(theirs))
                if isinstance(mine, np.ndarray)
                else mine == theirs
            )
            checks.append((f.name, mine, theirs, alike))
        checks.append(("area_labels", p.area_labels, first.area_labels,
                       p.area_labels == first.area_labels))  # fmt: skip
        for name, mine, theirs, alike in checks:
            if alike:
                continue
            if name in ("ground_truth", "num_images", "category_ids"):
                what = f"comes from another ground truth ({name}"
            elif name == "sigmas":
                what = "was evaluated with other sigmas ("
            else:
                what = f"was evaluated with other parameters ({name}"
            raise PartialMismatchError(
                f"partial {i} {what} {_short(mine)}, partial 0: {_short(theirs)}); merge only "
                "the partials of one evaluation",
                field=name,
                index=i,
            )


def _check_coverage(parts: Sequence[Partial], allow_missing: bool) -> np.ndarray:
    """The sorted covered image positions; PartialCoverageError on overlap or a gap."""
    owner = np.concatenate([np.full(p.images.shape[0], i, np.int64) for i, p in enumerate(parts)])
    images = np.concatenate([p.images for p in parts])
    order = np.argsort(images, kind="stable")
    covered = images[order]
    twice = np.flatnonzero(covered[1:] == covered[:-1])
    if twice.size:
        j = int(twice[0])
        a, b = int(owner[order[j]]), int(owner[order[j + 1]])
        where = int(np.flatnonzero(parts[a].images == covered[j])[0])
        image_id = parts[a].image_ids[where : where + 1].tolist()[0]
        raise PartialCoverageError(
            f"image {image_id!r} is in partial {a} and in partial {b}; partials must cover "
            "disjoint images",
            kind="overlap",
        )
    total = parts[0].num_images
    if covered.shape[0] < total and not allow_missing:
        present = np.zeros(total, bool)
        present[covered] = True
        gap = int(np.flatnonzero(~present)[0])
        ids = np.concatenate([p.image_ids for p in parts]).astype(object)[order].tolist()
        after = (
            f"the first is the image after id {ids[gap - 1]!r} in sorted id order"
            if gap > 0
            else "the first is the ground truth's first image in sorted id order"
        )
        raise PartialCoverageError(
            f"the partials cover {covered.shape[0]} of the ground truth's {total} images; "
            f"{total - covered.shape[0]} are in no partial ({after}). Evaluate them too, or "
            "pass allow_missing=True to evaluate only the images covered",
            kind="missing",
        )
    return covered


def _merged_pool(parts: Sequence[Partial]) -> tuple[_engine.Pool, np.ndarray]:
    """The union of the pools in (category, image, rank) order, and the merge order."""
    cat = np.concatenate([p.pool.category for p in parts])
    img = np.concatenate([p.pool_image for p in parts])
    rank = np.concatenate([p.pool.rank for p in parts])
    order = np.lexsort((rank, img, cat))
    pool = _engine.Pool(
        category=cat[order],
        score=np.concatenate([p.pool.score for p in parts])[order],
        rank=rank[order],
        tp=np.concatenate([p.pool.tp for p in parts], axis=2)[:, :, order],
        fp=np.concatenate([p.pool.fp for p in parts], axis=2)[:, :, order],
        npig=np.stack([p.pool.npig for p in parts]).sum(axis=0, dtype=np.int64),
    )
    return pool, order


def _merged_details(parts: Sequence[Partial], covered: np.ndarray) -> tuple[EvalInput, Any]:
    """The inputs and matches of the covered images, in the single evaluation's order."""
    ds = [p.details for p in parts if p.details is not None]  # the caller checked: all have
    g_order = np.argsort(np.concatenate([d.gt_position for d in ds]), kind="stable")
    d_order = np.argsort(np.concatenate([d.dt_position for d in ds]), kind="stable")
    g_new = np.empty_like(g_order)
    g_new[g_order] = np.arange(g_order.shape[0])
    d_new = np.empty_like(d_order)
    d_new[d_order] = np.arange(d_order.shape[0])
    g_off = np.cumsum([0] + [len(d.gt) for d in ds])
    d_off = np.cumsum([0] + [len(d.dt) for d in ds])

    def joined(kind: type, parts_of: list[Any], order: np.ndarray) -> Any:
        values = {}
        for f in fields(kind):
            arrays = [getattr(v, f.name) for v in parts_of]
            values[f.name] = np.concatenate(arrays)[order]
        return kind(**values)

    gt = joined(GroundTruthColumns, [d.gt for d in ds], g_order)
    dt = joined(PredictionColumns, [d.dt for d in ds], d_order)
    # image positions on the axis of the covered images (the full axis when all are)
    gt = _replace(gt, image=np.searchsorted(covered, gt.image))
    dt = _replace(dt, image=np.searchsorted(covered, dt.image))
    evaluated = np.concatenate(
        [d_new[d_off[i] + d.matches.evaluated] for i, d in enumerate(ds)]
    ).astype(np.int64)

    def partners(i: int, dt_gt: np.ndarray) -> np.ndarray:
        out = np.full_like(dt_gt, -1)
        matched = dt_gt >= 0
        out[matched] = g_new[g_off[i] + dt_gt[matched]]
        return out

    dt_gt = np.concatenate([partners(i, d.matches.dt_gt) for i, d in enumerate(ds)], axis=2)
    rank = np.concatenate([d.matches.rank for d in ds])
    order = np.lexsort((rank, dt.image[evaluated], dt.category[evaluated]))

    def along_e(name: str) -> np.ndarray:
        return np.concatenate([getattr(d.matches, name) for d in ds], axis=2)[:, :, order]

    matches = _engine.Matches(
        evaluated=evaluated[order],
        rank=rank[order],
        dt_gt=dt_gt[:, :, order],
        dt_ignore=along_e("dt_ignore"),
        tp=along_e("tp"),
        fp=along_e("fp"),
        gt_ignore=np.concatenate([d.matches.gt_ignore for d in ds], axis=1)[:, g_order],
    )
    first = parts[0]
    ids = np.concatenate([p.image_ids for p in parts])
    rows = np.concatenate([p.rows for p in parts])
    by_image = np.argsort(np.concatenate([p.images for p in parts]), kind="stable")
    inputs = EvalInput(
        gt=gt,
        dt=dt,
        image_ids=ids[by_image],
        rows=rows[by_image],
        category_ids=first.category_ids,
        category_labels=first.category_labels,
        sigmas=first.sigmas,
    )
    return inputs, matches


def _replace(value: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(value, **changes)


def merge_partials(
    partials: Iterable[Partial | bytes | bytearray | memoryview], *, allow_missing: bool = False
) -> EvaluationResult:
    """Merge partial evaluations into the result of evaluating all their images at once.

    The stats and the precision, recall and scores arrays are bit-identical to
    :func:`posetable.evaluate` on the whole ground truth and predictions, in any order of
    the partials. When every partial was made with ``details=True`` the result also has
    ``per_sample`` and ``per_instance`` (identical to the single evaluation's).

    Args:
        partials: :class:`Partial` values or their bytes; empty ones (no image) are fine.
        allow_missing: evaluate only the images the partials cover (pycocotools with
            ``imgIds`` = those images) instead of refusing partials that miss images.

    Raises:
        PartialError: no partial, or bytes that are not a partial.
        PartialMismatchError: partials of another ground truth, other sigmas or other
            parameters (the first difference is named).
        PartialCoverageError: partials that share an image, or that miss images (unless
            ``allow_missing``).

    Example:
        See :class:`Partial`.
    """
    parts = [p if isinstance(p, Partial) else Partial.from_bytes(p) for p in partials]
    if not parts:
        raise PartialError("merge_partials needs at least one partial, got none")
    _check_alike(parts)
    covered = _check_coverage(parts, allow_missing)
    first = parts[0]
    pool, _ = _merged_pool(parts)
    params = first.params
    acc = _engine.accumulate_pool(pool, params)
    details = None
    if all(p.details is not None for p in parts):
        inputs, matches = _merged_details(parts, covered)
        details = _Details(inputs, matches, params, None)
    return EvaluationResult(
        stats=_engine.summarize(acc, params, area_labels=first.area_labels),
        precision=acc.precision,
        recall=acc.recall,
        scores=acc.scores,
        oks_thresholds=params.oks_thresholds,
        recall_thresholds=params.recall_thresholds,
        sigmas=first.sigmas,
        category_ids=first.category_ids,
        _details=details,
    )
