"""Who may talk to the dashboard and what they may send: one ASGI middleware.

A page on another site can reach a server on 127.0.0.1 in two ways: by sending requests
to it directly (cross-site request forgery) or by pointing its own host name at 127.0.0.1
(DNS rebinding), which makes the browser treat the dashboard as that site. The middleware
refuses both before any route runs:

- ``Host`` must name this server: ``127.0.0.1``, ``localhost`` or ``[::1]`` (with or
  without the served port), or a host the server was started for (``--host``); anything
  else gets 403 (a rebinding page sends its own name).
- A write (POST, PUT, PATCH, DELETE) with an ``Origin`` header must come from the served
  origin, and its body must be ``application/json`` (an HTML form cannot send that).
- When the server listens beyond loopback it has a random per-launch token: the URL
  printed carries ``?token=...``; the first request with it sets an HttpOnly,
  SameSite=Strict cookie, and every request without the token (query, cookie or
  ``Authorization: token ...``) gets 403.
- Bodies are limited in size while they are read (413), JSON bodies must be strict JSON
  (no NaN or Infinity, nesting at most ``MAX_JSON_DEPTH``), else 400.
- Every response carries ``X-Frame-Options: DENY``, a Content-Security-Policy with
  ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer``.

Example:
    >>> policy = AccessPolicy.create(["dash.lan"], port=8765)
    >>> policy.check_host("127.0.0.1:8765"), policy.check_host("DASH.lan")
    ('127.0.0.1', 'dash.lan')
    >>> try:
    ...     policy.check_host("evil.example:8765")
    ... except HostNotAllowedError as error:
    ...     print(str(error)[:34])
    the Host 'evil.example:8765' is no
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from posetable.errors import PosetableError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 32
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_PARAMETER = "token"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


class AccessSettingsError(PosetableError, ValueError):
    """The dashboard's access settings (allowed hosts, port, token, body limit) are invalid."""


class RequestRefusedError(PosetableError):
    """A request the dashboard refuses before any route runs; ``http_status`` says how."""

    http_status = 400


class ForbiddenRequestError(RequestRefusedError, PermissionError):
    """A request from somewhere the dashboard does not serve (403)."""

    http_status = 403


class HostNotAllowedError(ForbiddenRequestError):
    """The ``Host`` header names another server (DNS rebinding) (403)."""


class OriginNotAllowedError(ForbiddenRequestError):
    """A write came from a page of another origin (403)."""


class TokenRequiredError(ForbiddenRequestError):
    """The server listens beyond loopback and the request has no valid token (403)."""


class BodyTooLargeError(RequestRefusedError, ValueError):
    """A request body is larger than the server accepts (413)."""

    http_status = 413


class UnsupportedMediaTypeError(RequestRefusedError, ValueError):
    """A write whose body is not ``application/json`` (415)."""

    http_status = 415


class BadRequestBodyError(RequestRefusedError, ValueError):
    """A JSON body that is not strict JSON or is nested too deeply (400)."""


