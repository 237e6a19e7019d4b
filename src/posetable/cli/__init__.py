"""The ``posetable`` command line: thin commands that parse, call one library function, print.

Each area registers its commands from its own module (``_core``, ``_formats``, ``_eval``,
``_runs``, ``_serve``, ``_train``): a module has ``register(subparsers)`` and each command
sets ``handler`` (a function of the parsed arguments returning the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from posetable.errors import PosetableError

COMMAND_MODULES = ("_core", "_formats", "_eval", "_runs", "_serve", "_train", "_diagnose")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every registered command)."""
    parser = argparse.ArgumentParser(
        prog="posetable",
        description="Keypoint / pose-estimation tables: import, evaluate, compare, fix.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"posetable.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"posetable.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"posetable {version('posetable')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "posetable (not installed)"


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--store DIR`` option every command that reads or writes tables takes."""
    parser.add_argument(
        "--store",
        metavar="DIR",
        default=None,
        help="store directory (default: $POSETABLE_HOME or ./posetable-data)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for a posetable error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 1
    try:
        return int(handler(args) or 0)
    except PosetableError as exc:
        print(f"posetable: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
