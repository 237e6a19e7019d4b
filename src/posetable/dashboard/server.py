"""Running the dashboard: bind a socket (127.0.0.1 by default), then serve with uvicorn.

On loopback only this machine can connect, and the app refuses pages of other sites (the
``Host`` and ``Origin`` checks of :mod:`posetable.dashboard._security`). Bound to any
other interface the server also makes a random token per launch and prints it in the URL
(``?token=...``, as Jupyter does); every request needs it (the first one sets a cookie).

Example:
    >>> from posetable.dashboard.server import dashboard_url
    >>> dashboard_url("127.0.0.1", 8765, table="coco-sample", run="coco-sample-perturbed")
    'http://127.0.0.1:8765/#/t/coco-sample?run=coco-sample-perturbed'
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from posetable.dashboard._security import DEFAULT_MAX_BODY_BYTES
from posetable.errors import PosetableError, missing_extra
from posetable.table import StoreLike

logger = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


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


def dashboard_url(
    host: str,
    port: int,
    *,
    table: str | None = None,
    run: str | None = None,
    token: str | None = None,
) -> str:
    """The URL to open (the grid of ``table`` with ``run`` when given, the token if any)."""
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    if token:
        url += f"?token={quote(token, safe='')}"
    if table:
        url += f"#/t/{quote(table, safe='')}"
        if run:
            url += f"?run={quote(run, safe='')}"
    return url


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    if not is_loopback(host):
        warnings.warn(
            f"the dashboard binds {host}: anyone who can reach this machine and has the URL "
            "printed (it carries this launch's token) can read and edit the tables in the "
            "store, over plain HTTP; use 127.0.0.1 unless you mean it",
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


def served_hosts(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The ``Host`` names the app accepts besides loopback: ``host`` and ``extra``.

    Bound to every interface (``0.0.0.0``, ``::``) there is no one name: this machine's host
    name, its fully qualified name and their addresses are accepted.
    """
    if host not in WILDCARD_HOSTS:
        return (host, *extra)
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return (*sorted(n for n in names if n), *extra)


@dataclass(frozen=True)
class Prepared:
    """What ``serve`` will show: the socket, its URL and the sample it opened (if any).

    ``token`` is this launch's access token (None on loopback, where none is needed) and
    ``allowed_hosts`` the ``Host`` names accepted besides loopback.
    """

    sock: socket.socket
    url: str
    table: str | None
    run: str | None
    token: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()

    @property
    def port(self) -> int:
        """The port the socket listens on."""
        return int(self.sock.getsockname()[1])


def prepare(
    store: StoreLike = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    sample: bool = False,
    allow_hosts: tuple[str, ...] = (),
) -> Prepared:
    """Import the sample when asked, bind the socket and compute the URL (nothing served yet).

    Beyond loopback a random token (``secrets.token_urlsafe``) is made for this launch and
    put in the URL.
    """
    table = run = None
    if sample:
        from posetable.dashboard._sample_run import prepare_sample

        opened, run = prepare_sample(store)
        table = opened.name
    sock = bind(host, port)
    bound_port = int(sock.getsockname()[1])
    token = None if is_loopback(host) else secrets.token_urlsafe(32)
    url = dashboard_url(host, bound_port, table=table, run=run, token=token)
    return Prepared(sock, url, table, run, token, served_hosts(host, tuple(allow_hosts)))


def serve(
    store: StoreLike = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    sample: bool = False,
    log_level: str = "warning",
    on_ready: Callable[[Prepared], None] | None = None,
    check: bool = False,
    allow_hosts: tuple[str, ...] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Serve the dashboard until interrupted (blocks).

    Args:
        store: the store directory (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        host: the interface to bind; 127.0.0.1 unless told otherwise (others warn, and
            need the token printed in the URL).
        port: the port (0: any free port).
        sample: import the bundled sample and a run on it first (once per store).
        log_level: uvicorn's log level.
        on_ready: called with the socket and URL before serving (the CLI prints the URL).
        check: serve, fetch the page and its tables endpoint over HTTP once (with the
            token when there is one), check that a request naming another host (and,
            with a token, one without it) is refused, then stop (raises when any of this
            fails): a smoke test of the whole stack.
        allow_hosts: more ``Host`` names to accept (a reverse proxy's name, say).
        max_body_bytes: the largest request body accepted (413 beyond).
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("uvicorn", "dashboard") from exc
    from posetable.dashboard.app import create_app

    prepared = prepare(store, host=host, port=port, sample=sample, allow_hosts=allow_hosts)
    app = create_app(
        store,
        prewarm=True,
        allowed_hosts=prepared.allowed_hosts,
        port=prepared.port,
        token=prepared.token,
        max_body_bytes=max_body_bytes,
    )
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
    """Serve in a thread, GET ``/`` and ``/api/tables`` once, check refusals, then stop."""
    import threading
    import time

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
        _check_over_http(base, prepared.token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _status(opener: Any, url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a GET (error statuses included)."""
    import urllib.error
    import urllib.request

    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)


def _check_over_http(base: str, token: str | None) -> None:
    """The page and the API answer (with the token, through its cookie); intruders do not."""
    import http.cookiejar
    import urllib.request

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    plain = urllib.request.build_opener()
    first = "/" + (f"?token={quote(token, safe='')}" if token else "")
    for path in (first, "/api/tables"):  # the second one rides on the cookie the first set
        status = _status(opener, base + path)
        if status != 200:
            raise RuntimeError(f"GET {path.split('?')[0]} answered {status}")
    port = urlsplit(base).port
    foreign = _status(plain, base + "/api/tables", {"Host": f"rebinding.invalid:{port}"})
    if foreign != 403:
        raise RuntimeError(f"GET /api/tables for another Host answered {foreign}, not 403")
    if token:
        without = _status(plain, base + "/api/tables")
        if without != 403:
            raise RuntimeError(f"GET /api/tables without the token answered {without}, not 403")
