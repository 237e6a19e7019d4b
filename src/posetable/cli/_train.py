"""``posetable train ultralytics``: train a YOLO-pose model on tables, validate into a run."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from posetable.cli import add_store_argument
from posetable.errors import RunError


def register(sub: Any) -> None:
    """Add the training commands."""
    train = sub.add_parser("train", help="train a model on tables and validate it into a run")
    frameworks = train.add_subparsers(dest="framework", metavar="FRAMEWORK", required=True)
    ultra = frameworks.add_parser(
        "ultralytics",
        help='Ultralytics YOLO-pose (needs pip install "posetable[ultralytics]")',
        description=(
            "Train with Ultralytics on TRAIN, validate on VAL, and write the validation "
            "predictions as a run (metrics with VAL's sigmas)."
        ),
    )
    ultra.add_argument("--model", required=True, help="model .yaml (from scratch) or .pt weights")
    ultra.add_argument("--train", required=True, metavar="TABLE", help="training table[@REVISION]")
    ultra.add_argument("--val", required=True, metavar="TABLE", help="validation table[@REVISION]")
    ultra.add_argument("--epochs", type=int, default=None)
    ultra.add_argument("--imgsz", type=int, default=None)
    ultra.add_argument("--batch", type=int, default=None)
    ultra.add_argument("--device", default=None, help="cpu, 0, mps ... (one device)")
    ultra.add_argument("--run-name", default=None, help="name of the run written from validation")
    ultra.add_argument(
        "--loss-sigmas",
        default=None,
        metavar="S1,S2,...",
        help="K comma-separated OKS sigmas for the keypoint loss only (default: the table's)",
    )
    ultra.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="options",
        help="any other Ultralytics train argument, e.g. --set lr0=0.01 (repeatable)",
    )
    add_store_argument(ultra)
    ultra.set_defaults(handler=_ultralytics)


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["lr0=0.01", "mosaic=0"]`` -> ``{"lr0": 0.01, "mosaic": 0}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunError(f"--set takes KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _ultralytics(args: argparse.Namespace) -> int:
    from posetable.integrations.ultralytics import train_and_validate
    from posetable.table import Table

    options = parse_options(args.options)
    for name in ("epochs", "imgsz", "batch", "device"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    sigmas = None
    if args.loss_sigmas is not None:
        try:
            sigmas = [float(v) for v in args.loss_sigmas.split(",")]
        except ValueError as exc:
            raise RunError(
                f"--loss-sigmas takes comma-separated numbers, got {args.loss_sigmas!r}"
            ) from exc
    train_table = Table.open(args.train, store=args.store)
    val_table = Table.open(args.val, store=args.store)
    model, run = train_and_validate(
        args.model, train_table, val_table, run_name=args.run_name, loss_sigmas=sigmas, **options
    )
    print(f"trained {model.overrides.get('model')} on {train_table.ref}")
    print(f"run {run.name} on {run.table_ref}:")
    for key, value in run.metrics.items():
        print(f"  {key:10} {value:.4f}")
    theirs = run.model_info.get("ultralytics_metrics", {})
    if "pose_map50_95" in theirs:
        print(f"  (Ultralytics' own pose mAP50-95: {theirs['pose_map50_95']:.4f})")
    return 0
