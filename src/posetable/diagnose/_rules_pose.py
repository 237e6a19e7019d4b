"""Rules on whole poses: duplicated people, left/right swaps, bone lengths, collapsed points.

All four work on the whole table at once: duplicates over every same-image pair of
instances (the exact OKS of :mod:`posetable.eval.oks`), swaps over every (instance,
left/right pair), bone lengths against robust per-class statistics of each skeleton line
computed over the table, collapse over every instance.
"""

from __future__ import annotations

import numpy as np

from posetable._pairs import same_row_pairs
from posetable.diagnose._context import Context
from posetable.diagnose._found import Found, found, not_checked
from posetable.eval.oks import PointColumns, oks_columns

DUPLICATE_OKS = 0.95
#: a left/right pair is judged only when its points are this far apart (in box scales)
SWAP_MIN_LENGTH = 0.08
#: ... and it points against the other pairs (cosine at most minus this) ...
SWAP_COSINE = 0.6
#: ... while the other pairs agree with each other this well (|sum| / sum of lengths)
SWAP_AGREEMENT = 0.8
BONE_Z = 3.0  # robust z-score (median / MAD of log length over the table) to report
BONE_RATIO = 2.0  # ... and at least this many times the line's typical length
BONE_MIN_SAMPLES = 5  # instances with the line (or its mirror) labeled for its median
BONE_MIN_SPREAD = 0.12  # floor of the robust spread of log lengths (about 12%)
COLLAPSE_PIXELS = 1.0  # labeled points all within this radius (pixels) ...
COLLAPSE_RELATIVE = 0.02  # ... or within this fraction of the box side
COLLAPSE_MIN_POINTS = 3


def _scale(ctx: Context) -> np.ndarray:
    """(N,) the size of each instance: sqrt of its box area, else of its points' extent."""
    gt = ctx.gt
    size = gt.box_size
    scale = np.sqrt(np.clip(size[:, 0], 0, None) * np.clip(size[:, 1], 0, None))
    lab = gt.labeled
    x, y = gt.keypoints[..., 0], gt.keypoints[..., 1]
    width = np.where(lab, x, -np.inf).max(1) - np.where(lab, x, np.inf).min(1)
    height = np.where(lab, y, -np.inf).max(1) - np.where(lab, y, np.inf).min(1)
    extent = np.where(lab.any(axis=1), np.maximum(width, height), 0.0)
    return np.where(scale > 0, scale, extent)


#: a point whose OKS error e is at least this far counts as "far" for the duplicate screen
_FAR_E = 1.0


def _first_labeled(ctx: Context) -> np.ndarray:
    """(N, m) the first m labeled keypoints of each instance (then unlabeled ones), m as
    :func:`_may_reach` needs."""
    gt = ctx.gt
    k = gt.keypoints.shape[1]
    m = min(k, int((1 - DUPLICATE_OKS) * k / (1 - np.exp(-_FAR_E))) + 1)
    return np.argsort(~gt.labeled, axis=1, kind="stable")[:, :m]


def _may_reach(
    ctx: Context, first_labeled: np.ndarray, dt: np.ndarray, gt_side: np.ndarray
) -> np.ndarray:
    """(P,) False where the OKS of prediction ``dt`` against ground truth ``gt_side`` is
    surely under ``DUPLICATE_OKS``; True where it may reach it.

    Each far labeled point (e >= 1) takes at least 1 - exp(-1) from the sum of k1 terms,
    and OKS >= t leaves room for (1 - t) k1 of them: so at most (1 - t) k1 / (1 - e^-1)
    labeled points are far. If the first m = that + 1 labeled points of the ground truth
    are all far, the OKS is below t (with a margin far beyond float rounding).
    """
    gt = ctx.gt
    first = first_labeled[gt_side]
    labeled = gt.labeled[gt_side[:, None], first]
    dx = gt.keypoints[dt[:, None], first, 0] - gt.keypoints[gt_side[:, None], first, 0]
    dy = gt.keypoints[dt[:, None], first, 1] - gt.keypoints[gt_side[:, None], first, 1]
    variances = (2 * ctx.sigmas) ** 2
    e = (dx**2 + dy**2) / variances[first] / (gt.area[gt_side][:, None] + np.spacing(1)) / 2
    return (labeled & ~(e >= _FAR_E)).any(axis=1)


