"""``posetable serve``: the dashboard in the browser."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from posetable.cli import add_store_argument


def register(sub: Any) -> None:
    """Add the ``serve`` command."""
    serve = sub.add_parser(
        "serve",
        help="start the dashboard (needs the [dashboard] extra) and print its URL",
        description="Start the dashboard web server on 127.0.0.1 and print its URL.",
    )
    add_store_argument(serve)
    serve.add_argument(
        "--port", type=int, default=8765, help="port (default 8765; 0: any free port)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; anything else is reachable from the network, "
        "warns, and needs the per-launch token printed in the URL)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests for this host name (a reverse proxy's, say); repeatable. "
        "127.0.0.1, localhost, [::1] and --host are always accepted, any other name is refused",
    )
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=16.0,
        help="the largest request body accepted, in MiB (default 16)",
    )
    serve.add_argument(
        "--sample",
        action="store_true",
        help="import the bundled COCO sample and a run of predictions on it, then open it",
    )
    serve.add_argument(
        "--check",
        action="store_true",
        help="start, fetch the page and the API once over HTTP, then stop (a smoke test)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from posetable.dashboard.server import Prepared, serve

    def ready(prepared: Prepared) -> None:
        if prepared.table:
            print(
                f"opened {prepared.table}" + (f" with run {prepared.run}" if prepared.run else "")
            )
        stop = "checking, then stopping" if args.check else "Ctrl+C to stop"
        print(f"posetable dashboard: {prepared.url}  ({stop})", flush=True)

    if not 0 < args.max_body_mb <= 4096:
        print(
            f"posetable: error: --max-body-mb must be in (0, 4096], got {args.max_body_mb}",
            file=sys.stderr,
        )
        return 2
    try:
        serve(
            args.store,
            host=args.host,
            port=args.port,
            sample=args.sample,
            on_ready=ready,
            check=args.check,
            allow_hosts=tuple(args.allow_host),
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        )
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("stopped", file=sys.stderr)
        return 0
    if args.check:
        print(
            "dashboard check passed: the page and /api/tables answered over HTTP, and a "
            "request for another host was refused"
        )
    return 0
