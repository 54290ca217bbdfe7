"""A real uvicorn server on a free loopback port, in a thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, bounded: bool = False, **config):
    """Serve ``app`` on 127.0.0.1 until the block ends; yields the base URL. ``bounded``: with
    the connection limits of `vraagbaak serve` (cli.server.serving), ``config`` on top."""
    import uvicorn

    from cli.server.serving import uvicorn_config

    port = free_port()
    if bounded:
        settings = uvicorn_config(app, "127.0.0.1", port, log_level="warning", **config)
    else:
        settings = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
