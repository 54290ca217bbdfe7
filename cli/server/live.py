"""The server's view of the index, which follows it as it changes.

A writer (`vraagbaak index`, `remove`, or the API) publishes a new version by replacing CURRENT.
The next request opens that version with the model already loaded and switches to it; requests in
flight finish on the version they started with, which stays readable (see indexer.index.directory).

A version left behind is closed when its last request ends: at once for requests that hold it
through ``lease()`` (the ``SearcherDep`` dependency), and otherwise when the last reference to it
goes (``current()``; see Searcher's finalizer). Never under a request still using it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response

from indexer.errors import VraagbaakError
from search.searcher import Searcher
from cli.server.errors import ApiError
from cli.server.replica import VERSION_HEADER

log = logging.getLogger("vraagbaak.web")


class LiveSearcher:
    """The version to answer from, given out per request. It owns every version it holds, the
    first one too: a version it has switched away from is closed once nothing uses it."""

    def __init__(self, searcher: Searcher) -> None:
        self._searcher = searcher
        self._reopening = threading.Lock()
        self._counting = threading.Lock()  # the switch, the leases and the borrowers together
        self._leases: dict[Searcher, int] = {}
        # Handed out without a lease: their users are unknown, so only freeing them closes them.
        self._borrowed: weakref.WeakSet[Searcher] = weakref.WeakSet()
        self._closed = False

    @contextmanager
    def lease(self) -> Iterator[Searcher]:
        """The newest version, kept open until the block ends even if the server switches."""
        self._follow()
        with self._counting:  # taken and counted at once, so a switch cannot close it between
            searcher = self._searcher
            self._leases[searcher] = self._leases.get(searcher, 0) + 1
        try:
            yield searcher
        finally:
            self._release(searcher)

    def current(self) -> Searcher:
        """The newest version, without a lease: open for as long as the caller holds it."""
        self._follow()
        return self._borrow()

    def refresh(self) -> Searcher:
        """Switch now (after this server's own write), waiting for a reload in progress."""
        with self._reopening:
            self._reopen(self._searcher)
            return self._borrow()

    def close(self, keep: Searcher | None = None) -> None:
        """At shutdown: the current version, or when its last lease ends; not ``keep`` (a
        searcher its caller passed in and closes itself)."""
        with self._counting:
            self._closed = True
            idle = self._searcher not in self._leases and self._searcher is not keep
        if idle:
            self._searcher.close()

    def _follow(self) -> None:
        """Switch to the newest version; never waits for another request's reload."""
        searcher = self._searcher
        if searcher.is_current() or not self._reopening.acquire(blocking=False):
            return
        try:
            self._reopen(searcher)
        finally:
            self._reopening.release()

    def _borrow(self) -> Searcher:
        with self._counting:
            self._borrowed.add(self._searcher)
            return self._searcher

    def _reopen(self, seen: Searcher) -> None:
        if self._searcher is not seen or seen.is_current():
            return
        try:
            fresh = seen.reopened()
        except (VraagbaakError, OSError, RuntimeError) as exc:
            # Keep answering from the version we have; the next request tries again.
            log.warning("could not open the new index version: %s", exc)
            return
        with self._counting:
            self._searcher = fresh
            idle = seen not in self._leases and seen not in self._borrowed
        if idle:
            seen.close()
        log.info("switched to index version %s", fresh.version)

    def _release(self, searcher: Searcher) -> None:
        with self._counting:
            self._leases[searcher] -= 1
            if self._leases[searcher]:
                return
            del self._leases[searcher]
            left = (searcher is not self._searcher or self._closed) and searcher not in self._borrowed
        if left:
            searcher.close()


def get_live_of(app: FastAPI) -> LiveSearcher:
    if app.state.live is None:
        raise ApiError(503, "not_ready", f"the server is not ready: {app.state.not_ready}")
    return app.state.live


def get_live(request: Request) -> LiveSearcher:
    return get_live_of(request.app)


LiveDep = Annotated[LiveSearcher, Depends(get_live)]


def lease_searcher(request: Request, response: Response) -> Iterator[Searcher]:
    """The request's version of the index, held until the response is done (see lease()), and
    named in the response: replicas that answer alike from the same version can be checked."""
    with get_live_of(request.app).lease() as searcher:
        response.headers[VERSION_HEADER] = searcher.version
        yield searcher


SearcherDep = Annotated[Searcher, Depends(lease_searcher)]
