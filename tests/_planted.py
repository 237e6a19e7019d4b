"""Test helpers: tables with label faults planted in them."""

from __future__ import annotations

import numpy as np

import posetable as pt
from posetable.sample import sample_table


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


def bone_outlier_table(store) -> pt.Table:
    """48 rows of jittered sample people (12 copies of the bundled sample), some with a
    point moved 150 px off: findings of ``bone_length_outlier`` whose statistics span the
    table."""
    sample = sample_table(store=store)
    rng = np.random.default_rng(4)
    rows = []
    for copy in range(12):
        for row in sample.rows(range(len(sample))):
            gt = row["keypoints"].copy()
            gt.keypoints = gt.keypoints + rng.normal(0, 2.0, gt.keypoints.shape)
            if copy % 5 == 1 and len(gt) and (gt.keypoint_visibilities[0] > 0).sum() > 3:
                labeled = np.flatnonzero(gt.keypoint_visibilities[0] > 0)
                gt.keypoints[0, labeled[copy % labeled.size]] += 150.0
            rows.append({"image": row["image"], "width": row["width"], "height": row["height"],
                         "keypoints": gt})  # fmt: skip
    table = pt.Table.from_rows(rows, name="many", schema=sample.schema, store=store)
    return table
