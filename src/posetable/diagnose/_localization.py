"""Ronchi & Perona's keypoint localization errors, as coco-analyze's code defines them.

For every prediction matched (pycocotools' greedy matching at OKS 0.1, the top 20 per
image) to a ground truth with labeled points, each keypoint the ground truth labels gets
one class from its best similarity term over the candidate points: the matched person's
points, the other people's of the image and category, and, with flip indices, the mirrored
ones of each (the matched person first, then the others in file order; the first best
wins):

- ``good``: best term > 0.85, on the matched person;
- ``jitter``: 0.5 <= best < 0.85 on the matched person;
- ``inversion``: best >= 0.5 on the matched person mirrored;
- ``swap``: best >= 0.5 on another person (as labeled or mirrored);
- ``miss``: best < 0.5.

The term is OKS's: exp(-d^2 / (2 sigma)^2 / (area + eps) / 2) with each candidate's own
area. The fix of an error moves the point to the matched ground truth's y and to its x
plus sqrt(-ln(t) * 2 * area * sigma^2), with t = 0.85 (jitter), 0.5 (miss) or the best
term (inversion, swap): coco-analyze's rule, which uses sigma^2 where OKS uses (2 sigma)^2,
so a fixed point ends up with the term t^(1/4). Everything runs over all matched
predictions at once, in chunks that bound the (candidates, K) temporaries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from posetable.eval._data import EvalInput
from posetable.eval._engine import AREA_RANGES, Params, match
from posetable.eval.oks import EPS

LOCALIZATION_OKS = 0.1  # coco-analyze's oksLocThrs: matches below it are not localization errors
JITTER = (0.5, 0.85)  # coco-analyze's jitterKsThrs
ERRORS = ("good", "jitter", "inversion", "swap", "miss")
CHUNK_ROWS = 1 << 18


@dataclass(frozen=True)
class Localization:
    """The class of every labeled keypoint of every analysed match, and its fix.

    Attributes:
        dt: (M,) prediction index of each analysed match.
        gt: (M,) its ground truth.
        labeled: (M, K) the ground truth labels the point (only those get a class).
        error: (M, K) int8 index into ``ERRORS`` (-1 where not labeled).
        term: (M, K) the similarity term with the matched ground truth.
        best: (M, K) the best term over the candidates.
        source: (M, K) ground truth index of the best candidate.
        fixed: (M, K, 2) where the fix of the point's error puts it.
    """

    dt: np.ndarray
    gt: np.ndarray
    labeled: np.ndarray
    error: np.ndarray
    term: np.ndarray
    best: np.ndarray
    source: np.ndarray
    fixed: np.ndarray


def localization_matches(inp: EvalInput) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, ground truth) of pycocotools' matches at OKS 0.1, area "all", top 20.

    A match to a ground truth with id 0 counts as no match (coco-analyze reads the id), and
    ground truth without keypoints (``num_keypoints`` 0) is left out, as coco-analyze does.
    """
    params = Params(oks_thresholds=np.array([LOCALIZATION_OKS]), area_ranges=AREA_RANGES[:1])
    m = match(inp, params)
    gt_of = m.dt_gt[0, 0]
    ok = gt_of >= 0
    gt = inp.gt
    if len(gt):
        safe = np.where(ok, gt_of, 0)
        no_points = (gt.ignore & ~gt.crowd) | (gt.crowd & ~gt.labeled.any(axis=1))
        ok &= ~gt.id_zero[safe] & ~no_points[safe]
    return m.evaluated[ok], gt_of[ok]


def classify(
    inp: EvalInput,
    dt: np.ndarray,
    gt_idx: np.ndarray,
    flips: np.ndarray | None,
) -> Localization:
    """Classify every labeled keypoint of the matches ``(dt, gt_idx)`` (see the module)."""
    gt = inp.gt
    k = inp.sigmas.shape[0]
    n_m = dt.shape[0]
    best = np.zeros((n_m, k))
    rank = np.zeros((n_m, k), np.int64)
    source = np.zeros((n_m, k), np.int64)
    group_size = np.zeros(n_m, np.int64)
    if n_m:
        n_img = max(inp.num_images, 1)
        g_key = gt.category * n_img + gt.image
        g_sorted = np.argsort(g_key, kind="stable")
        sorted_keys = g_key[g_sorted]
        m_key = g_key[gt_idx]
        start = np.searchsorted(sorted_keys, m_key, "left")
        group_size = np.searchsorted(sorted_keys, m_key, "right") - start
        copies = 2 if flips is not None else 1
        per_match = group_size * copies
        bounds = _chunks(per_match)
        for lo, hi in itertools.pairwise(bounds):
            b, r, s = _best_terms(
                inp, dt[lo:hi], gt_idx[lo:hi], start[lo:hi], group_size[lo:hi], g_sorted, flips
            )
            best[lo:hi], rank[lo:hi], source[lo:hi] = b, r, s
    labeled = gt.labeled[gt_idx] if n_m else np.zeros((0, k), bool)
    own_x = gt.keypoints[gt_idx] if n_m else np.zeros((0, k, 2))
    term = _terms(
        inp.dt.keypoints[dt],
        own_x,
        gt.labeled[gt_idx] if n_m else labeled,
        gt.area[gt_idx],
        inp.sigmas,
    )
    best = np.maximum(best, 0.0)
    low, high = JITTER
    own = rank == 0
    mirrored = (rank == group_size[:, None]) & (flips is not None)
    error = np.full((n_m, k), -1, np.int8)
    error[labeled & own & (best >= high)] = 0  # good (0.85 exactly is neither in the code)
    error[labeled & own & (best >= low) & (best < high)] = 1
    error[labeled & mirrored & (best >= low)] = 2
    error[labeled & ~own & ~mirrored & (best >= low)] = 3
    error[labeled & (best < low)] = 4
    fixed = _fixes(inp, dt, gt_idx, error, best)
    return Localization(dt, gt_idx, labeled, error, term, best, source, fixed)


