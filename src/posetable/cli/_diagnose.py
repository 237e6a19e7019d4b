"""``posetable check SOURCE`` (a CI gate) and ``posetable diagnose TABLE RUN``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from posetable.cli import add_store_argument


def register(sub: Any) -> None:
    """Add the ``check`` and ``diagnose`` commands."""
    check = sub.add_parser(
        "check",
        help="check keypoint labels for errors without a model (exit 1 on findings: a CI gate)",
        description=(
            "Run the keypoint data checks on SOURCE: a table (NAME or NAME@REVISION), a COCO "
            "keypoints JSON or a YOLO-pose data.yaml. Files are read into a temporary store. "
            "Exits 1 when a finding is at --fail-on severity or worse, 0 otherwise, 2 when "
            "SOURCE cannot be read."
        ),
    )
    check.add_argument("source", metavar="SOURCE", help="NAME[@REV], COCO JSON or data.yaml")
    check.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        default="error",
        help="the least severe finding that fails the check (default: error)",
    )
    check.add_argument("--json", metavar="OUT", default=None, help="write the findings as JSON")
    check.add_argument(
        "--rules", metavar="R1,R2", default=None, help="only these rules (comma separated)"
    )
    check.add_argument("--split", default=None, help="for a data.yaml: only this split")
    check.add_argument("--quiet", action="store_true", help="print the summary line only")
    add_store_argument(check)
    check.set_defaults(handler=_check)
    diag = sub.add_parser(
        "diagnose",
        help="Ronchi & Perona error analysis of a run: what each kind of error costs in AP",
        description=(
            "Split a run's errors into jitter, inversion, swap and miss, scoring and "
            "background errors, and print the AP after fixing each (coco-analyze's rules)."
        ),
    )
    diag.add_argument("table", metavar="TABLE", help="table name, or name@REVISION")
    diag.add_argument("run", metavar="RUN", help="run name")
    diag.add_argument("--json", metavar="OUT", default=None, help="write the result as JSON")
    diag.add_argument(
        "--plots", metavar="DIR", default=None, help="write breakdown.png and pr.png (matplotlib)"
    )
    add_store_argument(diag)
    diag.set_defaults(handler=_diagnose)


def _where(finding: dict[str, Any]) -> str:
    parts = []
    if finding["file"] and (finding["line"] is not None or finding["row"] is None):
        parts.append(
            finding["file"] + (f":{finding['line']}" if finding["line"] is not None else "")
        )
    if finding["row"] is not None:
        parts.append(f"row {finding['row']}")
    if finding["instance"] is not None:
        parts.append(f"instance {finding['instance']}")
    if finding["annotation_id"] is not None:
        parts.append(f"id {finding['annotation_id']}")
    if finding["keypoint"] is not None:
        parts.append(f"keypoint {finding['keypoint']}")
    return ", ".join(parts) if parts else "schema"


def _check(args: argparse.Namespace) -> int:
    from posetable.diagnose.check import check, exit_code

    rules = [r.strip() for r in args.rules.split(",") if r.strip()] if args.rules else None
    findings = check(args.source, rules=rules, store=args.store, split=args.split)
    rows = findings.to_pylist()
    if not args.quiet:
        for f in rows:
            print(f"{f['severity']:<8} {f['rule']:<27} {_where(f)}: {f['message']}")
    counts = {s: sum(1 for f in rows if f["severity"] == s) for s in ("error", "warning", "info")}
    print(
        f"{args.source}: {counts['error']} errors, {counts['warning']} warnings, "
        f"{counts['info']} notes"
    )
    if args.json:
        document = {"source": str(args.source), "counts": counts, "findings": rows}
        Path(args.json).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return exit_code(findings, args.fail_on)


def _diagnose(args: argparse.Namespace) -> int:
    from posetable.diagnose.error_analysis import diagnose
    from posetable.runs import Run
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    run = Run.open(args.run, store=args.store)
    result = diagnose(table, run)
    print(result)
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    if args.plots:
        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        result.plot_breakdown().savefig(folder / "breakdown.png", bbox_inches="tight")
        result.plot_pr().savefig(folder / "pr.png", bbox_inches="tight")
        print(f"plots written to {folder}")
    return 0
