"""``posetable import|export`` for Label Studio, CVAT and Ultralytics NDJSON.

Registered by :mod:`posetable.cli._formats`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def _size(args: argparse.Namespace) -> tuple[int, int] | None:
    size = getattr(args, "image_size", None)
    return (int(size[0]), int(size[1])) if size else None


def _image_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image-size",
        nargs=2,
        type=int,
        metavar=("W", "H"),
        help="the size of images the file gives none for and that are not at hand",
    )


def register_import(
    kinds: Any, if_exists: Callable[[Any], None], add_store: Callable[[Any], None]
) -> None:
    """Add this module's ``posetable import <format>`` subcommands to ``kinds``."""
    ls = kinds.add_parser("label-studio", help="a Label Studio JSON export with KeyPointLabels")
    ls.add_argument("file", help="the JSON export (a list of tasks)")
    ls.add_argument("--name", required=True, help="the table name")
    ls.add_argument("--label-config", metavar="XML", help="the project's labeling config")
    ls.add_argument(
        "--keypoint-names",
        metavar="NAMES",
        help="the keypoints in order, comma-separated (default: from the config or the file)",
    )
    ls.add_argument("--images", metavar="DIR", help="a folder holding the images by base name")
    _image_size(ls)
    if_exists(ls)
    add_store(ls)
    ls.set_defaults(handler=_import_label_studio)

    cvat = kinds.add_parser("cvat", help="a CVAT for images 1.1 XML file with skeletons")
    cvat.add_argument("file", help="the annotations.xml")
    cvat.add_argument("--name", required=True, help="the table name")
    cvat.add_argument("--label", help="the skeleton (or points) label to read")
    cvat.add_argument("--images", metavar="DIR", help="the folder the image names are under")
    if_exists(cvat)
    add_store(cvat)
    cvat.set_defaults(handler=_import_cvat)

    nd = kinds.add_parser("ndjson", help="an Ultralytics NDJSON pose dataset (Platform export)")
    nd.add_argument("file", help="the .ndjson file")
    nd.add_argument("--name", required=True, help="the table name")
    nd.add_argument("--images", metavar="DIR", help="a folder holding the images by file name")
    _image_size(nd)
    if_exists(nd)
    add_store(nd)
    nd.set_defaults(handler=_import_ndjson)


def register_export(kinds: Any, add_store: Callable[[Any], None]) -> None:
    """Add this module's ``posetable export <format>`` subcommands to ``kinds``."""
    ls = kinds.add_parser("label-studio", help="a Label Studio JSON export (a list of tasks)")
    ls.add_argument("table", help="table name, or name@REVISION")
    ls.add_argument("out", help="the JSON file to write")
    ls.add_argument(
        "--label-config", metavar="XML", help="also write a labeling config for the keypoints"
    )
    add_store(ls)
    ls.set_defaults(handler=_export_label_studio)

    cvat = kinds.add_parser("cvat", help="a CVAT for images 1.1 XML file")
    cvat.add_argument("table", help="table name, or name@REVISION")
    cvat.add_argument("out", help="the XML file to write")
    add_store(cvat)
    cvat.set_defaults(handler=_export_cvat)

    nd = kinds.add_parser("ndjson", help="an Ultralytics NDJSON pose dataset")
    nd.add_argument("table", help="table name, or name@REVISION")
    nd.add_argument("out", help="the .ndjson file to write")
    nd.add_argument("--split", default="train", help="the split of rows without one (train)")
    nd.add_argument(
        "--image-mode",
        choices=("none", "symlink", "copy"),
        default="none",
        help="labels only (default), or link / copy the images beside the file",
    )
    add_store(nd)
    nd.set_defaults(handler=_export_ndjson)


def _if_exists(args: argparse.Namespace) -> str:
    return str(args.if_exists).replace("-", "_")


def _import_label_studio(args: argparse.Namespace) -> int:
    from posetable.cli._formats import _summary, _with_notes
    from posetable.table import Table

    names = [n.strip() for n in args.keypoint_names.split(",")] if args.keypoint_names else None
    table = _with_notes(
        lambda: Table.from_label_studio(
            args.file,
            name=args.name,
            store=args.store,
            if_exists=_if_exists(args),
            keypoint_names=names,
            label_config=args.label_config,
            image_folder=args.images,
            image_size=_size(args),
        )
    )
    print(f"imported {args.file}: {_summary(table)}")
    return 0


def _import_cvat(args: argparse.Namespace) -> int:
    from posetable.cli._formats import _summary, _with_notes
    from posetable.table import Table

    table = _with_notes(
        lambda: Table.from_cvat(
            args.file,
            name=args.name,
            store=args.store,
            if_exists=_if_exists(args),
            label=args.label,
            image_folder=args.images,
        )
    )
    print(f"imported {args.file}: {_summary(table)}")
    return 0


def _import_ndjson(args: argparse.Namespace) -> int:
    from posetable.cli._formats import _summary, _with_notes
    from posetable.table import Table

    table = _with_notes(
        lambda: Table.from_ndjson(
            args.file,
            name=args.name,
            store=args.store,
            if_exists=_if_exists(args),
            image_folder=args.images,
            image_size=_size(args),
        )
    )
    print(f"imported {args.file}: {_summary(table)}")
    return 0


def _export_label_studio(args: argparse.Namespace) -> int:
    from posetable.cli._formats import _with_notes
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = _with_notes(lambda: table.export_label_studio(args.out, label_config=args.label_config))
    print(f"wrote {table.ref} as a Label Studio JSON export: {path}")
    return 0


def _export_cvat(args: argparse.Namespace) -> int:
    from posetable.cli._formats import _with_notes
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = _with_notes(lambda: table.export_cvat(args.out))
    print(f"wrote {table.ref} as CVAT for images 1.1 XML: {path}")
    return 0


def _export_ndjson(args: argparse.Namespace) -> int:
    from posetable.cli._formats import _with_notes
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = _with_notes(
        lambda: table.export_ndjson(args.out, split=args.split, image_mode=args.image_mode)
    )
    print(f"wrote {table.ref} as an Ultralytics NDJSON dataset: {path}")
    return 0
