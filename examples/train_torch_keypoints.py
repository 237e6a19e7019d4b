"""Train a small custom keypoint model in plain PyTorch on a posetable table, write a run.

The model is a tiny single-stage (CenterNet-style) network: a heatmap of person centres, and
at each centre the K keypoint offsets, K keypoint confidences and the box size. It reads the
table through ``posetable.integrations.torch.KeypointsDataset`` (flips swap left and right
with the table's flip indices), and its decoded outputs go back through
``predictions_from_outputs`` into a run whose metrics use the table's OKS sigmas.

    python examples/train_torch_keypoints.py --store ./posetable-data --steps 200
    posetable serve --store ./posetable-data      # look at the run in the dashboard

Needs ``pip install "posetable[torch]"``. A few steps on the 4-image sample show the loop
works; they do not make a useful model.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

import posetable as pt
from posetable.integrations.torch import (
    KeypointsDataset,
    collate_keypoints,
    predictions_from_outputs,
)
from posetable.sample import sample_table

STRIDE = 4


class TinyPoseNet(nn.Module):
    """Centres, keypoint offsets, keypoint confidences and box sizes at stride 4."""

    def __init__(self, num_keypoints: int, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
            )

        self.body = nn.Sequential(
            block(3, width, 2),
            block(width, width, 2),
            block(width, 2 * width, 1),
            block(2 * width, 2 * width, 1),
        )
        self.k = num_keypoints
        self.head = nn.Conv2d(2 * width, 1 + 2 * num_keypoints + num_keypoints + 2, 1)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.head(self.body(images))
        k = self.k
        return {
            "center": out[:, :1],
            "offsets": out[:, 1 : 1 + 2 * k],
            "visibility": out[:, 1 + 2 * k : 1 + 3 * k],
            "size": out[:, 1 + 3 * k :],
        }


def loss_fn(outputs: dict[str, torch.Tensor], targets: list[dict], k: int) -> torch.Tensor:
    """Heatmap BCE at the centres, L1 on offsets of labeled points and on box sizes."""
    b, _, h, w = outputs["center"].shape
    heat = torch.zeros(b, 1, h, w)
    total = outputs["center"].new_zeros(())
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for i, target in enumerate(targets):
        keep = ~target["iscrowd"] & (target["visibility"] > 0).any(dim=1)
        boxes, kp, vis = (
            target["boxes"][keep],
            target["keypoints"][keep],
            target["visibility"][keep],
        )
        for box, points, v in zip(boxes, kp, vis, strict=True):
            cx, cy = (box[0] + box[2]) / 2 / STRIDE, (box[1] + box[3]) / 2 / STRIDE
            gx, gy = int(cx.clamp(0, w - 1)), int(cy.clamp(0, h - 1))
            heat[i, 0] = torch.maximum(
                heat[i, 0], torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 4)
            )
            offsets = outputs["offsets"][i, :, gy, gx].view(k, 2)
            labeled = v > 0
            want = (points - torch.stack([cx, cy]) * STRIDE) / STRIDE
            if labeled.any():
                total = total + F.l1_loss(offsets[labeled], want[labeled])
            total = total + F.binary_cross_entropy_with_logits(
                outputs["visibility"][i, :, gy, gx], labeled.float()
            )
            size = (box[2:] - box[:2]) / STRIDE
            total = total + 0.1 * F.l1_loss(outputs["size"][i, :, gy, gx], size)
    weight = 1 + 20 * heat
    return total + F.binary_cross_entropy_with_logits(outputs["center"], heat, weight=weight)


@torch.no_grad()
def decode(
    outputs: dict[str, torch.Tensor], k: int, top: int = 20
) -> list[dict[str, torch.Tensor]]:
    """Peaks of the centre heatmap -> instances in the input image's pixels."""
    heat = outputs["center"].sigmoid()
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
    b, _, h, w = heat.shape
    decoded = []
    for i in range(b):
        scores, flat = peaks[i, 0].flatten().topk(min(top, h * w))
        gy, gx = flat // w, flat % w
        centre = torch.stack([gx, gy], dim=1).float()
        offsets = outputs["offsets"][i, :, gy, gx].T.reshape(-1, k, 2)
        keypoints = (centre[:, None] + offsets) * STRIDE
        size = outputs["size"][i, :, gy, gx].T.clamp(min=0) * STRIDE
        boxes = torch.cat([centre * STRIDE - size / 2, centre * STRIDE + size / 2], dim=1)
        decoded.append(
            {
                "keypoints": keypoints,
                "keypoint_scores": outputs["visibility"][i, :, gy, gx].T.sigmoid(),
                "scores": scores,
                "boxes": boxes,
            }
        )
    return decoded


def main(argv: list[str] | None = None) -> pt.Run:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="posetable-data", help="posetable store directory")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--run-name", default="tiny-centernet")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("train_torch_keypoints")
    torch.manual_seed(0)

    table = sample_table(store=args.store)  # the bundled COCO sample as a table
    k = table.schema.num_keypoints
    train_set = KeypointsDataset(table, flip_probability=0.5, image_size=args.image_size)
    loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, collate_fn=collate_keypoints
    )
    model = TinyPoseNet(k)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    step = 0
    while step < args.steps:
        for images, targets in loader:
            loss = loss_fn(model(images), targets, k)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 10 == 0 or step == args.steps:
                log.info("step %d loss %.4f", step, loss.item())
            if step >= args.steps:
                break

    model.eval()
    val_set = KeypointsDataset(table, image_size=args.image_size)  # no flips for evaluation
    predictions: dict[int, pt.Keypoints2DInstances] = {}
    for images, targets in DataLoader(val_set, batch_size=4, collate_fn=collate_keypoints):
        predictions_from_outputs(decode(model(images), k), targets, into=predictions)
    run = pt.Run.from_predictions(
        table,
        predictions,
        name=args.run_name,
        model_info={"model": "TinyPoseNet", "framework": "torch", "steps": args.steps},
    )
    log.info(
        "run %s on %s: AP %.4f (sigmas: the table's)", run.name, run.table_ref, run.metrics["ap"]
    )
    log.info("look at it: posetable serve --store %s", Path(args.store))
    return run


if __name__ == "__main__":
    main()
