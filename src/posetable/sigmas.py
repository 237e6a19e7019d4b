"""OKS sigmas from data: two annotations of the same instances, COCO's recipe.

COCO defines each keypoint's sigma from redundantly annotated images as the standard
deviation of an annotation's error relative to the object's scale:

    sigma_k^2 = E[ d_k^2 / s^2 ],     s^2 = the instance's area

and scores a prediction with ``OKS = mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))`` (pycocotools:
``vars = (2 sigma)^2``, ``e = d^2 / vars / (area + eps) / 2``). :func:`estimate_sigmas`
computes exactly that estimate from two tables, ``d_k`` being the distance between the two
annotations of keypoint ``k`` of one instance::

    sigma_k = sqrt( sum_p d_pk^2 / s_p^2  /  n_k )

over the ``n_k`` matched instance pairs ``p`` in which both annotations label ``k``
(v > 0). ``s_p^2`` is the instance's ``area`` in ``table_a`` (COCO's segment area) where the
table has that field and it is > 0, else its box area. Sigma is a root mean square, not
``np.std`` of the distances: the mean error is zero, the mean distance is not. Under
isotropic Gaussian disagreement ``b - a ~ N(0, (sigma s)^2 / 2 * I)`` per keypoint (so
``E|b - a|^2 = sigma^2 s^2``) the estimate recovers ``sigma``, and one annotation scores
``E[OKS] = 8/9`` against the other with it; the tests check both by simulation.

Instances are paired within each image pair by greedy matching on box IoU (OKS would need
the sigmas being estimated); pairs below ``min_iou`` and crowd regions are left unpaired and
counted. Per-keypoint confidence intervals come from a percentile bootstrap over instance
pairs, all resamples computed at once as a (B, P) x (P, K) product.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from posetable._arrow import flat_from_arrow
from posetable._arrow_decode import FlatKeypoints
from posetable.errors import PosetableWarning, SchemaError, missing_extra
from posetable.schema import SIGMAS_ESTIMATED

if TYPE_CHECKING:
    import pandas

    from posetable.table import Table

#: Rows read per chunk.
CHUNK_ROWS = 16384
#: Bootstrap resamples computed per step, bounded by this many weights.
BOOTSTRAP_CELLS = 4_000_000
#: A bootstrap of at least this many weights (pairs x resamples) shows a progress bar.
PROGRESS_CELLS = 50_000_000


class SigmaWarning(PosetableWarning):
    """Some keypoints had no pair labeled in both tables (their sigma is NaN)."""


@dataclass(frozen=True)
class SigmaEstimate:
    """Per-keypoint OKS sigmas estimated from two annotations (see :mod:`posetable.sigmas`).

    Attributes:
        sigmas: (K,) the estimate (NaN for a keypoint without pairs).
        low, high: (K,) the bootstrap confidence interval at ``confidence``.
        counts: (K,) instance pairs that label the keypoint in both tables.
        keypoint_names: the K names.
        sources: the two tables' ``name@revision``.
        pairs: matched instance pairs.
        unmatched: instances of (table_a, table_b) with labels left unpaired.
        confidence, bootstrap: the interval's level and resamples.
    """

    sigmas: np.ndarray
    low: np.ndarray
    high: np.ndarray
    counts: np.ndarray
    keypoint_names: tuple[str, ...]
    sources: tuple[str, str]
    pairs: int
    unmatched: tuple[int, int]
    confidence: float
    bootstrap: int

    def __post_init__(self) -> None:
        for name in ("sigmas", "low", "high", "counts"):
            value = np.array(getattr(self, name))
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    @property
    def source(self) -> str:
        """``"estimated from <ref_a>, <ref_b>"``: the sigma source :meth:`apply` records."""
        return f"{SIGMAS_ESTIMATED}{self.sources[0]}, {self.sources[1]}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (NaN as None)."""

        def plain(values: np.ndarray) -> list[Any]:
            return [None if v != v else float(v) for v in values.tolist()]

        return {
            "keypoint_names": list(self.keypoint_names),
            "sigmas": plain(self.sigmas),
            "low": plain(self.low),
            "high": plain(self.high),
            "counts": self.counts.tolist(),
            "source": self.source,
            "pairs": self.pairs,
            "unmatched": list(self.unmatched),
            "confidence": self.confidence,
            "bootstrap": self.bootstrap,
        }

    def to_pandas(self) -> pandas.DataFrame:
        """One row per keypoint: ``keypoint``, ``sigma``, ``low``, ``high``, ``count``."""
        try:
            import pandas
        except ImportError as exc:
            raise missing_extra("pandas", "dev") from exc
        return pandas.DataFrame(
            {
                "keypoint": list(self.keypoint_names),
                "sigma": self.sigmas,
                "low": self.low,
                "high": self.high,
                "count": self.counts,
            }
        )

    def __str__(self) -> str:
        head = (
            f"OKS sigmas {self.source} ({self.pairs} instance pairs, "
            f"{self.confidence:.0%} bootstrap interval)"
        )
        width = max(len(n) for n in self.keypoint_names)
        rows = [
            f"  {n:<{width}}  {s:.4f}  [{lo:.4f}, {hi:.4f}]  n={c}"
            for n, s, lo, hi, c in zip(
                self.keypoint_names, self.sigmas, self.low, self.high, self.counts, strict=True
            )
        ]
        return "\n".join([head, *rows])

    def apply(self, table: Table) -> Table:
        """A new revision of ``table`` with these sigmas, their source recorded as
        ``estimated from <ref_a>, <ref_b>`` (a schema-only revision).

        Raises:
            SchemaError: the table's keypoints differ from the estimate's, or a keypoint
                has no estimate (no pair labeled it in both tables).
        """
        table.check_editable(schema=True)
        schema = table.schema
        if schema.keypoint_names != self.keypoint_names:
            raise SchemaError(
                f"these sigmas are for keypoints {list(self.keypoint_names)[:4]}...; table "
                f"{table.ref} has {list(schema.keypoint_names)[:4]}... (K={schema.num_keypoints})"
            )
        missing = [n for n, s in zip(self.keypoint_names, self.sigmas, strict=True) if s != s]
        if missing:
            raise SchemaError(
                f"no sigma was estimated for {missing} (no instance pair labels them in both "
                "tables); estimate them from more data or set all K with "
                "KeypointHelper.edit_oks_sigmas"
            )
        new = schema.replace(oks_sigmas=self.sigmas.tolist(), oks_sigmas_source=self.source)
        arguments = {"sigmas": self.sigmas.tolist(), "source": self.source}
        return table.with_schema(new, operation="estimate_sigmas", arguments=arguments)


