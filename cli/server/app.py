"""The FastAPI app: `create_app(settings, searcher=None)`.

The model and index load once, in the lifespan (or come in as ``searcher``, for tests). Requests
run in FastAPI's threads; what may not be shared between them is guarded where it lives: the
embedder embeds one call at a time, the chunk store reads one query at a time.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from indexer.errors import VraagbaakError
from indexer.embedders import backend_of
from search.searcher import Searcher, single_threaded_numpy
from cli.server.docs_page import docs_page
from cli.server.errors import HTTP_CODES, ApiError, error_response, status_of
from cli.server.guards import BodyGuard, RequireKey, TrustedHost, is_loopback
from cli.server.validation import invalid_request
from cli.server.live import LiveSearcher, SearcherDep, get_live_of
from cli.server.mcp_server import build_mcp
from cli.server.replica import ReplicaHeader, replica_name
from cli.server.models import (BatchItem, BatchRequest, BatchResponse, DocumentOut, ErrorResponse, Health, SearchRequest, SearchResponse, Stats)
from cli.server.service import run_search
from cli.server.settings import ServerSettings
from cli.server.writes import writes_router

log = logging.getLogger("vraagbaak.web")

def create_app(settings: ServerSettings, searcher: Searcher | None = None) -> FastAPI:
    mcp = build_mcp(lambda: get_live_of(app).lease())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.live, app.state.not_ready = None, None
        opened = searcher
        if opened is None:
            try:
                single_threaded_numpy()  # a searching process (see search.searcher)
                opened = Searcher.open(settings.index_dir, settings.model, settings=settings.core)
            except VraagbaakError as exc:  # the server still answers /health, with the reason
                app.state.not_ready = f"{exc}" + (f" ({exc.hint})" if exc.hint else "")
                log.error("not ready: %s", app.state.not_ready)
        if opened is not None:
            app.state.live = LiveSearcher(opened)
            m = opened.manifest
            log.info("model %s (questions by %s), index %s: %d articles, %d passages; writes %s",
                     m.model["model_id"], backend_of(opened.embedder), settings.index_dir,
                     m.articles, m.chunks,
                     "enabled" if settings.writes_enabled else "disabled (read-only)")
        async with mcp.session_manager.run():
            yield
        if app.state.live is not None:  # a searcher passed in is the caller's to close
            app.state.live.close(keep=searcher)

    # /docs is our own page: FastAPI's Swagger UI and ReDoc load from a CDN (blank offline)
    app = FastAPI(title="vraagbaak", version="0.1.0", lifespan=lifespan,
                  description="Semantic search over Dutch news, asked in Dutch or English.",
                  docs_url=None, redoc_url=None,
                  responses={s: {"model": ErrorResponse} for s in (400, 401, 408, 413, 415, 421,
                                                                  422, 503)})
    app.state.settings = settings
    _add_error_handlers(app)
    _add_guards(app, settings)
    app.add_middleware(ReplicaHeader, name=replica_name())  # outermost: on every response
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(static / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))

    # The API key is checked before routing, by RequireKey (see _add_guards), for every path
    # but the open ones; so are /mcp and any route added later.
    app.include_router(_health_router())
    app.include_router(_api_router(settings))
    app.include_router(writes_router())
    _add_mcp_route(app, mcp, settings)
    return app


def _add_guards(app: FastAPI, settings: ServerSettings) -> None:
    """The checks on the raw request, outermost first: Host, CORS, key, body (cli.server.guards).

    CORS sits outside the key, so that a browser's preflight (which carries no key) is answered,
    and a 401 carries the CORS headers the page needs to read it.
    """
    app.add_middleware(BodyGuard, search_limit=settings.max_body_bytes,
                       write_limit=settings.max_write_bytes, read_timeout=settings.read_timeout_s)
    app.add_middleware(RequireKey, key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(TrustedHost, bound_to=settings.host, extra=settings.allowed_hosts)


def _add_mcp_route(app: FastAPI, mcp, settings: ServerSettings) -> None:
    """The SDK's streamable-HTTP endpoint at /mcp, POST only.

    Stateless with JSON responses, the SDK has nothing to stream on a GET, yet it holds a GET's
    event stream open forever; the MCP spec lets a server answer 405 instead.
    """
    sdk_app = mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                      json_response=True, transport_security=_mcp_security(settings))
    endpoint = next(r.endpoint for r in sdk_app.routes if getattr(r, "path", None) == "/mcp")
    app.router.routes.append(Route("/mcp", endpoint=_Asgi(endpoint), methods=["POST"]))


def _mcp_security(settings: ServerSettings):
    """The SDK's own Host and Origin check, with the names TrustedHost allows too."""
    from mcp.server.transport_security import TransportSecuritySettings

    if not is_loopback(settings.host):
        return None  # as TrustedHost: off, the proxy in front checks
    hosts = sorted({"127.0.0.1", "localhost", "[::1]"} | set(settings.allowed_hosts))
    return TransportSecuritySettings(
        allowed_hosts=[h for name in hosts for h in (name, f"{name}:*")],
        allowed_origins=[f"{scheme}://{h}" for name in hosts for scheme in ("http", "https")
                         for h in (name, f"{name}:*")] + list(settings.cors_origins))


