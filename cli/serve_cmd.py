"""`vraagbaak serve`: the web API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import DEFAULT_INDEX, IndexOption, ModelOption, handle_errors


def serve(
    index_dir: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; 127.0.0.1 keeps it "
                                                     "to this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    read_only: Annotated[bool, typer.Option(
        "--read-only", help="Refuse POST/DELETE /documents even with an API key.")] = False,
    reuse_port: Annotated[bool, typer.Option(
        "--reuse-port", help="Share PORT with other `serve --reuse-port` processes "
                             "(SO_REUSEPORT): the kernel spreads connections over them.")] = False,
) -> None:
    """Run the web API on HOST:PORT (docs at /docs). VRAAGBAAK_API_KEY protects it.

    Writes over the API (POST/DELETE /documents) are enabled only with an API key and without
    --read-only. The server follows the index: a version published by `index`, `remove` or an
    API write is used from the next request on, without a restart.
    """
    import logging

    import uvicorn

    from indexer.index.directory import IndexDirectory
    from cli.server.app import create_app
    from cli.server.guards import is_loopback
    from cli.server.serving import reusable_socket, uvicorn_config
    from cli.server.settings import ServerSettings

    with handle_errors():
        IndexDirectory(index_dir).manifest()  # no index: say so now, not in a server log
        # bound before the model loads, so a port that cannot be shared fails now
        sockets = [reusable_socket(host, port)] if reuse_port else None
    settings = ServerSettings.from_env(index_dir=index_dir, model=model, host=host,
                                       read_only=read_only or None)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    for chatty in ("faiss", "sentence_transformers", "bm25s"):  # their INFO is load-time detail
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if not is_loopback(host):
        # The Host check against DNS rebinding is on for loopback hosts only (cli.server.guards)
        typer.echo(f"note: listening on {host}: the Host header is not checked; a reverse proxy "
                   "in front should answer only for its own name", err=True)
        if settings.api_key is None:
            typer.echo(f"warning: listening on {host} without VRAAGBAAK_API_KEY: anyone who can "
                       "reach it can search", err=True)
    if sockets:  # uvicorn names the address only for sockets it opened itself
        logging.getLogger("vraagbaak.web").info(
            "answering on http://%s:%d with SO_REUSEPORT, once loaded, as one of its replicas",
            host, port)
    uvicorn.Server(uvicorn_config(create_app(settings), host, port)).run(sockets=sockets)
