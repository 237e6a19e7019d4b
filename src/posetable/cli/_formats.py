"""``posetable import coco|yolo|dlc`` and ``posetable export coco|yolo|dlc``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from posetable.cli import _formats_labeling as _labeling
from posetable.cli import _formats_video as _video
from posetable.cli import add_store_argument


def register(sub: Any) -> None:
    """Add the import and export commands."""
    importer = sub.add_parser("import", help="import a COCO keypoints file or a YOLO-pose dataset")
    kinds = importer.add_subparsers(dest="format", metavar="FORMAT", required=True)
    coco = kinds.add_parser("coco", help="a COCO keypoints JSON (one row per image)")
    coco.add_argument("file", help="the COCO keypoints JSON")
    coco.add_argument("--images", metavar="DIR", help="the folder images[].file_name is under")
    coco.add_argument("--name", required=True, help="the table name")
    coco.add_argument("--category", help="the keypoint category (name or id) to import")
    coco.add_argument(
        "--missing-images",
        choices=("error", "warn", "skip"),
        default="error",
        help="what to do about image files that do not exist (default: error)",
    )
    coco.add_argument(
        "--merge-parts",
        action="store_true",
        help="COCO-WholeBody: read foot_kpts, face_kpts, lefthand_kpts and righthand_kpts after "
        "the 17 body keypoints as one K=133 keypoint set (export writes the parts back)",
    )
    _if_exists(coco)
    _common(coco)
    coco.set_defaults(handler=_import_coco)
    yolo = kinds.add_parser("yolo", help="one split of an Ultralytics YOLO-pose dataset")
    yolo.add_argument("data_yaml", help="the dataset's data.yaml")
    yolo.add_argument("--split", default="train", help="train, val, test... (default: train)")
    yolo.add_argument("--name", required=True, help="the table name")
    _if_exists(yolo)
    _common(yolo)
    yolo.set_defaults(handler=_import_yolo)
    dlc = kinds.add_parser("dlc", help="DeepLabCut labeled data (project folder or CollectedData)")
    dlc.add_argument("path", help="the project folder, or a CollectedData_<scorer>.csv/.h5")
    dlc.add_argument("--name", required=True, help="the table name")
    dlc.add_argument("--config", help="the project's config.yaml (default: found beside it)")
    dlc.add_argument(
        "--image-size",
        nargs=2,
        type=int,
        metavar=("W", "H"),
        help="the size of frames whose image file is not at hand",
    )
    _if_exists(dlc)
    add_store_argument(dlc)
    dlc.set_defaults(handler=_import_dlc)
    _labeling.register_import(kinds, _if_exists, add_store_argument)
    _video.register_import(kinds, _if_exists, add_store_argument)

    exporter = sub.add_parser("export", help="write a table as COCO JSON or a YOLO-pose dataset")
    kinds = exporter.add_subparsers(dest="format", metavar="FORMAT", required=True)
    coco_out = kinds.add_parser("coco", help="a COCO keypoints JSON")
    coco_out.add_argument("table", help="table name, or name@REVISION")
    coco_out.add_argument("out", help="the JSON file to write")
    _common(coco_out)
    coco_out.set_defaults(handler=_export_coco)
    yolo_out = kinds.add_parser("yolo", help="an Ultralytics YOLO-pose dataset folder")
    yolo_out.add_argument("table", help="table name, or name@REVISION")
    yolo_out.add_argument("out", help="the dataset folder to write")
    yolo_out.add_argument(
        "--image-mode",
        choices=("symlink", "copy", "none"),
        default="symlink",
        help="link (default), copy or leave out the images",
    )
    yolo_out.add_argument("--split", help="the split to write (default: the imported one)")
    _common(yolo_out)
    yolo_out.set_defaults(handler=_export_yolo)
    dlc_out = kinds.add_parser("dlc", help="DeepLabCut labeled data (project folder or one file)")
    dlc_out.add_argument("table", help="table name, or name@REVISION")
    dlc_out.add_argument("out", help="the project folder (or a .csv/.h5 file) to write")
    dlc_out.add_argument("--scorer", help="the scorer (default: the imported one)")
    add_store_argument(dlc_out)
    dlc_out.set_defaults(handler=_export_dlc)
    _labeling.register_export(kinds, add_store_argument)
    _video.register_export(kinds, add_store_argument)


def _if_exists(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--if-exists",
        choices=("error", "new-revision"),
        default="error",
        help="when --name already holds a table: stop with an error naming it (default), or "
        "add the import as its next revision",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: on large inputs)"
    )


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.no_progress else None


def _with_notes(call: Callable[[], Any]) -> Any:
    """Run a library call, printing its warnings as notes on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    for warning in caught:
        print(f"posetable: note: {warning.message}", file=sys.stderr)
    return result


def _summary(table: Any) -> str:
    instances = table.sql("SELECT coalesce(sum(len(keypoints.instances)), 0) FROM t").column(0)
    return (
        f"{len(table)} images, {instances[0].as_py()} instances, K={table.schema.num_keypoints} "
        f"-> {table.ref} in {table.store.root}"
    )


def _import_coco(args: argparse.Namespace) -> int:
    from posetable.table import Table

    category: Any = args.category
    if category is not None and category.isdigit():
        category = int(category)
    table = _with_notes(
        lambda: Table.from_coco(
            args.file,
            args.images,
            name=args.name,
            store=args.store,
            category=category,
            missing_images=args.missing_images,
            progress=_progress(args),
            if_exists=args.if_exists.replace("-", "_"),
            merge_parts=args.merge_parts,
        )
    )
    print(f"imported {args.file}: {_summary(table)}")
    return 0


def _import_yolo(args: argparse.Namespace) -> int:
    from posetable.table import Table

    table = _with_notes(
        lambda: Table.from_yolo(
            args.data_yaml,
            split=args.split,
            name=args.name,
            store=args.store,
            progress=_progress(args),
            if_exists=args.if_exists.replace("-", "_"),
        )
    )
    print(f"imported {args.data_yaml} ({args.split}): {_summary(table)}")
    return 0


def _export_coco(args: argparse.Namespace) -> int:
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = _with_notes(lambda: table.export_coco(args.out, progress=_progress(args)))
    print(f"wrote {table.ref} as COCO keypoints JSON: {path}")
    return 0


def _export_yolo(args: argparse.Namespace) -> int:
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = _with_notes(
        lambda: table.export_yolo(
            args.out, image_mode=args.image_mode, split=args.split, progress=_progress(args)
        )
    )
    print(f"wrote {table.ref} as a YOLO-pose dataset: {path}")
    return 0


def _import_dlc(args: argparse.Namespace) -> int:
    from posetable.table import Table

    size = tuple(args.image_size) if args.image_size else None
    table = _with_notes(
        lambda: Table.from_dlc(
            args.path,
            name=args.name,
            store=args.store,
            config=args.config,
            image_size=size,
            if_exists=args.if_exists.replace("-", "_"),
        )
    )
    print(f"imported {args.path}: {_summary(table)}")
    return 0


def _export_dlc(args: argparse.Namespace) -> int:
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = _with_notes(lambda: table.export_dlc(args.out, scorer=args.scorer))
    print(f"wrote {table.ref} as DeepLabCut labeled data: {path}")
    return 0
