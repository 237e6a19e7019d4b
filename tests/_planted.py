"""Test helper: a table revision with label faults planted in several rows."""

from __future__ import annotations

import numpy as np

import posetable as pt


def planted(table: pt.Table) -> pt.Table:
    """A later revision with faults in several rows, each written by its own edit (so
    several rules fire, on rows in several fragments): a duplicated person, a point outside
    the image, a point moved far off (a bone outlier), a collapsed person, an unlabeled
    point with coordinates and a wrong ``num_keypoints``."""
    kinds = iter(("twin", "outside", "far", "collapse", "unlabeled", "count"))
    kind = next(kinds)
    for row in range(len(table)):
        gt = table[row]["keypoints"]
        vis = gt.keypoint_visibilities
        if len(gt) == 0 or vis is None or not (vis > 0).any():
            continue
        changed = gt.copy()
        i = int(np.argmax((vis > 0).sum(axis=1)))
        points = np.flatnonzero(vis[i] > 0)
        size = float(np.max(gt.instance_bbs[i, 2:] - gt.instance_bbs[i, :2]))
        if kind == "twin":
            twin = gt.select([i]).copy()
            twin.keypoints = twin.keypoints + 0.5
            changed._append(twin)
        elif kind == "outside":
            changed.keypoints[i, points[0]] = [-40.0, 3.0]
        elif kind == "far":
            changed.keypoints[i, points[-1]] += 4.0 * max(size, 10.0)
        elif kind == "collapse":
            if points.size < 3:
                continue
            changed.keypoints[i, points] = changed.keypoints[i, points[0]]
        elif kind == "unlabeled":
            hidden = np.flatnonzero(vis[i] == 0)
            if hidden.size == 0:
                continue
            changed.keypoints[i, hidden[0]] = [5.0, 6.0]
        elif "num_keypoints" in gt.instance_extras:
            counts = np.asarray(gt.instance_extras["num_keypoints"], np.float64).copy()
            counts[i] += 2
            changed.instance_extras["num_keypoints"] = counts
        table = table.with_rows({row: {"keypoints": changed}})  # one edit, one fragment
        kind = next(kinds, "")
        if not kind:
            break
    return table
