"""What every ``posetable import <format>`` and ``posetable export <format>`` shares.

The arguments: an import names its source and the table it makes (``--name``) and ends
with ``--if-exists`` and ``--store``; an export names the table and where to write it and
ends with ``--store``. The handler bodies: the one library call runs with its warnings
printed as notes on stderr, then one line says what was imported or written.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from posetable.cli import add_store_argument

if TYPE_CHECKING:
    from posetable.table import Table

Handler = Callable[[argparse.Namespace], int]


def import_parser(
    kinds: Any, fmt: str, help: str, *, source: str, source_help: str
) -> argparse.ArgumentParser:
    """``posetable import <fmt>`` with its source argument and ``--name``."""
    parser: argparse.ArgumentParser = kinds.add_parser(fmt, help=help)
    parser.add_argument(source, help=source_help)
    add_name(parser)
    return parser


def add_name(parser: argparse.ArgumentParser) -> None:
    """``--name``: the table an import makes."""
    parser.add_argument("--name", required=True, help="the table name")


def add_missing_images(parser: argparse.ArgumentParser) -> None:
    """``--missing-images``: what an import does about image files that do not exist."""
    parser.add_argument(
        "--missing-images",
        choices=("error", "warn", "skip"),
        default="error",
        help="what to do about image files that do not exist (default: error)",
    )


def finish_import(
    parser: argparse.ArgumentParser,
    handler: Handler,
    *,
    image_size: str | None = None,
    progress: bool = False,
) -> None:
    """The arguments an import ends with, and its handler.

    ``--image-size W H`` first when ``image_size`` says which images it gives the size of,
    then ``--if-exists`` and ``--store``, and ``--no-progress`` with ``progress``.
    """
    if image_size is not None:
        parser.add_argument(
            "--image-size",
            nargs=2,
            type=int,
            metavar=("W", "H"),
            help=f"the size of {image_size}",
        )
    parser.add_argument(
        "--if-exists",
        choices=("error", "new-revision"),
        default="error",
        help="when --name already holds a table: stop with an error naming it (default), or "
        "add the import as its next revision",
    )
    _finish(parser, handler, progress)


def export_parser(kinds: Any, fmt: str, help: str, *, out: str) -> argparse.ArgumentParser:
    """``posetable export <fmt>`` with its ``table`` and ``out`` arguments."""
    parser: argparse.ArgumentParser = kinds.add_parser(fmt, help=help)
    parser.add_argument("table", help="table name, or name@REVISION")
    parser.add_argument("out", help=out)
    return parser


def finish_export(
    parser: argparse.ArgumentParser, handler: Handler, *, progress: bool = False
) -> None:
    """The arguments an export ends with (``--store``, ``--no-progress`` with ``progress``),
    and its handler."""
    _finish(parser, handler, progress)


def _finish(parser: argparse.ArgumentParser, handler: Handler, progress: bool) -> None:
    add_store_argument(parser)
    if progress:
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar (default: on large inputs)"
        )
    parser.set_defaults(handler=handler)


def progress(args: argparse.Namespace) -> bool | None:
    """The ``progress=`` of a library call: off with ``--no-progress``, else its default."""
    return False if args.no_progress else None


def image_size(args: argparse.Namespace) -> tuple[int, int] | None:
    """``--image-size W H`` as ``(W, H)``, or None when not given."""
    size = args.image_size
    return (int(size[0]), int(size[1])) if size else None


def with_notes(call: Callable[[], Any]) -> Any:
    """Run a library call, printing its warnings as notes on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    for warning in caught:
        print(f"posetable: note: {warning.message}", file=sys.stderr)
    return result


def summary(table: Table) -> str:
    """``4 images, 14 instances, K=17 -> people@1 in STORE``."""
    instances = table.sql("SELECT coalesce(sum(len(keypoints.instances)), 0) FROM t").column(0)
    return (
        f"{len(table)} images, {instances[0].as_py()} instances, K={table.schema.num_keypoints} "
        f"-> {table.ref} in {table.store.root}"
    )


def run_import(
    args: argparse.Namespace,
    read: Callable[..., Table],
    source: str,
    /,
    *,
    shown: str | None = None,
    **options: Any,
) -> int:
    """Import ``source`` with ``read`` (a ``Table.from_*``) into the table ``--name`` names.

    ``--store`` and ``--if-exists`` are passed on with ``options``; prints ``imported
    <shown, default source>: <summary>``.
    """
    table = with_notes(
        lambda: read(
            source,
            name=args.name,
            store=args.store,
            if_exists=args.if_exists.replace("-", "_"),
            **options,
        )
    )
    print(f"imported {shown or source}: {summary(table)}")
    return 0


def run_export(args: argparse.Namespace, what: str, write: Callable[[Table], Any]) -> int:
    """Open ``table`` (in ``--store``), ``write`` it and print ``wrote <ref> as <what>: <path>``."""
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    path = with_notes(lambda: write(table))
    print(f"wrote {table.ref} as {what}: {path}")
    return 0
