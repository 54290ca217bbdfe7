"""A whole `Searcher.search`, split into stages by timing the searcher's public collaborators.

The searcher is the product's own; the clock wraps its embedder (embed_queries), its keyword
index (search) and its dense retriever (search), so the stages add up to the real search, with
no copy of its code to drift from it. What the three leave of the whole search is fusion,
grouping, snippets and highlights ("fusion+snippets").
"""

from __future__ import annotations

import time

STAGES = ("embedding", "keyword", "vectors", "fusion+snippets")


class _Timed:
    """``target``, with the time spent in its method ``method`` added to ``laps[stage]``."""

    def __init__(self, target, method: str, stage: str, laps: dict[str, float]) -> None:
        self._target, self._method, self._stage, self._laps = target, method, stage, laps

    def __getattr__(self, name: str):
        value = getattr(self._target, name)
        if name != self._method:
            return value

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._laps[self._stage] += (time.perf_counter() - started) * 1000
        return timed


class StageClock:
    """Times ``searcher``'s searches stage by stage; the searcher is changed for good."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.laps = dict.fromkeys(STAGES, 0.0)
        searcher.embedder = _Timed(searcher.embedder, "embed_queries", "embedding", self.laps)
        searcher.keywords = _Timed(searcher.keywords, "search", "keyword", self.laps)
        searcher.dense = _Timed(searcher.dense, "search", "vectors", self.laps)

    def search(self, question: str, options=None) -> dict[str, float]:
        """One whole search; milliseconds per stage and in all ("search")."""
        self.laps.update(dict.fromkeys(STAGES, 0.0))
        started = time.perf_counter()
        self.searcher.search(question, options)
        whole = (time.perf_counter() - started) * 1000
        self.laps["fusion+snippets"] = whole - sum(self.laps[s] for s in STAGES[:3])
        return {**self.laps, "search": whole}
