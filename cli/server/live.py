"""The server's view of the index, which follows it as it changes.

A writer (`vraagbaak index`, `remove`, or the API) publishes a new version by replacing CURRENT.
The next request opens that version with the model already loaded and switches to it; requests in
flight finish on the version they started with, which stays readable (see indexer.index.directory).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from cli.server.errors import ApiError
from indexer.errors import VraagbaakError
from search.searcher import Searcher

log = logging.getLogger("vraagbaak.web")


class LiveSearcher:
    def __init__(self, searcher: Searcher) -> None:
        self._searcher = searcher
        self._reopening = threading.Lock()

    def current(self) -> Searcher:
        """The newest published version's searcher; never waits for another request's reload."""
        searcher = self._searcher
        if searcher.is_current() or not self._reopening.acquire(blocking=False):
            return searcher
        try:
            return self._reopen(searcher)
        finally:
            self._reopening.release()

    def refresh(self) -> Searcher:
        """Switch now (after this server's own write), waiting for a reload in progress."""
        with self._reopening:
            return self._reopen(self._searcher)

    def close(self) -> None:
        """At shutdown. Versions left behind by a switch are closed when nothing uses them."""
        self._searcher.close()

    def _reopen(self, seen: Searcher) -> Searcher:
        if self._searcher is not seen or seen.is_current():
            return self._searcher
        try:
            self._searcher = seen.reopened()
        except (VraagbaakError, OSError, RuntimeError) as exc:
            # Keep answering from the version we have; the next request tries again.
            log.warning("could not open the new index version: %s", exc)
            return seen
        log.info("switched to index version %s", self._searcher.version)
        return self._searcher


def get_live_of(app: FastAPI) -> LiveSearcher:
    if app.state.live is None:
        raise ApiError(503, "not_ready", f"the server is not ready: {app.state.not_ready}")
    return app.state.live


def get_live(request: Request) -> LiveSearcher:
    return get_live_of(request.app)


LiveDep = Annotated[LiveSearcher, Depends(get_live)]
