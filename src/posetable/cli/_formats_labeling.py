"""``posetable import|export`` for Label Studio, CVAT and Ultralytics NDJSON.

Registered by :mod:`posetable.cli._formats`.
"""

from __future__ import annotations

import argparse
from typing import Any

from posetable.cli._format_commands import (
    export_parser,
    finish_export,
    finish_import,
    image_size,
    import_parser,
    run_export,
    run_import,
)

_NO_SIZE = "images the file gives none for and that are not at hand"


def register_import(kinds: Any) -> None:
    """Add this module's ``posetable import <format>`` subcommands to ``kinds``."""
    ls = import_parser(
        kinds,
        "label-studio",
        "a Label Studio JSON export with KeyPointLabels",
        source="file",
        source_help="the JSON export (a list of tasks)",
    )
    ls.add_argument("--label-config", metavar="XML", help="the project's labeling config")
    ls.add_argument(
        "--keypoint-names",
        metavar="NAMES",
        help="the keypoints in order, comma-separated (default: from the config or the file)",
    )
    ls.add_argument("--images", metavar="DIR", help="a folder holding the images by base name")
    finish_import(ls, _import_label_studio, image_size=_NO_SIZE)

    cvat = import_parser(
        kinds,
        "cvat",
        "a CVAT for images 1.1 XML file with skeletons",
        source="file",
        source_help="the annotations.xml",
    )
    cvat.add_argument("--label", help="the skeleton (or points) label to read")
    cvat.add_argument("--images", metavar="DIR", help="the folder the image names are under")
    finish_import(cvat, _import_cvat)

    nd = import_parser(
        kinds,
        "ndjson",
        "an Ultralytics NDJSON pose dataset (Platform export)",
        source="file",
        source_help="the .ndjson file",
    )
    nd.add_argument("--images", metavar="DIR", help="a folder holding the images by file name")
    finish_import(nd, _import_ndjson, image_size=_NO_SIZE)


def register_export(kinds: Any) -> None:
    """Add this module's ``posetable export <format>`` subcommands to ``kinds``."""
    ls = export_parser(
        kinds,
        "label-studio",
        "a Label Studio JSON export (a list of tasks)",
        out="the JSON file to write",
    )
    ls.add_argument(
        "--label-config", metavar="XML", help="also write a labeling config for the keypoints"
    )
    finish_export(ls, _export_label_studio)

    cvat = export_parser(
        kinds, "cvat", "a CVAT for images 1.1 XML file", out="the XML file to write"
    )
    finish_export(cvat, _export_cvat)

    nd = export_parser(
        kinds, "ndjson", "an Ultralytics NDJSON pose dataset", out="the .ndjson file to write"
    )
    nd.add_argument("--split", default="train", help="the split of rows without one (train)")
    nd.add_argument(
        "--image-mode",
        choices=("none", "symlink", "copy"),
        default="none",
        help="labels only (default), or link / copy the images beside the file",
    )
    finish_export(nd, _export_ndjson)


def _import_label_studio(args: argparse.Namespace) -> int:
    from posetable.table import Table

    names = [n.strip() for n in args.keypoint_names.split(",")] if args.keypoint_names else None
    return run_import(
        args,
        Table.from_label_studio,
        args.file,
        keypoint_names=names,
        label_config=args.label_config,
        image_folder=args.images,
        image_size=image_size(args),
    )


def _import_cvat(args: argparse.Namespace) -> int:
    from posetable.table import Table

    return run_import(args, Table.from_cvat, args.file, label=args.label, image_folder=args.images)


def _import_ndjson(args: argparse.Namespace) -> int:
    from posetable.table import Table

    return run_import(
        args, Table.from_ndjson, args.file, image_folder=args.images, image_size=image_size(args)
    )


def _export_label_studio(args: argparse.Namespace) -> int:
    return run_export(
        args,
        "a Label Studio JSON export",
        lambda table: table.export_label_studio(args.out, label_config=args.label_config),
    )


def _export_cvat(args: argparse.Namespace) -> int:
    return run_export(args, "CVAT for images 1.1 XML", lambda table: table.export_cvat(args.out))


def _export_ndjson(args: argparse.Namespace) -> int:
    return run_export(
        args,
        "an Ultralytics NDJSON dataset",
        lambda table: table.export_ndjson(args.out, split=args.split, image_mode=args.image_mode),
    )
