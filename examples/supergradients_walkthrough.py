"""SuperGradients YOLO-NAS-pose walk-through: table -> train -> validate -> run -> dashboard.

    python examples/supergradients_walkthrough.py --store ./posetable-data --steps 100
    posetable serve --store ./posetable-data

1. A table (the bundled COCO sample here; any table works).
2. SuperGradients' pose dataset built from it (flips with the table's flip indices), its
   YOLO-NAS-pose collate function, and the YOLO-NAS-pose loss with the table's OKS sigmas.
3. A YOLO-NAS-pose-n model built without pretrained weights, trained a few steps.
4. ``validate``: predictions of every image become a run (posetable's metrics, table sigmas).
5. The dashboard (``posetable serve``) shows the run.

Needs SuperGradients installed as the README's "SuperGradients" section says.
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings

import posetable as pt
from posetable.sample import sample_table


def main(argv: list[str] | None = None) -> pt.Run:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="posetable-data")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--run-name", default="yolo-nas-pose-n")
    parser.add_argument("--serve", action="store_true", help="start the dashboard at the end")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("supergradients_walkthrough")
    os.environ.setdefault("SUPER_GRADIENTS_LOG_DIR", os.path.join(args.store, "sg_logs"))
    os.environ.setdefault("CRASH_HANDLER", "FALSE")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SuperGradients 3.7.1 warns about deprecated APIs
        import torch
        from super_gradients.training import models
    from torch.utils.data import DataLoader

    from posetable.integrations.supergradients import (
        collate_fn,
        pose_estimation_dataset,
        validate,
        yolo_nas_pose_loss,
    )

    table = sample_table(store=args.store)  # 1. a table
    k = table.schema.num_keypoints
    dataset = pose_estimation_dataset(table, image_size=args.image_size, train=True)  # 2.
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, collate_fn=collate_fn())
    loss_fn = yolo_nas_pose_loss(table)
    model = models.get("yolo_nas_pose_n", num_classes=k)  # 3. no pretrained weights
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    step = 0
    while step < args.steps:
        for images, targets, _ in loader:
            loss = loss_fn(model(images), targets)[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            log.info("step %d loss %.4f", step, loss.item())
            if step >= args.steps:
                break
    run = validate(model, table, run_name=args.run_name, image_size=args.image_size)  # 4.
    log.info(
        "run %s on %s: AP %.4f (the table's sigmas)", run.name, run.table_ref, run.metrics["ap"]
    )
    if args.serve:  # 5. the dashboard
        from posetable.cli import main as cli

        cli(["serve", "--store", args.store])
    else:
        log.info("look at it: posetable serve --store %s", args.store)
    return run


if __name__ == "__main__":
    main()
