"""``posetable run import|show|export``, ``runs list|compare``, ``accept`` and ``errors``."""

from __future__ import annotations

import argparse
from typing import Any

import pyarrow as pa

from posetable.cli import add_store_argument


def register(sub: Any) -> None:
    """Add the run commands."""
    run = sub.add_parser("run", help="import or show a run of predictions")
    run_sub = run.add_subparsers(dest="run_command", metavar="ACTION", required=True)
    imp = run_sub.add_parser(
        "import", help="import predictions (COCO results JSON or YOLO folder) as a run"
    )
    imp.add_argument("table", help="table name, or name@REVISION")
    imp.add_argument(
        "results", help="COCO keypoint results JSON, or a folder of YOLO predicted labels"
    )
    imp.add_argument("--name", required=True, help="run name")
    imp.add_argument("--model", default=None, help="model description kept in the run")
    add_store_argument(imp)
    imp.set_defaults(handler=_import)
    show = run_sub.add_parser("show", help="a run's metrics and where it came from")
    show.add_argument("name")
    add_store_argument(show)
    show.set_defaults(handler=_show)
    export = run_sub.add_parser(
        "export", help="write a run's predictions as a COCO keypoint results JSON"
    )
    export.add_argument("name", help="run name")
    export.add_argument("out", help="the results JSON to write")
    add_store_argument(export)
    export.set_defaults(handler=_export)

    runs = sub.add_parser("runs", help="list or compare runs")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    listing = runs_sub.add_parser("list", help="list runs (optionally of one table)")
    listing.add_argument("--table", default=None)
    add_store_argument(listing)
    listing.set_defaults(handler=_list)
    compare = runs_sub.add_parser("compare", help="summary metrics of runs side by side")
    compare.add_argument("names", nargs="+")
    add_store_argument(compare)
    compare.set_defaults(handler=_compare)

    accept = sub.add_parser(
        "accept", help="accept a run's predictions as ground truth (new revision)"
    )
    accept.add_argument("table", help="table name, or name@REVISION")
    accept.add_argument("run", help="run name")
    accept.add_argument(
        "--threshold", type=float, default=0.5, help="keypoint confidence threshold (default 0.5)"
    )
    accept.add_argument(
        "--instance-threshold", type=float, default=0.0, help="instance score threshold (default 0)"
    )
    accept.add_argument(
        "--rows",
        default=None,
        help="rows to change, e.g. 0,3,10-20 (default: all with predictions)",
    )
    accept.add_argument("--mode", choices=("replace", "add_unmatched"), default="replace")
    accept.add_argument(
        "--dry-run", action="store_true", help="print what would change, write nothing"
    )
    add_store_argument(accept)
    accept.set_defaults(handler=_accept)

    errors = sub.add_parser("errors", help="rank suspected label errors using a run")
    errors.add_argument("table", help="table name, or name@REVISION")
    errors.add_argument("run", help="run name")
    errors.add_argument("--top", type=int, default=20)
    add_store_argument(errors)
    errors.set_defaults(handler=_errors)


def parse_rows(text: str | None) -> list[int] | None:
    """``"0,3,10-12"`` -> ``[0, 3, 10, 11, 12]``."""
    if text is None:
        return None
    rows: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            rows.extend(range(int(a), int(b) + 1))
        else:
            rows.append(int(part))
    return rows


def print_table(data: pa.Table, *, floats: str = ".4f") -> None:
    """Print an Arrow table as aligned text columns."""
    names = data.column_names
    cells = [[_cell(v, floats) for v in data.column(n).to_pylist()] for n in names]
    widths = [max([len(n)] + [len(c) for c in col]) for n, col in zip(names, cells, strict=True)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    for r in range(data.num_rows):
        print("  ".join(col[r].ljust(w) for col, w in zip(cells, widths, strict=True)))


def _cell(value: Any, floats: str) -> str:
    return format(value, floats) if isinstance(value, float) else str(value)


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from posetable.runs import Run
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    info = {"model": args.model} if args.model else None
    source = Path(args.results)
    if source.is_dir():
        run = Run.from_yolo_predictions(table, source, name=args.name, model_info=info)
    else:
        run = Run.from_coco_results(table, source, name=args.name, model_info=info)
    # the evaluation, index and suspects now: the dashboard opens the run at once
    run.materialize()
    print(f"run {run.name!r} on {run.table_ref}: AP {run.metrics['ap']:.4f}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from posetable.runs import Run

    run = Run.open(args.name, store=args.store)
    print(f"run        {run.name}")
    print(f"table      {run.table_ref}")
    print(f"created    {run.created}")
    print(f"model      {run.model_info}")
    for key, value in run.metrics.items():
        print(f"{key:10} {value:.4f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from posetable.runs import Run

    run = Run.open(args.name, store=args.store)
    path = run.export_coco_results(args.out)
    count = run.manifest["counts"]["predictions"]
    print(f"{count} predictions of run {run.name!r} -> {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from posetable.runs import compare_runs, list_runs

    names = list_runs(args.table, store=args.store)
    if not names:
        print("no runs")
        return 0
    print_table(
        compare_runs(names, store=args.store).select(["run", "table", "model", "ap", "ap50", "ar"])
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from posetable.runs import compare_runs

    print_table(compare_runs(args.names, store=args.store))
    return 0


def _accept(args: argparse.Namespace) -> int:
    from posetable.accept import accept_predictions, accept_predictions_plan
    from posetable.runs import Run
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    run = Run.open(args.run, store=args.store)
    options = {
        "rows": parse_rows(args.rows),
        "keypoint_confidence_threshold": args.threshold,
        "instance_confidence_threshold": args.instance_threshold,
        "mode": args.mode,
    }
    if args.dry_run:
        print_table(accept_predictions_plan(table, run, **options))
        return 0
    new = accept_predictions(table, run, **options)
    print(f"accepted predictions of {run.name!r}: {table.ref} -> {new.ref}")
    return 0


def _errors(args: argparse.Namespace) -> int:
    from posetable.label_errors import find_label_errors
    from posetable.runs import Run
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    run = Run.open(args.run, store=args.store)
    suspects = find_label_errors(table, run, top=args.top)
    if suspects.num_rows == 0:
        print("no suspects")
        return 0
    print_table(
        suspects.select(["row", "instance", "kind", "keypoint", "score", "detail"]), floats=".3f"
    )
    return 0
