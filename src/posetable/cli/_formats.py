"""``posetable import coco|yolo|dlc`` and ``posetable export coco|yolo|dlc``."""

from __future__ import annotations

import argparse
from typing import Any

from posetable.cli import _formats_labeling as _labeling
from posetable.cli import _formats_video as _video
from posetable.cli._format_commands import (
    add_missing_images,
    add_name,
    export_parser,
    finish_export,
    finish_import,
    image_size,
    import_parser,
    progress,
    run_export,
    run_import,
)


def register(sub: Any) -> None:
    """Add the import and export commands."""
    importer = sub.add_parser("import", help="import a COCO keypoints file or a YOLO-pose dataset")
    kinds = importer.add_subparsers(dest="format", metavar="FORMAT", required=True)
    coco = kinds.add_parser("coco", help="a COCO keypoints JSON (one row per image)")
    coco.add_argument("file", help="the COCO keypoints JSON")
    coco.add_argument("--images", metavar="DIR", help="the folder images[].file_name is under")
    add_name(coco)
    coco.add_argument("--category", help="the keypoint category (name or id) to import")
    add_missing_images(coco)
    coco.add_argument(
        "--merge-parts",
        action="store_true",
        help="COCO-WholeBody: read foot_kpts, face_kpts, lefthand_kpts and righthand_kpts after "
        "the 17 body keypoints as one K=133 keypoint set (export writes the parts back)",
    )
    finish_import(coco, _import_coco, progress=True)
    yolo = kinds.add_parser("yolo", help="one split of an Ultralytics YOLO-pose dataset")
    yolo.add_argument("data_yaml", help="the dataset's data.yaml")
    yolo.add_argument("--split", default="train", help="train, val, test... (default: train)")
    add_name(yolo)
    finish_import(yolo, _import_yolo, progress=True)
    dlc = import_parser(
        kinds,
        "dlc",
        "DeepLabCut labeled data (project folder or CollectedData)",
        source="path",
        source_help="the project folder, or a CollectedData_<scorer>.csv/.h5",
    )
    dlc.add_argument("--config", help="the project's config.yaml (default: found beside it)")
    finish_import(dlc, _import_dlc, image_size="frames whose image file is not at hand")
    _labeling.register_import(kinds)
    _video.register_import(kinds)

    exporter = sub.add_parser("export", help="write a table as COCO JSON or a YOLO-pose dataset")
    kinds = exporter.add_subparsers(dest="format", metavar="FORMAT", required=True)
    coco_out = export_parser(kinds, "coco", "a COCO keypoints JSON", out="the JSON file to write")
    finish_export(coco_out, _export_coco, progress=True)
    yolo_out = export_parser(
        kinds, "yolo", "an Ultralytics YOLO-pose dataset folder", out="the dataset folder to write"
    )
    yolo_out.add_argument(
        "--image-mode",
        choices=("symlink", "copy", "none"),
        default="symlink",
        help="link (default), copy or leave out the images",
    )
    yolo_out.add_argument("--split", help="the split to write (default: the imported one)")
    finish_export(yolo_out, _export_yolo, progress=True)
    dlc_out = export_parser(
        kinds,
        "dlc",
        "DeepLabCut labeled data (project folder or one file)",
        out="the project folder (or a .csv/.h5 file) to write",
    )
    dlc_out.add_argument("--scorer", help="the scorer (default: the imported one)")
    finish_export(dlc_out, _export_dlc)
    _labeling.register_export(kinds)
    _video.register_export(kinds)


def _import_coco(args: argparse.Namespace) -> int:
    from posetable.table import Table

    category: Any = args.category
    if category is not None and category.isdigit():
        category = int(category)
    return run_import(
        args,
        Table.from_coco,
        args.file,
        image_folder=args.images,
        category=category,
        missing_images=args.missing_images,
        progress=progress(args),
        merge_parts=args.merge_parts,
    )


def _import_yolo(args: argparse.Namespace) -> int:
    from posetable.table import Table

    return run_import(
        args,
        Table.from_yolo,
        args.data_yaml,
        shown=f"{args.data_yaml} ({args.split})",
        split=args.split,
        progress=progress(args),
    )


def _import_dlc(args: argparse.Namespace) -> int:
    from posetable.table import Table

    return run_import(
        args, Table.from_dlc, args.path, config=args.config, image_size=image_size(args)
    )


def _export_coco(args: argparse.Namespace) -> int:
    return run_export(
        args,
        "COCO keypoints JSON",
        lambda table: table.export_coco(args.out, progress=progress(args)),
    )


def _export_yolo(args: argparse.Namespace) -> int:
    return run_export(
        args,
        "a YOLO-pose dataset",
        lambda table: table.export_yolo(
            args.out, image_mode=args.image_mode, split=args.split, progress=progress(args)
        ),
    )


def _export_dlc(args: argparse.Namespace) -> int:
    return run_export(
        args,
        "DeepLabCut labeled data",
        lambda table: table.export_dlc(args.out, scorer=args.scorer),
    )
