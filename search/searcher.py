"""Dense search over a published index version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer import embedding
from indexer.embedding import Embedder, ModelSpec
from indexer.errors import IndexFormatError, QueryError
from indexer.index_dir import MANIFEST, STORE, VECTORS, IndexDirectory, Manifest
from indexer.pipeline import check_same_model
from indexer.store import ChunkStore
from indexer.vector_index import FlatIPIndex

MAX_QUERY_CHARS = 2000
MAX_K = 100


@dataclass(frozen=True)
class Hit:
    """One retrieved passage; the field names are the stable JSON contract."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    date: str | None
    title: str | None
    text: str
    start: int  # character offsets of ``text`` in the article's text
    end: int


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]

    def as_dict(self) -> dict:
        return {"query": self.query, "results": [asdict(h) for h in self.hits]}


class Searcher(Protocol):
    def search(self, query: str, k: int = 5) -> SearchResult: ...

    def search_many(self, queries: Sequence[str], k: int = 5) -> list[SearchResult]: ...


def validate_query(query: str) -> str:
    query = " ".join(query.split())
    if not query:
        raise QueryError("the question is empty", hint="ask something, e.g. \"Wat zei Poetin over Navalny?\"")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the question is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    return query


def validate_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")
    return k


class DenseSearcher:
    """Embed the question with the index's own model and return the nearest chunks."""

    def __init__(self, index_dir: IndexDirectory, embedder: Embedder) -> None:
        version = index_dir.current_version()
        self.manifest = Manifest.from_file(version / MANIFEST)
        check_same_model(self.manifest, embedder.spec, index_dir.root)
        self.index_dir = index_dir
        self.embedder = embedder
        self._vectors = FlatIPIndex.load(version / VECTORS)
        self._store = ChunkStore.open(version / STORE)

    @classmethod
    def open(cls, index_root: Path, model: str | None = None,
             make_embedder: Callable[[ModelSpec], Embedder] | None = None) -> DenseSearcher:
        """Open ``index_root`` with ``model``, or with the model the index was built with."""
        index_dir = IndexDirectory(index_root)
        manifest = index_dir.manifest()
        spec = embedding.resolve_model_for_index(manifest.model, model)
        check_same_model(manifest, spec, index_dir.root)  # before the slow part: loading the model
        return cls(index_dir, (make_embedder or embedding.load_embedder)(spec))

    @property
    def store(self) -> ChunkStore:
        return self._store

    def search(self, query: str, k: int = 5) -> SearchResult:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 5) -> list[SearchResult]:
        cleaned = [validate_query(q) for q in queries]
        validate_k(k)
        if not cleaned:
            return []
        scores, ids = self._vectors.search(self.embedder.embed_queries(cleaned), k)
        return [SearchResult(q, self._hits(s, i)) for q, s, i in zip(cleaned, scores, ids)]

    def _hits(self, scores: np.ndarray, ids: np.ndarray) -> list[Hit]:
        found = [(float(s), int(i)) for s, i in zip(scores, ids) if i >= 0]
        stored = self._store.get_chunks([i for _, i in found])
        hits = []
        for score, chunk_id in found:
            row = stored.get(chunk_id)
            if row is None:
                raise IndexFormatError(f"the index at {self.index_dir.root} is damaged: vector "
                                       f"{chunk_id} has no chunk in the store",
                                       hint="re-run `vraagbaak index` to rebuild it")
            hits.append(Hit(rank=len(hits) + 1, score=round(score, 4), doc_id=row.chunk.doc_id,
                            chunk_id=row.chunk.chunk_id, date=row.date, title=row.title,
                            text=row.chunk.text, start=row.chunk.start, end=row.chunk.end))
        return hits

    def close(self) -> None:
        self._store.close()
