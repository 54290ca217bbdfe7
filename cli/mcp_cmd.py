"""`vraagbaak mcp`: the MCP server on stdio, for a chatbot client that starts it."""

from __future__ import annotations

from contextlib import nullcontext

from cli.common import IndexOption, ModelOption, handle_errors, open_searcher
from indexer.settings import DEFAULT_INDEX


def mcp(index_dir: IndexOption = DEFAULT_INDEX, model: ModelOption = None) -> None:
    """Serve the search_news tool over MCP on stdin/stdout (stdout carries only the protocol)."""
    import logging

    from cli.server.mcp_server import build_mcp

    logging.basicConfig(level=logging.WARNING)  # logging goes to stderr; stdout is the protocol
    with handle_errors():
        searcher = open_searcher(index_dir, model)
    build_mcp(lambda: nullcontext(searcher)).run("stdio")
