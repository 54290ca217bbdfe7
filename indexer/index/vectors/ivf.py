"""Approximate search for large indexes: FAISS IVF with float16 codes.

Why IVF and not HNSW: vraagbaak filters by date on every query type, and an IVF index can be
told to probe more lists when a filter leaves few vectors, up to an exact scan; an HNSW graph
loses recall under restrictive filters that no setting recovers (measured in bench/scale.py).
IVF also reconstructs vectors by id (fusion and snippets score with them); float16 halves their
memory at a cosine error of about 1e-4 (tests/test_vector_index.py).

Which lists a question probes is not guessed either: each question searches the lists whose
centroids score close to its best one (indexer/ivf_probing.py), and each build tunes how close,
on its own vectors, to recall@10 RECALL_TARGET against exact search.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.manifest import REBUILD_HINT
from indexer.index.vectors.base import (
    FaissVectors,
    VectorIndex,
    as_matrix,
    id_selector,
    read_faiss,
)
from indexer.index.vectors.ivf_probing import (
    Probing,
    TuningSet,
    filtered_counts,
    neighbour_ranks,
    tune_probing,
)

RECALL_TARGET = 0.99  # tuned for 0.99 so the promised 0.98 holds with a margin on real queries
_TUNING_QUERIES = 256
_FILTER_SHARES = (0.1, 0.01)  # tuning questions are asked with filters that allow these too
_TRAIN_PER_LIST = 64  # k-means training points per list: enough for stable centroids, and fast
_SEED = 20211


# Why: docs/decisions/0012-ivf-over-hnsw.md, 0014, 0015, 0017
class IVFIndex(FaissVectors):
    """FAISS IVF on inner product, vectors stored as float16 (half the memory of float32; cosines
    move by about 1e-4, far below what separates answers); ids are insertion positions (array
    direct map). Reads float32 IVF-Flat files as well."""

    def __init__(self, index, probing: Probing | None = None) -> None:
        self._index = index
        self.dim = index.d
        # Without a recorded probing (indexes built before it, or a bare file): FAISS's nprobe.
        self.probing = probing or Probing.fixed(int(index.nprobe))
        self.recall = None  # measured recall@10 of the tuned probing, when built here

    @property
    def kind(self) -> str:
        import faiss

        stored = "sqfp16" if isinstance(self._index, faiss.IndexIVFScalarQuantizer) else "flat"
        return f"faiss-ivf-{stored}-ip"

    @classmethod
    def load(cls, path: Path, described: dict | None = None, source: str = "",
             mmap: bool = False) -> IVFIndex:
        """An IVF file; its tuned probing comes from the manifest (``described``), FAISS's file
        having no place for it."""
        import faiss

        index = read_faiss(path, mmap)
        ivf = faiss.downcast_index(index)
        if not isinstance(ivf, faiss.IndexIVF):
            raise IndexFormatError(f"{path} is not an IVF index, as {source or 'the manifest'} "
                                   "says it is", hint=REBUILD_HINT)
        # The read proxy owns the C++ index; the typed one just points at it.
        ivf.thisown, index.thisown = index.thisown, False
        probing = described.get("probing") if isinstance(described, dict) else None
        return cls(ivf, probing and Probing.from_description(probing, ivf.nlist, source))

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    @classmethod
    def build(cls, vectors: np.ndarray, previous: VectorIndex | None = None,
              centroids: np.ndarray | None = None) -> IVFIndex:
        """``centroids``: the lists of an earlier build to reuse (no training); by default those
        of ``previous`` (the last version's index) while the size still calls for as many, so an
        update does not train them again; recall is measured and tuned anew anyway."""
        import faiss

        vectors = as_matrix(vectors, vectors.shape[1])
        if centroids is None and _reusable(previous, vectors):
            centroids = previous.centroids()
        n, dim = vectors.shape
        nlist = len(centroids) if centroids is not None else max(1, min(lists_for(n), n))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        index.by_residual = False  # codes are the vectors themselves: exact to float16
        if centroids is not None:
            quantizer.add(as_matrix(centroids, dim))
            index.is_trained = True
        else:
            index.cp.min_points_per_centroid = 1  # small forced IVF indexes: no FAISS warning
            index.cp.seed = _SEED
            rng = np.random.default_rng(_SEED)
            sample = rng.choice(n, min(n, _TRAIN_PER_LIST * nlist), replace=False)
            index.train(vectors[np.sort(sample)])
        index.add(vectors)
        index.make_direct_map(True)
        built = cls(index)
        built.recall = built.tune(vectors)
        return built

    def tune(self, vectors: np.ndarray, target: float = RECALL_TARGET) -> float:
        """Set the cheapest probing whose recall@10 against exact search reaches ``target`` on
        every set of tuning questions, and return its measured recall (the lowest set's).

        The questions are made of stored vectors. Mixtures of two (one at half weight) stand for
        questions between two subjects; mixtures of four for questions the archive has no
        answer to, whose neighbours are spread over many lists (at 1M vectors these behave
        under adaptive probing like 48 generic news questions, bench/probing.py). Each
        is asked again with filters that allow 10% and 1% of the vectors (random ones)."""
        import faiss

        rng = np.random.default_rng(_SEED)
        parts = [_mixtures(vectors, rng, (1.0, 0.5)), _mixtures(vectors, rng, (1.0,) * 4)]
        questions, m = np.vstack(parts), len(parts[0])
        scores, order = self._index.quantizer.search(questions, self.nlist)
        home = faiss.vector_to_array(self._index.direct_map.array) >> 32  # each vector's list
        n, halves = len(vectors), (slice(0, m), slice(m, None))
        filters = [None] + [np.sort(rng.choice(n, min(n, max(10, int(share * n))), replace=False))
                            for share in _FILTER_SHARES]
        exact = [_exact_top(vectors, questions, allowed) for allowed in filters]
        sets = [TuningSet(scores[h], neighbour_ranks(order[h], home[top[h]]),
                          1.0 if allowed is None else len(allowed) / n)
                for allowed, (_, top) in zip(filters, exact) for h in halves]
        self.probing = tune_probing(sets, self.nlist, target)
        self._index.nprobe = self.probing.most  # what a reader of the bare file probes
        # Measured by searching (the tuning counted lists); filtered sets are left to the
        # count, which agreed with searches within 0.001 on the tests' vectors.
        best, top = exact[0]
        found = _scores(vectors, questions, self._search(questions, top.shape[1], None)[1])
        return min(_recall(best[h], found[h]) for h in halves)

    def lists_probed(self, queries: np.ndarray) -> np.ndarray:
        """How many lists each question probes without a filter: its centroids that score within
        the probing's delta of its best one, at least ``fewest``, at most ``most``."""
        queries = as_matrix(queries, self.dim)
        centroid_scores, _ = self._index.quantizer.search(queries, self.probing.most)
        return self.probing.counts(centroid_scores)

    def centroids(self) -> np.ndarray:
        import faiss

        return faiss.downcast_index(self._index.quantizer).reconstruct_n(0, self.nlist)

    def _search(self, queries: np.ndarray, k: int,
                allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Each question probes its own number of lists; a filter that allows a ``share`` of
        the vectors multiplies that number (``filtered_counts``)."""
        import faiss

        share = 1.0 if allowed is None else len(allowed) / max(1, len(self))
        most = int(filtered_counts(self.probing.most, self.nlist, share))
        centroid_scores, lists = self._index.quantizer.search(queries, most)
        # counts <= probing.most, so the filtered counts stay within the ``most`` fetched above.
        counts = filtered_counts(self.probing.counts(centroid_scores), self.nlist, share)
        width = int(counts.max(initial=1))  # initial: a batch of no questions
        lists = np.ascontiguousarray(lists[:, :width])
        lists[np.arange(width)[None, :] >= counts[:, None]] = -1  # FAISS skips list -1
        params = faiss.SearchParametersIVF(nprobe=width)
        if allowed is not None:
            params.sel = id_selector(allowed)
        scores = np.empty((len(queries), k), np.float32)
        ids = np.empty((len(queries), k), np.int64)
        # The Python wrapper of search_preassigned takes no parameters; the C++ call does.
        self._index.search_preassigned_c(
            len(queries), faiss.swig_ptr(queries), k, faiss.swig_ptr(lists),
            faiss.swig_ptr(np.ascontiguousarray(centroid_scores[:, :width])),
            faiss.swig_ptr(scores), faiss.swig_ptr(ids), False, params)
        return scores, ids

    def describe(self) -> dict:
        described = {"kind": self.kind, "vectors": len(self), "nlist": self.nlist,
                     "nprobe": self.probing.most, "probing": self.probing.describe()}
        if self.recall is not None:
            described["recall@10"] = round(self.recall, 4)
        return described


def lists_for(n: int) -> int:
    """About sqrt(n) lists, as a power of two: 1M vectors -> 1024, 100k -> 256."""
    return int(min(8192, 2 ** round(math.log2(max(1.0, math.sqrt(n))))))


def _reusable(previous: VectorIndex | None, vectors: np.ndarray) -> bool:
    n = len(vectors)
    return (isinstance(previous, IVFIndex) and previous.dim == vectors.shape[1]
            and previous.nlist == max(1, min(lists_for(n), n)))


def _exact_top(vectors: np.ndarray, queries: np.ndarray,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores and ids of the exact top 10 per query (among ``allowed`` when given): FAISS's
    brute force, on its own threads and without copying the vectors into an index."""
    import faiss

    among = vectors if allowed is None else vectors[allowed]
    # Ask all questions at once: FAISS multiplies matrices (BLAS) only for batches of more
    # than 128,000 floats (334 questions of 384 dims); 256 questions against 1M vectors took
    # 13 s one by one and 512 took 2.5 s with BLAS (2 cores).
    scores, ids = faiss.knn(queries, among, min(10, len(among)), metric=faiss.METRIC_INNER_PRODUCT)
    return scores, ids if allowed is None else allowed[ids]


def _mixtures(vectors: np.ndarray, rng: np.random.Generator,
              weights: tuple[float, ...]) -> np.ndarray:
    """_TUNING_QUERIES normalised weighted sums of stored vectors (the first ones distinct)."""
    n, m = len(vectors), min(len(vectors), _TUNING_QUERIES)
    picks = [rng.choice(n, m, replace=False)] + [rng.choice(n, m) for _ in weights[1:]]
    mixed = sum(w * vectors[i] for w, i in zip(weights, picks))
    return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)


def _scores(vectors: np.ndarray, queries: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Each found id's score against the float32 vectors (-inf where nothing was found)."""
    scores = np.einsum("qd,qkd->qk", queries, vectors[np.maximum(ids, 0)])
    return np.where(ids >= 0, scores, -np.inf)


def _recall(exact_scores: np.ndarray, found_scores: np.ndarray) -> float:
    """recall@k counting ties: the share of results that score as high as the exact k-th one,
    both scored on the float32 vectors. (By ids, duplicate sentences made it 0.81 where every
    result tied with an exact one.) The tolerance covers float32 rounding only."""
    return float(np.mean(found_scores >= exact_scores[:, -1:] - 1e-5))
