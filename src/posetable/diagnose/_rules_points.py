"""Rules on single points and boxes: counts, unlabeled coordinates, image and box bounds.

Each rule is a few whole-table numpy comparisons over (N, K) arrays; only the messages of
the findings are formatted one by one.
"""

from __future__ import annotations

import numpy as np

from posetable.diagnose._context import Context
from posetable.diagnose._found import Found, found

#: a visible point (v=2) further outside its box than this fraction of the box side is
#: reported; an occluded one (v=1, guessed, often outside a box of the visible body) only
#: past ``OUTSIDE_BOX_MARGIN_OCCLUDED``
OUTSIDE_BOX_MARGIN = 0.25
OUTSIDE_BOX_MARGIN_OCCLUDED = 0.5


def num_keypoints_mismatch(ctx: Context) -> list[Found]:
    """The ``num_keypoints`` field differs from the count of points with v > 0.

    pycocotools trusts the field (it decides which ground truth is ignored), so a wrong
    count silently changes AP.
    """
    gt = ctx.gt
    given = ~np.isnan(gt.num_keypoints)
    counts = gt.counts
    at = np.flatnonzero(given & (gt.num_keypoints != counts))
    messages = [
        f"num_keypoints is {int(gt.num_keypoints[i])} but {int(counts[i])} points are labeled "
        f"(v > 0); pycocotools trusts the field"
        + (", so this instance is ignored" if gt.num_keypoints[i] == 0 else "")
        for i in at.tolist()
    ]
    return [found("num_keypoints_mismatch", "error", at, None, gt.num_keypoints[at], messages)]


def unlabeled_with_coordinates(ctx: Context) -> list[Found]:
    """A point with v = 0 (not labeled) whose x or y is not 0."""
    gt = ctx.gt
    x, y = gt.keypoints[..., 0], gt.keypoints[..., 1]
    odd = gt.has_visibility[:, None] & (gt.visibility == 0) & ((x != 0) | (y != 0))
    at, kp = np.nonzero(odd)
    names = ctx.names
    messages = [
        f"{names[j]} is not labeled (v=0) but has coordinates ({x[i, j]:g}, {y[i, j]:g}); "
        "labeled points need v=1 or v=2, unlabeled ones are usually (0, 0)"
        for i, j in zip(at.tolist(), kp.tolist(), strict=True)
    ]
    value = np.hypot(x[at, kp], y[at, kp])
    return [found("unlabeled_with_coordinates", "warning", at, kp, value, messages)]


def outside_image(ctx: Context) -> list[Found]:
    """A labeled point outside [0, width] x [0, height] of its image."""
    gt = ctx.gt
    x, y = gt.keypoints[..., 0], gt.keypoints[..., 1]
    w, h = gt.width[:, None], gt.height[:, None]
    known = ~np.isnan(gt.width) & ~np.isnan(gt.height)
    with np.errstate(invalid="ignore"):
        dx = np.maximum(np.maximum(-x, x - w), 0.0)
        dy = np.maximum(np.maximum(-y, y - h), 0.0)
    out = gt.labeled & known[:, None] & ((dx > 0) | (dy > 0))
    at, kp = np.nonzero(out)
    names = ctx.names
    messages = [
        f"{names[j]} at ({x[i, j]:g}, {y[i, j]:g}) lies outside the "
        f"{gt.width[i]:g}x{gt.height[i]:g} image"
        for i, j in zip(at.tolist(), kp.tolist(), strict=True)
    ]
    return [found("outside_image", "error", at, kp, np.hypot(dx[at, kp], dy[at, kp]), messages)]


def outside_box(ctx: Context) -> list[Found]:
    """A labeled point outside its box by more than ``OUTSIDE_BOX_MARGIN`` of the box side
    (``OUTSIDE_BOX_MARGIN_OCCLUDED`` for an occluded point, v=1).

    The value is the distance outside, in box sides (the larger of the x and y parts).
    Boxes the import derived from the points, crowd regions and degenerate boxes are left
    to other rules.
    """
    gt = ctx.gt
    size = gt.box_size
    usable = gt.box_given & ~gt.iscrowd & (size[:, 0] > 0) & (size[:, 1] > 0)
    x, y = gt.keypoints[..., 0], gt.keypoints[..., 1]
    b = gt.box
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = np.maximum(np.maximum(b[:, :1] - x, x - b[:, 2:3]), 0.0) / size[:, :1]
        dy = np.maximum(np.maximum(b[:, 1:2] - y, y - b[:, 3:4]), 0.0) / size[:, 1:]
    rel = np.maximum(dx, dy)
    margin = np.where(gt.visibility == 1, OUTSIDE_BOX_MARGIN_OCCLUDED, OUTSIDE_BOX_MARGIN)
    out = gt.labeled & usable[:, None] & (rel > margin)
    at, kp = np.nonzero(out)
    names = ctx.names
    messages = [
        f"{names[j]} at ({x[i, j]:g}, {y[i, j]:g}) lies {rel[i, j]:.2f} box sides outside its "
        f"box [{b[i, 0]:g}, {b[i, 1]:g}, {b[i, 2]:g}, {b[i, 3]:g}] (xyxy)"
        for i, j in zip(at.tolist(), kp.tolist(), strict=True)
    ]
    return [found("outside_box", "warning", at, kp, rel[at, kp], messages)]


def degenerate_box(ctx: Context) -> list[Found]:
    """A box of zero or negative width or height, or labeled points with an area <= 0.

    OKS divides by the area: an instance with labeled points and no area cannot be matched.
    The value is the box area (w*h), or the given area.
    """
    gt = ctx.gt
    w, h = gt.box_size[:, 0], gt.box_size[:, 1]
    flat = (w <= 0) | (h <= 0)
    no_area = ~flat & (gt.counts > 0) & gt.area_given & (gt.area <= 0)
    at = np.flatnonzero(flat | no_area)
    messages = []
    for i in at.tolist():
        if flat[i]:
            messages.append(
                f"the box [{gt.box[i, 0]:g}, {gt.box[i, 1]:g}, {gt.box[i, 2]:g}, "
                f"{gt.box[i, 3]:g}] (xyxy) has width {w[i]:g} and height {h[i]:g}"
                + ("; it was made from the labeled points" if not gt.box_given[i] else "")
            )
        else:
            messages.append(
                f"area is {gt.area[i]:g} for {int(gt.counts[i])} labeled points; OKS divides "
                "by the area, so no prediction can match this instance"
            )
    value = np.where(flat[at], w[at] * h[at], gt.area[at])
    return [found("degenerate_box", "error", at, None, value, messages)]
