"""``posetable demo``, ``info``, ``list`` and ``gc``."""

from __future__ import annotations

import argparse
from typing import Any

from posetable.cli import add_store_argument


def register(sub: Any) -> None:
    """Add the core commands."""
    demo = sub.add_parser("demo", help="build a table from the bundled sample and summarise it")
    add_store_argument(demo)
    demo.set_defaults(handler=_demo)
    info = sub.add_parser("info", help="schema, lineage and a summary of a table")
    info.add_argument("table", help="table name, or name@REVISION")
    add_store_argument(info)
    info.set_defaults(handler=_info)
    listing = sub.add_parser("list", help="list the tables in the store")
    add_store_argument(listing)
    listing.set_defaults(handler=_list)
    gc = sub.add_parser("gc", help="remove what killed writers left in the store")
    gc.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="only leftovers at least this old (default 3600: younger ones may be in use)",
    )
    gc.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    add_store_argument(gc)
    gc.set_defaults(handler=_gc)


def _demo(args: argparse.Namespace) -> int:
    from posetable.sample import sample_table

    table = sample_table(store=args.store)
    print(f"built {table.ref} from the bundled COCO sample in {table.store.root}\n")
    print(summary_text(table))
    return 0


def _info(args: argparse.Namespace) -> int:
    from posetable.table import Table

    print(summary_text(Table.open(args.table, store=args.store)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from posetable.table import Table, list_tables

    names = list_tables(store=args.store)
    if not names:
        print("no tables in the store")
        return 0
    print(f"{'table':30} {'revision':>8} {'rows':>8} {'K':>4}")
    for name in names:
        table = Table.open(name, store=args.store)
        print(f"{name:30} {table.revision:>8} {len(table):>8} {table.schema.num_keypoints:>4}")
    return 0


def _gc(args: argparse.Namespace) -> int:
    from posetable.gc import collect_garbage

    report = collect_garbage(args.store, min_age_s=args.min_age, dry_run=args.dry_run)
    verb = "would remove" if report.dry_run else "removed"
    for path in report.removed:
        print(f"{verb} {path}")
    print(f"{verb} {len(report.removed)} leftovers, {report.bytes_freed} bytes")
    return 0


def summary_text(table: Any) -> str:
    """A human summary of a table revision: schema, counts, lineage."""
    from posetable.summary import summarize

    return summarize(table).to_text()
