"""``posetable import|export`` for SLEAP, PoseTrack and MPII.

Registered by :mod:`posetable.cli._formats`; each handler parses, makes one library call and
prints (notes the import assumed go to stderr, as for the other formats).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def _notes_and_summary() -> tuple[Callable[[Callable[[], Any]], Any], Callable[[Any], str]]:
    from posetable.cli._formats import _summary, _with_notes  # imported late: no import cycle

    return _with_notes, _summary


def _image_size(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--image-size", nargs=2, type=int, metavar=("W", "H"), help=f"the size of {what}"
    )


def _size(args: argparse.Namespace) -> tuple[int, int] | None:
    return (int(args.image_size[0]), int(args.image_size[1])) if args.image_size else None


def register_import(
    kinds: Any, if_exists: Callable[[Any], None], add_store: Callable[[Any], None]
) -> None:
    """Add this module's ``posetable import <format>`` subcommands to ``kinds``."""
    sleap = kinds.add_parser("sleap", help="a SLEAP .slp file (user and predicted instances)")
    sleap.add_argument("path", help="the .slp (or .pkg.slp) file")
    sleap.add_argument("--name", required=True, help="the table name")
    sleap.add_argument("--skeleton", help="the skeleton (name or index) of a multi-skeleton file")
    _image_size(sleap, "videos whose file is not at hand")
    if_exists(sleap)
    add_store(sleap)
    sleap.set_defaults(handler=_import_sleap)
    posetrack = kinds.add_parser("posetrack", help="PoseTrack 2018 JSON (a file or a folder)")
    posetrack.add_argument("path", help="a PoseTrack .json, or a folder of per-video files")
    posetrack.add_argument("--name", required=True, help="the table name")
    posetrack.add_argument("--images", metavar="DIR", help="the folder file_name is relative to")
    posetrack.add_argument(
        "--missing-images",
        choices=("error", "warn", "skip"),
        default="error",
        help="what to do about image files that do not exist (default: error)",
    )
    if_exists(posetrack)
    add_store(posetrack)
    posetrack.set_defaults(handler=_import_posetrack)
    mpii = kinds.add_parser("mpii", help="MPII Human Pose (.mat, or mmpose's JSON)")
    mpii.add_argument("path", help="mpii_human_pose_v1_u12_1.mat or an MPII .json")
    mpii.add_argument("--name", required=True, help="the table name")
    mpii.add_argument("--images", metavar="DIR", help="the images' folder (default: the file's)")
    _image_size(mpii, "images that are not at hand")
    if_exists(mpii)
    add_store(mpii)
    mpii.set_defaults(handler=_import_mpii)


def register_export(kinds: Any, add_store: Callable[[Any], None]) -> None:
    """Add this module's ``posetable export <format>`` subcommands to ``kinds``."""
    sleap = kinds.add_parser("sleap", help="a SLEAP .slp file")
    sleap.add_argument("table", help="table name, or name@REVISION")
    sleap.add_argument("out", help="the .slp file to write")
    sleap.add_argument(
        "--embed",
        choices=("as-imported", "none", "user", "all"),
        default="as-imported",
        help="frames to embed (default: an imported .pkg.slp's again, else none)",
    )
    add_store(sleap)
    sleap.set_defaults(handler=_export_sleap)
    posetrack = kinds.add_parser("posetrack", help="PoseTrack 2018 JSON")
    posetrack.add_argument("table", help="table name, or name@REVISION")
    posetrack.add_argument("out", help="the .json file, or a folder (one file per video file)")
    add_store(posetrack)
    posetrack.set_defaults(handler=_export_posetrack)
    mpii = kinds.add_parser("mpii", help="MPII in mmpose's JSON layout")
    mpii.add_argument("table", help="table name, or name@REVISION")
    mpii.add_argument("out", help="the .json file to write")
    add_store(mpii)
    mpii.set_defaults(handler=_export_mpii)


def _import_sleap(args: argparse.Namespace) -> int:
    from posetable.table import Table

    with_notes, summary = _notes_and_summary()
    skeleton: Any = args.skeleton
    if skeleton is not None and skeleton.isdigit():
        skeleton = int(skeleton)
    table = with_notes(
        lambda: Table.from_sleap(
            args.path,
            name=args.name,
            store=args.store,
            skeleton=skeleton,
            image_size=_size(args),
            if_exists=args.if_exists.replace("-", "_"),
        )
    )
    print(f"imported {args.path}: {summary(table)}")
    return 0


def _import_posetrack(args: argparse.Namespace) -> int:
    from posetable.table import Table

    with_notes, summary = _notes_and_summary()
    table = with_notes(
        lambda: Table.from_posetrack(
            args.path,
            name=args.name,
            store=args.store,
            image_folder=args.images,
            missing_images=args.missing_images,
            if_exists=args.if_exists.replace("-", "_"),
        )
    )
    print(f"imported {args.path}: {summary(table)}")
    return 0


def _import_mpii(args: argparse.Namespace) -> int:
    from posetable.table import Table

    with_notes, summary = _notes_and_summary()
    table = with_notes(
        lambda: Table.from_mpii(
            args.path,
            name=args.name,
            store=args.store,
            image_folder=args.images,
            image_size=_size(args),
            if_exists=args.if_exists.replace("-", "_"),
        )
    )
    print(f"imported {args.path}: {summary(table)}")
    return 0


def _export_sleap(args: argparse.Namespace) -> int:
    from posetable.table import Table

    with_notes, _ = _notes_and_summary()
    embed: Any = {"as-imported": None, "none": False}.get(args.embed, args.embed)
    table = Table.open(args.table, store=args.store)
    path = with_notes(lambda: table.export_sleap(args.out, embed=embed))
    print(f"wrote {table.ref} as SLEAP labels: {path}")
    return 0


def _export_posetrack(args: argparse.Namespace) -> int:
    from posetable.table import Table

    with_notes, _ = _notes_and_summary()
    table = Table.open(args.table, store=args.store)
    path = with_notes(lambda: table.export_posetrack(args.out))
    print(f"wrote {table.ref} as PoseTrack 2018 JSON: {path}")
    return 0


def _export_mpii(args: argparse.Namespace) -> int:
    from posetable.table import Table

    with_notes, _ = _notes_and_summary()
    table = Table.open(args.table, store=args.store)
    path = with_notes(lambda: table.export_mpii(args.out))
    print(f"wrote {table.ref} as MPII JSON (mmpose's layout): {path}")
    return 0
