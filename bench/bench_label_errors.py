"""Precision and recall of the label-error finder on injected errors.

A real table (the COCO person excerpt in tests/data/coco_kpts) is tiled into a larger one
(each copy of each image shifted and scaled with a fixed seed, so every pose is a real
annotation). Known errors are injected into a copy of it (left/right swaps, dropped and added
instances, one keypoint moved); predictions are made from the CLEAN labels with noise; the
finder runs on the corrupted table and its top-k suspects of each kind (k = the number
injected) are scored against what was injected.

    python bench/bench_label_errors.py [--copies 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import posetable as pt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests._data import data_root  # noqa: E402  (the real test datasets, tests/data)

DATA = data_root() / "coco_kpts"


def tiled_rows(table: pt.Table, copies: int, rng: np.random.Generator) -> list[dict]:
    """Copies of every row with the image's instances shifted and scaled (real poses)."""
    rows = []
    base = list(table)
    for copy in range(copies):
        for r, row in enumerate(base):
            gt = row["keypoints"]
            scale = rng.uniform(0.8, 1.2)
            shift = rng.uniform(-20, 20, 2)
            moved = gt.copy()
            moved.keypoints = np.where(
                (gt.keypoint_visibilities > 0)[..., None],
                gt.keypoints * scale + shift,
                gt.keypoints,
            )
            moved.instance_bbs = gt.instance_bbs * scale + np.tile(shift, 2)
            moved.instance_extras["area"] = gt.instance_extras["area"] * scale**2
            moved.instance_extras["id"] = gt.instance_extras["id"] + 10_000_000 * copy
            rows.append(
                {
                    "image": row["image"],
                    "width": int(row["width"] * scale + 40),
                    "height": int(row["height"] * scale + 40),
                    "keypoints": moved,
                    "source_row": r,
                }
            )
    return rows


def predictions_from(
    rows: list[dict], rng: np.random.Generator, *, noise: float, miss: float, false_positives: float
) -> tuple[list[pt.Keypoints2DInstances], list[np.ndarray]]:
    """A simulated model: clean labels + Gaussian noise (``noise`` x box size), a few
    persons missed, a few low-scoring false positives, keypoint confidences lower where
    the label is not visible. Also returns, per row, the ground-truth index each prediction
    was made from (-1 for a false positive)."""
    out, origins = [], []
    for row in rows:
        gt = row["keypoints"]
        keep = ((gt.keypoint_visibilities > 0).any(axis=1)) & (gt.instance_extras["iscrowd"] == 0)
        chosen = gt.select(keep)
        n, k = len(chosen), chosen.num_keypoints
        size = np.maximum(chosen.instance_bbs[:, 2:] - chosen.instance_bbs[:, :2], 1.0)
        noisy = chosen.keypoints + rng.normal(0, noise, (n, k, 2)) * size[:, None, :]
        conf = rng.uniform(0.55, 1.0, (n, k)).astype(np.float32)
        hidden = chosen.keypoint_visibilities < 2
        conf[hidden] = rng.uniform(0.0, 0.6, int(hidden.sum()))
        scores = rng.uniform(0.6, 1.0, n)
        found = rng.uniform(size=n) >= miss
        noisy, conf, scores, labels = (
            noisy[found],
            conf[found],
            scores[found],
            chosen.instance_labels[found],
        )
        origin = np.flatnonzero(keep)[found]
        if rng.uniform() < false_positives and len(noisy):
            ghost = noisy[:1] + rng.uniform(-200, 200, 2)
            noisy = np.concatenate([noisy, ghost])
            conf = np.concatenate([conf, rng.uniform(0.0, 0.5, (1, k)).astype(np.float32)])
            scores = np.concatenate([scores, rng.uniform(0.05, 0.5, 1)])
            labels = np.concatenate([labels, labels[:1] if len(labels) else [0]])
            origin = np.concatenate([origin, [-1]])
        origins.append(origin)
        out.append(
            pt.Keypoints2DInstances(
                noisy,
                keypoint_confidences=conf,
                instance_labels=labels,
                instance_confidences=scores,
                image_width=row["width"],
                image_height=row["height"],
            )
        )
    return out, origins


