"""The keyword engines side by side: bm25s (one matrix, rebuilt on every change) against tantivy
(segments, deletes, merges), on the same passages and questions, in one process.

Per size: N synthetic passages (real Dutch sentences, shuffled; seeded), both engines built on
them through the keyword contract, and tantivy once more grown in 10 increments (10 commits, as a
live index grows). Questions: the sample's and FLORES's. Measured, engines alternating question
by question, best p50 of the rounds: a search without and with a date mask (10% of the passages
allowed); the build; the cost of adding 1 passage (bm25s: a rebuild; tantivy: one commit); and
how much of bm25s's top 10 tantivy's top 10 holds (answer quality itself: bench/eval_sets.py).

usage: python -m bench.keyword_engines [--sizes 10000 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.lib import corpora
from bench.lib import results as out


def passages(n: int, seed: int = 7) -> list[str]:
    sentences = corpora.dutch_sentences()
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.randint(3, 5))) for _ in range(n)]


def _p50(engine, questions, mask) -> float:
    times = []
    for q in questions:
        t = time.perf_counter()
        engine.search(q, 50, mask)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(n: int, rounds: int, folder: Path) -> dict:
    from indexer.index.keywords.analysis import Analyzer
    from indexer.index.keywords.bm25 import KeywordIndex
    from indexer.index.keywords.tantivy_index import TantivyIndex, update

    texts, analyzer = passages(n), Analyzer("nl")
    questions = corpora.question_texts()[:200]
    t = time.perf_counter()
    bm25 = KeywordIndex.build(texts, analyzer)
    bm25_build = time.perf_counter() - t
    t = time.perf_counter()
    TantivyIndex.build(texts, analyzer).save(folder / "once")
    tantivy_build = time.perf_counter() - t
    once = TantivyIndex.load(folder / "once")
    previous, step = None, -(-n // 10)
    for i, begin in enumerate(range(0, n, step)):
        part = list(range(begin, min(n, begin + step)))
        update(previous, folder / f"grown{i}", analyzer, (), part, [texts[j] for j in part],
               begin)
        previous = folder / f"grown{i}"
    grown = TantivyIndex.load(previous)
    t = time.perf_counter()
    update(folder / "once", folder / "plus1", analyzer, (), [n], ["Een nieuw artikel over de Kamer."], n)
    tantivy_add = time.perf_counter() - t
    t = time.perf_counter()
    KeywordIndex.build([*texts, "Een nieuw artikel over de Kamer."], analyzer)
    bm25_add = time.perf_counter() - t
    mask = np.zeros(n, np.float32)
    mask[np.random.default_rng(3).choice(n, n // 10, replace=False)] = 1.0
    best = {k: float("inf") for k in ("bm25s", "tantivy", "tantivy grown", "bm25s masked",
                                      "tantivy masked")}
    for _ in range(rounds):
        for name, engine, m in (("bm25s", bm25, None), ("tantivy", once, None),
                                ("tantivy grown", grown, None), ("bm25s masked", bm25, mask),
                                ("tantivy masked", once, mask)):
            best[name] = min(best[name], _p50(engine, questions, m))
    overlap = []
    for q in questions:
        a = set(bm25.search(q, 10).ids.tolist())
        if a:
            overlap.append(len(a & set(once.search(q, 10).ids.tolist())) / len(a))
    return {"passages": n, "build_s": {"bm25s": bm25_build, "tantivy": tantivy_build},
            "add_one_s": {"bm25s": bm25_add, "tantivy": tantivy_add}, "p50_ms": best,
            "top10_overlap": statistics.mean(overlap), "segments_grown": grown._searcher.num_segments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    numbers, rows = {}, []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            m = measure(n, args.rounds, Path(folder))
        numbers[str(n)] = m
        p = m["p50_ms"]
        rows.append([f"{n:,}", f"{p['bm25s']:.2f}", f"{p['tantivy']:.2f}", f"{p['tantivy grown']:.2f}",
                     f"{p['bm25s masked']:.2f}", f"{p['tantivy masked']:.2f}",
                     f"{m['build_s']['bm25s']:.1f} / {m['build_s']['tantivy']:.1f}",
                     f"{m['add_one_s']['bm25s']:.2f} / {m['add_one_s']['tantivy']:.3f}",
                     f"{m['top10_overlap']:.3f}"])
    out.publish(numbers, [out.table(
        "Keyword engines: search p50 (ms, top 50), build and add-one (s), bm25s / tantivy",
        ["passages", "bm25s", "tantivy", "tantivy 10 commits", "bm25s 10% mask",
         "tantivy 10% mask", "build s", "add one s", "top-10 overlap"], rows,
        "one process, engines alternating, best p50 of the rounds; analyzer: ours (Dutch), "
        "tantivy fed its terms pre-analysed")])


if __name__ == "__main__":
    main()
