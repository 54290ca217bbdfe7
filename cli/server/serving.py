"""How `vraagbaak serve` runs the app under uvicorn: the limits on connections and their pace.

uvicorn bounds a request head's size (``h11_max_incomplete_event_size``) and the idle time after a
response (``timeout_keep_alive``), but not the time a client may take to send its head: a client
that sends a header line every few seconds ("slow loris") holds its connection for as long as it
likes, before the app sees anything. ``HeadTimeoutProtocol`` closes such a connection. The time
a body may take is bounded in the app (cli.server.guards.BodyGuard), which sees it.

``--reuse-port`` (``reusable_socket``): N `vraagbaak serve` processes on one port, as gunicorn's
--reuse-port; uvicorn has no such option, but runs on a socket it is handed.
"""

from __future__ import annotations

import asyncio
import json
import socket

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from indexer.errors import VraagbaakError

HEAD_TIMEOUT_S = 10.0  # from the connection (or the last response) to a complete request head
KEEP_ALIVE_S = 5  # an idle connection between requests
MAX_HEAD_BYTES = 16 * 1024  # request line and headers; more is a 400 (h11's default, made explicit)
# Connections and requests at once; over it, new requests get 503 at once instead of the server
# running out of file descriptors. Searches run one at a time anyway (see cli.server.app).
MAX_CONCURRENCY = 128
GRACEFUL_SHUTDOWN_S = 10


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request head."""

    head_timeout: float = HEAD_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        """A timer runs while the client owes a head: between connecting, or the last response
        and its idle keep-alive time, and the end of the next request's headers."""
        owes_head = (self.conn.their_state is h11.IDLE and not self.transport.is_closing()
                     and self.timeout_keep_alive_task is None)
        if owes_head and self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)
        elif not owes_head:
            self._stop_timer()

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a head came: say why (silent ones just close)
            self.logger.warning("Closed a connection whose request head took over %g s.",
                                self.head_timeout)
            self.transport.write(_head_timeout_answer(self.head_timeout))
        self.transport.close()


def _head_timeout_answer(seconds: float) -> bytes:
    # Written by hand: h11 cannot answer a request whose head it has not seen.
    body = json.dumps({"error": {"code": "head_timeout", "hint": None,
                                 "message": f"the request headers took over {seconds:g} s"}})
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body.encode()))


def protocol_with(head_timeout: float) -> type[HeadTimeoutProtocol]:
    """The protocol class with another deadline (tests use a short one)."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": head_timeout})


def uvicorn_config(app, host: str, port: int, head_timeout: float = HEAD_TIMEOUT_S,
                   **overrides) -> uvicorn.Config:
    settings = {"host": host, "port": port, "http": protocol_with(head_timeout),
                "timeout_keep_alive": KEEP_ALIVE_S, "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
                "limit_concurrency": MAX_CONCURRENCY,
                "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S, "log_level": "info"}
    return uvicorn.Config(app, **(settings | overrides))


def reusable_socket(host: str, port: int) -> socket.socket:
    """A TCP socket on HOST:PORT that other processes of the same user can bind as well
    (SO_REUSEPORT): the kernel spreads new connections over the ones listening on it.

    Bound here, so that a port another program holds fails at once; listened on only when
    uvicorn serves it, after the app has started, so that no connection goes to a replica that
    is still loading its model."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise VraagbaakError("--reuse-port needs SO_REUSEPORT, which this system lacks",
                             hint="run one server per port, behind a proxy")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise VraagbaakError(
            f"cannot listen on {host}:{port} with --reuse-port: {exc.strerror or exc}",
            hint="a program that did not set SO_REUSEPORT (or another user's) holds the port: "
                 "stop it or choose another --port") from None
    return sock
