"""Checks that run on the raw ASGI request, before FastAPI reads its body or routes it.

Outermost first (see cli.server.app): the Host header (DNS rebinding), then CORS, the API key,
and the body's size and pace. They are plain ASGI middleware, not FastAPI dependencies or
``@app.middleware``, because those run after the body was read (FastAPI reads it to solve the
dependencies), and a chunked body has no Content-Length to check beforehand.
"""

from __future__ import annotations

import hmac
import ipaddress
import math

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cli.server.errors import error_response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Served without the key: the page's own files (a browser cannot send the header when it opens a
# page, and they hold no data), the health check, and the API's description.
OPEN_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json"})
OPEN_PREFIX = "/static/"


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str | None:
    """The name in a Host header, without the port: "[::1]:8000" -> "::1"; None if malformed."""
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
    else:
        name, _, port = header.partition(":")
        rest = f":{port}" if port else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return None
    return name.lower() or None


class TrustedHost:
    """Answer only requests that name this server in their Host header (DNS rebinding).

    A page on attacker.example can make its name resolve to 127.0.0.1 and then read a loopback
    server as "same origin"; its requests still say ``Host: attacker.example``. So a server bound
    to a loopback address refuses every Host but the loopback names and addresses (any port) and
    ``extra`` (a reverse proxy's public name). The rule applies to requests that arrived on a
    loopback socket (``scope["server"]``); an in-process test client has no socket. A server bound
    to another address is left alone: there the proxy in front of it has to check the name.
    """

    def __init__(self, app: ASGIApp, bound_to: str, extra: frozenset[str] = frozenset()) -> None:
        self.app, self.on = app, is_loopback(bound_to)
        self.extra = frozenset(h.lower() for h in extra)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.on and is_loopback((scope.get("server") or ("",))[0]):
            header = Headers(scope=scope).get("host", "")
            if not self.trusted(header):
                # 421 Misdirected Request (RFC 9110 15.5.20): this server is not the one the
                # client meant; the MCP SDK answers a bad Host on /mcp the same way.
                response = error_response(
                    421, "untrusted_host", f"this server does not answer for host {header!r}",
                    hint="use http://127.0.0.1:<port> or http://localhost:<port>, or add the "
                         "name to VRAAGBAAK_ALLOWED_HOSTS", close=True)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def trusted(self, header: str) -> bool:
        name = host_name(header)
        return name is not None and (is_loopback(name) or name in self.extra
                                     or header.lower() in self.extra)


class RequireKey:
    """Refuse a request without the API key before anything reads its body.

    Every path needs the key but the open ones, so a route added later is protected by default.
    """

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.key is None or _is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        if not key_matches(Headers(scope=scope).get("authorization", ""), self.key):
            response = error_response(
                401, "unauthorized", "a valid API key is needed",
                hint="send the header 'Authorization: Bearer <VRAAGBAAK_API_KEY>'", close=True)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path == OPEN_PREFIX.rstrip("/") or path.startswith(OPEN_PREFIX)


def key_matches(given: str, key: str) -> bool:
    scheme, _, token = given.partition(" ")
    # compare_digest: the time taken must not tell how much of the key was right
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), key.encode())


class BodyGuard:
    """Limit a request body by the bytes that really arrive, and how long each part takes.

    Content-Length over the limit is refused before reading. Otherwise the guard reads the body
    itself before calling the app, counting: once it passes the limit (a chunked body declares no
    length) the answer is 413, and when no part arrives within ``read_timeout`` seconds it is
    408; either way at once, without reading further, and the connection is closed. The app gets
    the body whole, as FastAPI would read it anyway, and never sees a refused one.
    """

    def __init__(self, app: ASGIApp, search_limit: int, write_limit: int,
                 read_timeout: float | None = None) -> None:
        self.app, self.search_limit, self.write_limit = app, search_limit, write_limit
        self.read_timeout = math.inf if read_timeout is None else read_timeout

    def limit_for(self, scope: Scope) -> int:
        writing = scope["method"] == "POST" and scope["path"] == "/documents"
        return self.write_limit if writing else self.search_limit  # articles outgrow questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(f"the request body is {declared} bytes", limit)(scope, receive, send)
            return
        body, refusal = await self._read(receive, limit)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if body is None:
            return  # the client went away before its body was in: nobody to answer
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int):
        """(the body, None), (None, an error response), or (None, None) on a disconnect."""
        body = bytearray()
        while True:
            message = None
            with anyio.move_on_after(self.read_timeout):
                message = await receive()
            if message is None:  # not reassigned: the wait timed out
                return None, error_response(
                    408, "body_timeout",
                    f"no part of the request body came within {self.read_timeout:g} s",
                    hint="send the body without pauses", close=True)
            if message["type"] != "http.request":
                return None, None
            body += message.get("body", b"")
            if len(body) > limit:
                return None, _too_large(f"the request body passed {len(body)} bytes", limit)
            if not message.get("more_body", False):
                return bytes(body), None


def _too_large(what: str, limit: int):
    return error_response(413, "body_too_large", f"{what}; the limit is {limit}",
                          hint="send a smaller body", close=True)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body read already, then the client's next message (the
    disconnect that streaming responses wait for)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