def duplicate_instance(ctx: Context) -> list[Found]:
    """Two instances of one image (same class) with OKS >= 0.95, with the table's sigmas.

    OKS is asymmetric (the ground truth side gives the labeled points and the area), so
    each pair is measured both ways and the larger value counts: an instance labeled again
    with fewer points is still a duplicate. The later instance is reported.
    """
    gt = ctx.gt
    counts = gt.counts
    usable = np.flatnonzero((counts > 0) & ~gt.iscrowd)
    if usable.size < 2:
        return []
    ia, ib = same_row_pairs(gt.row[usable], gt.row[usable])
    keep = ia < ib
    a, b = usable[ia[keep]], usable[ib[keep]]
    same = gt.label[a] == gt.label[b]
    a, b = a[same], b[same]
    # only pairs that can reach the threshold in one direction or the other are measured
    first = _first_labeled(ctx)
    may = _may_reach(ctx, first, a, b) | _may_reach(ctx, first, b, a)
    a, b = a[may], b[may]
    if a.size == 0:
        return []
    # both directions over one (K, N) layout of the instances involved; pairs clearly under
    # the threshold get an estimate (all that is needed), the others pycocotools' exact OKS
    used, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[: a.size], inverse[a.size :]
    columns = PointColumns(gt.keypoints[used], gt.labeled[used])
    xywh = np.concatenate([gt.box[used, :2], gt.box_size[used]], axis=1)
    sig, area = ctx.sigmas, gt.area[used]
    ab = oks_columns(columns, columns, area, xywh, sig, ia, ib, min_oks=DUPLICATE_OKS)
    ba = oks_columns(columns, columns, area, xywh, sig, ib, ia, min_oks=DUPLICATE_OKS)
    oks = np.maximum(ab, ba)
    hit = np.flatnonzero(oks >= DUPLICATE_OKS)
    other, value = gt.index[a[hit]], oks[hit]
    count_b, count_a = counts[b[hit]], counts[a[hit]]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"duplicates instance {int(i)} of the same image (OKS {v:.3f} >= {DUPLICATE_OKS}, "
            f"{int(nb)} and {int(na)} labeled points)"
            for i, v, nb, na in zip(
                other[sel].tolist(),
                value[sel].tolist(),
                count_b[sel].tolist(),
                count_a[sel].tolist(),
                strict=True,
            )
        ]

    return [found("duplicate_instance", "error", b[hit], None, oks[hit], messages)]


