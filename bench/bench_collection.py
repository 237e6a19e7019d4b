"""Time per epoch of YOLO-pose training with and without 3LC per-sample collection.

On the bundled sample (``posetable.sample.sample_table``), CPU, yolo11n-pose from its YAML,
tiny ``imgsz``: the same training once with ``collection_disable=True`` and once collecting
after every epoch (train and val streams: predictions, metrics, per-image losses, 2-D PCA
embeddings), after one untimed warm-up training. An epoch is timed from Ultralytics'
``on_train_epoch_start`` to ``on_fit_epoch_end`` (training, validation and, when on, the
collection passes); the median epoch of each is printed, then the ratio, and the whole
``train`` call (which adds the final collection after training).
Run: ``python bench/bench_collection.py [--imgsz 64] [--epochs 4]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--imgsz", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["POSETABLE_HOME"] = tempfile.mkdtemp(prefix="bench-collection-")
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False})
    import posetable.sample
    from posetable.errors import PosetableWarning
    from posetable.tlc_ultralytics import YOLO, Settings

    warnings.simplefilter("ignore", PosetableWarning)
    table = posetable.sample.sample_table()
    common = {
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": 4,
        "workers": 0,
        "device": "cpu",
        "verbose": False,
        "val": True,
    }
    off = Settings(project_name="bench", run_name="warmup", collection_disable=True)
    YOLO("yolo11n-pose.yaml").train(
        tables={"train": table, "val": table}, settings=off, **{**common, "epochs": 1}
    )
    variants = {
        "without": {"collection_disable": True},
        "with": {
            "collect_loss": True,
            "image_embeddings_dim": 2,
            "image_embeddings_reducer": "pca",
            "collection_epoch_start": 1,
        },
    }
    epochs: dict[str, list[float]] = {label: [] for label in variants}
    totals: dict[str, list[float]] = {label: [] for label in variants}
    for repeat in range(args.repeats):  # alternate, so machine load hits both alike
        for label, options in variants.items():
            settings = Settings(project_name="bench", run_name=f"{label}-{repeat}", **options)
            totals[label].append(_timed_training(YOLO, settings, table, common, epochs[label]))
    timings = {label: statistics.median(values) for label, values in epochs.items()}
    whole = {label: statistics.median(values) for label, values in totals.items()}
    print(f"rows: {len(table)}, imgsz {args.imgsz}, {args.epochs} epochs x {args.repeats}, CPU")
    print(f"median epoch without collection: {timings['without']:.3f} s")
    print(f"median epoch with collection:    {timings['with']:.3f} s")
    print(f"ratio per epoch with / without:  {timings['with'] / timings['without']:.2f}")
    print(
        f"whole train() without / with: {whole['without']:.2f} s / {whole['with']:.2f} s "
        f"(ratio {whole['with'] / whole['without']:.2f})"
    )


def _timed_training(
    yolo: Any, settings: Any, table: Any, common: dict[str, Any], epochs: list[float]
) -> float:
    """Train once; append each epoch's seconds to ``epochs``; return the whole call's."""
    model = yolo("yolo11n-pose.yaml")
    starts: list[float] = []
    ends: list[float] = []
    model.add_callback("on_train_epoch_start", lambda _t: starts.append(time.perf_counter()))
    model.add_callback("on_fit_epoch_end", lambda _t: ends.append(time.perf_counter()))
    start = time.perf_counter()
    model.train(tables={"train": table, "val": table}, settings=settings, **common)
    # final_eval fires on_fit_epoch_end once more: only the training epochs are kept
    epochs.extend(end - begin for begin, end in zip(starts, ends, strict=False))
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
