"""Vector indexes hold ids and vectors only; text and metadata live in the chunk store."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add float32 L2-normalised ``vectors`` (n, dim) under int64 ``ids`` (n,)."""
        ...

    def search(self, queries: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each (n_queries, k), best first; missing places have id -1.
        With ``allowed``, only those ids are searched."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None: ...


class FlatIPIndex:
    """Exact inner-product search with FAISS; on normalised vectors that is cosine similarity."""

    kind = "faiss-flat-ip"

    def __init__(self, dim: int, _index=None) -> None:
        import faiss

        self.dim = dim
        self._index = _index if _index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def load(cls, path: Path) -> FlatIPIndex:
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``allowed``: ids the search may return (a date filter); FAISS skips the others while
        searching, so k results come back whenever k allowed vectors exist."""
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if allowed is None:
            return self._index.search(queries, k)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        return self._index.search(queries, k, params=faiss.SearchParameters(sel=selector))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids``, (len(ids), dim)."""
        if len(ids) == 0:
            return np.empty((0, self.dim), np.float32)
        return self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        import faiss

        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as exc:  # FAISS reports a failed write (disk full) as RuntimeError
            raise OSError(f"cannot write {path}: {str(exc).splitlines()[0]}") from exc
