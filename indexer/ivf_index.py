"""Approximate search for large indexes (FAISS IVF, float16 codes), and the choice of index.

Why IVF and not HNSW: vraagbaak filters by date on every query type, and an IVF index can be
told to probe more lists when a filter leaves few vectors, up to an exact scan; an HNSW graph
loses recall under restrictive filters that no setting recovers (measured in bench/scale.py).
IVF also reconstructs vectors by id (fusion and snippets score with them); float16 halves their
memory at a cosine error of about 1e-4 (tests/test_vector_index.py).

The number of lists to probe is not guessed: each build measures recall@10 against exact search
on its own vectors, finds the smallest ``nprobe`` that reaches RECALL_TARGET, and probes twice
that many (a margin for questions unlike the tuning ones).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from indexer.vector_index import FaissVectors, FlatIPIndex, VectorIndex, as_matrix, id_selector

INDEX_TYPES = ("auto", "flat", "ivf")
# From this many vectors on, "auto" builds an IVF index. Measured (docs/benchmarks.md, "Vector
# search as the index grows"): below it exact search takes under ~5 ms per query on 2 cores.
IVF_FROM = 50_000
RECALL_TARGET = 0.99  # tuned for 0.99 so the promised 0.98 holds with a margin on real queries
_TUNING_QUERIES = 256
_TRAIN_PER_LIST = 64  # k-means training points per list: enough for stable centroids, and fast
_SEED = 20211


class IVFIndex(FaissVectors):
    """FAISS IVF on inner product, vectors stored as float16 (half the memory of float32; cosines
    move by about 1e-4, far below what separates answers); ids are insertion positions (array
    direct map). Reads float32 IVF-Flat files as well."""

    def __init__(self, index) -> None:
        self._index = index
        self.dim = index.d
        self.recall = None  # measured recall@10 of the tuned nprobe, when built here

    @property
    def kind(self) -> str:
        import faiss

        stored = "sqfp16" if isinstance(self._index, faiss.IndexIVFScalarQuantizer) else "flat"
        return f"faiss-ivf-{stored}-ip"

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe)

    @classmethod
    def build(cls, vectors: np.ndarray, centroids: np.ndarray | None = None) -> IVFIndex:
        """``centroids``: the lists of an earlier build to reuse (no training)."""
        import faiss

        vectors = as_matrix(vectors, vectors.shape[1])
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
        """Set the smallest nprobe whose recall@10 against exact search reaches ``target``.

        The tuning questions are mixtures of two stored vectors (one at half weight): a question
        between two subjects, whose neighbours sit in several lists, is the hard case for IVF,
        so a setting that holds for these holds for questions about one subject too."""
        n = len(vectors)
        rng = np.random.default_rng(_SEED)
        m = min(n, _TUNING_QUERIES)
        queries = vectors[rng.choice(n, m, replace=False)] + 0.5 * vectors[rng.choice(n, m)]
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        k = min(10, n)
        exact = _exact_top(vectors, queries, k)
        for nprobe in _ladder(self.nlist):
            self._index.nprobe = nprobe
            if _recall(exact, self._index.search(queries, k)[1]) >= target:
                break
        # Twice the lists for questions farther from every passage than these (measured in
        # tests/test_vector_index.py: noisy questions lose ~2 points of recall at the bare nprobe).
        self._index.nprobe = min(self.nlist, 2 * self.nprobe)
        return _recall(exact, self._index.search(queries, k)[1])

    def centroids(self) -> np.ndarray:
        import faiss

        return faiss.downcast_index(self._index.quantizer).reconstruct_n(0, self.nlist)

    def _filtered(self, allowed: np.ndarray):
        """More lists probed the fewer vectors the filter allows."""
        import faiss

        nprobe = filtered_nprobe(self.nprobe, self.nlist, len(allowed) / max(1, len(self)))
        return faiss.SearchParametersIVF(sel=id_selector(allowed), nprobe=nprobe)

    def describe(self) -> dict:
        described = {"kind": self.kind, "vectors": len(self), "nlist": self.nlist,
                     "nprobe": self.nprobe}
        if self.recall is not None:
            described["recall@10"] = round(self.recall, 4)
        return described


def filtered_nprobe(nprobe: int, nlist: int, share: float) -> int:
    """Lists to probe when a filter allows ``share`` of the vectors: nprobe / share**0.6.

    The filter's best vectors lie deeper than the unfiltered ones, so more lists are needed, but
    not 1/share times as many (the first rule: an exact scan at 10%, 7x slower at 1M for nothing).
    Measured: clustered vectors (tests/test_vector_index.py, 20k, 128 lists, nprobe 16) need 4x
    the lists at 10% and 8x at 1%; share**0.6 gives 4x and 16x. (1/sqrt(share), the rule before,
    gives 3.2x; with their nprobe at 12, a 4% filter fell to recall 0.9795.) At 1M uniform-like
    vectors (1024 lists, nprobe 128) 10% needs no more lists at all (0.999): the rule errs to
    safety."""
    return min(nlist, math.ceil(nprobe / max(share, 1e-9) ** 0.6))


def lists_for(n: int) -> int:
    """About sqrt(n) lists, as a power of two: 1M vectors -> 1024, 100k -> 256."""
    return int(min(8192, 2 ** round(math.log2(max(1.0, math.sqrt(n))))))


def build_vector_index(vectors: np.ndarray, index_type: str = "auto",
                       previous: VectorIndex | None = None) -> VectorIndex:
    """The index for ``vectors``: exact below IVF_FROM (or when asked), else IVF. An IVF build
    keeps the lists of ``previous`` (the last version's index) while the size still calls for
    as many, so an update does not train them again; recall is measured and tuned anew anyway."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"unknown index type {index_type!r}; choose one of {', '.join(INDEX_TYPES)}")
    wants_ivf = index_type == "ivf" or (index_type == "auto" and len(vectors) >= IVF_FROM)
    if not wants_ivf or len(vectors) == 0:
        return FlatIPIndex.build(vectors)
    reuse = (isinstance(previous, IVFIndex) and previous.dim == vectors.shape[1]
             and previous.nlist == max(1, min(lists_for(len(vectors)), len(vectors))))
    return IVFIndex.build(vectors, previous.centroids() if reuse else None)


def _ladder(nlist: int) -> list[int]:
    """nprobe values to try, each about sqrt(2) times the last: 1, 2, 3, 4, 6, 8, 11, 16, ...
    (Powers of two overshot by up to 2x before the margin doubled again: 256 of 1,024 lists at
    0.9M passages, docs/benchmarks.md.)"""
    steps, p = [], 1.0
    while round(p) < nlist:
        if not steps or round(p) > steps[-1]:
            steps.append(round(p))
        p *= math.sqrt(2)
    return steps + [nlist]


def _exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the exact top ``k`` per query: FAISS's brute force, on its own threads and without
    copying the vectors into an index."""
    import faiss

    return faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)[1]


def _recall(exact: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(e) & set(f)) / len(e) for e, f in zip(exact, found)]))