def inject(
    rows: list[dict],
    origins: list[np.ndarray],
    flips: np.ndarray,
    rng: np.random.Generator,
    rate: float,
):
    """Corrupt rows in place; return the injected errors per kind."""
    truth: dict[str, set] = {
        k: set()
        for k in ("swap", "missing_annotation", "spurious_annotation", "misplaced_keypoint")
    }
    donors = [r["keypoints"] for r in rows]
    for r, row in enumerate(rows):
        gt = row["keypoints"]
        good = np.flatnonzero(
            (gt.instance_extras["iscrowd"] == 0) & ((gt.keypoint_visibilities > 0).sum(axis=1) >= 8)
        )
        roll = rng.uniform()
        if len(good) == 0:
            continue
        i = int(rng.choice(good))
        if roll < rate:  # left/right swap
            swapped = gt.copy()
            swapped.keypoints[i] = gt.keypoints[i][flips]
            swapped.keypoint_visibilities[i] = gt.keypoint_visibilities[i][flips]
            row["keypoints"] = swapped
            truth["swap"].add((r, i))
        elif roll < 2 * rate:  # dropped instance -> a missing annotation at prediction index
            keep = np.ones(len(gt), bool)
            keep[i] = False
            row["keypoints"] = gt.select(keep)
            made = np.flatnonzero(origins[r] == i)
            if len(made):  # a person the model also missed cannot be found
                truth["missing_annotation"].add((r, int(made[0])))
        elif roll < 3 * rate:  # added instance far from every person -> spurious
            donor = donors[int(rng.integers(len(donors)))]
            j = int(np.argmax((donor.keypoint_visibilities > 0).sum(axis=1)))
            ghost = donor.select([j]).copy()
            offset = np.array([row["width"], row["height"]]) * 3.0
            ghost.keypoints = ghost.keypoints + offset
            ghost.instance_bbs = ghost.instance_bbs + np.tile(offset, 2)
            ghost.instance_extras["iscrowd"][:] = 0
            combined = gt.copy()
            combined._append(ghost)
            row["keypoints"] = combined
            truth["spurious_annotation"].add((r, len(gt)))
        elif roll < 4 * rate:  # one keypoint moved by half the box
            moved = gt.copy()
            labeled = np.flatnonzero(gt.keypoint_visibilities[i] > 0)
            kp = int(rng.choice(labeled))
            box = gt.instance_bbs[i]
            moved.keypoints[i, kp] += [(box[2] - box[0]) * 0.6 + 10, (box[3] - box[1]) * 0.3]
            row["keypoints"] = moved
            truth["misplaced_keypoint"].add((r, i, kp))
    return truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rate", type=float, default=0.05, help="rate of each injected kind per row"
    )
    parser.add_argument("--noise", type=float, default=0.04, help="prediction noise, x box size")
    parser.add_argument("--miss", type=float, default=0.03, help="rate of persons the model misses")
    parser.add_argument(
        "--false-positives", type=float, default=0.1, help="rate of rows with a false positive"
    )
    args = parser.parse_args()
    if not DATA.exists():
        print(f"missing real data {DATA}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    store = tempfile.mkdtemp(prefix="posetable-bench-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = pt.Table.from_coco(
            DATA / "annotations.json", DATA / "images", name="real", store=store
        )
    schema = base.schema
    clean_rows = tiled_rows(base, args.copies, rng)
    clean = pt.Table.from_rows(
        clean_rows, name="clean", schema=schema, store=store, metadata=base.metadata
    )
    predictions, origins = predictions_from(
        clean_rows, rng, noise=args.noise, miss=args.miss, false_positives=args.false_positives
    )
    corrupted_rows = [dict(r) for r in clean_rows]
    truth = inject(corrupted_rows, origins, np.asarray(schema.flip_indices), rng, args.rate)
    corrupted = pt.Table.from_rows(
        corrupted_rows, name="clean", schema=schema, store=store, metadata=base.metadata
    )
    run = pt.Run.from_predictions(clean, predictions, name="model")
    start = time.perf_counter()
    suspects = pt.find_label_errors(corrupted, run)
    elapsed = time.perf_counter() - start
    n_inst = sum(len(r["keypoints"]) for r in corrupted_rows)
    print(
        f"model: noise {args.noise} x box, misses {args.miss:.0%} of persons, "
        f"false positives in {args.false_positives:.0%} of images"
    )
    print(
        f"table: {len(corrupted)} images, {n_inst} instances (tiled from {DATA.name}); "
        f"finder took {elapsed:.3f} s for {suspects.num_rows} suspects"
    )
    print(f"{'kind':22} {'injected':>8} {'top-k':>6} {'precision':>9} {'recall':>7}")
    records = suspects.to_pylist()
    ok = True
    for kind, injected in truth.items():
        of_kind = [s for s in records if s["kind"] == kind][: len(injected)]
        if kind == "missing_annotation":
            keys = {(s["row"], s["prediction"]) for s in of_kind}
        elif kind == "misplaced_keypoint":
            keys = {(s["row"], s["instance"], s["keypoint"]) for s in of_kind}
        else:
            keys = {(s["row"], s["instance"]) for s in of_kind}
        hits = len(keys & injected)
        precision = hits / len(of_kind) if of_kind else 0.0
        recall = hits / len(injected) if injected else 1.0
        print(f"{kind:22} {len(injected):>8} {len(of_kind):>6} {precision:>9.3f} {recall:>7.3f}")
        if kind in ("swap", "missing_annotation") and (precision < 0.9 or recall < 0.9):
            ok = False
    print(
        "goal (>= 0.9 precision and recall for swaps and missing annotations):",
        "met" if ok else "NOT met",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
