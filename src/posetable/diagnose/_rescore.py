"""The "optimal score" behind coco-analyze's ``score`` fix, vectorised.

Each prediction's new score starts as its best OKS with a non-ignored ground truth of its
image and category (0 when there is none; every prediction counts, not only the top 20).
Then, per (image, category), coco-analyze runs a soft non-maximum suppression: the
prediction with the highest current score is taken, and every prediction not yet taken
has its score multiplied by exp(-oks^2 / 0.5), oks being the similarity of the two
predictions (all K points, the mean of the two keypoint-extent areas as the scale); and
again, until none is left. Here all images advance together: step s takes the s-th
prediction of every image that has more than s, so the work is one pass over the pairs.
"""

from __future__ import annotations

import numpy as np

from posetable.eval._data import EvalInput
from posetable.eval._engine import all_pairs, ignored_by_area, select_predictions
from posetable.eval.oks import EPS

SOFT_NMS_SIGMA = 0.5  # coco-analyze's hyperparameter "from the soft-NMS paper"


def best_oks(inp: EvalInput, area_range: np.ndarray) -> np.ndarray:
    """(D,) each prediction's best OKS with a non-ignored ground truth (0 where none)."""
    n_d = len(inp.dt)
    out = np.zeros(n_d)
    if n_d == 0 or len(inp.gt) == 0:
        return out
    every, _ = select_predictions(inp, n_d)
    pair_ev, pair_gt, values = all_pairs(inp, every)
    usable = ~ignored_by_area(inp, area_range[None, :])[0][pair_gt]
    np.maximum.at(out, every[pair_ev[usable]], values[usable])
    return out


def optimal_scores(inp: EvalInput, start: np.ndarray) -> np.ndarray:
    """(D,) coco-analyze's soft-NMS rescoring of ``start`` (see the module docstring)."""
    dt = inp.dt
    n = len(dt)
    score = np.asarray(start, np.float64).copy()
    if n == 0:
        return score
    key = dt.category * max(inp.num_images, 1) + dt.image
    by_group = np.argsort(key, kind="stable")  # input order within each group
    keys = key[by_group]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, n])
    # groups by size, largest first: the groups still running at step s are a prefix
    group_order = np.argsort(-sizes, kind="stable")
    sizes = sizes[group_order]
    members = np.concatenate(
        [
            by_group[s : s + c]
            for s, c in zip(starts[group_order].tolist(), sizes.tolist(), strict=True)
        ]
    )
    offsets = np.r_[0, np.cumsum(sizes)]
    group_of = np.repeat(np.arange(sizes.shape[0]), sizes)
    kp = dt.keypoints[members]
    x, y = kp[..., 0], kp[..., 1]
    area = (x.max(1) - x.min(1)) * (y.max(1) - y.min(1))
    variances = (np.asarray(inp.sigmas) * 2) ** 2
    current = score[members]
    alive = np.ones(n, bool)
    for step in range(int(sizes[0])):
        n_groups = int(np.searchsorted(-sizes, -step, "left"))  # the groups larger than step
        end = int(offsets[n_groups])
        cur = np.where(alive[:end], current[:end], -np.inf)
        seg = offsets[:n_groups]
        top = np.maximum.reduceat(cur, seg)
        is_top = cur == top[group_of[:end]]
        idx = np.arange(end)
        chosen = np.minimum.reduceat(np.where(is_top, idx, end), seg)
        alive[chosen] = False
        pick = chosen[group_of[:end]]
        rest = alive[:end]
        if not rest.any():
            continue
        j = idx[rest]
        m = pick[rest]
        d = kp[j] - kp[m]
        e = (d[..., 0] ** 2 + d[..., 1] ** 2) / variances
        e /= (0.5 * (area[m] + area[j]) + EPS)[:, None]
        e /= 2
        oks = np.exp(-e).sum(axis=1) / e.shape[1]
        current[j] *= np.exp(-(oks**2) / SOFT_NMS_SIGMA)
    score[members] = current
    return score
