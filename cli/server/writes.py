"""Writes over HTTP: POST /documents adds or updates articles, DELETE /documents/{id} removes one.

They go through the same write path as `vraagbaak index` (indexer.write.pipeline.update_index), so the
index changes by publishing a new version, and the server switches to it. Writes are enabled only
when an API key protects the server and it was not started read-only.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from cli.server.errors import ApiError
from cli.server.live import LiveDep, LiveSearcher
from cli.server.models import ArticleIn, ErrorResponse, WriteResult
from indexer.settings import Settings
from indexer.write.chunking import ParagraphChunker
from indexer.write.loading import LoadResult, document_from_record
from indexer.write.pipeline import IndexReport, update_index

MAX_ARTICLES_PER_REQUEST = 1000


def _require_writable(request: Request) -> None:
    settings = request.app.state.settings
    if not settings.writes_enabled:
        why = ("it was started with --read-only" if settings.read_only
               else "no API key is configured")
        raise ApiError(403, "read_only", f"this server is read-only: {why}",
                       hint="start it with VRAAGBAAK_API_KEY set (and without --read-only) to "
                            "allow writes, or use `vraagbaak index` / `vraagbaak remove`")


def writes_router() -> APIRouter:
    # 403: read-only server; 409: another writer holds the index; 507: the write itself failed
    router = APIRouter(tags=["documents"], dependencies=[Depends(_require_writable)],
                       responses={s: {"model": ErrorResponse} for s in (403, 409, 507)})
    one_writer = threading.Lock()  # API writes queue here; other processes meet the index's lock
    merges = Settings.from_env().merges  # due merges: a niced child process, off the lock

    def write(live: LiveSearcher, loaded: LoadResult | None = None, remove=()) -> tuple[IndexReport, str]:
        # The server's one model, shared with the searches: it embeds one call at a time.
        searcher = live.current()
        model = searcher.embedder
        chunker = ParagraphChunker(model, searcher.manifest.chunker["max_tokens"])
        with one_writer:
            report = update_index(searcher.index_dir, model, chunker, loaded, remove=remove,
                                  merges=merges)
        return report, live.refresh().version

    @router.post("/documents", response_model=WriteResult)
    def add_documents(live: LiveDep,
                      body: Annotated[ArticleIn | list[ArticleIn], Body()]):
        """Add articles, or update those whose id exists; unchanged ones cost nothing."""
        articles = body if isinstance(body, list) else [body]
        report, version = write(live, LoadResult(documents=_documents(articles)))
        return _result(report, version)

    # :path, because article ids from JSONL may contain slashes ("nos/2021/123")
    @router.delete("/documents/{doc_id:path}", response_model=WriteResult,
                   responses={404: {"model": ErrorResponse}})
    def remove_document(live: LiveDep, doc_id: str):
        """Remove an article, with its passages and vectors."""
        report, version = write(live, remove=[doc_id])
        if report.unknown:
            raise ApiError(404, "not_found", f"no article with id {doc_id!r}")
        return _result(report, version)

    return router


def _documents(articles: list[ArticleIn]):
    if not 1 <= len(articles) <= MAX_ARTICLES_PER_REQUEST:
        raise ApiError(422, "invalid_request", f"send 1 to {MAX_ARTICLES_PER_REQUEST} articles "
                       f"per request, not {len(articles)}")
    documents, problems, seen = [], [], set()
    for n, article in enumerate(articles):
        try:
            doc = document_from_record(article.model_dump(), origin="")
        except ValueError as exc:
            problems.append(f"article {n}: {exc}")
            continue
        if doc.doc_id in seen:
            problems.append(f"article {n}: id {doc.doc_id!r} occurs twice in this request")
        seen.add(doc.doc_id)
        documents.append(doc)
    if problems:
        raise ApiError(422, "invalid_article", "; ".join(problems[:10]),
                       hint="nothing was written; fix these articles and send the request again")
    return documents


def _result(report: IndexReport, version: str) -> WriteResult:
    return WriteResult(added=report.added, updated=report.updated, unchanged=report.unchanged,
                       removed=report.removed, articles=report.articles, passages=report.chunks,
                       embedded=report.embedded, version=version)
