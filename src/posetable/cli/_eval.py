"""``posetable eval GT RESULTS [--sigmas ...] [--json OUT]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from posetable.cli import add_store_argument


def register(sub: Any) -> None:
    """Add the ``eval`` command."""
    parser = sub.add_parser(
        "eval",
        help="COCO keypoint AP/AR (pycocotools' numbers) of a results file",
        description=(
            "Evaluate COCO keypoint results against ground truth and print pycocotools' "
            "summary. GT is a COCO keypoints JSON or a table name (name or name@REVISION)."
        ),
    )
    parser.add_argument("gt", metavar="GT", help="ground truth: COCO keypoints JSON or table name")
    parser.add_argument("results", metavar="RESULTS", help="COCO keypoint results JSON")
    parser.add_argument(
        "--sigmas",
        metavar="S",
        default=None,
        help="OKS sigmas, comma separated (default: the table's; for a JSON file COCO-17 "
        "when K=17, else 1/K)",
    )
    parser.add_argument(
        "--json", metavar="OUT", default=None, help="also write the stats as JSON to OUT"
    )
    add_store_argument(parser)
    parser.set_defaults(handler=_eval)


def _parse_sigmas(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from posetable.errors import SchemaError

    try:
        return [float(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError as exc:
        raise SchemaError(f"--sigmas must be numbers separated by commas, got {text!r}") from exc


def _eval(args: argparse.Namespace) -> int:
    from posetable.eval.api import evaluate

    sigmas = _parse_sigmas(args.sigmas)
    source: Any
    if Path(args.gt).is_file():
        source = args.gt
    else:
        from posetable.table import Table

        source = Table.open(args.gt, store=args.store)
    result = evaluate(source, args.results, sigmas=sigmas)
    print(result.summary())  # pycocotools' lines, then where the OKS sigmas came from
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    return 0
