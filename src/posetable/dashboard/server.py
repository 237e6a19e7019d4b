"""Running the dashboard: bind a socket (127.0.0.1 by default), then serve with uvicorn.

Example:
    >>> from posetable.dashboard.server import dashboard_url
    >>> dashboard_url("127.0.0.1", 8765, table="coco-sample", run="coco-sample-perturbed")
    'http://127.0.0.1:8765/#/t/coco-sample?run=coco-sample-perturbed'
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from posetable.errors import PosetableError, missing_extra
from posetable.table import StoreLike

logger = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ServeError(PosetableError, OSError):
    """The dashboard could not start (port in use, bad host)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_url(host: str, port: int, *, table: str | None = None, run: str | None = None) -> str:
    """The URL to open (the grid of ``table`` with ``run`` when given)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    if table:
        url += f"#/t/{quote(table, safe='')}"
        if run:
            url += f"?run={quote(run, safe='')}"
    return url


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    if not is_loopback(host):
        warnings.warn(
            f"the dashboard binds {host}: anyone who can reach this machine can read and edit "
            "the tables in the store (there is no authentication); use 127.0.0.1 unless you "
            "mean it",
            UserWarning,
            stacklevel=2,
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; try --port 0 for any free port"
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass(frozen=True)
class Prepared:
    """What ``serve`` will show: the socket, its URL and the sample it opened (if any)."""

    sock: socket.socket
    url: str
    table: str | None
    run: str | None


def prepare(
    store: StoreLike = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    sample: bool = False,
) -> Prepared:
    """Import the sample when asked, bind the socket and compute the URL (nothing served yet)."""
    table = run = None
    if sample:
        from posetable.dashboard._sample_run import prepare_sample

        opened, run = prepare_sample(store)
        table = opened.name
    sock = bind(host, port)
    bound_port = int(sock.getsockname()[1])
    return Prepared(sock, dashboard_url(host, bound_port, table=table, run=run), table, run)


def serve(
    store: StoreLike = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    sample: bool = False,
    log_level: str = "warning",
    on_ready: Callable[[Prepared], None] | None = None,
    check: bool = False,
) -> None:
    """Serve the dashboard until interrupted (blocks).

    Args:
        store: the store directory (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        host: the interface to bind; 127.0.0.1 unless told otherwise (others warn).
        port: the port (0: any free port).
        sample: import the bundled sample and a run on it first (once per store).
        log_level: uvicorn's log level.
        on_ready: called with the socket and URL before serving (the CLI prints the URL).
        check: serve, fetch the page and its tables endpoint over HTTP once, then stop
            (raises when either fails): a smoke test of the whole stack.
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("uvicorn", "dashboard") from exc
    from posetable.dashboard.app import create_app

    prepared = prepare(store, host=host, port=port, sample=sample)
    app = create_app(store, prewarm=True)
    if on_ready is not None:
        on_ready(prepared)
    logger.info("posetable dashboard at %s", prepared.url)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    try:
        if check:
            _serve_and_check(server, prepared)
        else:
            server.run(sockets=[prepared.sock])
    finally:
        prepared.sock.close()


def _serve_and_check(server: Any, prepared: Prepared) -> None:
    """Serve in a thread, GET ``/`` and ``/api/tables`` once, then stop the server."""
    import threading
    import time
    import urllib.request
    from urllib.parse import urlsplit

    server.config.install_signal_handlers = False
    thread = threading.Thread(target=server.run, kwargs={"sockets": [prepared.sock]}, daemon=True)
    thread.start()
    parts = urlsplit(prepared.url)
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the dashboard server did not start within 30 s")
            time.sleep(0.05)
        for path in ("/", "/api/tables"):
            with urllib.request.urlopen(base + path, timeout=30) as response:
                if response.status != 200:
                    raise RuntimeError(f"GET {path} answered {response.status}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