def left_right_swap(ctx: Context) -> list[Found]:
    """A left/right pair mirrored against the body's orientation given by the other pairs.

    For every instance and every pair (i, flip[i]) with both points labeled, the vector from
    the second point to the first is compared with the sum of the other pairs' vectors
    (longer pairs weigh more). A pair is reported when the other pairs agree with each
    other (|sum| / sum of lengths >= ``SWAP_AGREEMENT``), it points against them (cosine
    <= -``SWAP_COSINE``) and its points are at least ``SWAP_MIN_LENGTH`` box scales apart.
    Geometry alone: crossed or folded arms look the same, and are reported too.
    ``keypoint`` is the pair's first point (its partner is ``flip_indices[keypoint]``);
    the value is the cosine.
    """
    flips = ctx.schema.flip_indices
    if flips is None:
        return [not_checked("left_right_swap", "the table has no flip indices")]
    flip = np.asarray(flips)
    first = np.flatnonzero(flip > np.arange(flip.shape[0]))
    if first.size < 2:
        return [not_checked("left_right_swap", "fewer than 2 left/right pairs to compare")]
    second = flip[first]
    gt = ctx.gt
    scale = _scale(ctx)
    v = gt.keypoints[:, first] - gt.keypoints[:, second]  # (N, P, 2)
    length = np.hypot(v[..., 0], v[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = length / scale[:, None]
    valid = gt.labeled[:, first] & gt.labeled[:, second] & (rel >= SWAP_MIN_LENGTH)
    valid &= ~gt.iscrowd[:, None]
    w = np.where(valid[..., None], v / np.maximum(scale, 1e-12)[:, None, None], 0.0)
    total = w.sum(axis=1)  # (N, 2)
    others = total[:, None, :] - w  # (N, P, 2)
    other_len = np.where(valid, rel, 0.0).sum(axis=1)[:, None] - np.where(valid, rel, 0.0)
    n_others = valid.sum(axis=1)[:, None] - valid
    norm = np.hypot(others[..., 0], others[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        agreement = norm / other_len
        cosine = (w * others).sum(axis=2) / (np.hypot(w[..., 0], w[..., 1]) * norm)
    hit = valid & (n_others >= 2) & (agreement >= SWAP_AGREEMENT) & (cosine <= -SWAP_COSINE)
    at, p = np.nonzero(hit)
    names = ctx.names
    cosines = cosine[at, p]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"{names[first[q]]} / {names[second[q]]} point the opposite way (cosine "
            f"{c:.2f}) to the body's other left/right pairs; probably swapped"
            for q, c in zip(p[sel].tolist(), cosines[sel].tolist(), strict=True)
        ]

    return [found("left_right_swap", "warning", at, first[p], cosine[at, p], messages)]


#: up to this many groups a group's values are picked by a mask, one pass each (no sort of
#: every value: far less memory); more groups are sorted once
_MASKED_GROUPS = 64


def _group_median(
    values: np.ndarray, groups: np.ndarray, n_groups: int, *, reorder: bool = False
) -> np.ndarray:
    """(n_groups,) median of ``values`` per group (NaN for an empty group): the mean
    ``0.5 * (low + high)`` of each group's two middle order statistics, found by a
    partition per group (groups are few: classes x skeleton lines). ``reorder``: the
    caller lets ``values`` be reordered (one group is then partitioned in place)."""
    out = np.full(n_groups, np.nan)
    if values.shape[0] == 0:
        return out
    counts = np.bincount(groups, minlength=n_groups)
    present = np.flatnonzero(counts).tolist()
    if reorder and len(present) == 1:
        out[present[0]] = _median_of(values, values.shape[0])
        return out
    if len(present) <= _MASKED_GROUPS:
        for g in present:
            out[g] = _median_of(values[groups == g], int(counts[g]))
        return out
    keys = groups.astype(np.uint16) if n_groups <= 1 << 16 else groups
    order = np.argsort(keys, kind="stable")  # a radix sort for 16-bit keys
    ends = np.cumsum(counts)
    grouped = values[order]
    for g in present:
        out[g] = _median_of(grouped[ends[g] - counts[g] : ends[g]], int(counts[g]))
    return out


def _median_of(part: np.ndarray, n: int) -> float:
    """The median of the ``n`` values of ``part``, an array of the caller's own that this
    reorders (a partition in place: no copy of what may be every measured value)."""
    lo, hi = (n - 1) // 2, n // 2
    part.partition([lo, hi] if lo != hi else lo)
    return float(0.5 * (part[lo] + part[hi]))


def _canonical_lines(ctx: Context, lines: np.ndarray) -> np.ndarray:
    """(L,) a group id per line shared with its mirror line (left and right forearms...)."""
    flips = ctx.schema.flip_indices
    key = np.sort(lines, axis=1)
    if flips is not None:
        flip = np.asarray(flips)
        mirrored = np.sort(flip[lines], axis=1)
        key = np.minimum(key[:, 0] * 10**6 + key[:, 1], mirrored[:, 0] * 10**6 + mirrored[:, 1])
    else:
        key = key[:, 0] * 10**6 + key[:, 1]
    return np.unique(key, return_inverse=True)[1].ravel()


def bone_length_outlier(ctx: Context) -> list[Found]:
    """A skeleton line far longer than that line's length over the table (per class).

    Each line's length is taken relative to the instance's scale (sqrt of its box area).
    A line and its mirror (left and right forearm) share statistics: the median of the log
    length over every instance of the class with both points labeled (over all classes
    where a class has fewer than ``BONE_MIN_SAMPLES``), and a robust spread (1.4826 MAD of
    every line's deviation from its median, over the class). A line is reported when its
    robust z-score exceeds ``BONE_Z`` and it is at least ``BONE_RATIO`` times the typical
    length; only long lines are reported, as foreshortening makes short ones natural.
    ``keypoint`` names the end that other outlying lines share (null when neither does);
    the value is the z-score.
    """
    lines = np.asarray(ctx.schema.lines, np.int64).reshape(-1, 2)
    lines = lines[lines[:, 0] != lines[:, 1]]
    if lines.shape[0] == 0:
        return [not_checked("bone_length_outlier", "the table has no skeleton lines")]
    gt = ctx.gt
    inst, line, values = bone_measurements(ctx, lines)
    if inst.size == 0:
        return []
    n_classes = int(gt.label.max()) + 1 if len(gt) else 1
    cls = gt.label[inst] if n_classes > 1 else None
    return bone_decision(ctx, lines, inst, line, values, cls, n_classes)


def bone_measurements(ctx: Context, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(instance, line, log of the line's length over the instance's scale) of every line
    with both ends labeled on a non-crowd instance of some scale, in instance then line order:
    what ``bone_length_outlier`` measures (locally, or in each Ray task)."""
    gt = ctx.gt
    scale = _scale(ctx)
    a, b = lines[:, 0], lines[:, 1]
    x = np.ascontiguousarray(gt.keypoints[..., 0])
    y = np.ascontiguousarray(gt.keypoints[..., 1])
    length = np.hypot(x.take(a, axis=1) - x.take(b, axis=1), y.take(a, axis=1) - y.take(b, axis=1))
    ok = gt.labeled[:, a] & gt.labeled[:, b] & (length > 0) & (scale[:, None] > 0)
    ok &= ~gt.iscrowd[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_len = np.log(length / scale[:, None])
    inst, line = np.nonzero(ok)
    return inst, line, log_len[inst, line]


def bone_decision(
    ctx: Context,
    lines: np.ndarray,
    inst: np.ndarray,
    line: np.ndarray,
    values: np.ndarray,
    cls: np.ndarray | None,
    n_classes: int,
) -> list[Found]:
    """``bone_length_outlier``'s decision from its measurements: ``values`` the log length
    over scale of each measured (instance ``inst``, skeleton line ``line``), in instance then
    line order, ``cls`` each value's class (of ``n_classes``; None: one class, every value
    of class 0). The Ray check gathers the measurements of every task and decides here, so
    both give the same findings.

    Memory: a handful of arrays of one entry per value (at a million images, tens of
    millions of values): the class array only with several classes, the distance from the
    typical length computed in place, and the z-score only where a line is long enough to
    be reported (the same operations on the same values: the same bits)."""
    a, b = lines[:, 0], lines[:, 1]
    group_of_line = _canonical_lines(ctx, lines)
    n_groups = int(group_of_line.max()) + 1
    n_cells = n_classes * n_groups
    # per value only what must be: each (class, line group) cell's statistics are tables
    # of n_cells entries, gathered once (the same numbers as deciding value by value)
    key_type = np.int32 if n_cells < 1 << 31 else np.int64
    group = group_of_line.astype(key_type)[line]
    if cls is None and n_classes != 1:
        raise ValueError(f"cls is None (one class) but n_classes is {n_classes}")
    per_class = group if cls is None else np.asarray(cls, key_type) * n_groups + group
    median = _group_median(values, per_class, n_cells)
    count = np.bincount(per_class, minlength=n_cells)
    if cls is None:  # one class: its cells are the line groups, pooled over every class
        pooled, pooled_count = median, count
    else:
        pooled = _group_median(values, group, n_groups)
        pooled_count = np.bincount(group, minlength=n_groups)
    del group
    cell_group = np.arange(n_cells) % n_groups
    own_cell = count >= BONE_MIN_SAMPLES
    med_cell = np.where(own_cell, median, pooled[cell_group])
    enough_cell = own_cell | (pooled_count[cell_group] >= BONE_MIN_SAMPLES)
    enough = enough_cell[per_class]
    if not enough.any():
        return [
            not_checked(
                "bone_length_outlier",
                f"fewer than {BONE_MIN_SAMPLES} instances label any skeleton line",
            )
        ]
    diff = med_cell[per_class]  # the value's distance from its typical length (in place)
    np.subtract(values, diff, out=diff)
    del per_class
    kept = np.abs(diff[enough])
    if cls is None:
        spread = 1.4826 * np.array([_median_of(kept, kept.shape[0])])
    else:
        spread = 1.4826 * _group_median(kept, np.asarray(cls)[enough], n_classes, reorder=True)
    all_spread = 1.4826 * _median_of(kept, kept.shape[0])  # np.median's value, in place
    del kept
    spread_cls = np.where(np.isnan(spread), all_spread, spread)
    # the z-score only of lines long enough to be reported (each the division it was)
    long = np.flatnonzero(enough & (diff > np.log(BONE_RATIO)))
    del enough
    divisor = np.maximum(spread_cls, BONE_MIN_SPREAD)
    z_long = diff[long] / (divisor[0] if cls is None else divisor[np.asarray(cls)[long]])
    picked = z_long > BONE_Z
    hit = long[picked]
    hi, hl = inst[hit], line[hit]
    # the end shared by several outlying lines of the instance is the one that moved
    hit_inst, at = np.unique(hi, return_inverse=True)
    bad_points = np.zeros((hit_inst.shape[0], ctx.schema.num_keypoints), np.int64)
    np.add.at(bad_points, (at, a[hl]), 1)
    np.add.at(bad_points, (at, b[hl]), 1)
    ca, cb = bad_points[at, a[hl]], bad_points[at, b[hl]]
    keypoint = np.where(ca > cb, a[hl], np.where(cb > ca, b[hl], -1))
    names = ctx.names
    ratio = np.exp(diff[hit])
    z_hit = z_long[picked]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"line {names[a[q]]}-{names[b[q]]} is {r:.1f} times its typical length for this "
            f"class (robust z {zz:.1f}); a point is probably misplaced"
            for q, r, zz in zip(
                hl[sel].tolist(), ratio[sel].tolist(), z_hit[sel].tolist(), strict=True
            )
        ]

    return [found("bone_length_outlier", "warning", hi, keypoint, z_hit, messages)]


def collapsed_instance(ctx: Context) -> list[Found]:
    """All labeled points of an instance (at least 3) within a tiny radius of their centre:
    ``COLLAPSE_PIXELS``, or ``COLLAPSE_RELATIVE`` of the longer box side. The value is the
    radius in pixels."""
    gt = ctx.gt
    counts = gt.counts
    lab = gt.labeled
    n = np.maximum(counts, 1)[:, None]
    centre = np.where(lab[..., None], gt.keypoints, 0.0).sum(axis=1) / n
    dist = np.hypot(*(gt.keypoints - centre[:, None, :]).transpose(2, 0, 1))
    radius = np.where(lab, dist, 0.0).max(axis=1)
    side = gt.box_size.max(axis=1)
    limit = np.where(
        gt.box_given & (side > 0),
        np.maximum(COLLAPSE_PIXELS, COLLAPSE_RELATIVE * side),
        COLLAPSE_PIXELS,
    )
    at = np.flatnonzero((counts >= COLLAPSE_MIN_POINTS) & (radius <= limit) & ~gt.iscrowd)
    counts_at, radius_at, centre_at = counts[at], radius[at], centre[at]
    side_at, given_at = side[at], gt.box_given[at]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"all {int(counts_at[i])} labeled points lie within {radius_at[i]:.2f} px of "
            f"({centre_at[i, 0]:g}, {centre_at[i, 1]:g})"
            + (f" in a box {side_at[i]:g} px wide" if given_at[i] and side_at[i] > 0 else "")
            for i in sel.tolist()
        ]

    return [found("collapsed_instance", "warning", at, None, radius[at], messages)]
