"""`vraagbaak mcp`: the MCP server on stdio, for a chatbot client that starts it."""

from __future__ import annotations

import threading

from cli.common import DEFAULT_INDEX, IndexOption, ModelOption, handle_errors


def mcp(index_dir: IndexOption = DEFAULT_INDEX, model: ModelOption = None) -> None:
    """Serve the search_news tool over MCP on stdin/stdout (stdout carries only the protocol)."""
    import logging

    from search.searcher import Searcher
    from search.web.mcp_server import build_mcp

    logging.basicConfig(level=logging.WARNING)  # logging goes to stderr; stdout is the protocol
    with handle_errors():
        searcher = Searcher.open(index_dir, model)
    build_mcp(lambda: searcher, threading.Lock()).run("stdio")
