"""Which server answered: every response names its replica, ``X-Vraagbaak-Replica: host:pid``.

With N `serve --reuse-port` processes on one port (or N behind a proxy), a client, a load test or
an operator reading a log can tell them apart; the index version a response was read from is in
``X-Vraagbaak-Index-Version`` (set where the version is leased, cli.server.live).
Why stateless replicas over one index folder: docs/decisions/0044-state-at-10m-articles.md
"""

from __future__ import annotations

import os
import socket

REPLICA_HEADER = "X-Vraagbaak-Replica"
VERSION_HEADER = "X-Vraagbaak-Index-Version"


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ReplicaHeader:
    """ASGI middleware, the outermost: error responses of the guards carry the header too."""

    def __init__(self, app, name: str) -> None:
        self.app = app
        self.header = (REPLICA_HEADER.lower().encode(), name.encode())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message) -> None:
            if message["type"] == "http.response.start":
                message = message | {"headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_named)
