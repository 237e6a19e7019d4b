"""Rules on single points and boxes: counts, unlabeled coordinates, image and box bounds.

Each rule is a few whole-table numpy comparisons over (N, K) arrays; the messages of the
findings are formatted one by one, only for the findings asked for.
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
    field_at, counts_at = gt.num_keypoints[at], counts[at]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"num_keypoints is {int(n)} but {int(c)} points are labeled (v > 0); pycocotools "
            "trusts the field" + (", so this instance is ignored" if n == 0 else "")
            for n, c in zip(field_at[sel].tolist(), counts_at[sel].tolist(), strict=True)
        ]

    return [found("num_keypoints_mismatch", "error", at, None, gt.num_keypoints[at], messages)]


def unlabeled_with_coordinates(ctx: Context) -> list[Found]:
    """A point with v = 0 (not labeled) whose x or y is not 0."""
    gt = ctx.gt
    x, y = gt.keypoints[..., 0], gt.keypoints[..., 1]
    odd = gt.has_visibility[:, None] & (gt.visibility == 0) & ((x != 0) | (y != 0))
    at, kp = np.nonzero(odd)
    names = ctx.names
    xs, ys = x[at, kp], y[at, kp]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"{names[j]} is not labeled (v=0) but has coordinates ({a:g}, {b:g}); "
            "labeled points need v=1 or v=2, unlabeled ones are usually (0, 0)"
            for j, a, b in zip(kp[sel].tolist(), xs[sel].tolist(), ys[sel].tolist(), strict=True)
        ]

    value = np.hypot(xs, ys)
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
    xs, ys, widths, heights = x[at, kp], y[at, kp], gt.width[at], gt.height[at]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"{names[j]} at ({a:g}, {b:g}) lies outside the {w:g}x{h:g} image"
            for j, a, b, w, h in zip(
                kp[sel].tolist(),
                xs[sel].tolist(),
                ys[sel].tolist(),
                widths[sel].tolist(),
                heights[sel].tolist(),
                strict=True,
            )
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
    xs, ys, rels, boxes = x[at, kp], y[at, kp], rel[at, kp], b[at]

    def messages(sel: np.ndarray) -> list[str]:
        return [
            f"{names[j]} at ({px:g}, {py:g}) lies {r:.2f} box sides outside its box "
            f"[{q[0]:g}, {q[1]:g}, {q[2]:g}, {q[3]:g}] (xyxy)"
            for j, px, py, r, q in zip(
                kp[sel].tolist(),
                xs[sel].tolist(),
                ys[sel].tolist(),
                rels[sel].tolist(),
                boxes[sel].tolist(),
                strict=True,
            )
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
    kept = {
        "flat": flat[at],
        "box": gt.box[at],
        "w": w[at],
        "h": h[at],
        "given": gt.box_given[at],
        "area": gt.area[at],
        "counts": gt.counts[at],
    }

    def messages(sel: np.ndarray) -> list[str]:
        out = []
        for i in sel.tolist():
            box = kept["box"][i]
            if kept["flat"][i]:
                out.append(
                    f"the box [{box[0]:g}, {box[1]:g}, {box[2]:g}, {box[3]:g}] (xyxy) has width "
                    f"{kept['w'][i]:g} and height {kept['h'][i]:g}"
                    + ("; it was made from the labeled points" if not kept["given"][i] else "")
                )
            else:
                out.append(
                    f"area is {kept['area'][i]:g} for {int(kept['counts'][i])} labeled points; "
                    "OKS divides by the area, so no prediction can match this instance"
                )
        return out

    value = np.where(flat[at], w[at] * h[at], gt.area[at])
    return [found("degenerate_box", "error", at, None, value, messages)]
