"""Ultralytics YOLO-pose walk-through: table -> train -> validate -> run -> dashboard.

    python examples/ultralytics_walkthrough.py --store ./posetable-data            # bundled sample
    python examples/ultralytics_walkthrough.py --data coco8-pose.yaml --epochs 50  # your data
    posetable serve --store ./posetable-data                                        # look at it

1. Tables: a YOLO-pose ``data.yaml`` (its train and val splits) or, by default, the bundled
   COCO sample (as both: only to show the steps).
2. ``train``: Ultralytics' trainer reads the tables directly; the table's K, flip indices,
   names and OKS sigmas become ``kpt_shape``, ``flip_idx``, ``kpt_names`` and
   ``kpt_oks_sigmas``.
3. ``validate``: every image's predictions become a run on the exact validation revision,
   scored by posetable with the table's sigmas, Ultralytics' own mAP kept beside it.
4. The dashboard (``posetable serve``) lists the run with its per-image metrics.

Offline: this script sets ``YOLO_OFFLINE=1`` and turns Ultralytics' settings sync off before
importing it. Needs ``pip install "posetable[ultralytics]"`` (and ``[dashboard]`` to serve).
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from pathlib import Path

import posetable as pt
from posetable.errors import PosetableWarning
from posetable.sample import sample_table


def tables(data: str | None, store: str) -> tuple[pt.Table, pt.Table]:
    """The train and val tables: a YOLO-pose data.yaml's splits, or the bundled sample."""
    if data is None:
        table = sample_table(store=store)
        return table, table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        train = pt.Table.from_yolo(
            data, split="train", name=f"{Path(data).stem}-train", store=store
        )
        val = pt.Table.from_yolo(data, split="val", name=f"{Path(data).stem}-val", store=store)
    return train, val


def main(argv: list[str] | None = None) -> pt.Run:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="posetable-data")
    parser.add_argument("--data", default=None, help="a YOLO-pose data.yaml (default: the sample)")
    parser.add_argument("--model", default="yolo11n-pose.yaml", help=".yaml (scratch) or .pt")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--run-name", default=None)
    parser.add_argument("--serve", action="store_true", help="start the dashboard at the end")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("ultralytics_walkthrough")

    os.environ.setdefault("YOLO_OFFLINE", "1")  # before ultralytics is imported
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False})
    from posetable.integrations.ultralytics import train, validate

    train_table, val_table = tables(args.data, args.store)  # 1. tables
    log.info(
        "train %s, val %s (K=%d)", train_table.ref, val_table.ref, train_table.schema.num_keypoints
    )
    model = train(  # 2. train on the tables
        args.model,
        train_table,
        val_table,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=0,
        verbose=False,
    )
    run = validate(  # 3. predictions -> a run on the exact revision
        model,
        val_table,
        run_name=args.run_name,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
    )
    theirs = run.model_info["ultralytics_metrics"].get("pose_map50_95", float("nan"))
    log.info(
        "run %s on %s: AP %.4f with the table's sigmas (Ultralytics' own pose mAP50-95 %.4f)",
        run.name,
        run.table_ref,
        run.metrics["ap"],
        theirs,
    )
    worst = run.per_sample.sort_by("row").slice(0, 3).to_pylist()
    log.info("per-image metrics, first rows: %s", worst)
    if args.serve:  # 4. the dashboard
        from posetable.cli import main as cli

        cli(["serve", "--store", args.store])
    else:
        log.info("look at it: posetable serve --store %s", args.store)
    return run


if __name__ == "__main__":
    main()