class _Asgi:
    """An ASGI app as a class instance, so Starlette's Route calls it as one (not as a view)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        await self.inner(scope, receive, send)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VraagbaakError)  # ApiError included
    async def vraagbaak_error(_, exc: VraagbaakError):
        status, code = status_of(exc)
        return error_response(status, code, str(exc), exc.hint)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return invalid_request(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        # keep the exception's headers: "Allow" on a 405, which RFC 9110 requires
        return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, "http_error"),
                              str(exc.detail), headers=exc.headers)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["service"])

    @router.get("/health", response_model=Health, responses={503: {"model": Health}})
    def health(request: Request):
        if request.app.state.live is None:
            return JSONResponse({"status": "not ready", "reason": request.app.state.not_ready},
                                status_code=503)
        return Health(status="ready")

    return router


def _api_router(settings: ServerSettings) -> APIRouter:
    router = APIRouter()

    @router.get("/search", response_model=SearchResponse, tags=["search"])
    def search_get(searcher: SearcherDep, options: Annotated[SearchRequest, Query()]):
        return run_search(searcher, options, [options.q])[0]

    @router.post("/search", response_model=SearchResponse, tags=["search"])
    def search_post(searcher: SearcherDep, body: SearchRequest):
        return run_search(searcher, body, [body.q])[0]

    @router.post("/search/batch", response_model=BatchResponse, tags=["search"])
    def search_batch(searcher: SearcherDep, body: BatchRequest):
        if len(body.queries) > settings.max_batch:
            raise ApiError(413, "batch_too_large", f"{len(body.queries)} questions in one batch; "
                           f"the limit is {settings.max_batch}")
        results = run_search(searcher, body, [q.q for q in body.queries])
        return BatchResponse(results=[BatchItem(id=q.id, **r) for q, r in zip(body.queries, results)])

    # :path, because article ids from JSONL may contain slashes ("nos/2021/123")
    @router.get("/documents/{doc_id:path}", response_model=DocumentOut, tags=["documents"],
                responses={404: {"model": ErrorResponse}})
    def document(searcher: SearcherDep, doc_id: str):
        doc = searcher.store.get_document(doc_id)
        if doc is None:
            raise ApiError(404, "not_found", f"no article with id {doc_id!r}")
        return DocumentOut(doc_id=doc.doc_id, title=doc.title, date=doc.date, url=doc.url,
                           source=doc.source, text=doc.text)

    @router.get("/stats", response_model=Stats, tags=["service"])
    def stats(searcher: SearcherDep):
        m = searcher.manifest
        first, last = searcher.store.date_range()
        return Stats(index=str(settings.index_dir), version=searcher.version,
                     model=m.model["model_id"], model_fingerprint=m.model["fingerprint"],
                     articles=m.articles, passages=m.chunks, sentences=m.sentences,
                     language=m.language, first_date=first, last_date=last,
                     format_version=m.format_version, query_backend=backend_of(searcher.embedder),
                     vector_indexes=m.vector_indexes)

    return router
