"""Exact search: every vector scored, the backend below IVF_FROM vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.index.vectors.base import FaissVectors, as_matrix, read_faiss


class FlatIPIndex(FaissVectors):
    """Exact inner-product search with FAISS; on normalised vectors that is cosine similarity."""

    kind = "faiss-flat-ip"

    def __init__(self, dim: int, _index=None) -> None:
        import faiss

        self.dim = dim
        self._index = _index if _index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(cls, vectors: np.ndarray, previous=None) -> FlatIPIndex:
        index = cls(vectors.shape[1])
        index.add(np.arange(len(vectors), dtype=np.int64), vectors)
        return index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = as_matrix(vectors, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def describe(self) -> dict:
        return {"kind": self.kind, "vectors": len(self)}

    @classmethod
    def load(cls, path: Path, described: dict | None = None, source: str = "",
             mmap: bool = False) -> FlatIPIndex:
        index = read_faiss(path, mmap)
        return cls(index.d, index)
