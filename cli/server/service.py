"""One way to run a search for the web: shared by the REST endpoints and the MCP tool."""

from __future__ import annotations

from cli.server.models import SearchOptionsIn
from search.context import pack_context
from search.options import SearchOptions
from search.searcher import Searcher, SearchResult


def run_search(searcher: Searcher, options: SearchOptionsIn, questions: list[str]) -> list[dict]:
    """Search, and add the context."""
    search_options = SearchOptions(
        k=options.k, mode=options.mode, since=options.since, until=options.until,
        dates_from_question=options.question_dates, group=options.group,
        per_article=options.per_article)
    results = searcher.search_many(questions, search_options)
    return [_response(result, options) for result in results]


def _response(result: SearchResult, options: SearchOptionsIn) -> dict:
    data = result.as_dict()
    if options.context:
        data["context"], citations = pack_context(result.hits, options.max_chars)
        for hit in data["results"]:
            hit["citation"] = citations.get(hit["rank"])
    return data