def _chunks(rows_per_match: np.ndarray) -> list[int]:
    """Match boundaries so each chunk holds about ``CHUNK_ROWS`` candidate rows."""
    total = np.cumsum(rows_per_match)
    if total.size == 0:
        return [0]
    cuts = np.searchsorted(total, np.arange(CHUNK_ROWS, int(total[-1]), CHUNK_ROWS), "right")
    return sorted({0, *cuts.tolist(), int(rows_per_match.shape[0])})


def _terms(
    dkp: np.ndarray, gkp: np.ndarray, labeled: np.ndarray, area: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """(R, K) OKS terms, -1 where the candidate does not label the point."""
    variances = (np.asarray(sigmas) * 2) ** 2
    d = dkp - gkp
    e = (d[..., 0] ** 2 + d[..., 1] ** 2) / variances / (area[:, None] + EPS) / 2
    return np.where(labeled, np.exp(-np.minimum(e, 745.0)) * (e < 745.0), -1.0)


def _best_terms(
    inp: EvalInput,
    dt: np.ndarray,
    gt_idx: np.ndarray,
    start: np.ndarray,
    size: np.ndarray,
    g_sorted: np.ndarray,
    flips: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best term, its candidate rank and its ground truth, per (match, keypoint)."""
    gt = inp.gt
    n = dt.shape[0]
    match_of = np.repeat(np.arange(n), size)
    first = np.cumsum(size) - size
    pos = np.arange(match_of.shape[0]) - first[match_of]
    member = g_sorted[start[match_of] + pos]
    is_own = member == gt_idx[match_of]
    own_pos = np.zeros(n, np.int64)
    own_pos[match_of[is_own]] = pos[is_own]
    rank0 = np.where(is_own, 0, np.where(pos < own_pos[match_of], pos + 1, pos))
    points = gt.keypoints[member]
    lab = gt.labeled[member]
    ranks = [rank0]
    members = [member]
    matches = [match_of]
    blocks = [_terms(inp.dt.keypoints[dt[match_of]], points, lab, gt.area[member], inp.sigmas)]
    if flips is not None:
        ranks.append(rank0 + size[match_of])
        members.append(member)
        matches.append(match_of)
        blocks.append(
            _terms(
                inp.dt.keypoints[dt[match_of]],
                points[:, flips],
                lab[:, flips],
                gt.area[member],
                inp.sigmas,
            )
        )
    rank = np.concatenate(ranks)
    mem = np.concatenate(members)
    mt = np.concatenate(matches)
    terms = np.concatenate(blocks)
    order = np.lexsort((rank, mt))
    rank, mem, mt, terms = rank[order], mem[order], mt[order], terms[order]
    seg = np.flatnonzero(np.r_[True, mt[1:] != mt[:-1]])
    best = np.maximum.reduceat(terms, seg, axis=0)
    is_best = terms == best[mt]
    big = np.iinfo(np.int64).max
    row = np.arange(terms.shape[0])[:, None]
    at = np.minimum.reduceat(np.where(is_best, row, big), seg, axis=0)  # first best row
    return best, rank[at], mem[at]


def _fixes(
    inp: EvalInput, dt: np.ndarray, gt_idx: np.ndarray, error: np.ndarray, best: np.ndarray
) -> np.ndarray:
    """(M, K, 2) where coco-analyze's correction puts each point (see the module)."""
    gt = inp.gt
    fixed = inp.dt.keypoints[dt].copy()
    if dt.shape[0] == 0:
        return fixed
    area = gt.area[gt_idx][:, None]
    sig2 = np.asarray(inp.sigmas)[None, :] ** 2
    lo, hi = JITTER
    rounded = best + EPS * (best == 0) - EPS * (best == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.select(
            [error == 1, error == 4, (error == 2) | (error == 3)],
            [
                np.sqrt(-np.log(hi) * 2 * area * sig2),
                np.sqrt(-np.log(lo) * 2 * area * sig2),
                np.sqrt(-np.log(rounded) * 2 * area * sig2),
            ],
            0.0,
        )
    wrong = error >= 1
    target = gt.keypoints[gt_idx]
    fixed[..., 0] = np.where(wrong, target[..., 0] + shift, fixed[..., 0])
    fixed[..., 1] = np.where(wrong, target[..., 1], fixed[..., 1])
    return fixed
