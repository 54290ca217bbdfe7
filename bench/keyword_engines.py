"""The keyword engines side by side: bm25s (one matrix, rebuilt on every change) against tantivy
(segments, deletes, merges), on the same passages and questions, in one process.

Per size: N synthetic passages (real Dutch sentences, shuffled; seeded), both engines built on
them through the keyword contract, and tantivy once more grown in 10 increments (10 commits, as a
live index grows). Questions: the sample's and FLORES's. Measured, engines alternating question
by question, best p50 of the rounds: a search without and with a date mask (10% of the passages
allowed); the build; the cost of adding 1 passage (bm25s: a rebuild; tantivy: one commit); and
how much of bm25s's top 10 tantivy's top 10 holds (answer quality itself: bench/eval_sets.py).
Each passage has a date (seeded, spread over ten years); a date filter is a period holding 10%
or 1% of the passages, given as the searcher gives it: a mask over ids plus the period's bounds
(tantivy filters by date itself below a share, indexer/index/keywords/tantivy_index.py).

usage: python -m bench.keyword_engines [--sizes 10000 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
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


def dates(n: int, seed: int = 5) -> list[str]:
    """A day in 2016-2025 for each passage."""
    rng, first = random.Random(seed), datetime.date(2016, 1, 1)
    return [(first + datetime.timedelta(days=rng.randrange(3650))).isoformat() for _ in range(n)]


def period(days: list[str], share: float):
    """A period from 2021-01-01 holding about ``share`` of the passages: (mask, bounds)."""
    from indexer.index.stores.base import DateBounds

    first = datetime.date(2021, 1, 1)
    last = first + datetime.timedelta(days=max(0, round(3650 * share) - 1))
    lo, hi = (int(d.isoformat().replace("-", "")) for d in (first, last))
    numbers = np.asarray([int(d.replace("-", "")) for d in days])
    return ((numbers >= lo) & (numbers <= hi)).astype(np.float32), DateBounds(lo, hi)


def _p50(engine, questions, filtered) -> float:
    mask, bounds = filtered or (None, None)
    times = []
    for q in questions:
        t = time.perf_counter()
        engine.search(q, 50, mask, bounds)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(n: int, rounds: int, folder: Path) -> dict:
    from indexer.index.keywords.analysis import Analyzer
    from indexer.index.keywords.bm25 import KeywordIndex
    from indexer.index.keywords.tantivy_index import TantivyIndex, update

    texts, analyzer, days = passages(n), Analyzer("nl"), dates(n)
    questions = corpora.question_texts()[:200]
    t = time.perf_counter()
    bm25 = KeywordIndex.build(texts, analyzer)
    bm25_build = time.perf_counter() - t
    t = time.perf_counter()
    TantivyIndex.build(texts, analyzer, dates=days).save(folder / "once")
    tantivy_build = time.perf_counter() - t
    once = TantivyIndex.load(folder / "once")
    previous, step = None, -(-n // 10)
    for i, begin in enumerate(range(0, n, step)):
        part = list(range(begin, min(n, begin + step)))
        update(previous, folder / f"grown{i}", analyzer, (), part, [texts[j] for j in part],
               begin, dates=[days[j] for j in part])
        previous = folder / f"grown{i}"
    grown = TantivyIndex.load(previous)
    t = time.perf_counter()
    update(folder / "once", folder / "plus1", analyzer, (), [n], ["Een nieuw artikel over de Kamer."], n,
           dates=["2026-01-01"])
    tantivy_add = time.perf_counter() - t
    t = time.perf_counter()
    KeywordIndex.build([*texts, "Een nieuw artikel over de Kamer."], analyzer)
    bm25_add = time.perf_counter() - t
    tenth, hundredth = period(days, 0.1), period(days, 0.01)
    best = {k: float("inf") for k in ("bm25s", "tantivy", "tantivy grown", "bm25s masked",
                                      "tantivy masked", "bm25s 1%", "tantivy 1%")}
    for _ in range(rounds):
        for name, engine, m in (("bm25s", bm25, None), ("tantivy", once, None),
                                ("tantivy grown", grown, None), ("bm25s masked", bm25, tenth),
                                ("tantivy masked", once, tenth), ("bm25s 1%", bm25, hundredth),
                                ("tantivy 1%", once, hundredth)):
            best[name] = min(best[name], _p50(engine, questions, m))
    same = 0
    for q in questions:  # filtered answers: tantivy's against bm25s's, as ids
        a, b = bm25.search(q, 10, *tenth), once.search(q, 10, *tenth)
        same += set(a.ids.tolist()) == set(b.ids.tolist())
    overlap = []
    for q in questions:
        a = set(bm25.search(q, 10).ids.tolist())
        if a:
            overlap.append(len(a & set(once.search(q, 10).ids.tolist())) / len(a))
    return {"passages": n, "build_s": {"bm25s": bm25_build, "tantivy": tantivy_build},
            "add_one_s": {"bm25s": bm25_add, "tantivy": tantivy_add}, "p50_ms": best,
            "top10_overlap": statistics.mean(overlap), "segments_grown": grown._searcher.num_segments,
            "filtered_top10_same": same / len(questions), "shares": [float(tenth[0].mean()),
                                                                     float(hundredth[0].mean())]}


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
                     f"{p['bm25s 1%']:.2f}", f"{p['tantivy 1%']:.2f}",
                     f"{m['build_s']['bm25s']:.1f} / {m['build_s']['tantivy']:.1f}",
                     f"{m['add_one_s']['bm25s']:.2f} / {m['add_one_s']['tantivy']:.3f}",
                     f"{m['top10_overlap']:.3f}"])
    out.publish(numbers, [out.table(
        "Keyword engines: search p50 (ms, top 50), build and add-one (s), bm25s / tantivy",
        ["passages", "bm25s", "tantivy", "tantivy 10 commits", "bm25s 10% dates",
         "tantivy 10% dates", "bm25s 1% dates", "tantivy 1% dates", "build s", "add one s",
         "top-10 overlap"], rows,
        "one process, engines alternating, best p50 of the rounds; analyzer: ours (Dutch), "
        "tantivy fed its terms pre-analysed; a date filter is a period holding 10% (1%) of the "
        "passages: a mask plus its bounds, which tantivy applies itself below 3%")])


if __name__ == "__main__":
    main()
