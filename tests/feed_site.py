"""A web site of feeds and pages on 127.0.0.1, in a thread, for the `follow` tests.

Each path answers what ``site.set`` gave it, honours If-None-Match / If-Modified-Since when the
route has an ETag / Last-Modified, and counts what it was asked and what it answered.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes | Callable[[BaseHTTPRequestHandler], None]  # a callable writes the answer itself
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


class FeedSite:
    def __init__(self, base: str) -> None:
        self.base = base
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()  # requests per path
        self.not_modified: Counter[str] = Counter()  # 304s sent per path
        self.conditional: Counter[str] = Counter()  # requests with If-None-Match/If-Modified-Since
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: str | bytes | Callable, content_type: str = "text/html; charset=utf-8",
            **options) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body, content_type, **options)
        return self.url(path)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            self.hits[path] += 1
            if handler.headers.get("If-None-Match") or handler.headers.get("If-Modified-Since"):
                self.conditional[path] += 1
        route = self.routes.get(path)
        if route is None:
            handler.send_error(404, "Not Found")
            return
        if callable(route.body):
            route.body(handler)
            return
        if ((route.etag and handler.headers.get("If-None-Match") == route.etag)
                or (route.last_modified and not route.etag
                    and handler.headers.get("If-Modified-Since") == route.last_modified)):
            with self._lock:
                self.not_modified[path] += 1
            handler.send_response(304)
            handler.end_headers()
            return
        handler.send_response(route.status)
        handler.send_header("Content-Type", route.content_type)
        handler.send_header("Content-Length", str(len(route.body)))
        if route.etag:
            handler.send_header("ETag", route.etag)
        if route.last_modified:
            handler.send_header("Last-Modified", route.last_modified)
        for name, value in route.headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(route.body)


@contextmanager
def serving() -> Iterator[FeedSite]:
    """A FeedSite on a free port of 127.0.0.1, stopped (and its thread joined) when the block ends."""
    site: FeedSite | None = None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # a client that stops reading does not hold a thread for ever

        def do_GET(self):  # noqa: N802 (http.server's name)
            site.handle(self)

        def log_message(self, *args):  # the tests' output stays the tests'
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site = FeedSite(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def endless(handler: BaseHTTPRequestHandler, limit: int = 64 * 1024 * 1024) -> None:
    """An HTML page that never ends (no Content-Length), up to ``limit`` bytes or until the
    client hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"<p>" + b"bla " * 16000 + b"</p>\n"
    sent = 0
    try:
        handler.wfile.write(b"<html><body>")
        while sent < limit:
            handler.wfile.write(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the reader stopped at its cap, as it should
    handler.close_connection = True


def slow(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """A page that answers only after ``seconds``."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        except OSError:
            pass
    return answer