def normalize_host(host: str) -> str:
    """A host name as compared: lower case, IPv6 addresses in brackets.

    Example:
        >>> normalize_host("::1"), normalize_host("LocalHost"), normalize_host("[::1]")
        ('[::1]', 'localhost', '[::1]')
    """
    text = host.strip().lower()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return text
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def split_host(value: str) -> tuple[str, int | None]:
    """``"name:port"`` -> ``(normalized name, port)``; no port -> None; malformed -> ValueError.

    Example:
        >>> split_host("[::1]:8765"), split_host("localhost")
        (('[::1]', 8765), ('localhost', None))
    """
    text = value.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {value!r}")
        name, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after the address in {value!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        name, port_text = text.split(":")
    else:
        name, port_text = text, None
    if not name or (port_text is not None and not (port_text.isdigit() and len(port_text) <= 5)):
        raise ValueError(f"{value!r} is not host[:port]")
    port = int(port_text) if port_text is not None else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range in {value!r}")
    return normalize_host(name), port


def _iter_json(value: Any) -> str | None:
    """Why ``value`` is refused (too deep), or None; iterative, so depth costs no stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return f"it nests objects and lists deeper than {MAX_JSON_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


def check_json_body(body: bytes) -> None:
    """Refuse a body that is not strict JSON: NaN/Infinity, bad UTF-8, deep nesting (400)."""
    if not body.strip():
        return  # the route says what it needed
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestBodyError(
            f"the request body is not valid JSON: {exc} (NaN, Infinity and numbers beyond "
            "the float range are not JSON numbers)"
        ) from exc
    reason = _iter_json(value)
    if reason is not None:
        raise BadRequestBodyError(f"the request body is refused: {reason}")


@dataclass(frozen=True)
class AccessPolicy:
    """What the middleware accepts: host names, the served port, the token, body size.

    Attributes:
        hosts: the ``Host`` names accepted (normalized); loopback names are always in.
        port: the served port; a ``Host`` or ``Origin`` with another port is refused
            (None: any port, for in-process clients).
        token: the per-launch access token (None: loopback, no token needed).
        max_body_bytes: the largest request body accepted.
    """

    hosts: frozenset[str] = LOOPBACK_HOSTS
    port: int | None = None
    token: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def create(
        cls,
        allowed_hosts: Iterable[str] = (),
        *,
        port: int | None = None,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> AccessPolicy:
        """A policy accepting loopback plus ``allowed_hosts`` (names, without ports)."""
        if isinstance(allowed_hosts, str):
            allowed_hosts = [allowed_hosts]
        extra = set()
        for host in allowed_hosts:
            if not isinstance(host, str) or not host.strip():
                raise AccessSettingsError(f"allowed_hosts must be host names, got {host!r}")
            try:
                name, given_port = split_host(host)
            except ValueError:
                name, given_port = normalize_host(host), None
            if given_port is not None:
                raise AccessSettingsError(
                    f"allowed_hosts are names without a port, got {host!r}; the port is {port}"
                )
            extra.add(name)
        if port is not None and (isinstance(port, bool) or not 0 < int(port) < 65536):
            raise AccessSettingsError(f"port must be in [1, 65535], got {port!r}")
        if isinstance(max_body_bytes, bool) or int(max_body_bytes) < 1:
            raise AccessSettingsError(
                f"max_body_bytes must be a positive integer, got {max_body_bytes!r}"
            )
        if token is not None and len(token) < 16:
            raise AccessSettingsError(
                "token must be at least 16 characters (use secrets.token_urlsafe)"
            )
        return cls(
            frozenset(LOOPBACK_HOSTS | extra),
            None if port is None else int(port),
            token,
            int(max_body_bytes),
        )

    @property
    def cookie_name(self) -> str:
        """The cookie that carries the token (one per port: cookies ignore ports)."""
        return f"posetable_token_{self.port}" if self.port else "posetable_token"

    def _allowed(self) -> str:
        ports = f"port {self.port} or none" if self.port else "any port"
        return f"allowed: {', '.join(sorted(self.hosts))}, with {ports}"

    def check_host(self, value: str | None) -> str:
        """The normalized host of a ``Host`` header; HostNotAllowedError unless it is ours."""
        if not value:
            raise HostNotAllowedError(
                f"the request has no Host header ({self._allowed()}); it is refused"
            )
        try:
            name, port = split_host(value)
        except ValueError as exc:
            raise HostNotAllowedError(
                f"the Host {value!r} is not host[:port] ({exc}); the request is refused"
            ) from exc
        if name not in self.hosts or (
            port is not None and self.port is not None and port != self.port
        ):
            raise HostNotAllowedError(
                f"the Host {value!r} is not this dashboard ({self._allowed()}); the request is "
                "refused (a page of another site pointing its name at this server)"
            )
        return name

    def check_origin(self, origin: str, host_port: int | None) -> None:
        """Refuse a write whose ``Origin`` is not the served origin (http, our host, port)."""
        expected = f"http://<{'|'.join(sorted(self.hosts))}>:{self.port or host_port or 80}"
        refused = OriginNotAllowedError(
            f"a write from origin {origin!r} is refused: only pages of this dashboard "
            f"({expected}) may change data"
        )
        try:
            parts = urlsplit(origin)
            name, port = split_host(parts.netloc)
        except ValueError as exc:
            raise refused from exc
        if parts.scheme != "http" or name not in self.hosts or parts.path not in ("", "/"):
            raise refused
        served = self.port if self.port is not None else host_port
        if (port or 80) != (served or 80):
            raise refused

    def token_matches(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is the token (constant-time comparison)."""
        if self.token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _refusal(error: RequestRefusedError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = orjson.dumps({"error": str(error), "type": type(error).__name__})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return error.http_status, headers, body


class SecurityMiddleware:
    """The ASGI middleware enforcing an :class:`AccessPolicy` (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        set_cookie = False

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(k).lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS:
                    if key.lower().encode() not in present:
                        headers.append((key.lower().encode(), value.encode()))
                if set_cookie:
                    headers.append((b"set-cookie", self._cookie().encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            host = self.policy.check_host(_header(scope, b"host"))
            if scope["type"] != "http":
                raise ForbiddenRequestError(f"{scope['type']} connections are not served")
            set_cookie = self._check_token(scope)
            if scope["method"] in WRITE_METHODS:
                self._check_write(scope, host)
            receive = await self._buffered(scope, receive)
        except RequestRefusedError as error:
            if scope["type"] != "http":
                await send({"type": "websocket.close", "code": 1008})
                return
            set_cookie = False
            status, headers, body = _refusal(error)
            await send_with_headers(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)

    def _cookie(self) -> str:
        cookie: SimpleCookie = SimpleCookie()
        name = self.policy.cookie_name
        cookie[name] = self.policy.token or ""
        cookie[name]["path"] = "/"
        cookie[name]["httponly"] = True
        cookie[name]["samesite"] = "Strict"
        return cookie[name].OutputString()

    def _check_token(self, scope: Scope) -> bool:
        """True when the request carries the token in its query (set the cookie)."""
        if self.policy.token is None:
            return False
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        if any(self.policy.token_matches(v) for v in query.get(TOKEN_PARAMETER, [])):
            return True
        authorization = _header(scope, b"authorization") or ""
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() in ("token", "bearer") and self.policy.token_matches(credential.strip()):
            return False
        cookies: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookies.load(_header(scope, b"cookie") or "")
        morsel = cookies.get(self.policy.cookie_name)
        if morsel is not None and self.policy.token_matches(morsel.value):
            return False
        raise TokenRequiredError(
            "this dashboard listens beyond this machine and needs its access token: open the "
            "URL that posetable serve printed (it ends in ?token=...), or send "
            "'Authorization: token ...'"
        )

    def _check_write(self, scope: Scope, host: str) -> None:
        origin = _header(scope, b"origin")
        if origin is not None:
            try:
                _, host_port = split_host(_header(scope, b"host") or "")
            except ValueError:
                host_port = None
            self.policy.check_origin(origin, host_port)
        if (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site":
            raise OriginNotAllowedError(
                "a write from another site is refused (Sec-Fetch-Site: cross-site)"
            )
        media = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise UnsupportedMediaTypeError(
                f"a {scope['method']} body must be application/json, got "
                f"{media or 'no Content-Type'}; send JSON with Content-Type: application/json"
            )

    async def _buffered(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body (refusing it past the limit), then replay it to the app."""
        limit = self.policy.max_body_bytes
        too_large = BodyTooLargeError(
            f"the request body is larger than the {limit:,} bytes this dashboard accepts"
        )
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise BadRequestBodyError(f"Content-Length must be a number, got {declared!r}")
            if int(declared) > limit:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: pass it on
                first: Message | None = message
                break
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                first = None
                break
        body = b"".join(chunks)
        if scope["method"] in WRITE_METHODS:
            check_json_body(body)
        pending: list[Message] = [
            first if first is not None else {"type": "http.request", "body": body}
        ]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()

        return replay