# -- pairing rows and instances -----------------------------------------------------------
def _paired_rows(a: Table, b: Table, match: str) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (pos_a, pos_b) of the rows both tables hold, in table_a's order."""
    if match == "sample_id":
        keys_a, keys_b = a.sample_ids(), b.sample_ids()
    elif match == "image":
        keys_a = np.asarray(a.to_arrow(columns=["image"]).column("image").to_pylist(), object)
        keys_b = np.asarray(b.to_arrow(columns=["image"]).column("image").to_pylist(), object)
        for table, keys in ((a, keys_a), (b, keys_b)):
            unique, counts = np.unique(keys, return_counts=True)
            if (counts > 1).any():
                raise SchemaError(
                    f"estimate_sigmas match='image': table {table.ref} holds image "
                    f"{unique[counts > 1][0]!r} in {int(counts.max())} rows; pair such tables "
                    "with match='sample_id'"
                )
    else:
        raise SchemaError(f"estimate_sigmas match must be 'sample_id' or 'image', got {match!r}")
    if not len(keys_a) or not len(keys_b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order_b = np.argsort(keys_b, kind="stable")
    sorted_b = keys_b[order_b]
    where = np.minimum(np.searchsorted(sorted_b, keys_a), len(sorted_b) - 1)
    found = np.asarray(sorted_b[where] == keys_a, dtype=bool)
    return np.flatnonzero(found).astype(np.int64), order_b[where[found]].astype(np.int64)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise IoU of xyxy boxes."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (
        (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    ) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def greedy_pairs(
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    boxes_a: np.ndarray,
    boxes_b: np.ndarray,
    *,
    min_iou: float,
    usable_a: np.ndarray | None = None,
    usable_b: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Instance pairs (flat indices into a and b) of row-aligned instance sets, matched
    greedily by box IoU (highest first, ties to the lower indices), all rows at once.

    Each round accepts every candidate that is the best remaining one of both its
    instances, which gives the same pairs as one pass in decreasing IoU order.

    Example:
        >>> import numpy as np
        >>> boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
        >>> greedy_pairs(np.array([2]), np.array([2]), boxes, boxes[::-1], min_iou=0.5)
        (array([0, 1]), array([1, 0]))
    """
    ca = np.asarray(counts_a, np.int64)
    cb = np.asarray(counts_b, np.int64)
    off_a = np.concatenate([[0], np.cumsum(ca)])
    off_b = np.concatenate([[0], np.cumsum(cb)])
    per_row = ca * cb
    total = int(per_row.sum())
    row = np.repeat(np.arange(len(ca)), per_row)
    start = np.concatenate([[0], np.cumsum(per_row)])[:-1]
    local = np.arange(total) - np.repeat(start, per_row)
    ia = off_a[row] + local // np.maximum(cb[row], 1)
    ib = off_b[row] + local % np.maximum(cb[row], 1)
    iou = _iou(boxes_a[ia], boxes_b[ib]) if total else np.zeros(0)
    keep = iou >= min_iou
    if usable_a is not None:
        keep &= usable_a[ia]
    if usable_b is not None:
        keep &= usable_b[ib]
    ia, ib, iou = ia[keep], ib[keep], iou[keep]
    order = np.lexsort((ib, ia, -iou))  # best first; ties to the lower indices
    ia, ib = ia[order], ib[order]
    out_a, out_b = [], []
    while len(ia):
        _, first_a = np.unique(ia, return_index=True)
        best_a = np.zeros(len(ia), bool)
        best_a[first_a] = True
        _, first_b = np.unique(ib, return_index=True)
        best_b = np.zeros(len(ib), bool)
        best_b[first_b] = True
        accept = best_a & best_b
        out_a.append(ia[accept])
        out_b.append(ib[accept])
        taken_a = np.zeros(int(off_a[-1]), bool)
        taken_a[ia[accept]] = True
        taken_b = np.zeros(int(off_b[-1]), bool)
        taken_b[ib[accept]] = True
        alive = ~taken_a[ia] & ~taken_b[ib]
        ia, ib = ia[alive], ib[alive]
    if not out_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pa_, pb_ = np.concatenate(out_a), np.concatenate(out_b)
    order = np.argsort(pa_, kind="stable")
    return pa_[order], pb_[order]


def _labeled(flat: FlatKeypoints) -> np.ndarray:
    """(T, K) labeled points (v > 0); every point of a row without visibilities."""
    rows_without = np.repeat(~flat.has_visibilities, flat.counts)
    return (flat.visibilities > 0) | rows_without[:, None]


def _scale2(flat: FlatKeypoints) -> np.ndarray:
    """(T,) s^2: the ``area`` field where present and > 0, else the box area."""
    box = (flat.boxes[:, 2] - flat.boxes[:, 0]) * (flat.boxes[:, 3] - flat.boxes[:, 1])
    if "area" not in flat.extras:
        return box
    values, missing = flat.extras["area"]
    try:
        area = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return box
    lacking = np.repeat(missing, flat.counts) | ~np.isfinite(area) | (area <= 0)
    return np.where(lacking, box, area)


def _usable(flat: FlatKeypoints) -> np.ndarray:
    """Instances that may be paired: not crowd regions."""
    if "iscrowd" not in flat.extras:
        return np.ones(len(flat.keypoints), bool)
    values, missing = flat.extras["iscrowd"]
    crowd = np.asarray(values == 1) & ~np.repeat(missing, flat.counts)
    return ~crowd


@dataclass
class _Errors:
    """Per matched pair: z = d^2 / s^2 where both annotations label the point."""

    z: list[np.ndarray] = field(default_factory=list)
    valid: list[np.ndarray] = field(default_factory=list)
    unmatched_a: int = 0
    unmatched_b: int = 0

    def add(self, flat_a: FlatKeypoints, flat_b: FlatKeypoints, min_iou: float) -> None:
        ua, ub = _usable(flat_a), _usable(flat_b)
        pa_, pb_ = greedy_pairs(
            flat_a.counts, flat_b.counts, flat_a.boxes, flat_b.boxes,
            min_iou=min_iou, usable_a=ua, usable_b=ub,
        )  # fmt: skip
        la, lb = _labeled(flat_a), _labeled(flat_b)
        has_a = la.any(axis=1) & ua
        has_b = lb.any(axis=1) & ub
        self.unmatched_a += int(has_a.sum() - has_a[pa_].sum())
        self.unmatched_b += int(has_b.sum() - has_b[pb_].sum())
        scale2 = _scale2(flat_a)[pa_]
        ok = scale2 > 0
        pa_, pb_, scale2 = pa_[ok], pb_[ok], scale2[ok]
        d2 = ((flat_a.keypoints[pa_] - flat_b.keypoints[pb_]) ** 2).sum(axis=2)
        valid = la[pa_] & lb[pb_]
        self.z.append(np.where(valid, d2 / scale2[:, None], 0.0))
        self.valid.append(valid)


def _chunks(pos_a: np.ndarray, pos_b: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(pos_a), CHUNK_ROWS):
        yield pos_a[start : start + CHUNK_ROWS], pos_b[start : start + CHUNK_ROWS]


def bootstrap_sigmas(
    z: np.ndarray, valid: np.ndarray, *, resamples: int, confidence: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The estimate and its percentile bootstrap interval over pairs (rows of ``z``).

    ``z`` (P, K) holds d^2 / s^2 where ``valid``; each resample draws P pairs with
    replacement, and all resamples of a step are one (B, P) x (P, K) product.

    Example:
        >>> import numpy as np
        >>> z = np.array([[0.01], [0.04], [0.01], [0.04]])
        >>> s, lo, hi = bootstrap_sigmas(z, z > 0, resamples=200, confidence=0.9, seed=0)
        >>> round(float(s[0]), 4), bool(lo[0] <= s[0] <= hi[0])
        (0.1581, True)
    """
    p, k = z.shape
    weight = valid.astype(np.float64)
    n = weight.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigmas = np.sqrt(z.sum(axis=0) / n)
    if p == 0 or resamples <= 0:
        return sigmas, np.full(k, np.nan), np.full(k, np.nan)
    rng = np.random.default_rng(seed)
    step = max(1, BOOTSTRAP_CELLS // max(p, 1))
    boot = np.empty((resamples, k))
    starts = range(0, resamples, step)
    bar = tqdm(starts, desc="bootstrap", unit="step", leave=False,
               disable=p * resamples < PROGRESS_CELLS)  # fmt: skip
    for start in bar:
        b = min(step, resamples - start)
        draws = rng.integers(0, p, size=(b, p)) + (np.arange(b) * p)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * p).reshape(b, p).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot[start : start + b] = np.sqrt((counts @ z) / (counts @ weight))
    tail = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no pair at all
        low = np.nanquantile(boot, tail, axis=0)
        high = np.nanquantile(boot, 1.0 - tail, axis=0)
    return sigmas, low, high


def estimate_sigmas(
    table_a: Table,
    table_b: Table,
    *,
    match: str = "sample_id",
    confidence: float = 0.95,
    bootstrap: int = 1000,
    seed: int = 0,
    min_iou: float = 0.5,
) -> SigmaEstimate:
    """Per-keypoint OKS sigmas from two annotations of the same instances.

    The formula, the pairing and the interval are those of :mod:`posetable.sigmas`:
    ``sigma_k = sqrt(mean over pairs of d_k^2 / area)``, the RMS distance between the two
    annotations of keypoint ``k`` over the object scale, as COCO defines sigma.

    Args:
        table_a: one annotation (its ``area`` gives the scale).
        table_b: the other annotation of the same images, same keypoints.
        match: how rows are paired: ``"sample_id"`` (tables that share sample ids: two
            revisions of one table, or one derived from the other) or ``"image"`` (the
            ``image`` column; tables imported apart).
        confidence: the level of the per-keypoint bootstrap interval.
        bootstrap: resamples of instance pairs (0: no interval).
        seed: the bootstrap's random seed.
        min_iou: least box IoU of two annotations of one instance.

    Example:
        >>> import numpy as np, posetable as pt, tempfile
        >>> from tests._data import data_path
        >>> a = pt.Table.from_coco(data_path("coco_kpts") / "annotations.json", name="a",
        ...                        store=tempfile.mkdtemp())
        >>> rows = a.rows(range(len(a)))
        >>> for row in rows:  # a second annotation: every point 1 px to the right
        ...     row["keypoints"].keypoints = row["keypoints"].keypoints + [1.0, 0.0]
        >>> b = a.with_rows(dict(enumerate(rows)))
        >>> est = pt.estimate_sigmas(a, b, bootstrap=100)
        >>> est.pairs, int(est.counts[0]), est.source
        (14, 11, 'estimated from a@1, a@2')
        >>> est.apply(b).schema.oks_sigmas_source
        'estimated from a@1, a@2'
    """
    from posetable.table import Table

    for value, what in ((table_a, "table_a"), (table_b, "table_b")):
        if not isinstance(value, Table):
            raise SchemaError(f"estimate_sigmas {what} must be a Table, got {type(value).__name__}")
    names_a, names_b = table_a.schema.keypoint_names, table_b.schema.keypoint_names
    if names_a != names_b:
        raise SchemaError(
            f"estimate_sigmas needs the same keypoints in both tables: {table_a.ref} has "
            f"K={len(names_a)} {list(names_a)[:4]}..., {table_b.ref} K={len(names_b)} "
            f"{list(names_b)[:4]}..."
        )
    if not 0.0 < float(confidence) < 1.0:
        raise SchemaError(f"estimate_sigmas confidence must be in (0, 1), got {confidence!r}")
    if int(bootstrap) < 0:
        raise SchemaError(f"estimate_sigmas bootstrap must be >= 0 resamples, got {bootstrap!r}")
    k = len(names_a)
    pos_a, pos_b = _paired_rows(table_a, table_b, match)
    errors = _Errors()
    for chunk_a, chunk_b in _chunks(pos_a, pos_b):
        column_a = table_a.take(chunk_a, columns=["keypoints"]).column("keypoints")
        column_b = table_b.take(chunk_b, columns=["keypoints"]).column("keypoints")
        flat_a = flat_from_arrow(column_a, num_keypoints=k)
        flat_b = flat_from_arrow(column_b, num_keypoints=k)
        errors.add(flat_a, flat_b, float(min_iou))
    z = np.concatenate(errors.z) if errors.z else np.zeros((0, k))
    valid = np.concatenate(errors.valid) if errors.valid else np.zeros((0, k), bool)
    sigmas, low, high = bootstrap_sigmas(
        z, valid, resamples=int(bootstrap), confidence=float(confidence), seed=int(seed)
    )
    counts = valid.sum(axis=0).astype(np.int64)
    if (counts == 0).any():
        none = [n for n, c in zip(names_a, counts.tolist(), strict=True) if c == 0]
        warnings.warn(
            f"estimate_sigmas: no instance pair labels {none} in both {table_a.ref} and "
            f"{table_b.ref}; their sigma is NaN",
            SigmaWarning,
            stacklevel=2,
        )
    return SigmaEstimate(
        sigmas=sigmas,
        low=low,
        high=high,
        counts=counts,
        keypoint_names=tuple(names_a),
        sources=(table_a.ref, table_b.ref),
        pairs=len(z),
        unmatched=(errors.unmatched_a, errors.unmatched_b),
        confidence=float(confidence),
        bootstrap=int(bootstrap),
    )
