"""``posetable import|export`` for SLEAP, PoseTrack and MPII.

Registered by :mod:`posetable.cli._formats`; each handler parses, makes one library call and
prints (notes the import assumed go to stderr, as for the other formats).
"""

from __future__ import annotations

import argparse
from typing import Any

from posetable.cli._format_commands import (
    add_missing_images,
    export_parser,
    finish_export,
    finish_import,
    image_size,
    import_parser,
    run_export,
    run_import,
)


def register_import(kinds: Any) -> None:
    """Add this module's ``posetable import <format>`` subcommands to ``kinds``."""
    sleap = import_parser(
        kinds,
        "sleap",
        "a SLEAP .slp file (user and predicted instances)",
        source="path",
        source_help="the .slp (or .pkg.slp) file",
    )
    sleap.add_argument("--skeleton", help="the skeleton (name or index) of a multi-skeleton file")
    finish_import(sleap, _import_sleap, image_size="videos whose file is not at hand")
    posetrack = import_parser(
        kinds,
        "posetrack",
        "PoseTrack 2018 JSON (a file or a folder)",
        source="path",
        source_help="a PoseTrack .json, or a folder of per-video files",
    )
    posetrack.add_argument("--images", metavar="DIR", help="the folder file_name is relative to")
    add_missing_images(posetrack)
    finish_import(posetrack, _import_posetrack)
    mpii = import_parser(
        kinds,
        "mpii",
        "MPII Human Pose (.mat, or mmpose's JSON)",
        source="path",
        source_help="mpii_human_pose_v1_u12_1.mat or an MPII .json",
    )
    mpii.add_argument("--images", metavar="DIR", help="the images' folder (default: the file's)")
    finish_import(mpii, _import_mpii, image_size="images that are not at hand")


def register_export(kinds: Any) -> None:
    """Add this module's ``posetable export <format>`` subcommands to ``kinds``."""
    sleap = export_parser(kinds, "sleap", "a SLEAP .slp file", out="the .slp file to write")
    sleap.add_argument(
        "--embed",
        choices=("as-imported", "none", "user", "all"),
        default="as-imported",
        help="frames to embed (default: an imported .pkg.slp's again, else none)",
    )
    finish_export(sleap, _export_sleap)
    posetrack = export_parser(
        kinds,
        "posetrack",
        "PoseTrack 2018 JSON",
        out="the .json file, or a folder (one file per video file)",
    )
    finish_export(posetrack, _export_posetrack)
    mpii = export_parser(
        kinds, "mpii", "MPII in mmpose's JSON layout", out="the .json file to write"
    )
    finish_export(mpii, _export_mpii)


def _import_sleap(args: argparse.Namespace) -> int:
    from posetable.table import Table

    skeleton: Any = args.skeleton
    if skeleton is not None and skeleton.isdigit():
        skeleton = int(skeleton)
    return run_import(
        args, Table.from_sleap, args.path, skeleton=skeleton, image_size=image_size(args)
    )


def _import_posetrack(args: argparse.Namespace) -> int:
    from posetable.table import Table

    return run_import(
        args,
        Table.from_posetrack,
        args.path,
        image_folder=args.images,
        missing_images=args.missing_images,
    )


def _import_mpii(args: argparse.Namespace) -> int:
    from posetable.table import Table

    return run_import(
        args, Table.from_mpii, args.path, image_folder=args.images, image_size=image_size(args)
    )


def _export_sleap(args: argparse.Namespace) -> int:
    embed: Any = {"as-imported": None, "none": False}.get(args.embed, args.embed)
    return run_export(args, "SLEAP labels", lambda table: table.export_sleap(args.out, embed=embed))


def _export_posetrack(args: argparse.Namespace) -> int:
    return run_export(args, "PoseTrack 2018 JSON", lambda table: table.export_posetrack(args.out))


def _export_mpii(args: argparse.Namespace) -> int:
    return run_export(
        args, "MPII JSON (mmpose's layout)", lambda table: table.export_mpii(args.out)
    )
