"""The MCP server: one tool, `search_news`, over the same searcher as the web API.

Served by the web app at /mcp (streamable HTTP) and by `vraagbaak mcp` on stdio.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from pydantic import ValidationError

from indexer.errors import VraagbaakError
from search.searcher import Searcher
from cli.server.models import Number, SearchOptionsIn
from search.options import DEFAULT_K, SearchMode
from cli.server.service import run_search

INSTRUCTIONS = (
    "Search a collection of Dutch news articles with a question in Dutch or English. Each result "
    "has the article id, its date, the passage, and the snippet that best answers; with "
    "context=true, a ready-to-quote context with [n] citations. When `confident` is false, the "
    "best passage probably does not answer the question.")


def build_mcp(lease: Callable[[], AbstractContextManager[Searcher]]):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("vraagbaak", instructions=INSTRUCTIONS)

    @server.tool(name="search_news", description="Find the news passages that answer a question.",
                 structured_output=True)
    def search_news(question: str, k: Number = DEFAULT_K, mode: SearchMode = SearchMode.HYBRID,
                    since: str | None = None, until: str | None = None,
                    question_dates: bool = True, group: bool = True, per_article: Number = 1,
                    context: bool = True, max_chars: Number = 4000) -> dict[str, Any]:
        """question: Dutch or English. since/until: YYYY, YYYY-MM or YYYY-MM-DD (inclusive). A
        date in the question itself ("in juni 2021") also filters, unless question_dates=false.
        group: one result per article, with per_article passages."""
        # The model on the other side needs the reason to correct its call; the SDK shows only
        # the message of a ToolError.
        try:
            options = SearchOptionsIn(k=k, mode=mode, since=since, until=until,
                                      question_dates=question_dates, group=group,
                                      per_article=per_article, context=context, max_chars=max_chars)
            with lease() as searcher:
                return run_search(searcher, options, [question])[0]
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ToolError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        except VraagbaakError as exc:
            raise ToolError(f"{exc}" + (f" ({exc.hint})" if exc.hint else "")) from None

    return server
