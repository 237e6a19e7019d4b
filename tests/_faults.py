"""Faults injected into real tables, for measuring the check rules (tests and the bench).

Each injector edits a copy of every eligible instance of a table once (one fault per
instance, seeded) and returns the edited rows and where each fault went, so a test can
count how many the matching rule finds (recall) and what else it reports.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import posetable as pt

Truth = list[tuple[int, int, int | None]]  # (row, instance, keypoint or None)
Edits = dict[int, dict[str, pt.Keypoints2DInstances]]


def _eligible(gt: pt.Keypoints2DInstances, min_points: int = 1) -> np.ndarray:
    vis = gt.keypoint_visibilities
    ok = (vis > 0).sum(axis=1) >= min_points if vis is not None else np.ones(len(gt), bool)
    crowd = gt.instance_extras.get("iscrowd")
    if crowd is not None:
        ok &= np.asarray(crowd) == 0
    return ok


def _scale(gt: pt.Keypoints2DInstances, i: int) -> float:
    b = gt.instance_bbs[i]
    return float(np.sqrt(max(b[2] - b[0], 1.0) * max(b[3] - b[1], 1.0)))


def _each(
    table: pt.Table,
    edit: Callable[[pt.Keypoints2DInstances, int, dict], int | bool | None],
    seed: int,
    min_points: int = 1,
) -> tuple[Edits, Truth]:
    rng = np.random.default_rng(seed)
    edits: Edits = {}
    truth: Truth = []
    for r, row in enumerate(table):
        gt = row["keypoints"].copy()
        changed = False
        for i in np.flatnonzero(_eligible(gt, min_points)).tolist():
            info = {"rng": rng, "row": row, "table": table}
            kp = edit(gt, i, info)
            if kp is False:
                continue
            changed = True
            truth.append((r, int(info.get("instance", i)), None if kp is True else kp))
            gt = info.get("gt", gt)
        if changed:
            edits[r] = {"keypoints": gt}
    return edits, truth


def _labeled(gt: pt.Keypoints2DInstances, i: int) -> np.ndarray:
    return np.flatnonzero(gt.keypoint_visibilities[i] > 0)


def swap_pair(gt: pt.Keypoints2DInstances, i: int, info: dict) -> int | bool:
    """Swap one left/right pair whose points are >= 0.1 box scales apart."""
    flips = np.asarray(info["table"].schema.flip_indices)
    vis = gt.keypoint_visibilities[i]
    pts = gt.keypoints[i]
    first = [
        a
        for a in np.flatnonzero(flips > np.arange(len(flips))).tolist()
        if vis[a] > 0
        and vis[flips[a]] > 0
        and np.hypot(*(pts[a] - pts[flips[a]])) >= 0.1 * _scale(gt, i)
    ]
    if not first:
        return False
    a = int(info["rng"].choice(first))
    b = int(flips[a])
    gt.keypoints[i, [a, b]] = gt.keypoints[i, [b, a]]
    gt.keypoint_visibilities[i, [a, b]] = gt.keypoint_visibilities[i, [b, a]]
    return a


def move_joint(gt: pt.Keypoints2DInstances, i: int, info: dict) -> int | bool:
    """Move one labeled point with a labeled skeleton neighbour by 0.6-1.2 box scales."""
    lines = info["table"].schema.lines
    vis = gt.keypoint_visibilities[i] > 0
    ends = sorted(
        {a for a, b in lines if vis[a] and vis[b]} | {b for a, b in lines if vis[a] and vis[b]}
    )
    if not ends:
        return False
    rng = info["rng"]
    j = int(rng.choice(ends))
    angle = rng.uniform(0, 2 * np.pi)
    step = rng.uniform(0.6, 1.2) * _scale(gt, i)
    w, h = info["row"]["width"], info["row"]["height"]
    x = np.clip(gt.keypoints[i, j, 0] + step * np.cos(angle), 0, w)
    y = np.clip(gt.keypoints[i, j, 1] + step * np.sin(angle), 0, h)
    gt.keypoints[i, j] = [x, y]
    return j


def duplicate(gt: pt.Keypoints2DInstances, i: int, info: dict) -> bool:
    """Append a copy of the instance, jittered by half a pixel."""
    copy = gt.select([i]).copy()
    copy.keypoints = copy.keypoints + info["rng"].uniform(-0.5, 0.5, copy.keypoints.shape)
    if "id" in copy.instance_extras:
        copy.instance_extras["id"] = np.asarray(copy.instance_extras["id"]) + 10_000_000
    combined = info.get("gt", gt).copy()
    combined._append(copy)
    info["gt"] = combined
    info["instance"] = len(combined) - 1
    return True


def outside(gt: pt.Keypoints2DInstances, i: int, info: dict) -> int:
    """Put one labeled point 5-50 px outside the image."""
    rng = info["rng"]
    j = int(rng.choice(_labeled(gt, i)))
    w, h = info["row"]["width"], info["row"]["height"]
    side = int(rng.integers(4))
    off = rng.uniform(5, 50)
    x, y = gt.keypoints[i, j]
    gt.keypoints[i, j] = [(-off, y), (w + off, y), (x, -off), (x, h + off)][side]
    return j


def wrong_count(gt: pt.Keypoints2DInstances, i: int, info: dict) -> bool | None:
    """Make ``num_keypoints`` disagree with the labeled points by 1-3."""
    if "num_keypoints" not in gt.instance_extras:
        return False
    n = int((gt.keypoint_visibilities[i] > 0).sum())
    delta = int(info["rng"].integers(1, 4))
    values = np.asarray(gt.instance_extras["num_keypoints"]).copy()
    values[i] = n + delta if n - delta < 0 or info["rng"].random() < 0.5 else n - delta
    gt.instance_extras["num_keypoints"] = values
    return True


def unlabeled_coordinates(gt: pt.Keypoints2DInstances, i: int, info: dict) -> int | bool:
    """Give one v=0 point coordinates inside the box."""
    free = np.flatnonzero(gt.keypoint_visibilities[i] == 0)
    if free.size == 0:
        return False
    rng = info["rng"]
    j = int(rng.choice(free))
    b = gt.instance_bbs[i]
    gt.keypoints[i, j] = [rng.uniform(b[0], b[2]) + 1, rng.uniform(b[1], b[3]) + 1]
    return j


def outside_box(gt: pt.Keypoints2DInstances, i: int, info: dict) -> int | bool:
    """Move one labeled point 0.6-1 box sides beyond the box (inside the image)."""
    rng = info["rng"]
    b = gt.instance_bbs[i]
    w, h = info["row"]["width"], info["row"]["height"]
    bw, bh = b[2] - b[0], b[3] - b[1]
    j = int(rng.choice(_labeled(gt, i)))
    options = [(b[0] - f * bw, None) for f in (0.6, 0.8, 1.0)]
    options += [(b[2] + f * bw, None) for f in (0.6, 0.8, 1.0)]
    options += [(None, b[1] - f * bh) for f in (0.6, 0.8, 1.0)]
    options += [(None, b[3] + f * bh) for f in (0.6, 0.8, 1.0)]
    inside = [
        (x, y) for x, y in options if (x is None or 0 <= x <= w) and (y is None or 0 <= y <= h)
    ]
    if not inside:
        return False
    x, y = inside[int(rng.integers(len(inside)))]
    if x is not None:
        gt.keypoints[i, j, 0] = x
    if y is not None:
        gt.keypoints[i, j, 1] = y
    return j


def degenerate(gt: pt.Keypoints2DInstances, i: int, info: dict) -> bool:
    """Give the box zero width."""
    b = gt.instance_bbs.copy()
    b[i, 2] = b[i, 0]
    gt.instance_bbs = b
    return True


def collapse(gt: pt.Keypoints2DInstances, i: int, info: dict) -> bool:
    """Put every labeled point at their centre, within 0.3 px."""
    lab = _labeled(gt, i)
    if lab.size < 3:
        return False
    centre = gt.keypoints[i, lab].mean(axis=0)
    gt.keypoints[i, lab] = centre + info["rng"].uniform(-0.3, 0.3, (lab.size, 2))
    return True


#: fault kind -> (injector, the rule that should find it, minimum labeled points)
FAULTS: dict[str, tuple[Callable, str, int]] = {
    "swapped pair": (swap_pair, "left_right_swap", 2),
    "moved joint": (move_joint, "bone_length_outlier", 2),
    "duplicated person": (duplicate, "duplicate_instance", 1),
    "point outside image": (outside, "outside_image", 1),
    "wrong num_keypoints": (wrong_count, "num_keypoints_mismatch", 1),
    "v=0 with coordinates": (unlabeled_coordinates, "unlabeled_with_coordinates", 1),
    "point outside box": (outside_box, "outside_box", 1),
    "zero-width box": (degenerate, "degenerate_box", 1),
    "collapsed points": (collapse, "collapsed_instance", 3),
}


def inject(table: pt.Table, kind: str, seed: int) -> tuple[pt.Table | None, Truth]:
    """A new table (derived from ``table``, which is left as it is) with fault ``kind`` in
    every eligible instance, and where the faults are."""
    edit, _, min_points = FAULTS[kind]
    if kind == "swapped pair" and table.schema.flip_indices is None:
        return None, []
    if kind == "moved joint" and not table.schema.lines:
        return None, []
    edits, truth = _each(table, edit, seed, min_points)
    if not edits:
        return None, []
    name = f"{table.name}-{kind.replace(' ', '-').replace('=', '')}-{seed}"
    return table.derive(name).with_rows(edits), truth


def found_at(findings, rule: str) -> set[tuple[int, int]]:
    """(row, instance) of the findings of ``rule``."""
    rows = findings.filter(
        __import__("pyarrow.compute", fromlist=["equal"]).equal(findings["rule"], rule)
    )
    return {(r["row"], r["instance"]) for r in rows.select(["row", "instance"]).to_pylist()}
