"""The vector store contract: what a version's search asks of one part's vectors (passages or
sentences), over stable ids, wherever the vectors live.

The FAISS store is the version's segments, each with its own vector files (SegmentedVectors);
the Milvus store is one collection per part that every version of the index shares, of which a
version sees only the ids it holds live. Both answer the same calls; one contract test runs
against both (tests/test_vector_stores.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class DateBounds:
    """Inclusive YYYYMMDD bounds of a date filter, for a store that filters by date itself (an
    article's date is a span: it passes when its span overlaps the bounds). The searcher's
    ``allowed`` ids stay the truth; these only let the store look among the right rows first."""

    since: int | None = None
    until: int | None = None


class VectorStore(Protocol):
    """One part's vectors of one version, by stable id (tests/test_vector_stores.py checks it)."""

    kind: str  # "faiss" or "milvus": what the manifest's vector_store records
    dim: int

    @property
    def id_space(self) -> int:
        """Above every live stable id (one more than the largest id the version's segments
        hold): the size of a mask over ids."""
        ...

    def __len__(self) -> int:
        """How many ids the version holds live."""
        ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               dates: DateBounds | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first, -1 where fewer are found. Only ids the
        version holds live, and with ``allowed`` (sorted ids) only those; ``dates`` may narrow
        the search first where the store can (never widening what ``allowed`` keeps)."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of live ``ids``, in their order; KeyError for an id not live."""
        ...

    def describe(self) -> dict: ...


class LiveIds:
    """The stable ids a version holds live, as a mask: what a shared store must filter by,
    since it also holds rows of later (or crashed-and-rerun) writes and rows deleted later."""

    def __init__(self, per_segment: list[np.ndarray], dead: frozenset) -> None:
        space = max((int(ids.max()) + 1 for ids in per_segment if len(ids)), default=0)
        self.mask = np.zeros(space, bool)
        for ids in per_segment:
            self.mask[np.asarray(ids, np.int64)] = True
        if dead:
            gone = np.fromiter(dead, np.int64, len(dead))
            self.mask[gone[gone < space]] = False
        self.count = int(np.count_nonzero(self.mask))

    @property
    def space(self) -> int:
        return len(self.mask)

    def holds(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        inside = (ids >= 0) & (ids < len(self.mask))
        out = np.zeros(len(ids), bool)
        out[inside] = self.mask[ids[inside]]
        return out
